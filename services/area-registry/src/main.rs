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
use vpcroute_service::{open_log, replay, ServiceArgs};

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
        value_parser = parse_duration
    )]
    ipam_poll_interval: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m)")),
    };
    if d.is_zero() {
        return Err("the poll interval must be positive".into());
    }
    Ok(d)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    vpcroute_service::init_tracing();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("vpcroute-area-registry: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let log = open_log(&args.service, "area-registry")?;
    let mut state = AreaState::new();
    let head = replay(&log, |ev| {
        let event: AreaEvent = serde_json::from_value(ev.payload.clone())
            .map_err(|e| format!("undecodable {} event: {e}", ev.event_type))?;
        state.apply(&event).map_err(|e| e.to_string())
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
