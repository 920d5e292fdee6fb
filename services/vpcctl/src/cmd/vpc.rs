//! `vpcctl vpc`: VPCs carved from their zone's super-CIDRs.

use clap::Subcommand;
use vpcroute_bus::subjects;
use vpcroute_protocol::ipam::{Family, RouterSpec, VpcAllocate, VpcRecord};
use vpcroute_protocol::ErrorBody;

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum VpcCmd {
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
pub enum FamilyArg {
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

impl VpcCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        match self {
            VpcCmd::Create {
                vpc,
                zone,
                netmask,
                prefix_length,
                family,
                router,
                router_id,
                uplink,
            } => {
                // clap makes the three router flags all or nothing.
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
                let req = VpcAllocate {
                    request_id: ctx.request_id.clone(),
                    vpc,
                    zone,
                    netmask,
                    prefix_length,
                    family: family.map(|f| match f {
                        FamilyArg::Ipv4 => Family::Ipv4,
                        FamilyArg::Ipv6 => Family::Ipv6,
                    }),
                    router,
                };
                let r: VpcRecord = ctx.call(subjects::ipam::VPC_ALLOCATE, &req).await?;
                Ok(record(&r, format!("{} {}", r.vpc, r.cidr)))
            }
            VpcCmd::Delete { vpc } => super::release(ctx, subjects::ipam::VPC_RELEASE, vpc).await,
        }
    }
}
