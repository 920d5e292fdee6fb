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
use vpcroute_service::{init_tracing, open_log, replay, ServiceArgs};

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
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    poll_interval: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 1s, 500ms)"))?;
    let secs = v * scale;
    if !(0.001..=3600.0).contains(&secs) {
        return Err(format!("{s:?} is out of range 1ms..=3600s"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_tracing();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("vpcroute-config-renderer: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let log = open_log(&args.service, "config-renderer")?;
    let mut state = RendererState::new();
    let head = replay(&log, |ev| {
        let event: ConfigEvent = serde_json::from_value(ev.payload.clone())
            .map_err(|e| format!("undecodable {} event: {e}", ev.event_type))?;
        state.apply(&event).map_err(|e| e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
