//! The ipam event loop.
//!
//! One task owns the state and handles requests one at a time, so no lock
//! guards it (holo's single-event-loop design). A command is decided and
//! applied in memory at once, then its events go to the event log's writer
//! thread, which commits many commands per fsync (group commit). The reply
//! is sent only when the commit is durable: by the *acknowledger* task,
//! which receives outcomes in commit order, publishes the events on NATS
//! in sequence order, then answers the client.
//!
//! If an append fails the in-memory state is ahead of the log, so the
//! process stops (fail-stop); on restart the replay restores exactly what is
//! durable, and a client that got no answer retries with its request id.

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::service::{Request, ServiceExt};
use futures::StreamExt;
use tokio::sync::mpsc;
use vpcroute_bus::{decode_request, encode_reply, subjects};
use vpcroute_eventlog::{AppendOutcome, AppendRequest, EventLog, ExpectedVersion, NewEvent};
use vpcroute_ipam::{Command, IpamState};
use vpcroute_protocol::ipam::{self as msg, IpamEvent};
use vpcroute_protocol::{ErrorBody, ErrorCode};
use vpcroute_service::{bus_event, events_page};

const SOURCE: &str = "ipam";

/// What each endpoint is; requests from all endpoints are merged into one
/// stream tagged with this.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    ZoneEnable,
    ZoneUpdate,
    ZoneShow,
    VpcAllocate,
    VpcRelease,
    VpcShow,
    TierAllocate,
    TierRelease,
    VmAllocate,
    VmRelease,
    EventsRead,
}

const ENDPOINTS: &[(Endpoint, &str, &str)] = &[
    (
        Endpoint::ZoneEnable,
        "zone_enable",
        subjects::ipam::ZONE_ENABLE,
    ),
    (
        Endpoint::ZoneUpdate,
        "zone_update",
        subjects::ipam::ZONE_UPDATE,
    ),
    (Endpoint::ZoneShow, "zone_show", subjects::ipam::ZONE_SHOW),
    (
        Endpoint::VpcAllocate,
        "vpc_allocate",
        subjects::ipam::VPC_ALLOCATE,
    ),
    (
        Endpoint::VpcRelease,
        "vpc_release",
        subjects::ipam::VPC_RELEASE,
    ),
    (Endpoint::VpcShow, "vpc_show", subjects::ipam::VPC_SHOW),
    (
        Endpoint::TierAllocate,
        "tier_allocate",
        subjects::ipam::TIER_ALLOCATE,
    ),
    (
        Endpoint::TierRelease,
        "tier_release",
        subjects::ipam::TIER_RELEASE,
    ),
    (
        Endpoint::VmAllocate,
        "vm_allocate",
        subjects::ipam::VM_ALLOCATE,
    ),
    (
        Endpoint::VmRelease,
        "vm_release",
        subjects::ipam::VM_RELEASE,
    ),
    (
        Endpoint::EventsRead,
        "events_read",
        subjects::ipam::EVENTS_READ,
    ),
];

/// An append's outcome on its way to the acknowledger.
struct Ack {
    request: Request,
    request_id: String,
    outcome: Result<AppendOutcome, vpcroute_eventlog::Error>,
}

struct Server {
    state: IpamState,
    log: Arc<EventLog>,
    /// Request ids decided but not yet durable, with their fingerprints and
    /// streams. A retry that arrives meanwhile must not be decided again.
    inflight: HashMap<String, (String, String)>,
    /// Next expected version of each stream, counting in-flight appends.
    versions: HashMap<String, u64>,
    acks: mpsc::UnboundedSender<Ack>,
}

pub async fn serve(
    client: async_nats::Client,
    log: Arc<EventLog>,
    state: IpamState,
) -> Result<(), Box<dyn std::error::Error>> {
    let service = client
        .service_builder()
        .description("vpcroute address management: zone super-CIDRs, VPCs, tiers, VM addresses")
        .start(subjects::ipam::SERVICE_NAME, env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|e| e.to_string())?;
    let mut streams = Vec::new();
    for (kind, name, subject) in ENDPOINTS {
        let kind = *kind;
        let ep = service
            .endpoint_builder()
            .name(*name)
            .add(*subject)
            .await
            .map_err(|e| e.to_string())?;
        streams.push(ep.map(move |req| (kind, req)).boxed());
    }
    let mut requests = futures::stream::select_all(streams);

    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(acknowledger(client.clone(), log.clone(), ack_rx, done_tx));

    let mut server = Server {
        state,
        log,
        inflight: HashMap::new(),
        versions: HashMap::new(),
        acks: ack_tx,
    };
    tracing::info!("ipam serving");
    loop {
        tokio::select! {
            Some(request_id) = done_rx.recv() => {
                server.inflight.remove(&request_id);
            }
            next = requests.next() => match next {
                Some((kind, request)) => server.handle(kind, request),
                None => return Err("NATS subscriptions ended".into()),
            },
        }
    }
}

/// Sends a reply without holding up the event loop.
fn respond<T: serde::Serialize>(request: Request, reply: Result<T, ErrorBody>) {
    let bytes = encode_reply(&reply);
    tokio::spawn(async move {
        if let Err(e) = request.respond(Ok(bytes)).await {
            tracing::warn!("could not send reply: {e}");
        }
    });
}

impl Server {
    fn handle(&mut self, kind: Endpoint, request: Request) {
        let payload = request.message.payload.clone();
        let cmd = match kind {
            Endpoint::ZoneEnable => decode_request(&payload).map(Command::ZoneEnable),
            Endpoint::ZoneUpdate => decode_request(&payload).map(Command::ZoneUpdate),
            Endpoint::VpcAllocate => decode_request(&payload).map(Command::VpcAllocate),
            Endpoint::VpcRelease => decode_request(&payload).map(Command::VpcRelease),
            Endpoint::TierAllocate => decode_request(&payload).map(Command::TierAllocate),
            Endpoint::TierRelease => decode_request(&payload).map(Command::TierRelease),
            Endpoint::VmAllocate => decode_request(&payload).map(Command::VmAllocate),
            Endpoint::VmRelease => decode_request(&payload).map(Command::VmRelease),
            Endpoint::ZoneShow => {
                let reply = decode_request::<msg::Show>(&payload)
                    .and_then(|q| self.state.zone_view(&q.name).map_err(ErrorBody::from));
                return respond(request, reply);
            }
            Endpoint::VpcShow => {
                let reply = decode_request::<msg::Show>(&payload)
                    .and_then(|q| self.state.vpc_view(&q.name).map_err(ErrorBody::from));
                return respond(request, reply);
            }
            Endpoint::EventsRead => return self.events_read(request),
        };
        match cmd {
            Ok(cmd) => self.command(cmd, request),
            Err(e) => respond::<()>(request, Err(e)),
        }
    }

    /// A catch-up read hits SQLite, so it runs off the event loop.
    fn events_read(&self, request: Request) {
        let log = self.log.clone();
        tokio::spawn(async move {
            let reply = match decode_request::<msg::EventsRead>(&request.message.payload) {
                Err(e) => Err(e),
                Ok(q) => tokio::task::spawn_blocking(move || {
                    events_page(&log, SOURCE, q.from_seq, q.limit)
                        .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))
                })
                .await
                .unwrap_or_else(|e| Err(ErrorBody::new(ErrorCode::Internal, e.to_string()))),
            };
            respond(request, reply);
        });
    }

    fn command(&mut self, cmd: Command, request: Request) {
        let request_id = cmd.request_id().to_string();
        if request_id.is_empty() || request_id.len() > 128 {
            return respond::<()>(
                request,
                Err(ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    "request_id must be 1-128 characters",
                )),
            );
        }
        let fingerprint = cmd.fingerprint();

        // A retry of a request that is durable already: answer it from the
        // record, or refuse it if the id was used for something else.
        match self.log.recorded_result(&request_id) {
            Ok(Some((recorded_fp, result))) => {
                let reply = if recorded_fp == fingerprint {
                    Ok(result)
                } else {
                    Err(id_conflict(&request_id))
                };
                return respond(request, reply);
            }
            Ok(None) => {}
            Err(e) => {
                return respond::<()>(
                    request,
                    Err(ErrorBody::new(ErrorCode::Internal, e.to_string())),
                )
            }
        }
        // A retry of a request decided but not yet durable: it must not be
        // decided a second time. An empty append with the same id is ordered
        // behind the original in the writer, which answers it with the
        // original's recorded reply once that is durable.
        if let Some((_, stream)) = self.inflight.get(&request_id) {
            let stream = stream.clone();
            return self.submit(
                request,
                AppendRequest {
                    request_id,
                    fingerprint,
                    stream,
                    expected: ExpectedVersion::Any,
                    events: vec![],
                    result: serde_json::Value::Null,
                },
            );
        }

        let decision = match self.state.decide(&cmd) {
            Ok(d) => d,
            // Refusals are not recorded: they changed nothing, and the same
            // request may succeed later (after space is freed).
            Err(e) => return respond::<()>(request, Err(e.into())),
        };
        for ev in &decision.events {
            self.state
                .apply(ev)
                .expect("an event just decided applies to the state it was decided on");
        }
        let version = self
            .versions
            .entry(decision.stream.clone())
            .or_insert_with(|| self.log.stream_version(&decision.stream).unwrap_or(0));
        let expected = ExpectedVersion::Exact(*version);
        *version += decision.events.len() as u64;
        self.inflight.insert(
            request_id.clone(),
            (fingerprint.clone(), decision.stream.clone()),
        );
        let events = decision
            .events
            .iter()
            .map(|ev: &IpamEvent| NewEvent {
                event_type: ev.event_type().to_string(),
                schema_version: IpamEvent::SCHEMA_VERSION,
                payload: serde_json::to_value(ev).expect("events serialise"),
            })
            .collect();
        self.submit(
            request,
            AppendRequest {
                request_id,
                fingerprint,
                stream: decision.stream,
                expected,
                events,
                result: decision.reply,
            },
        );
    }

    fn submit(&self, request: Request, append: AppendRequest) {
        let acks = self.acks.clone();
        let request_id = append.request_id.clone();
        self.log.submit(
            append,
            Box::new(move |outcome| {
                // The acknowledger outlives every append; if it is gone the
                // process is shutting down and the reply cannot be sent.
                let _ = acks.send(Ack {
                    request,
                    request_id,
                    outcome,
                });
            }),
        );
    }
}

/// Receives append outcomes in commit order: publishes each appended event
/// on NATS in sequence order, then replies to the client.
async fn acknowledger(
    client: async_nats::Client,
    log: Arc<EventLog>,
    mut acks: mpsc::UnboundedReceiver<Ack>,
    done: mpsc::UnboundedSender<String>,
) {
    while let Some(ack) = acks.recv().await {
        let reply = match ack.outcome {
            Ok(AppendOutcome::Appended {
                first_seq,
                last_seq,
                result,
            }) => {
                if last_seq >= first_seq {
                    publish(&client, &log, first_seq, last_seq).await;
                }
                Ok(result)
            }
            Ok(AppendOutcome::Duplicate { result }) => Ok(result),
            Err(vpcroute_eventlog::Error::RequestIdConflict { request_id }) => {
                Err(id_conflict(&request_id))
            }
            Err(e) => {
                // The state in memory holds a change the log does not:
                // stop rather than serve it (see the module comment).
                tracing::error!("event log append failed, stopping: {e}");
                eprintln!("vpcroute-ipam: event log append failed, stopping: {e}");
                std::process::exit(70);
            }
        };
        let _ = done.send(ack.request_id);
        respond(ack.request, reply);
    }
}

fn id_conflict(request_id: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::RequestIdConflict,
        format!("request id {request_id:?} was already used for a different request"),
    )
}

async fn publish(client: &async_nats::Client, log: &EventLog, first: u64, last: u64) {
    let events = match log.read_from(first, (last - first + 1) as usize) {
        Ok(evs) => evs,
        Err(e) => {
            // Consumers notice the gap in sequence numbers and read the
            // events back, so a failed publish loses nothing.
            tracing::warn!("cannot read back events {first}..={last} to publish: {e}");
            return;
        }
    };
    for ev in events {
        let subject = subjects::event_subject(subjects::ipam::EVENTS_PREFIX, &ev.event_type);
        let body = serde_json::to_vec(&bus_event(SOURCE, ev)).expect("events serialise");
        if let Err(e) = client.publish(subject, body.into()).await {
            tracing::warn!("cannot publish event: {e}");
        }
    }
}
