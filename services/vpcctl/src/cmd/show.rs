//! `vpcctl show`: read-only views. A zone and a VPC are shown as ipam
//! holds them, with what the area registry and the config-renderer add.

use std::fmt::Write;

use clap::Subcommand;
use vpcroute_bus::subjects;
use vpcroute_protocol::areas::{AreaId, VpcArea};
use vpcroute_protocol::config::{KeyRotationPhase, KeyRotationView};
use vpcroute_protocol::ipam::{ExportRow, Show, Usage, VmShow, VmView, VpcAssembler, VpcView};
use vpcroute_protocol::{ErrorBody, ErrorCode, Page, PagedShow};

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum ShowCmd {
    /// A zone: super-CIDRs, VPCs, tiers, VMs, utilisation. Printed as
    /// it is read, page by page, so a zone of any size shows.
    Zone {
        zone: String,
        /// Show at most N VPCs (and say how many there are).
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Only utilisation and counts, listing nothing.
        #[arg(long, conflicts_with = "limit")]
        summary: bool,
    },
    /// One VPC with its tiers and VMs.
    Vpc { vpc: String },
    /// One VM: its address, tier, VPC and zone.
    Vm { vm: String },
    /// A network ACL list (same as `acl show`).
    Acl { acl: String },
}

impl ShowCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        match self {
            ShowCmd::Zone {
                zone,
                summary: true,
                ..
            } => super::show_zone::summary(ctx, zone).await,
            ShowCmd::Zone { zone, limit, .. } => super::show_zone::stream(ctx, zone, limit).await,
            ShowCmd::Vpc { vpc } => {
                let v = vpc_pages(ctx, &vpc).await?;
                let area: Option<VpcArea> = ctx
                    .call(subjects::areas::VPC_SHOW, &Show { name: vpc })
                    .await
                    .ok();
                Ok(vpc_view(&v, area.map(|a| a.area_id)))
            }
            ShowCmd::Vm { vm } => {
                let v: VmView = ctx.call(subjects::ipam::VM_SHOW, &VmShow { vm }).await?;
                Ok(vm_view(&v))
            }
            ShowCmd::Acl { acl } => super::acl::show(ctx, acl).await,
        }
    }
}

/// A VPC read page by page (`vpc.export`), nested into its view.
async fn vpc_pages(ctx: &Ctx, vpc: &str) -> Result<VpcView, ErrorBody> {
    let mut pages = ctx.pages(subjects::ipam::VPC_EXPORT, PagedShow::first(vpc));
    let mut nest = VpcAssembler::default();
    while let Some(page) = pages
        .next::<Page<ExportRow>>()
        .await
        .map_err(|e| e.into_body())?
    {
        for row in page.items {
            nest.push(row)
                .map_err(|e| ErrorBody::new(ErrorCode::Internal, e))?;
        }
    }
    nest.finish()
        .ok_or_else(|| ErrorBody::new(ErrorCode::UnknownVpc, format!("no VPC {vpc:?}")))
}

/// What an operator of an unmanaged router (the core) needs: which key
/// ids to have configured and which one to sign with now.
pub(super) fn rotation_line(r: &KeyRotationView) -> String {
    let (phase, core) = match r.phase {
        KeyRotationPhase::AddNew => (
            "1/3 add_new",
            "unmanaged routers: have the new key, still signing with the old one",
        ),
        KeyRotationPhase::SendNew => (
            "2/3 send_new",
            "unmanaged routers: sign with the new key now; remove the old one once no rotation is shown",
        ),
    };
    let waiting = if r.waiting_for.is_empty() {
        "nobody".to_string()
    } else {
        r.waiting_for.join(", ")
    };
    let until = r
        .old_key_kept_until_ms
        .map(|ms| format!("; old key kept at least until {ms} ms since the epoch"))
        .unwrap_or_default();
    format!(
        "  MD5 key rotation {phase}: key id {} -> {}, routers sign with {}; waiting for {waiting}{until} ({core})",
        r.old_key_id, r.new_key_id, r.sending_key_id
    )
}

pub(super) fn usage_line(u: &Usage) -> String {
    let pct = if u.total == 0 {
        0.0
    } else {
        u.used as f64 * 100.0 / u.total as f64
    };
    let largest = u
        .largest_free
        .map(|n| format!(", largest free block {n}"))
        .unwrap_or_default();
    format!(
        "{} of {} addresses used ({pct:.1}%){largest}",
        u.used, u.total
    )
}

pub(super) fn write_vpc(s: &mut String, v: &VpcView, area: Option<AreaId>) {
    let area = area.map(|a| format!(" area {a}")).unwrap_or_default();
    let _ = writeln!(
        s,
        "  vpc {} {}{area}  [{}]",
        v.vpc,
        v.cidr,
        usage_line(&v.usage)
    );
    if let Some(r) = &v.router {
        let _ = writeln!(
            s,
            "    router {} id {} uplink {} {}",
            r.name, r.router_id, r.uplink_interface, r.uplink_address
        );
    }
    if !v.acls.is_empty() {
        let _ = writeln!(s, "    acl lists: {}", v.acls.join(", "));
    }
    for t in &v.tiers {
        let iface = t
            .interface
            .as_deref()
            .map(|i| format!(" on {i}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "    tier {} {} gateway {}{iface} acl {}  [{}]",
            t.tier,
            t.cidr,
            t.gateway,
            t.acl.as_deref().unwrap_or(vpcroute_protocol::acl::NO_LIST),
            usage_line(&t.usage)
        );
        for vm in &t.vms {
            let _ = writeln!(s, "      vm {} {}", vm.vm, vm.ip);
        }
    }
}

/// `show vpc`: the ipam view plus `area_id` (null while the area registry
/// has not assigned one, or does not answer).
fn vpc_view(v: &VpcView, area: Option<AreaId>) -> Output {
    let mut s = String::new();
    write_vpc(&mut s, v, area);
    let mut out = record(v, s);
    out.json["area_id"] = serde_json::to_value(area).expect("json");
    out
}

/// `show vm`: the reply as it came in JSON, one line for people.
fn vm_view(v: &VmView) -> Output {
    record(
        v,
        format!(
            "vm {}  {}  tier {}  vpc {}  zone {}",
            v.vm, v.ip, v.tier, v.vpc, v.zone
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(ip: &str) -> VmView {
        VmView {
            vm: "vm-0001".into(),
            tier: "tier-web".into(),
            ip: ip.parse().unwrap(),
            vpc: "vpc-blue".into(),
            zone: "zone-1".into(),
        }
    }

    #[test]
    fn show_vm_prints_one_line_and_the_reply_as_json() {
        let out = vm_view(&view("10.1.0.10"));
        assert_eq!(
            out.human,
            "vm vm-0001  10.1.0.10  tier tier-web  vpc vpc-blue  zone zone-1"
        );
        assert_eq!(
            out.json,
            serde_json::json!({
                "vm": "vm-0001", "tier": "tier-web", "ip": "10.1.0.10",
                "vpc": "vpc-blue", "zone": "zone-1",
            })
        );
        // An IPv6 address prints as written, compressed.
        let out = vm_view(&view("fd00:0:0:1::a"));
        assert_eq!(
            out.human,
            "vm vm-0001  fd00:0:0:1::a  tier tier-web  vpc vpc-blue  zone zone-1"
        );
    }
}
