//! `vpcctl zone`: dynamically routed zones. A zone lives in two services:
//! ipam holds its super-CIDRs, the area registry its OSPF settings.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use vpcroute_bus::subjects;
use vpcroute_protocol::areas::{self, ZoneOspfView};
use vpcroute_protocol::ipam::{Show, ZoneEnable, ZoneRecord, ZoneSummary, ZoneUpdate};
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum ZoneCmd {
    /// Enable dynamic routing in a zone, with its super-CIDRs and OSPF
    /// settings (defaults: backbone 0.0.0.0, hello 10, dead 40, retransmit
    /// 5, transmit delay 1, MD5 with a generated key).
    Enable {
        zone: String,
        #[arg(long = "super-cidr", required = true)]
        super_cidrs: Vec<String>,
        #[command(flatten)]
        ospf: OspfArgs,
    },
    /// Change a zone: replace its super-CIDRs (one in use cannot be
    /// removed) and/or change OSPF settings (unnamed ones are kept).
    Update {
        zone: String,
        #[arg(long = "super-cidr")]
        super_cidrs: Vec<String>,
        #[command(flatten)]
        ospf: OspfArgs,
    },
}

/// Zone-wide OSPF settings. The key is read from a file or standard input,
/// never from the command line, where `ps` and shell history would keep it.
#[derive(Debug, Args)]
pub struct OspfArgs {
    /// Backbone area id (dotted, e.g. 0.0.0.0).
    #[arg(long)]
    backbone_area: Option<String>,
    #[arg(long)]
    hello_interval: Option<u16>,
    #[arg(long)]
    dead_interval: Option<u32>,
    #[arg(long)]
    retransmit_interval: Option<u16>,
    #[arg(long)]
    transmit_delay: Option<u16>,
    /// OSPF authentication on the backbone uplinks.
    #[arg(long, value_enum)]
    auth: Option<AuthArg>,
    /// MD5 key id (1-255). Leave it out to keep the zone's id, or, with a
    /// new key, to take the next one; a new key under the id in use is
    /// refused.
    #[arg(long)]
    auth_key_id: Option<u8>,
    /// File holding the key, or - for standard input.
    #[arg(long)]
    auth_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
enum AuthArg {
    None,
    Plaintext,
    Md5,
}

impl ZoneCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        match self {
            ZoneCmd::Enable {
                zone,
                super_cidrs,
                ospf,
            } => enable(ctx, zone, super_cidrs, &ospf).await,
            ZoneCmd::Update {
                zone,
                super_cidrs,
                ospf,
            } => update(ctx, zone, super_cidrs, &ospf).await,
        }
    }
}

async fn enable(
    ctx: &Ctx,
    zone: String,
    super_cidrs: Vec<String>,
    ospf: &OspfArgs,
) -> Result<Output, ErrorBody> {
    // Read the key and check the flags before anything is sent, so a bad
    // flag changes nothing anywhere.
    let ospf_set = ospf.to_request_if_any(&ctx.request_id, &zone)?;
    // The settings go to the area registry after ipam has enabled the
    // zone: decide them first, by the registry's own rules on a new zone
    // (any generated key is a stand-in here), so settings it would refuse
    // leave ipam untouched too.
    if let Some(set) = &ospf_set {
        vpcroute_areas::AreaState::new()
            .decide_zone_set(set, || "0".repeat(vpcroute_areas::KEY_LEN))
            .map_err(ErrorBody::from)?;
    }
    let r: ZoneRecord = ctx
        .call(
            subjects::ipam::ZONE_ENABLE,
            &ZoneEnable {
                request_id: ctx.request_id.clone(),
                zone,
                super_cidrs,
            },
        )
        .await?;
    // The area registry gives a new zone default settings by itself;
    // explicit ones follow. Re-running the command with the same
    // --request-id completes a half-done enable.
    let ospf_view = set_ospf(ctx, ospf_set).await?;
    Ok(zone_record(&r, ospf_view.as_ref()))
}

async fn update(
    ctx: &Ctx,
    zone: String,
    super_cidrs: Vec<String>,
    ospf: &OspfArgs,
) -> Result<Output, ErrorBody> {
    if super_cidrs.is_empty() && ospf.is_empty() {
        return Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            "nothing to update: give --super-cidr and/or OSPF settings",
        ));
    }
    let ospf_set = ospf.to_request_if_any(&ctx.request_id, &zone)?;
    let ospf_view = set_ospf(ctx, ospf_set).await?;
    let r = if super_cidrs.is_empty() {
        // The zone's super-CIDRs only: `zone.summary`, whose size does not
        // grow with the zone (`zone.show` lists every VPC and is refused as
        // `reply_too_large` past a few thousand: found by bench-full-zone's
        // key rotation at 10,000 VPCs).
        let v: ZoneSummary = ctx
            .call(subjects::ipam::ZONE_SUMMARY, &Show { name: zone })
            .await?;
        ZoneRecord {
            zone: v.zone,
            super_cidrs: v.super_cidrs,
        }
    } else {
        ctx.call(
            subjects::ipam::ZONE_UPDATE,
            &ZoneUpdate {
                request_id: ctx.request_id.clone(),
                zone,
                super_cidrs,
            },
        )
        .await?
    };
    Ok(zone_record(&r, ospf_view.as_ref()))
}

/// Sends the OSPF settings to the area registry, if any were given.
async fn set_ospf(
    ctx: &Ctx,
    set: Option<areas::ZoneOspfSet>,
) -> Result<Option<ZoneOspfView>, ErrorBody> {
    match set {
        Some(set) => Ok(Some(ctx.call(subjects::areas::ZONE_SET, &set).await?)),
        None => Ok(None),
    }
}

impl OspfArgs {
    fn is_empty(&self) -> bool {
        self.backbone_area.is_none()
            && self.hello_interval.is_none()
            && self.dead_interval.is_none()
            && self.retransmit_interval.is_none()
            && self.transmit_delay.is_none()
            && self.auth.is_none()
            && self.auth_key_id.is_none()
            && self.auth_key_file.is_none()
    }

    /// The area-registry request when any OSPF flag was given.
    fn to_request_if_any(
        &self,
        request_id: &str,
        zone: &str,
    ) -> Result<Option<areas::ZoneOspfSet>, ErrorBody> {
        (!self.is_empty())
            .then(|| self.to_request(request_id, zone))
            .transpose()
    }

    /// Builds the area-registry request; reads the key.
    fn to_request(&self, request_id: &str, zone: &str) -> Result<areas::ZoneOspfSet, ErrorBody> {
        let invalid = |m: String| ErrorBody::new(ErrorCode::InvalidSettings, m);
        let backbone = self
            .backbone_area
            .as_deref()
            .map(|a| {
                a.parse::<areas::AreaId>()
                    .map_err(|_| invalid(format!("backbone area {a:?} is not an area id")))
            })
            .transpose()?;
        let key = match &self.auth_key_file {
            None => None,
            Some(path) => Some(areas::Secret::new(read_key(path)?)),
        };
        let auth = match (self.auth, key) {
            (None, None) if self.auth_key_id.is_none() => None,
            (Some(AuthArg::None), None) => Some(areas::AuthRequest::None {}),
            (Some(AuthArg::None), Some(_)) => {
                return Err(invalid("--auth none takes no key".into()))
            }
            (Some(AuthArg::Plaintext), Some(key)) => Some(areas::AuthRequest::Plaintext { key }),
            (Some(AuthArg::Plaintext), None) => {
                return Err(invalid(
                    "plaintext authentication needs --auth-key-file".into(),
                ))
            }
            // A key or key id alone means MD5, the default.
            (Some(AuthArg::Md5) | None, key) => Some(areas::AuthRequest::Md5 {
                key_id: self.auth_key_id,
                key,
            }),
        };
        Ok(areas::ZoneOspfSet {
            request_id: request_id.to_string(),
            zone: zone.to_string(),
            backbone,
            hello_interval: self.hello_interval,
            dead_interval: self.dead_interval,
            retransmit_interval: self.retransmit_interval,
            transmit_delay: self.transmit_delay,
            auth,
        })
    }
}

/// Reads a key from a file or standard input (`-`), without its line end.
fn read_key(path: &Path) -> Result<String, ErrorBody> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
            ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!("cannot read key from standard input: {e}"),
            )
        })?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!("cannot read key file {}: {e}", path.display()),
            )
        })?
    };
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// `zone enable` / `zone update`: the zone's super-CIDRs, and the OSPF
/// settings when some were set (`ospf` in JSON).
fn zone_record(r: &ZoneRecord, ospf: Option<&ZoneOspfView>) -> Output {
    let cidrs: Vec<String> = r.super_cidrs.iter().map(|c| c.to_string()).collect();
    let mut out = record(
        r,
        format!("zone {} super-CIDRs {}", r.zone, cidrs.join(", ")),
    );
    if let Some(o) = ospf {
        out.json["ospf"] = serde_json::to_value(o).expect("json");
        out.human.push('\n');
        out.human.push_str(&ospf_line(o));
    }
    out
}

/// A zone's OSPF settings on one line (`zone enable`/`update`, `show zone`).
pub fn ospf_line(o: &ZoneOspfView) -> String {
    let key = o.key_id.map(|k| format!(" key id {k}")).unwrap_or_default();
    format!(
        "  OSPF: backbone {}, hello {}s, dead {}s, retransmit {}s, transmit delay {}s, auth {}{key} (revision {})",
        o.backbone, o.hello_interval, o.dead_interval, o.retransmit_interval, o.transmit_delay, o.auth, o.revision
    )
}
