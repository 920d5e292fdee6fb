//! `vpcroute-router-sync`: keeps each managed router's FRR configuration
//! equal to its desired configuration from the config-renderer.
//!
//! One task per router (see `router.rs`), so routers are independent and
//! only one apply at a time ever runs against a router. The main loop owns
//! the event log's write path and answers status requests.

#[cfg(test)]
mod child_env_tests;
mod nft;
mod router;

use std::collections::HashMap;
use std::time::Duration;

use clap::Parser;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use vpcroute_bus::{connect, decode_request, subjects, Startup};
use vpcroute_eventlog::NewEvent;
use vpcroute_protocol::sync::{RouterStatus, RouterStatusGet};
use vpcroute_protocol::{ErrorBody, ErrorCode};
use vpcroute_service::commit::{respond, serve_events_read, start_endpoints, Committer, Publisher};
use vpcroute_service::{init_tracing, open_and_replay, ServiceArgs};

use vpcroute_router_sync::vtysh::Vtysh;

use crate::router::{RouterTask, SyncEvent};

#[derive(Debug, Parser)]
#[command(
    name = "vpcroute-router-sync",
    version,
    about = "Applies router configurations live and repairs drift"
)]
struct Args {
    #[command(flatten)]
    service: ServiceArgs,
    /// A managed router, VR=COMMAND, where COMMAND runs its vtysh (e.g.
    /// `vtysh`, `ip netns exec NS vtysh -N NS`, `ssh -p 3922 root@ADDR vtysh`).
    /// It is started once and kept running, commands on its standard input;
    /// it runs with HOME=/dev/null so vtysh keeps no history of them.
    #[arg(long = "router", value_parser = parse_router)]
    routers: Vec<(String, String)>,
    /// A managed router's firewall, VR=COMMAND, where COMMAND runs its nft
    /// (e.g. `nft`, `ip netns exec NS nft`). The router's network ACLs are
    /// kept in the table `inet vpcroute`; without this flag they are not
    /// enforced on that router (a warning says so at start).
    #[arg(long = "nft", value_parser = parse_router)]
    nfts: Vec<(String, String)>,
    /// How often each router is checked for drift.
    #[arg(long, default_value = "2", value_parser = vpcroute_bus::parse_duration)]
    drift_interval: Duration,
    /// How long one vtysh call may take.
    #[arg(long, default_value = "15", value_parser = vpcroute_bus::parse_duration)]
    vtysh_timeout: Duration,
    /// How long to wait for the VPC's summary to reach the backbone
    /// database after an apply before calling it a failure.
    #[arg(long, default_value = "10", value_parser = vpcroute_bus::parse_duration)]
    effect_timeout: Duration,
}

fn parse_router(s: &str) -> Result<(String, String), String> {
    let (name, cmd) = s
        .split_once('=')
        .ok_or_else(|| format!("expected VR=COMMAND, got {s:?}"))?;
    if name.is_empty() || cmd.trim().is_empty() {
        return Err(format!("expected VR=COMMAND, got {s:?}"));
    }
    Ok((name.to_string(), cmd.to_string()))
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Status,
    EventsRead,
}

const ENDPOINTS: &[(Endpoint, &str, &str)] = &[
    (
        Endpoint::Status,
        "router_status",
        subjects::sync::ROUTER_STATUS,
    ),
    (
        Endpoint::EventsRead,
        "events_read",
        subjects::sync::EVENTS_READ,
    ),
];

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_tracing();
    vpcroute_service::exit("vpcroute-router-sync", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The last version verified on each router, so status survives a
    // restart; the routers themselves are re-read and resynced anyway.
    let mut applied: HashMap<String, u64> = HashMap::new();
    let (log, _) = open_and_replay(&args.service, "router-sync", |e: SyncEvent| {
        if let SyncEvent::Applied {
            router, version, ..
        }
        | SyncEvent::DriftRepaired {
            router, version, ..
        } = e
        {
            applied.insert(router, version);
        }
        Ok::<(), String>(())
    })?;

    let client = connect(
        &args.service.nats,
        subjects::sync::SERVICE_NAME,
        Startup::RetryForever,
    )
    .await?;
    let mut endpoints = start_endpoints(
        &client,
        subjects::sync::SERVICE_NAME,
        "vpcroute router-sync: live FRR configuration, drift repair, OSPF status",
        ENDPOINTS,
    )
    .await?;
    let mut committer = Committer::new(
        client.clone(),
        log.clone(),
        Publisher::plain("router-sync", subjects::sync::EVENTS_PREFIX),
    );

    let (record_tx, mut record_rx) = mpsc::unbounded_channel::<SyncEvent>();
    let mut statuses: HashMap<String, watch::Receiver<RouterStatus>> = HashMap::new();
    for (name, _) in &args.nfts {
        if !args.routers.iter().any(|(r, _)| r == name) {
            return Err(format!("--nft {name}=...: {name} is not a --router").into());
        }
    }
    for (name, command) in &args.routers {
        let vtysh = Vtysh::new(command, args.vtysh_timeout)?;
        let nft = match args.nfts.iter().find(|(n, _)| n == name) {
            Some((_, cmd)) => Some(nft::Nft::new(cmd, args.vtysh_timeout)?),
            None => {
                tracing::warn!(router = %name, "no --nft for this router: its network ACLs are not enforced");
                None
            }
        };
        let task = RouterTask::new(
            name.clone(),
            vtysh,
            nft,
            client.clone(),
            record_tx.clone(),
            applied.get(name).copied(),
            args.drift_interval,
            args.effect_timeout,
        );
        statuses.insert(name.clone(), task.status());
        tokio::spawn(task.run());
    }
    tracing::info!(routers = args.routers.len(), "router-sync running");

    loop {
        tokio::select! {
            _ = committer.settle() => {}
            Some(ev) = record_rx.recv() => {
                let stream = format!("router/{}", ev.router());
                let event = NewEvent {
                    event_type: ev.event_type().to_string(),
                    schema_version: 1,
                    payload: serde_json::to_value(&ev).expect("events serialise"),
                };
                let id = uuid::Uuid::new_v4().to_string();
                committer.commit(None, id.clone(), id, stream, vec![event], serde_json::Value::Null);
            }
            next = endpoints.requests.next() => match next {
                None => return Err("NATS subscriptions ended".into()),
                Some((Endpoint::EventsRead, request)) => serve_events_read(log.clone(), "router-sync", request),
                Some((Endpoint::Status, request)) => {
                    let reply = decode_request::<RouterStatusGet>(&request.message.payload).and_then(|q| {
                        statuses
                            .get(&q.router)
                            .map(|rx| rx.borrow().clone())
                            .ok_or_else(|| ErrorBody::new(ErrorCode::UnknownRouter, format!("router {:?} is not managed by this router-sync", q.router)))
                    });
                    respond(request, reply);
                }
            },
        }
    }
}
