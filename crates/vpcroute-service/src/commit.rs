//! From a decided command to a durable event, a published event and a
//! reply: the write path every vpcroute service shares.
//!
//! A service's event loop decides a command and applies it in memory at
//! once, then hands the events to [`Committer::commit`]. The event log's
//! writer thread commits many commands per fsync (group commit). The reply
//! is sent only when the commit is durable, by the *acknowledger* task,
//! which receives outcomes in commit order, publishes the events on NATS in
//! sequence order, then answers the client. The writer hands back the
//! events as stored along with the outcome, so nothing is read back from
//! the log to publish them.
//!
//! If an append fails, the in-memory state is ahead of the log, so the
//! process stops (fail-stop): on restart the replay restores exactly what
//! is durable, and a client that got no answer retries with its request id.
//!
//! Replies that commit nothing (queries, refusals, answers to a retry) are
//! decided on the same in-memory state, so they too may rest on decisions
//! not yet durable. [`Committer::reply`] holds such a reply behind the
//! appends in flight and sends it once they are durable (see there why).

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::service::Request;
use tokio::sync::mpsc;
use vpcroute_bus::encode_reply;
use vpcroute_eventlog::{
    AppendOutcome, AppendRequest, Committed, EventLog, ExpectedVersion, NewEvent, StoredEvent,
};
use vpcroute_protocol::service::{
    Durability, FollowedLog, JournalMode, LogStatus, RouterProgress, ServiceStatus,
    ServiceStatusGet, Synchronous,
};
use vpcroute_protocol::{BusEvent, ErrorBody, ErrorCode};

use crate::event::LogEvent;

/// Sends a reply without holding up the event loop. Where the
/// connection's limit is not at hand, a reply over it is caught by the
/// client library's own check, and still answered `reply_too_large`
/// (`vpcroute_bus::reply::send`).
pub fn respond<T: serde::Serialize>(request: Request, reply: Result<T, ErrorBody>) {
    respond_encoded(request, encode_reply(&reply));
}

/// [`respond`] with a reply already encoded.
pub fn respond_encoded(request: Request, reply: bytes::Bytes) {
    respond_within(request, reply, usize::MAX);
}

/// [`respond_encoded`] on a connection whose server allows `max_payload`.
fn respond_within(request: Request, reply: bytes::Bytes, max_payload: usize) {
    tokio::spawn(async move { vpcroute_bus::reply::send(&request, reply, max_payload).await });
}

/// Where a service publishes its events, and how they look when they
/// leave it (redacted if its events hold secrets, see [`LogEvent`]).
#[derive(Clone)]
pub struct Publisher {
    /// The service whose log holds the events (`ipam`, `area-registry`, ...).
    pub source: &'static str,
    /// The prefix of the event subjects (`vpcroute.events.ipam`).
    pub events_prefix: &'static str,
    redact: fn(serde_json::Value) -> serde_json::Value,
}

impl Publisher {
    /// Publishes events of type `E` as `source`, redacted as `E` says.
    pub fn of<E: LogEvent>(source: &'static str, events_prefix: &'static str) -> Publisher {
        Publisher {
            source,
            events_prefix,
            redact: crate::event::redact_payload::<E>,
        }
    }

    /// A stored event as it is published.
    pub fn bus_event(&self, ev: StoredEvent) -> BusEvent {
        let mut bus = crate::bus_event(self.source, ev);
        bus.payload = (self.redact)(std::mem::take(&mut bus.payload));
        bus
    }
}

/// How `<service>.events.read` serves the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// As recorded, secrets included: for a subject only trusted
    /// consumers may request (the area registry's, read by the renderer).
    AsRecorded,
    /// As published.
    Redacted,
}

/// What the acknowledger receives, in commit order.
enum Ack {
    /// An append's outcome (and its events as stored).
    Append {
        request: Option<Request>,
        request_id: String,
        outcome: Result<Committed, vpcroute_eventlog::Error>,
    },
    /// A reply that commits nothing, released once every append submitted
    /// before it is durable.
    Held {
        request: Request,
        reply: bytes::Bytes,
    },
}

pub struct Committer {
    /// The service's connection: its server's `max_payload` bounds replies.
    client: async_nats::Client,
    log: Arc<EventLog>,
    publisher: Publisher,
    acks: mpsc::UnboundedSender<Ack>,
    done: mpsc::UnboundedReceiver<String>,
    /// Request ids decided but not yet durable, with their fingerprints and
    /// streams. A retry that arrives meanwhile must not be decided again.
    inflight: HashMap<String, (String, String)>,
    /// Next expected version of each stream, counting in-flight appends.
    versions: HashMap<String, u64>,
    /// Appends submitted whose outcome the event loop has not yet seen
    /// (`settle`). While it is 0 everything decided so far is durable.
    unsettled: usize,
}

/// The error for a request id reused with a different body.
pub fn id_conflict(request_id: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::RequestIdConflict,
        format!("request id {request_id:?} was already used for a different request"),
    )
}

impl Committer {
    pub fn new(client: async_nats::Client, log: Arc<EventLog>, publisher: Publisher) -> Self {
        let (acks, ack_rx) = mpsc::unbounded_channel();
        let (done_tx, done) = mpsc::unbounded_channel();
        tokio::spawn(acknowledger(
            client.clone(),
            publisher.clone(),
            ack_rx,
            done_tx,
        ));
        Committer {
            client,
            log,
            publisher,
            acks,
            done,
            inflight: HashMap::new(),
            versions: HashMap::new(),
            unsettled: 0,
        }
    }

    pub fn log(&self) -> &Arc<EventLog> {
        &self.log
    }

    /// The largest message the server takes, from its INFO (it may change
    /// with a reconnect, so it is read at each use).
    pub fn max_payload(&self) -> usize {
        self.client.max_payload()
    }

    /// Waits for the next append to become durable and forgets it as in
    /// flight. Cancel-safe: meant for a `select!` arm of the event loop.
    pub async fn settle(&mut self) {
        if let Some(id) = self.done.recv().await {
            self.inflight.remove(&id);
            self.unsettled -= 1;
        }
    }

    /// Sends a reply that commits nothing (a query's answer, a refusal),
    /// decided on the state in memory, only once that state is durable.
    ///
    /// The state in memory runs ahead of the log by the appends in flight,
    /// and a reply decided on it (a listing with an allocation in it, a
    /// refusal "already exists" or "no space" caused by one) must not
    /// reach a client before the appends it saw are durable: a crash in
    /// between would leave the client holding an answer the restarted
    /// service contradicts. Deciding on the last committed state instead
    /// would need a second copy of every service's state (the committed
    /// one) kept beside the live one; holding the reply behind the commits
    /// in flight needs nothing but ordering, and costs a query that
    /// arrives during a commit at most that commit's wait (it shares the
    /// fsync, adding none). If an append in flight fails, the process
    /// stops before the held reply is released (fail-stop, above).
    pub fn reply<T: serde::Serialize>(&self, request: Request, reply: Result<T, ErrorBody>) {
        self.reply_encoded(request, encode_reply(&reply));
    }

    /// [`Committer::reply`] with a reply already encoded.
    pub fn reply_encoded(&self, request: Request, reply: bytes::Bytes) {
        if self.unsettled == 0 {
            return respond_within(request, reply, self.max_payload());
        }
        let acks = self.acks.clone();
        self.log.after_queued(Box::new(move || {
            let _ = acks.send(Ack::Held { request, reply });
        }));
    }

    /// Handles a request id seen before. Returns the request back when it
    /// is new and must be decided; otherwise it has been answered (from
    /// the record, or queued behind its in-flight original).
    pub fn retry_or_new(
        &mut self,
        request: Request,
        request_id: &str,
        fingerprint: &str,
    ) -> Option<Request> {
        if request_id.is_empty() || request_id.len() > 128 {
            respond::<()>(
                request,
                Err(ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    "request_id must be 1-128 characters",
                )),
            );
            return None;
        }
        // Durable already: answer from the record, or refuse a reused id.
        // Most ids are new, which the log can tell without a query.
        let recorded = if self.log.may_have_recorded(request_id) {
            self.log.recorded_result(request_id)
        } else {
            Ok(None)
        };
        match recorded {
            Ok(Some((recorded_fp, result))) => {
                let reply = if recorded_fp == fingerprint {
                    Ok(result)
                } else {
                    Err(id_conflict(request_id))
                };
                respond(request, reply);
                return None;
            }
            Ok(None) => {}
            Err(e) => {
                respond::<()>(
                    request,
                    Err(ErrorBody::new(ErrorCode::Internal, e.to_string())),
                );
                return None;
            }
        }
        // Decided but not durable yet: it must not be decided a second
        // time. An empty append with the same id is ordered behind the
        // original in the writer, which answers it with the original's
        // recorded reply once that is durable.
        if let Some((_, stream)) = self.inflight.get(request_id) {
            let stream = stream.clone();
            self.submit(
                Some(request),
                AppendRequest {
                    request_id: request_id.to_string(),
                    fingerprint: fingerprint.to_string(),
                    stream,
                    expected: ExpectedVersion::Any,
                    events: vec![],
                    result: serde_json::Value::Null,
                },
            );
            return None;
        }
        Some(request)
    }

    /// Appends the events of a decided (and already applied) command to
    /// `stream`, recording `reply` under `request_id`; the reply goes to
    /// `request` (if any) once durable.
    pub fn commit(
        &mut self,
        request: Option<Request>,
        request_id: String,
        fingerprint: String,
        stream: String,
        events: Vec<NewEvent>,
        reply: serde_json::Value,
    ) {
        let log = &self.log;
        let version = self
            .versions
            .entry(stream.clone())
            .or_insert_with(|| log.stream_version(&stream).unwrap_or(0));
        let expected = ExpectedVersion::Exact(*version);
        *version += events.len() as u64;
        self.inflight
            .insert(request_id.clone(), (fingerprint.clone(), stream.clone()));
        self.submit(
            request,
            AppendRequest {
                request_id,
                fingerprint,
                stream,
                expected,
                events,
                result: reply,
            },
        );
    }

    fn submit(&mut self, request: Option<Request>, append: AppendRequest) {
        let acks = self.acks.clone();
        let request_id = append.request_id.clone();
        self.unsettled += 1;
        self.log.submit_committed(
            append,
            Box::new(move |outcome| {
                // The acknowledger outlives every append; if it is gone the
                // process is shutting down and the reply cannot be sent.
                let _ = acks.send(Ack::Append {
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
    publisher: Publisher,
    mut acks: mpsc::UnboundedReceiver<Ack>,
    done: mpsc::UnboundedSender<String>,
) {
    while let Some(ack) = acks.recv().await {
        let (request, request_id, outcome) = match ack {
            Ack::Append {
                request,
                request_id,
                outcome,
            } => (request, request_id, outcome),
            Ack::Held { request, reply } => {
                vpcroute_bus::reply::send(&request, reply, client.max_payload()).await;
                continue;
            }
        };
        let reply = match outcome {
            Ok(Committed { outcome, events }) => {
                publish(&client, &publisher, events).await;
                match outcome {
                    AppendOutcome::Appended { result, .. }
                    | AppendOutcome::Duplicate { result } => Ok(result),
                }
            }
            Err(vpcroute_eventlog::Error::RequestIdConflict { request_id }) => {
                Err(id_conflict(&request_id))
            }
            Err(e) => {
                // The state in memory holds a change the log does not:
                // stop rather than serve it (see the module comment).
                tracing::error!("event log append failed, stopping: {e}");
                eprintln!("event log append failed, stopping: {e}");
                std::process::exit(70);
            }
        };
        let _ = done.send(request_id);
        if let Some(request) = request {
            // In order, from this task: a reply is only a queued publish on
            // the connection, no task of its own needed.
            vpcroute_bus::reply::send(&request, encode_reply(&reply), client.max_payload()).await;
        }
    }
}

/// Publishes durable events, in seq order. A failed publish loses nothing:
/// consumers notice the gap in sequence numbers and read the events back.
async fn publish(client: &async_nats::Client, publisher: &Publisher, events: Vec<StoredEvent>) {
    for ev in events {
        let subject =
            vpcroute_bus::subjects::event_subject(publisher.events_prefix, &ev.event_type);
        let body = serde_json::to_vec(&publisher.bus_event(ev)).expect("events serialise");
        if let Err(e) = client.publish(subject, body.into()).await {
            tracing::warn!("cannot publish event: {e}");
        }
    }
}

impl Committer {
    /// Answers a consumer's catch-up read (`<service>.events.read`) off the
    /// event loop, since it reads SQLite. The page is cut by count (the
    /// request's `limit`) and by bytes (the server's `max_payload`): the
    /// reader goes on from the seq after the last event it got, up to
    /// `head`, so a shorter page costs it only another request.
    pub fn serve_events_read(&self, request: Request, reading: Reading) {
        let log = self.log.clone();
        let publisher = self.publisher.clone();
        let max_payload = self.max_payload();
        tokio::spawn(async move {
            let reply = match vpcroute_bus::decode_request::<vpcroute_protocol::ipam::EventsRead>(
                &request.message.payload,
            ) {
                Err(e) => encode_reply::<()>(&Err(e)),
                Ok(q) => tokio::task::spawn_blocking(move || {
                    let mut page =
                        match crate::events_page(&log, publisher.source, q.from_seq, q.limit) {
                            Ok(page) => page,
                            Err(e) => {
                                let e = ErrorBody::new(ErrorCode::Internal, e.to_string());
                                return encode_reply::<()>(&Err(e));
                            }
                        };
                    if reading == Reading::Redacted {
                        for ev in &mut page.events {
                            ev.payload = (publisher.redact)(std::mem::take(&mut ev.payload));
                        }
                    }
                    encode_events_page(page, max_payload)
                })
                .await
                .unwrap_or_else(|e| {
                    encode_reply::<()>(&Err(ErrorBody::new(ErrorCode::Internal, e.to_string())))
                }),
            };
            vpcroute_bus::reply::send(&request, reply, max_payload).await;
        });
    }
}

/// An `events.read` page as it goes out: `{"events": [...], "head": N}`
/// with as many of its events as fit in `max_payload`.
fn encode_events_page(
    page: vpcroute_protocol::ipam::EventsPage,
    max_payload: usize,
) -> bytes::Bytes {
    #[derive(serde::Serialize)]
    struct Head {
        head: u64,
    }
    let budget = vpcroute_bus::PageBudget {
        max_bytes: max_payload,
        max_items: page.events.len().max(1),
    };
    let mut writer =
        vpcroute_bus::PageWriter::new(budget, Some(&Head { head: page.head }), "events");
    for ev in &page.events {
        if !writer.push(ev) {
            if writer.is_empty() {
                let e = writer.too_large(&format!("event {}", ev.seq));
                return encode_reply::<()>(&Err(e));
            }
            break;
        }
    }
    writer.finish(None)
}

/// A service registered with the NATS Services API (so `$SRV.PING`,
/// `$SRV.INFO` and `$SRV.STATS` discover it), with all its endpoints merged
/// into one stream of `(kind, request)` for one event loop.
pub struct Endpoints<K> {
    /// Kept alive: dropping it would stop the discovery responders.
    pub service: async_nats::service::Service,
    pub requests: futures::stream::SelectAll<futures::stream::BoxStream<'static, (K, Request)>>,
}

/// One endpoint of a service: its Services API name, its subject and what
/// handles its requests (see [`crate::endpoint`]).
#[derive(Debug, Clone)]
pub struct Endpoint<'a, H> {
    pub name: &'a str,
    pub subject: &'a str,
    pub handler: H,
}

pub async fn start_endpoints<K: Clone + Send + 'static>(
    client: &async_nats::Client,
    service_name: &str,
    description: &str,
    endpoints: &[Endpoint<'_, K>],
) -> Result<Endpoints<K>, Box<dyn std::error::Error>> {
    start_endpoints_with_metadata(client, service_name, description, HashMap::new(), endpoints)
        .await
}

/// [`start_endpoints`] with metadata in the service's `$SRV.INFO` (e.g.
/// which routers a router-sync instance manages).
pub async fn start_endpoints_with_metadata<K: Clone + Send + 'static>(
    client: &async_nats::Client,
    service_name: &str,
    description: &str,
    metadata: HashMap<String, String>,
    endpoints: &[Endpoint<'_, K>],
) -> Result<Endpoints<K>, Box<dyn std::error::Error>> {
    use async_nats::service::ServiceExt;
    use futures::StreamExt;
    let service = client
        .service_builder()
        .description(description)
        .metadata(metadata)
        .start(service_name, env!("CARGO_PKG_VERSION"))
        .await
        .map_err(|e| e.to_string())?;
    let mut streams = Vec::new();
    for endpoint in endpoints {
        let kind = endpoint.handler.clone();
        let ep = service
            .endpoint_builder()
            .name(endpoint.name)
            .add(endpoint.subject)
            .await
            .map_err(|e| e.to_string())?;
        streams.push(ep.map(move |req| (kind.clone(), req)).boxed());
    }
    Ok(Endpoints {
        service,
        requests: futures::stream::select_all(streams),
    })
}

/// What a service has processed of its inputs, for its status reply
/// (`<service>.service.status`): the event loop's own account, taken when
/// the request is handled.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// A router-sync instance's name.
    pub instance: Option<String>,
    /// The last seq handled of each log followed.
    pub followed: Vec<FollowedLog>,
    pub routers: Vec<RouterProgress>,
}

impl Committer {
    /// Answers `<service>.service.status`: `progress` as the event loop
    /// has it now, with the log's head and its writer connection's live
    /// pragmas read once every append decided so far is durable (or has
    /// failed: then the process stops before this reply goes out, as
    /// behind any append in flight, see [`Committer::reply`]). So the
    /// seqs it reports as handled have had all their effects recorded.
    pub fn serve_status(&self, request: Request, progress: Progress) {
        if let Err(e) = vpcroute_bus::decode_request::<ServiceStatusGet>(&request.message.payload) {
            return respond::<()>(request, Err(e));
        }
        let acks = self.acks.clone();
        let service = self.publisher.source;
        let durability = match self.log.durability() {
            vpcroute_eventlog::Durability::Full => Durability::Full,
            vpcroute_eventlog::Durability::Relaxed => Durability::Relaxed,
        };
        self.log.inspect(Box::new(move |settings| {
            let internal = |what: String| ErrorBody::new(ErrorCode::Internal, what);
            let reply = settings.map_err(|e| internal(e.to_string())).and_then(|w| {
                let log = LogStatus {
                    head: w.head,
                    journal_mode: JournalMode::parse(&w.journal_mode).ok_or_else(|| {
                        internal(format!("unknown journal mode {:?}", w.journal_mode))
                    })?,
                    synchronous: Synchronous::from_level(w.synchronous).ok_or_else(|| {
                        internal(format!("unknown synchronous level {}", w.synchronous))
                    })?,
                    durability,
                };
                Ok(ServiceStatus {
                    service: service.to_string(),
                    instance: progress.instance,
                    log,
                    followed: progress.followed,
                    routers: progress.routers,
                })
            });
            let _ = acks.send(Ack::Held {
                request,
                reply: encode_reply(&reply),
            });
        }));
    }
}
