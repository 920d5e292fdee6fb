//! `vpcroute-cloudstack`: the adapter between CloudStack and vpcroute, at
//! the edge as `vpcctl` is (issue 15).
//!
//! Built so far: **events in** (`events/`). CloudStack's events reach NATS
//! on `cloudstack.events.<category>.<type>.<resourceType>.<uuid>` from a
//! webhook receiver (`events/webhook.rs`), an AMQP consumer
//! (`events/amqp.rs`) or a site publishing there itself; the intake
//! (`events/intake.rs`) takes every one of them from that subject, drops
//! duplicates by event id and records each in the adapter's event log.
//!
//! Not built yet, and said so in `--help` and at start: the CloudStack API
//! client (`api/`) and the reconciler (`reconcile/`) that will act on the
//! recorded events. Their flags are parsed and checked now (the key files
//! must be 0600) so the command line is the from the start.

mod args;
mod events;
mod secret;

use clap::Parser;
use vpcroute_bus::{connect, subjects, Startup};
use vpcroute_protocol::cloudstack::CloudStackEvent;
use vpcroute_service::open_and_replay;

use args::Args;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    vpcroute_service::init_tracing();
    let args = Args::parse();
    let result = run(args).await.map_err(|e| e as Box<dyn std::error::Error>);
    vpcroute_service::exit("vpcroute-cloudstack", result)
}

async fn run(args: Args) -> Result<(), events::BoxError> {
    // Secrets first: a bad file stops the start before anything listens.
    let checked = args.check()?;
    tracing::warn!(
        zones = checked.zones.len(),
        reconcile_interval = ?args.reconcile_interval,
        "the CloudStack API client and the reconciler are not built yet: \
         --api-url, the key files, --zone, --vpc-offering and --reconcile-interval \
         are checked but not used; events are taken in and recorded only"
    );

    // The log holds the seen-set (its request ids); there is no other state.
    let (log, _head) = open_and_replay(&args.service, "cloudstack", |_: CloudStackEvent| {
        Ok::<(), String>(())
    })?;

    let client = connect(
        &args.service.nats,
        subjects::cloudstack::SERVICE_NAME,
        Startup::RetryForever,
    )
    .await?;

    let intake = events::intake::start(client.clone(), log).await?;
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(intake);
    if let Some(webhook) = checked.webhook {
        let server = events::webhook::bind(webhook, client.clone()).await?;
        tasks.spawn(server);
    }
    if let Some(amqp) = checked.amqp {
        tasks.spawn(events::amqp::run(amqp, client.clone()));
    }
    // Each task runs for the process's life; the first to end ends it.
    match tasks.join_next().await {
        Some(Ok(Err(e))) => Err(e),
        Some(Ok(Ok(()))) => Err("an event source ended".into()),
        Some(Err(e)) => Err(format!("an event source failed: {e}").into()),
        None => Err("no event source".into()),
    }
}
