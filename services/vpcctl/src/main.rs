//! `vpcctl`: drives vpcroute over NATS as CloudStack would, and shows
//! operators what it holds. The command names and flags are product
//! interface: they are kept exactly, and only ever added to.

mod output;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::{de::DeserializeOwned, Serialize};
use vpcroute_bus::{connect, request, subjects, NatsArgs, Startup};
use vpcroute_protocol::ipam::*;
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
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    nats: NatsArgs,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("bad duration unit in {s:?} (ms, s, m)")),
    }
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
    /// Read-only views.
    #[command(subcommand)]
    Show(ShowCmd),
    /// Event log maintenance.
    #[command(subcommand)]
    Log(LogCmd),
}

#[derive(Debug, Subcommand)]
enum ZoneCmd {
    /// Enable dynamic routing in a zone, with its super-CIDRs.
    Enable {
        zone: String,
        #[arg(long = "super-cidr", required = true)]
        super_cidrs: Vec<String>,
    },
    /// Replace a zone's super-CIDRs (one in use cannot be removed).
    Update {
        zone: String,
        #[arg(long = "super-cidr", required = true)]
        super_cidrs: Vec<String>,
    },
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
        /// Address family of a --prefix-length request.
        #[arg(long, value_enum, default_value = "ipv4")]
        family: FamilyArg,
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
    },
    /// Delete a tier (it must have no VMs).
    Delete { tier: String },
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
        Cmd::Zone(ZoneCmd::Enable { zone, super_cidrs }) => {
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
            Ok(output::zone_record(&r))
        }
        Cmd::Zone(ZoneCmd::Update { zone, super_cidrs }) => {
            let r: ZoneRecord = ctx
                .call(
                    subjects::ipam::ZONE_UPDATE,
                    &ZoneUpdate {
                        request_id: rid,
                        zone,
                        super_cidrs,
                    },
                )
                .await?;
            Ok(output::zone_record(&r))
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
                        family: match family {
                            FamilyArg::Ipv4 => Family::Ipv4,
                            FamilyArg::Ipv6 => Family::Ipv6,
                        },
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
                .call(subjects::ipam::ZONE_SHOW, &Show { name: zone })
                .await?;
            Ok(output::zone_view(&v))
        }
        Cmd::Show(ShowCmd::Vpc { vpc }) => {
            let v: VpcView = ctx
                .call(subjects::ipam::VPC_SHOW, &Show { name: vpc })
                .await?;
            Ok(output::vpc_view(&v))
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
