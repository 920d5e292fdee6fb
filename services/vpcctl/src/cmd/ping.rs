//! `vpcctl ping SERVICE`: one NATS Services API ping (`$SRV.PING.<name>`).
//! The answer is the Services API's own JSON, not vpcroute's reply
//! envelope, so it is read here rather than through `request`.

use clap::Args;
use vpcroute_bus::subjects;
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Args)]
pub struct PingArgs {
    /// The service's registered name, e.g. vpcroute-ipam.
    service: String,
}

/// The fields of a `$SRV.PING` answer vpcctl shows.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct Pong {
    name: String,
    id: String,
    version: String,
}

impl PingArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        let subject = subjects::service_ping(&self.service);
        let unavailable = |why: String| ErrorBody::new(ErrorCode::Unavailable, why);
        let msg = tokio::time::timeout(ctx.timeout, ctx.client.request(subject.clone(), "".into()))
            .await
            .map_err(|_| unavailable(format!("no reply on {subject} within {:?}", ctx.timeout)))?
            .map_err(|e| unavailable(format!("{subject}: {e}")))?;
        let pong: Pong = serde_json::from_slice(&msg.payload)
            .map_err(|e| unavailable(format!("{subject}: malformed answer: {e}")))?;
        let human = format!("{} {} {}", pong.name, pong.id, pong.version);
        Ok(record(&pong, human))
    }
}
