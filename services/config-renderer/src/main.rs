//! `vpcroute-config-renderer`: the desired OSPF configuration of every VPC
//! virtual router, versioned.
//!
//! Start-up: open and verify the event log, rebuild the state by replaying
//! it, connect to NATS, follow ipam's and the area registry's logs from
//! where the log says they were left, register the request endpoints, then
//! run one event loop. See `server.rs`.

mod server;

use std::time::Duration;

use clap::Parser;
use vpcroute_bus::{connect, subjects, Startup};
use vpcroute_configs::{ConfigEvent, RendererState};
use vpcroute_service::{init_tracing, open_and_replay, ServiceArgs};

#[derive(Debug, Parser)]
#[command(
    name = "vpcroute-config-renderer",
    version,
    about = "vpcroute router configuration service"
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
    /// How often to read ipam's and the area registry's logs for events
    /// missed on the bus (e.g. `1s`, `500ms`, `2`).
    #[arg(long, default_value = "1s", value_parser = vpcroute_bus::parse_duration)]
    poll_interval: Duration,
    /// During an MD5 key rotation, how long every managed router keeps the
    /// old key after they all began signing with the new one: the window in
    /// which the operator switches routers vpcroute does not manage (the
    /// core) to the new key (README, "Rotating the OSPF key").
    #[arg(long, default_value = "10m", value_parser = vpcroute_bus::parse_duration)]
    key_rotation_hold: Duration,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_tracing();
    let args = Args::parse();
    vpcroute_service::exit("vpcroute-config-renderer", run(args).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut state = RendererState::new();
    state.rotation_hold_ms = i64::try_from(args.key_rotation_hold.as_millis()).unwrap_or(i64::MAX);
    let (log, head) = open_and_replay(&args.service, "config-renderer", |event: ConfigEvent| {
        state.apply(&event)
    })?;
    tracing::info!(
        head,
        ipam_cursor = state.ipam_cursor(),
        area_cursor = state.area_cursor(),
        routers = state.routers().len(),
        "state rebuilt from the event log"
    );

    let client = connect(
        &args.service.nats,
        subjects::config::SERVICE_NAME,
        Startup::RetryForever,
    )
    .await?;
    server::serve(client, log, state, args.poll_interval).await
}
