//! `vpcroute-ipam`: the address authority of a CloudStack region.
//!
//! Start-up: open the event log, verify it and rebuild the state by
//! replaying it (one pass), connect to NATS, register the request endpoints (NATS Services API),
//! then run one event loop. See `server.rs` for how a request becomes a
//! durable event and a reply.

mod server;

use clap::Parser;
use vpcroute_bus::{connect, subjects, Startup};
use vpcroute_ipam::IpamState;
use vpcroute_protocol::ipam::IpamEvent;
use vpcroute_service::{init_tracing, open_and_replay, ServiceArgs};

#[derive(Debug, Parser)]
#[command(
    name = "vpcroute-ipam",
    version,
    about = "vpcroute address management service"
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_tracing();
    let args = Args::parse();
    vpcroute_service::exit("vpcroute-ipam", run(args).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut state = IpamState::new();
    let (log, head) = open_and_replay(&args.service, "ipam", |event: IpamEvent| {
        state.apply(&event)
    })?;
    tracing::info!(head, "state rebuilt from the event log");

    // A service comes up even while NATS is down, and connects when it can.
    let client = connect(
        &args.service.nats,
        subjects::ipam::SERVICE_NAME,
        Startup::RetryForever,
    )
    .await?;
    server::serve(client, log, state).await
}
