//! The config-renderer event loop.
//!
//! One task owns the state. Inputs come from two followers (ipam's log,
//! with live payloads; the area registry's log, payloads always read from
//! the log because broadcast area events have their keys redacted), in
//! sequence order per source. Each input is decided and applied at once,
//! then recorded in one atomic append (the input plus the router versions
//! it caused). Once an append is durable its events are published
//! (redacted) and every new router version is announced on
//! `vpcroute.config.updated.<router>` (no text, no key).
//!
//! Requests (`router.get`, `router.list`, `events.read`) are answered from
//! the state in memory. Neither configuration text nor keys are ever
//! logged.
//!
//! MD5 key rotations (`vpcroute_configs::rotation`) advance on router-sync's
//! status publications (`vpcroute.sync.status.<router>`): a report that
//! matters is recorded like any input, and then whatever rotation can
//! advance does. The reports are not durable, but router-sync publishes
//! one after every check, so a report missed while this service was down
//! comes again.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use async_nats::service::Request;
use futures::StreamExt;
use vpcroute_bus::{page_reply, subjects};
use vpcroute_configs::{is_redacted, RendererState};
use vpcroute_eventlog::EventLog;
use vpcroute_protocol::areas::AreaEvent;
use vpcroute_protocol::config::ConfigEvent;
use vpcroute_protocol::config::{RouterConfigGet, RouterConfigUpdated, RouterList, RouterPage};
use vpcroute_protocol::ipam::IpamEvent;
use vpcroute_protocol::service::{FollowedLog, RouterProgress};
use vpcroute_protocol::sync::RouterStatus;
use vpcroute_protocol::{BusEvent, ErrorBody};
use vpcroute_service::commit::{
    start_endpoints, Committer, Endpoint, Progress, Publisher, Reading,
};
use vpcroute_service::endpoint::{
    answer, dispatch, events_read, paged, paged_answer, query, status, EncodedReply, Handler,
    Service,
};
use vpcroute_service::event::{new_events, LogEvent};
use vpcroute_service::follow::{follow, FollowConfig, Payloads};

const SOURCE: &str = "config-renderer";
/// Every event goes to one stream: a batch may touch many routers.
const STREAM: &str = "routers";

type Row = Endpoint<'static, Handler<RendererState, Never>>;

/// Every endpoint of the config-renderer: queries only (its inputs are
/// other services' logs). `events.read` serves the log redacted like the
/// broadcast: the keys are the area registry's to hand out, not this
/// service's.
const ENDPOINTS: &[Row] = &[
    query("router_get", subjects::config::ROUTER_GET, |s, p| {
        answer(p, |q: RouterConfigGet| {
            s.router_config(&q.router, q.dialect)
        })
    }),
    query("router_list", subjects::config::ROUTER_LIST, router_list),
    status(subjects::config::SERVICE_STATUS),
    paged("router_page", subjects::config::ROUTER_PAGE, |s, p, max| {
        paged_answer(p, max, |q: RouterPage, budget| {
            let routers = s.routers_after(q.zone.as_deref(), q.after.as_deref());
            Ok::<_, ErrorBody>(page_reply::<_, ()>(budget, None, "items", routers, |r| {
                r.router.clone()
            }))
        })
    }),
    events_read(subjects::config::EVENTS_READ, Reading::Redacted),
];

/// No request of the config-renderer changes its state.
enum Never {}

/// `router.list`: every router, or a zone's; an empty request is `{}`.
fn router_list(state: &RendererState, payload: &[u8]) -> EncodedReply {
    let all = |q: RouterList| {
        let mut all = state.routers();
        if let Some(zone) = &q.zone {
            all.retain(|r| &r.zone == zone);
        }
        Ok::<_, ErrorBody>(all)
    };
    if payload.iter().all(u8::is_ascii_whitespace) {
        return answer(b"{}", all);
    }
    answer(payload, all)
}

struct Server {
    client: async_nats::Client,
    state: RendererState,
    log: Arc<EventLog>,
    committer: Committer,
    /// Router versions of each append in flight, in commit order: announced
    /// when the append is durable.
    pending: VecDeque<Vec<RouterConfigUpdated>>,
    /// The log's seq of the next event recorded (appends in flight
    /// included): names batches that have no input of their own.
    next_seq: u64,
    /// The last seq handled of ipam's and of the area registry's log (what
    /// the status reports): every one up to the cursors the log holds was
    /// handled before a restart.
    ipam_handled: u64,
    areas_handled: u64,
    /// The applied version each router last reported (since start).
    reported: BTreeMap<String, Option<u64>>,
}

pub async fn serve(
    client: async_nats::Client,
    log: Arc<EventLog>,
    state: RendererState,
    poll_interval: std::time::Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let committer = Committer::new(
        client.clone(),
        log.clone(),
        Publisher::of::<ConfigEvent>(SOURCE, subjects::config::EVENTS_PREFIX),
    );
    let mut server = Server {
        client: client.clone(),
        log,
        committer,
        pending: VecDeque::new(),
        next_seq: 0,
        ipam_handled: state.ipam_cursor(),
        areas_handled: state.area_cursor(),
        reported: BTreeMap::new(),
        state,
    };
    server.next_seq = server.log.head().unwrap_or(0) + 1;
    server.reconcile();

    let mut ipam = follow(
        client.clone(),
        FollowConfig {
            live_subject: subjects::all_events(subjects::ipam::EVENTS_PREFIX),
            read_subject: subjects::ipam::EVENTS_READ.to_string(),
            from_seq: server.state.ipam_cursor() + 1,
            payloads: Payloads::Live,
            poll_interval,
        },
    )
    .await?;
    let mut areas = follow(
        client.clone(),
        FollowConfig {
            live_subject: subjects::all_events(subjects::areas::EVENTS_PREFIX),
            read_subject: subjects::areas::EVENTS_READ.to_string(),
            from_seq: server.state.area_cursor() + 1,
            payloads: Payloads::FromLog,
            poll_interval,
        },
    )
    .await?;
    let mut statuses = client.subscribe(subjects::sync::all_status()).await?;
    // A rotation's overlap hold ends with time, not with an input.
    let mut rotation_tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut endpoints = start_endpoints(
        &client,
        subjects::config::SERVICE_NAME,
        "vpcroute router configurations: every VPC virtual router's OSPF configuration, versioned",
        ENDPOINTS,
    )
    .await?;
    tracing::info!(
        ipam_from = server.state.ipam_cursor() + 1,
        areas_from = server.state.area_cursor() + 1,
        "config-renderer serving"
    );
    loop {
        tokio::select! {
            _ = server.committer.settle() => server.durable().await,
            ev = ipam.recv() => match ev {
                Some(ev) => server.on_ipam(ev),
                None => return Err("ipam follower ended".into()),
            },
            ev = areas.recv() => match ev {
                Some(ev) => server.on_area(ev),
                None => return Err("area-registry follower ended".into()),
            },
            _ = rotation_tick.tick() => server.advance_rotations(),
            msg = statuses.next() => match msg {
                Some(msg) => server.on_status(&msg.payload),
                None => return Err("router status subscription ended".into()),
            },
            next = endpoints.requests.next() => match next {
                Some((handler, request)) => dispatch(&mut server, handler, request),
                None => return Err("NATS subscriptions ended".into()),
            },
        }
    }
}

impl Server {
    fn on_ipam(&mut self, ev: BusEvent) {
        // Every seq comes once, in order: whatever happens below, this one
        // is dealt with.
        self.ipam_handled = ev.seq;
        let event: IpamEvent = match serde_json::from_value(ev.payload) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(seq = ev.seq, event_type = %ev.event_type, "undecodable ipam event, skipped: {e}");
                return;
            }
        };
        let events = self.state.on_ipam(ev.seq, &event);
        self.record(format!("ipam:{}", ev.seq), events);
        self.advance_rotations();
    }

    fn on_area(&mut self, ev: BusEvent) {
        self.areas_handled = ev.seq;
        // No `{e}` from serde here: its message could quote a key.
        let event: AreaEvent = match serde_json::from_value(ev.payload) {
            Ok(e) => e,
            Err(_) => {
                tracing::error!(seq = ev.seq, event_type = %ev.event_type, "undecodable area-registry event, skipped");
                return;
            }
        };
        if is_redacted(&event) {
            // A broadcast copy reached us instead of the log's: rendering
            // it would configure every router with the key `***`.
            tracing::error!(
                seq = ev.seq,
                "area-registry event carries a redacted key, skipped: is vpcroute.areas.events.read serving redacted events?"
            );
            return;
        }
        let events = self.state.on_area(ev.seq, &event);
        self.record(format!("areas:{}", ev.seq), events);
        self.advance_rotations();
    }

    /// A router-sync status report: recorded when a key rotation waits for
    /// it, and then any rotation that can advance does.
    fn on_status(&mut self, payload: &[u8]) {
        let Ok(status) = serde_json::from_slice::<RouterStatus>(payload) else {
            return;
        };
        self.reported
            .insert(status.router.clone(), status.applied_version);
        let events = self
            .state
            .on_router_status(&status.router, status.applied_version);
        if events.is_empty() {
            return;
        }
        tracing::info!(router = %status.router, version = ?status.applied_version, "router reported the key rotation's current step applied");
        self.record(format!("status:{}", self.next_seq), events);
        self.advance_rotations();
    }

    /// Records every key rotation step whose routers all have the one
    /// before (a zone with no router goes through them at once).
    fn advance_rotations(&mut self) {
        let hold = self.state.rotation_hold_ms;
        loop {
            let events = self
                .state
                .advance_rotations(vpcroute_eventlog::now_ms(), hold);
            if events.is_empty() {
                return;
            }
            self.record(format!("rotation:{}", self.next_seq), events);
        }
    }

    /// Records the configuration events at start-up that a changed renderer
    /// makes necessary (normally none).
    fn reconcile(&mut self) {
        let events = self.state.reconcile();
        if events.is_empty() {
            return;
        }
        let head = self.log.head().unwrap_or(0);
        tracing::info!(
            routers = events.len(),
            "rendered routers differ from the recorded versions or failures (renderer upgrade?): recording them"
        );
        self.record(format!("reconcile:{}", head + 1), events);
    }

    /// Applies decided events and hands them to the committer.
    fn record(&mut self, request_id: String, events: Vec<ConfigEvent>) {
        if events.is_empty() {
            return;
        }
        self.next_seq += events.len() as u64;
        // A removed router is announced too (with its last version), so its
        // syncer clears it at once; its summary is gone after `apply`.
        let mut updates = Vec::new();
        for ev in &events {
            if let ConfigEvent::RouterRemoved { router } = ev {
                if let Some(s) = self.state.summary(router) {
                    updates.push(RouterConfigUpdated {
                        router: router.clone(),
                        version: s.version,
                        vpc: s.vpc,
                        zone: s.zone,
                    });
                }
            }
        }
        for ev in &events {
            self.state
                .apply(ev)
                .expect("an event just decided applies to the state it was decided on");
        }
        for ev in &events {
            match ev {
                ConfigEvent::RouterVersioned {
                    router, version, ..
                } => {
                    let s = self
                        .state
                        .summary(router)
                        .expect("a versioned router has a summary");
                    tracing::info!(%router, version, vpc = %s.vpc, zone = %s.zone, "router configuration versioned");
                    updates.push(RouterConfigUpdated {
                        router: router.clone(),
                        version: *version,
                        vpc: s.vpc,
                        zone: s.zone,
                    });
                }
                ConfigEvent::RouterRemoved { router } => {
                    tracing::info!(%router, "router removed (its VPC was released)");
                }
                // Announced like a new version, so the router's syncer asks
                // at once and shows the failure (or its end) in its status.
                ConfigEvent::RenderFailed { router, reason } => {
                    tracing::warn!(%router, "router configuration does not render, it keeps its last version: {reason}");
                    updates.extend(self.announcement(router));
                }
                ConfigEvent::RenderRecovered { router } => {
                    tracing::info!(%router, "router configuration renders again");
                    updates.extend(self.announcement(router));
                }
                ConfigEvent::IpamInput { seq, event } => {
                    tracing::debug!(seq, event_type = event.event_type(), "ipam input");
                }
                ConfigEvent::AreaInput { seq, event } => {
                    tracing::debug!(seq, event_type = event.event_type(), "area-registry input");
                }
                ConfigEvent::RouterKeysApplied { router, version } => {
                    tracing::debug!(%router, version, "key rotation: router reported");
                }
                ConfigEvent::KeyRotationAdvanced { zone, step, .. } => {
                    tracing::info!(%zone, ?step, "key rotation advanced");
                }
            }
        }
        let new_events = new_events(&events);
        let fingerprint = format!(
            "{request_id}:{}",
            new_events
                .iter()
                .map(|ev| ev.event_type.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        self.committer.commit(
            None,
            request_id,
            fingerprint,
            STREAM.to_string(),
            new_events,
            serde_json::Value::Null,
        );
        self.pending.push_back(updates);
    }

    /// What announces a change of `router` that is no new version: its
    /// current version, if it has one (a syncer only needs the nudge).
    fn announcement(&self, router: &str) -> Option<RouterConfigUpdated> {
        self.state.summary(router).map(|s| RouterConfigUpdated {
            router: router.to_string(),
            version: s.version,
            vpc: s.vpc,
            zone: s.zone,
        })
    }

    /// The oldest append in flight is durable (appends complete in commit
    /// order): announce its router versions.
    async fn durable(&mut self) {
        let Some(updates) = self.pending.pop_front() else {
            return;
        };
        for u in updates {
            let body = serde_json::to_vec(&u).expect("serialises");
            if let Err(e) = self
                .client
                .publish(subjects::config::updated(&u.router), body.into())
                .await
            {
                tracing::warn!(router = %u.router, "cannot announce router version: {e}");
            }
        }
    }
}

impl Service for Server {
    type State = RendererState;
    type Command = Never;

    fn state(&self) -> &RendererState {
        &self.state
    }

    fn committer(&self) -> &Committer {
        &self.committer
    }

    fn command(&mut self, never: Never, _: Request) {
        match never {}
    }

    fn progress(&self) -> Progress {
        let followed = |source: &str, applied_seq| FollowedLog {
            source: source.into(),
            applied_seq,
        };
        Progress {
            instance: None,
            followed: vec![
                followed("ipam", self.ipam_handled),
                followed("area-registry", self.areas_handled),
            ],
            routers: self
                .reported
                .iter()
                .map(|(router, applied)| RouterProgress {
                    router: router.clone(),
                    desired_version: None,
                    applied_version: *applied,
                })
                .collect(),
        }
    }
}
