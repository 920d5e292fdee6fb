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
use vpcroute_protocol::service::RouterProgress;
use vpcroute_protocol::sync::{RouterStatus, RouterStatusGet};
use vpcroute_protocol::{ErrorBody, ErrorCode};
use vpcroute_service::commit::{
    respond, start_endpoints_with_metadata, Committer, Endpoint, Progress, Publisher, Reading,
};
use vpcroute_service::{init_tracing, open_and_replay, LogEvent, ServiceArgs};

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
    /// This instance's name, unique among the router-sync instances on the
    /// bus: its event log is read on `vpcroute.sync.events.read.<instance>`
    /// and its events are published on `vpcroute.events.sync.<instance>.>`.
    /// Default: the name of the first --router (a router has exactly one
    /// managing instance, so that name is unique too).
    #[arg(long, env = "VPCROUTE_SYNC_INSTANCE", value_parser = parse_instance)]
    instance: Option<String>,
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

fn parse_instance(s: &str) -> Result<String, String> {
    subjects::sync::check_instance(s).map(|()| s.to_string())
}

/// What a request is about: the status of the `n`th `--router`, or this
/// instance's log.
#[derive(Debug, Clone, Copy)]
enum Route {
    Status(usize),
    EventsRead,
    ServiceStatus,
}

/// The instance's name: --instance, else its first router's name.
fn instance_name(args: &Args) -> Result<String, String> {
    match (&args.instance, args.routers.first()) {
        (Some(name), _) => Ok(name.clone()),
        (None, Some((router, _))) => parse_instance(router).map_err(|e| {
            format!("{e}: the first --router names the instance by default, give --instance")
        }),
        (None, None) => Err("give --instance or at least one --router".into()),
    }
}

/// One endpoint per managed router on its own status subject, one for the
/// instance's log and one for its service status: (route, Services API
/// name, subject).
fn endpoints(instance: &str, routers: &[(String, String)]) -> Vec<(Route, String, String)> {
    let mut eps: Vec<_> = routers
        .iter()
        .enumerate()
        .map(|(i, (router, _))| {
            (
                Route::Status(i),
                format!("router_status_{router}"),
                subjects::sync::router_status(router),
            )
        })
        .collect();
    eps.push((
        Route::EventsRead,
        "events_read".to_string(),
        subjects::sync::events_read(instance),
    ));
    eps.push((
        Route::ServiceStatus,
        "service_status".to_string(),
        subjects::sync::service_status(instance),
    ));
    eps
}

/// What the instance's status reports of each router: the version last
/// received from the config-renderer and the one last applied.
fn progress(instance: &str, statuses: &[watch::Receiver<RouterStatus>]) -> Progress {
    Progress {
        instance: Some(instance.to_string()),
        followed: Vec::new(),
        routers: statuses
            .iter()
            .map(|status| {
                let s = status.borrow();
                RouterProgress {
                    router: s.router.clone(),
                    desired_version: s.desired_version,
                    applied_version: s.applied_version,
                }
            })
            .collect(),
    }
}

/// The reply to a status request that reached `router`'s subject.
fn status_reply(
    payload: &[u8],
    router: &str,
    status: &watch::Receiver<RouterStatus>,
) -> Result<RouterStatus, ErrorBody> {
    let q = decode_request::<RouterStatusGet>(payload)?;
    if q.router != router {
        return Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!(
                "asked for router {:?} on the status subject of {router:?}",
                q.router
            ),
        ));
    }
    Ok(status.borrow().clone())
}

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

    let instance = instance_name(&args)?;
    for (name, _) in &args.routers {
        vpcroute_protocol::names::check_name("router", name)?;
    }
    let client = connect(
        &args.service.nats,
        subjects::sync::SERVICE_NAME,
        Startup::RetryForever,
    )
    .await?;
    let eps = endpoints(&instance, &args.routers);
    let eps: Vec<Endpoint<Route>> = eps
        .iter()
        .map(|(route, name, subject)| Endpoint {
            name,
            subject,
            handler: *route,
        })
        .collect();
    let routers: Vec<&str> = args.routers.iter().map(|(r, _)| r.as_str()).collect();
    let metadata = HashMap::from([
        ("instance".to_string(), instance.clone()),
        ("routers".to_string(), routers.join(",")),
    ]);
    let mut endpoints = start_endpoints_with_metadata(
        &client,
        subjects::sync::SERVICE_NAME,
        "vpcroute router-sync: live FRR configuration, drift repair, OSPF status",
        metadata,
        &eps,
    )
    .await?;
    // Built once per process and kept for its life; the publisher wants
    // a `'static` prefix, as the other services' constant ones are.
    let events_prefix: &'static str =
        Box::leak(subjects::sync::events_prefix(&instance).into_boxed_str());
    let mut committer = Committer::new(
        client.clone(),
        log.clone(),
        Publisher::of::<SyncEvent>("router-sync", events_prefix),
    );

    let (record_tx, mut record_rx) = mpsc::unbounded_channel::<SyncEvent>();
    let statuses = spawn_router_tasks(&args, &client, &record_tx, &applied)?;
    tracing::info!(%instance, routers = %routers.join(","), "router-sync running");

    loop {
        tokio::select! {
            _ = committer.settle() => {}
            Some(ev) = record_rx.recv() => {
                let stream = format!("router/{}", ev.router());
                let id = uuid::Uuid::new_v4().to_string();
                committer.commit(None, id.clone(), id, stream, vec![ev.to_new_event()], serde_json::Value::Null);
            }
            next = endpoints.requests.next() => match next {
                None => return Err("NATS subscriptions ended".into()),
                Some((Route::EventsRead, request)) => committer.serve_events_read(request, Reading::AsRecorded),
                Some((Route::ServiceStatus, request)) => committer.serve_status(request, progress(&instance, &statuses)),
                Some((Route::Status(i), request)) => {
                    let reply = status_reply(&request.message.payload, routers[i], &statuses[i]);
                    respond(request, reply);
                }
            },
        }
    }
}

/// One `RouterTask` per `--router` (with its `--nft`, if any), each on its
/// own task; returns their status watches, in `--router` order.
fn spawn_router_tasks(
    args: &Args,
    client: &async_nats::Client,
    record_tx: &mpsc::UnboundedSender<SyncEvent>,
    applied: &HashMap<String, u64>,
) -> Result<Vec<watch::Receiver<RouterStatus>>, Box<dyn std::error::Error>> {
    let mut statuses = Vec::new();
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
        statuses.push(task.status());
        tokio::spawn(task.run());
    }
    Ok(statuses)
}
