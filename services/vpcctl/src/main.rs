//! `vpcctl`: drives vpcroute over NATS as CloudStack would, and shows
//! operators what it holds. The command names and flags are product
//! interface: they are kept exactly, and only ever added to.

mod output;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::{de::DeserializeOwned, Serialize};
use vpcroute_bus::{connect, request, subjects, NatsArgs, RequestError, Startup};
use vpcroute_protocol::ipam::*;
use vpcroute_protocol::{acl, areas, config};
use vpcroute_protocol::{ErrorBody, ErrorCode};

#[derive(Debug, Parser)]
#[command(
    name = "vpcctl",
    version,
    about = "Control vpcroute: zones, VPCs, tiers, VMs"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Args)]
struct Global {
    /// Print the result (or error) as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Idempotency key: re-sending a command with the same id returns the
    /// original answer instead of acting twice. Default: a fresh UUID.
    #[arg(long, global = true)]
    request_id: Option<String>,
    /// How long to wait for an answer.
    #[arg(long, global = true, default_value = "10s", value_parser = vpcroute_bus::parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    nats: NatsArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Dynamically routed zones and their super-CIDRs.
    #[command(subcommand)]
    Zone(ZoneCmd),
    /// VPCs carved from their zone's super-CIDRs.
    #[command(subcommand)]
    Vpc(VpcCmd),
    /// Tiers carved from their VPC.
    #[command(subcommand)]
    Tier(TierCmd),
    /// VM addresses from their tier.
    #[command(subcommand)]
    Vm(VmCmd),
    /// Network ACL lists of a VPC, attached to its tiers.
    #[command(subcommand)]
    Acl(AclCmd),
    /// Read-only views.
    #[command(subcommand)]
    Show(ShowCmd),
    /// Virtual routers: desired configuration.
    #[command(subcommand)]
    Router(RouterCmd),
    /// Event log maintenance.
    #[command(subcommand)]
    Log(LogCmd),
}

#[derive(Debug, Subcommand)]
enum RouterCmd {
    /// Print a router's current desired configuration (it holds the OSPF
    /// key: handle the output as a secret).
    Config {
        router: String,
        #[arg(long, value_enum, default_value = "frr")]
        dialect: DialectArg,
        /// Print the router's nftables ruleset (its network ACLs) instead
        /// of its routing configuration.
        #[arg(long)]
        firewall: bool,
    },
    /// Show what router-sync reports: applied version, last error, OSPF
    /// neighbours and routes.
    Status { router: String },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DialectArg {
    Frr,
    Quagga,
}

#[derive(Debug, Subcommand)]
enum ZoneCmd {
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
struct OspfArgs {
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
fn read_key(path: &std::path::Path) -> Result<String, ErrorBody> {
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

#[derive(Debug, Subcommand)]
enum VpcCmd {
    /// Create a VPC: a free subnet of the given size is carved for it.
    Create {
        vpc: String,
        #[arg(long)]
        zone: String,
        #[arg(
            long,
            conflicts_with = "prefix_length",
            required_unless_present = "prefix_length"
        )]
        netmask: Option<String>,
        #[arg(long)]
        prefix_length: Option<u8>,
        /// Address family of a --prefix-length request. Without it ipam
        /// takes the only family that fits (a length above 32 is IPv6, a
        /// zone of one family's super-CIDRs that family).
        #[arg(long, value_enum)]
        family: Option<FamilyArg>,
        /// The VPC's virtual router.
        #[arg(long, requires_all = ["router_id", "uplink"])]
        router: Option<String>,
        /// The router's OSPF router id.
        #[arg(long, requires = "router")]
        router_id: Option<std::net::Ipv4Addr>,
        /// The router's uplink into the backbone, IFACE=ADDR/LEN.
        #[arg(long, requires = "router", value_parser = parse_uplink)]
        uplink: Option<(String, ipnet::Ipv4Net)>,
    },
    /// Delete a VPC (it must have no tiers).
    Delete { vpc: String },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FamilyArg {
    Ipv4,
    Ipv6,
}

fn parse_uplink(s: &str) -> Result<(String, ipnet::Ipv4Net), String> {
    let (iface, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("expected IFACE=ADDR/LEN, got {s:?}"))?;
    let addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 address with a prefix length"))?;
    Ok((iface.to_string(), addr))
}

#[derive(Debug, Subcommand)]
enum TierCmd {
    /// Create a tier: by gateway + netmask, or by size alone.
    Create {
        tier: String,
        #[arg(long)]
        vpc: String,
        #[arg(long, requires = "netmask_or_len")]
        gateway: Option<String>,
        #[arg(long, group = "netmask_or_len", conflicts_with = "prefix_length")]
        netmask: Option<String>,
        #[arg(long, group = "netmask_or_len")]
        prefix_length: Option<u8>,
        /// The VR interface serving the tier.
        #[arg(long)]
        interface: Option<String>,
        /// The tier's network ACL list (one of the VPC's, or default_allow /
        /// default_deny). Without it: no list (all ingress denied, all
        /// egress allowed).
        #[arg(long)]
        acl: Option<String>,
    },
    /// Delete a tier (it must have no VMs).
    Delete { tier: String },
    /// Attach a network ACL list to a tier (one of its VPC's lists, or
    /// default_allow / default_deny).
    SetAcl { tier: String, acl: String },
}

#[derive(Debug, Subcommand)]
enum AclCmd {
    /// Create an empty list for a VPC (ingress denied until rules allow it).
    Create {
        acl: String,
        #[arg(long)]
        vpc: String,
    },
    /// Delete a list no tier uses.
    Delete { acl: String },
    /// A list's rules, in number order, and the tiers using it.
    Show { acl: String },
    /// Rules of a list.
    #[command(subcommand)]
    Rule(AclRuleCmd),
}

#[derive(Debug, Subcommand)]
enum AclRuleCmd {
    /// Add a rule. Rules are evaluated in number order; the first match
    /// decides. Ingress matches the source (--cidr), egress the destination.
    Add {
        acl: String,
        #[arg(long)]
        number: u32,
        /// Repeat, or separate with commas.
        #[arg(long = "cidr", required = true, value_delimiter = ',')]
        cidrs: Vec<String>,
        /// all, tcp, udp, icmp or a protocol number.
        #[arg(long)]
        protocol: String,
        /// A port or a range A-B (tcp and udp).
        #[arg(long)]
        ports: Option<String>,
        /// ICMP type (-1: any).
        #[arg(long, allow_hyphen_values = true)]
        icmp_type: Option<i32>,
        /// ICMP code (-1: any).
        #[arg(long, allow_hyphen_values = true)]
        icmp_code: Option<i32>,
        #[arg(long, value_enum)]
        traffic: TrafficArg,
        #[arg(long, value_enum)]
        action: ActionArg,
    },
    /// Delete a rule by number.
    Delete {
        acl: String,
        #[arg(long)]
        number: u32,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TrafficArg {
    Ingress,
    Egress,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ActionArg {
    Allow,
    Deny,
}

#[derive(Debug, Subcommand)]
enum VmCmd {
    /// Give a VM an address from its tier.
    Create {
        vm: String,
        #[arg(long)]
        tier: String,
        #[arg(long)]
        ip: Option<String>,
    },
    /// Release a VM's address.
    Delete { vm: String },
}

#[derive(Debug, Subcommand)]
enum ShowCmd {
    /// A zone: super-CIDRs, VPCs, tiers, VMs, utilisation.
    Zone { zone: String },
    /// One VPC with its tiers and VMs.
    Vpc { vpc: String },
    /// A network ACL list (same as `acl show`).
    Acl { acl: String },
}

#[derive(Debug, Subcommand)]
enum LogCmd {
    /// Check the hash chain of every event log in a data directory.
    Verify {
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match run(cli).await {
        Ok(out) => {
            output::print_ok(&out, json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            output::print_err(&e, json);
            ExitCode::FAILURE
        }
    }
}

/// What a command produced, kept as JSON plus a human rendering.
pub struct Output {
    pub json: serde_json::Value,
    pub human: String,
}

struct Ctx {
    client: async_nats::Client,
    request_id: String,
    timeout: Duration,
}

impl Ctx {
    async fn call<Req: Serialize, Resp: DeserializeOwned + Serialize>(
        &self,
        subject: &str,
        req: &Req,
    ) -> Result<Resp, ErrorBody> {
        request(&self.client, subject, req, self.timeout)
            .await
            .map_err(|e| e.into_body())
    }

    async fn call_ospf(&self, set: &areas::ZoneOspfSet) -> Result<areas::ZoneOspfView, ErrorBody> {
        self.call(subjects::areas::ZONE_SET, set).await
    }
}

async fn run(cli: Cli) -> Result<Output, ErrorBody> {
    // `log verify` reads files and needs no bus.
    if let Cmd::Log(LogCmd::Verify { data_dir }) = &cli.command {
        return output::verify_logs(data_dir);
    }
    let g = cli.global;
    let client = connect(&g.nats, "vpcctl", Startup::FailFast)
        .await
        .map_err(|e| ErrorBody::new(ErrorCode::Unavailable, e.to_string()))?;
    let ctx = Ctx {
        client,
        request_id: g
            .request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        timeout: g.timeout,
    };
    let rid = ctx.request_id.clone();
    match cli.command {
        Cmd::Zone(ZoneCmd::Enable {
            zone,
            super_cidrs,
            ospf,
        }) => {
            // Read the key and check the flags before anything is sent, so
            // a bad flag changes nothing anywhere.
            let ospf_set = (!ospf.is_empty())
                .then(|| ospf.to_request(&rid, &zone))
                .transpose()?;
            // The settings go to the area registry after ipam has enabled
            // the zone: decide them first, by the registry's own rules on
            // a new zone (any generated key is a stand-in here), so settings
            // it would refuse leave ipam untouched too.
            if let Some(set) = &ospf_set {
                vpcroute_areas::AreaState::new()
                    .decide_zone_set(set, || "0".repeat(vpcroute_areas::KEY_LEN))
                    .map_err(ErrorBody::from)?;
            }
            let r: ZoneRecord = ctx
                .call(
                    subjects::ipam::ZONE_ENABLE,
                    &ZoneEnable {
                        request_id: rid,
                        zone,
                        super_cidrs,
                    },
                )
                .await?;
            // The area registry gives a new zone default settings by
            // itself; explicit ones follow. Re-running the command with the
            // same --request-id completes a half-done enable.
            let ospf_view = match ospf_set {
                Some(set) => Some(ctx.call_ospf(&set).await?),
                None => None,
            };
            Ok(output::zone_record(&r, ospf_view.as_ref()))
        }
        Cmd::Zone(ZoneCmd::Update {
            zone,
            super_cidrs,
            ospf,
        }) => {
            if super_cidrs.is_empty() && ospf.is_empty() {
                return Err(ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    "nothing to update: give --super-cidr and/or OSPF settings",
                ));
            }
            let ospf_set = (!ospf.is_empty())
                .then(|| ospf.to_request(&rid, &zone))
                .transpose()?;
            let ospf_view = match ospf_set {
                Some(set) => Some(ctx.call_ospf(&set).await?),
                None => None,
            };
            let r = if super_cidrs.is_empty() {
                let v: ZoneView = ctx
                    .call(subjects::ipam::ZONE_SHOW, &Show { name: zone })
                    .await?;
                ZoneRecord {
                    zone: v.zone,
                    super_cidrs: v.super_cidrs,
                }
            } else {
                ctx.call(
                    subjects::ipam::ZONE_UPDATE,
                    &ZoneUpdate {
                        request_id: rid,
                        zone,
                        super_cidrs,
                    },
                )
                .await?
            };
            Ok(output::zone_record(&r, ospf_view.as_ref()))
        }
        Cmd::Vpc(VpcCmd::Create {
            vpc,
            zone,
            netmask,
            prefix_length,
            family,
            router,
            router_id,
            uplink,
        }) => {
            let router = match (router, router_id, uplink) {
                (Some(name), Some(router_id), Some((uplink_interface, uplink_address))) => {
                    Some(RouterSpec {
                        name,
                        router_id,
                        uplink_interface,
                        uplink_address,
                    })
                }
                _ => None,
            };
            let r: VpcRecord = ctx
                .call(
                    subjects::ipam::VPC_ALLOCATE,
                    &VpcAllocate {
                        request_id: rid,
                        vpc,
                        zone,
                        netmask,
                        prefix_length,
                        family: family.map(|f| match f {
                            FamilyArg::Ipv4 => Family::Ipv4,
                            FamilyArg::Ipv6 => Family::Ipv6,
                        }),
                        router,
                    },
                )
                .await?;
            Ok(output::record(&r, format!("{} {}", r.vpc, r.cidr)))
        }
        Cmd::Vpc(VpcCmd::Delete { vpc }) => release(&ctx, subjects::ipam::VPC_RELEASE, vpc).await,
        Cmd::Tier(TierCmd::Create {
            tier,
            vpc,
            gateway,
            netmask,
            prefix_length,
            interface,
            acl,
        }) => {
            let r: TierRecord = ctx
                .call(
                    subjects::ipam::TIER_ALLOCATE,
                    &TierAllocate {
                        request_id: rid,
                        tier,
                        vpc,
                        gateway,
                        netmask,
                        prefix_length,
                        interface,
                        acl,
                    },
                )
                .await?;
            Ok(output::record(
                &r,
                format!("{} {} gateway {}", r.tier, r.cidr, r.gateway),
            ))
        }
        Cmd::Tier(TierCmd::Delete { tier }) => {
            release(&ctx, subjects::ipam::TIER_RELEASE, tier).await
        }
        Cmd::Tier(TierCmd::SetAcl { tier, acl }) => {
            let r: acl::TierAclRecord = ctx
                .call(
                    subjects::ipam::TIER_SET_ACL,
                    &acl::TierSetAcl {
                        request_id: rid,
                        tier,
                        acl,
                    },
                )
                .await?;
            Ok(output::record(
                &r,
                format!(
                    "{} acl {} (was {})",
                    r.tier,
                    r.acl,
                    r.previous.as_deref().unwrap_or(acl::NO_LIST)
                ),
            ))
        }
        Cmd::Acl(AclCmd::Create { acl, vpc }) => {
            let v: acl::AclView = ctx
                .call(
                    subjects::ipam::ACL_CREATE,
                    &acl::AclCreate {
                        request_id: rid,
                        acl,
                        vpc,
                    },
                )
                .await?;
            Ok(output::acl_view(&v))
        }
        Cmd::Acl(AclCmd::Delete { acl }) => {
            let v: acl::AclView = ctx
                .call(
                    subjects::ipam::ACL_DELETE,
                    &Release {
                        request_id: rid,
                        name: acl,
                    },
                )
                .await?;
            Ok(output::record(&v, format!("deleted ACL list {}", v.acl)))
        }
        Cmd::Acl(AclCmd::Show { acl }) | Cmd::Show(ShowCmd::Acl { acl }) => {
            let v: acl::AclView = ctx
                .call(subjects::ipam::ACL_SHOW, &Show { name: acl })
                .await?;
            Ok(output::acl_view(&v))
        }
        Cmd::Acl(AclCmd::Rule(AclRuleCmd::Add {
            acl,
            number,
            cidrs,
            protocol,
            ports,
            icmp_type,
            icmp_code,
            traffic,
            action,
        })) => {
            let v: acl::AclView = ctx
                .call(
                    subjects::ipam::ACL_RULE_ADD,
                    &acl::AclRuleAdd {
                        request_id: rid,
                        acl,
                        number,
                        cidrs,
                        protocol,
                        ports,
                        icmp_type,
                        icmp_code,
                        traffic: match traffic {
                            TrafficArg::Ingress => acl::Traffic::Ingress,
                            TrafficArg::Egress => acl::Traffic::Egress,
                        },
                        action: match action {
                            ActionArg::Allow => acl::AclAction::Allow,
                            ActionArg::Deny => acl::AclAction::Deny,
                        },
                    },
                )
                .await?;
            Ok(output::acl_view(&v))
        }
        Cmd::Acl(AclCmd::Rule(AclRuleCmd::Delete { acl, number })) => {
            let v: acl::AclView = ctx
                .call(
                    subjects::ipam::ACL_RULE_DELETE,
                    &acl::AclRuleDelete {
                        request_id: rid,
                        acl,
                        number,
                    },
                )
                .await?;
            Ok(output::acl_view(&v))
        }
        Cmd::Vm(VmCmd::Create { vm, tier, ip }) => {
            let r: VmRecord = ctx
                .call(
                    subjects::ipam::VM_ALLOCATE,
                    &VmAllocate {
                        request_id: rid,
                        vm,
                        tier,
                        ip,
                    },
                )
                .await?;
            Ok(output::record(&r, format!("{} {}", r.vm, r.ip)))
        }
        Cmd::Vm(VmCmd::Delete { vm }) => release(&ctx, subjects::ipam::VM_RELEASE, vm).await,
        Cmd::Show(ShowCmd::Zone { zone }) => {
            let v: ZoneView = ctx
                .call(subjects::ipam::ZONE_SHOW, &Show { name: zone.clone() })
                .await?;
            // OSPF settings come from the area registry; show the zone
            // without them if the registry does not answer.
            let ospf: Option<areas::ZoneOspfView> = ctx
                .call(subjects::areas::ZONE_SHOW, &Show { name: zone.clone() })
                .await
                .ok();
            // A key rotation in progress is the config-renderer's to know
            // (it follows the routers' reports); any router of the zone
            // carries it.
            let routers: Vec<config::RouterSummary> = ctx
                .call(
                    subjects::config::ROUTER_LIST,
                    &config::RouterList { zone: Some(zone) },
                )
                .await
                .unwrap_or_default();
            let rotation = routers.into_iter().find_map(|r| r.key_rotation);
            Ok(output::zone_view(&v, ospf.as_ref(), rotation.as_ref()))
        }
        Cmd::Show(ShowCmd::Vpc { vpc }) => {
            let v: VpcView = ctx
                .call(subjects::ipam::VPC_SHOW, &Show { name: vpc.clone() })
                .await?;
            let area: Option<areas::VpcArea> = ctx
                .call(subjects::areas::VPC_SHOW, &Show { name: vpc })
                .await
                .ok();
            Ok(output::vpc_view(&v, area.map(|a| a.area_id)))
        }
        Cmd::Router(RouterCmd::Config {
            router,
            dialect,
            firewall,
        }) => {
            let c: config::RouterConfig = ctx
                .call(
                    subjects::config::ROUTER_GET,
                    &config::RouterConfigGet {
                        router,
                        dialect: match dialect {
                            DialectArg::Frr => config::DialectName::Frr,
                            DialectArg::Quagga => config::DialectName::Quagga,
                        },
                    },
                )
                .await?;
            Ok(output::router_config(&c, firewall))
        }
        Cmd::Router(RouterCmd::Status { router }) => {
            // Only the router-sync instance managing the router listens on
            // its subject: nobody listening means nobody manages it.
            let st: vpcroute_protocol::sync::RouterStatus = request(
                &ctx.client,
                &subjects::sync::router_status(&router),
                &vpcroute_protocol::sync::RouterStatusGet {
                    router: router.clone(),
                },
                ctx.timeout,
            )
            .await
            .map_err(|e| match e {
                RequestError::NoResponders(_) => ErrorBody::new(
                    ErrorCode::UnknownRouter,
                    format!("no router-sync manages {router}"),
                ),
                e => e.into_body(),
            })?;
            Ok(output::router_status(&st))
        }
        Cmd::Log(_) => unreachable!("handled above"),
    }
}

async fn release(ctx: &Ctx, subject: &str, name: String) -> Result<Output, ErrorBody> {
    let r: Released = ctx
        .call(
            subject,
            &Release {
                request_id: ctx.request_id.clone(),
                name,
            },
        )
        .await?;
    Ok(output::record(
        &r,
        format!("released {} {}", r.name, r.address),
    ))
}
