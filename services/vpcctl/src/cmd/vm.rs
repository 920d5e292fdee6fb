//! `vpcctl vm`: VM addresses from their tier.

use clap::Subcommand;
use vpcroute_bus::subjects;
use vpcroute_protocol::ipam::{VmAllocate, VmRecord};
use vpcroute_protocol::ErrorBody;

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum VmCmd {
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

impl VmCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        match self {
            VmCmd::Create { vm, tier, ip } => {
                let r: VmRecord = ctx
                    .call(
                        subjects::ipam::VM_ALLOCATE,
                        &VmAllocate {
                            request_id: ctx.request_id.clone(),
                            vm,
                            tier,
                            ip,
                        },
                    )
                    .await?;
                Ok(record(&r, format!("{} {}", r.vm, r.ip)))
            }
            VmCmd::Delete { vm } => super::release(ctx, subjects::ipam::VM_RELEASE, vm).await,
        }
    }
}
