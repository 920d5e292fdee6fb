//! `vpcctl tier`: tiers carved from their VPC, and the ACL list each uses.

use clap::Subcommand;
use vpcroute_bus::subjects;
use vpcroute_protocol::acl::{self, TierAclRecord, TierSetAcl};
use vpcroute_protocol::ipam::{TierAllocate, TierRecord};
use vpcroute_protocol::ErrorBody;

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum TierCmd {
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

impl TierCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        let request_id = ctx.request_id.clone();
        match self {
            TierCmd::Create {
                tier,
                vpc,
                gateway,
                netmask,
                prefix_length,
                interface,
                acl,
            } => {
                let req = TierAllocate {
                    request_id,
                    tier,
                    vpc,
                    gateway,
                    netmask,
                    prefix_length,
                    interface,
                    acl,
                };
                let r: TierRecord = ctx.call(subjects::ipam::TIER_ALLOCATE, &req).await?;
                Ok(record(
                    &r,
                    format!("{} {} gateway {}", r.tier, r.cidr, r.gateway),
                ))
            }
            TierCmd::Delete { tier } => {
                super::release(ctx, subjects::ipam::TIER_RELEASE, tier).await
            }
            TierCmd::SetAcl { tier, acl } => {
                let req = TierSetAcl {
                    request_id,
                    tier,
                    acl,
                };
                let r: TierAclRecord = ctx.call(subjects::ipam::TIER_SET_ACL, &req).await?;
                Ok(record(
                    &r,
                    format!(
                        "{} acl {} (was {})",
                        r.tier,
                        r.acl,
                        r.previous.as_deref().unwrap_or(acl::NO_LIST)
                    ),
                ))
            }
        }
    }
}
