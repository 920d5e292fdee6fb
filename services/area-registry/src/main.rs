//! `vpcroute-area-registry`: each zone's OSPF settings and a unique OSPF
//! area per VPC.
//!
//! Start-up: open and verify the event log, rebuild the state by replaying
//! it, connect to NATS, register the request endpoints (NATS Services API),
//! start following ipam's events from the last one recorded, then run one
//! event loop. See `server.rs`.

mod server;

use std::time::Duration;

use clap::Parser;
use vpcroute_areas::AreaState;
use vpcroute_bus::{connect, subjects, Startup};
use vpcroute_protocol::areas::AreaEvent;
use vpcroute_service::{open_and_replay, ServiceArgs};

#[derive(Debug, Parser)]
#[command(
    name = "vpcroute-area-registry",
    version,
    about = "vpcroute OSPF settings and area registry"
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
    /// How often to read ipam's log for events missed on the live feed
    /// (e.g. `500ms`, `1s`, `1m`).
    #[arg(
        long,
        env = "VPCROUTE_IPAM_POLL_INTERVAL",
        default_value = "1s",
        value_parser = vpcroute_bus::parse_duration
    )]
    ipam_poll_interval: Duration,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    vpcroute_service::init_tracing();
    let args = Args::parse();
    vpcroute_service::exit("vpcroute-area-registry", run(args).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut state = AreaState::new();
    let (log, head) = open_and_replay(&args.service, "area-registry", |event: AreaEvent| {
        state.apply(&event)
    })?;
    tracing::info!(
        head,
        ipam_cursor = state.ipam_cursor(),
        "state rebuilt from the event log"
    );

    // A service comes up even while NATS is down, and connects when it can.
    let client = connect(
        &args.service.nats,
        subjects::areas::SERVICE_NAME,
        Startup::RetryForever,
    )
    .await?;
    server::serve(client, log, state, args.ipam_poll_interval).await
}
