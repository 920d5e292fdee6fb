//! One module per noun of the command line, as mini-redis keeps one file
//! per command: each owns its clap arguments, the requests it sends and
//! how it prints the answers.

pub mod acl;
pub mod import;
pub mod log;
pub mod ping;
pub mod router;
pub mod service;
pub mod show;
mod show_zone;
pub mod tier;
pub mod vm;
pub mod vpc;
pub mod zone;

use vpcroute_protocol::ipam::{Release, Released};
use vpcroute_protocol::ErrorBody;

use crate::output::{record, Output};
use crate::Ctx;

/// `vpc delete`, `tier delete` and `vm delete`: one request shape, one
/// answer.
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
    Ok(record(&r, format!("released {} {}", r.name, r.address)))
}
