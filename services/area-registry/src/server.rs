//! The area-registry event loop.
//!
//! One task owns the state and handles, one at a time, both requests and
//! ipam's events (in ipam's order, from `follow`). A `zone.set` or an ipam
//! event is decided and applied in memory at once; [`Committer`] makes it
//! durable, publishes its events (keys redacted) and replies.
//!
//! OSPF keys are never logged: no tracing call here takes a request, a
//! setting or an event payload.

use std::sync::Arc;
use std::time::Duration;

use async_nats::service::Request;
use futures::StreamExt;
use vpcroute_areas::{zone_set_fingerprint, AreaState, KEY_LEN};
use vpcroute_bus::{decode_request, page_reply, subjects};
use vpcroute_eventlog::EventLog;
use vpcroute_protocol::areas::{AreaEvent, ZoneOspfSet};
use vpcroute_protocol::ipam::{IpamEvent, Show};
use vpcroute_protocol::service::FollowedLog;
use vpcroute_protocol::{BusEvent, ErrorBody, ErrorCode, PagedShow};
use vpcroute_service::commit::{
    respond, start_endpoints, Committer, Endpoint, Progress, Publisher, Reading,
};
use vpcroute_service::endpoint::{
    answer, command, dispatch, events_read, paged, paged_answer, query, status, Handler, Service,
};
use vpcroute_service::event::new_events;
use vpcroute_service::follow::{follow, FollowConfig, Payloads};

const SOURCE: &str = "area-registry";

/// Request ids of the appends caused by ipam events; clients may not use
/// them, or a client's id could take the place of an ipam event's append.
const IPAM_ID_PREFIX: &str = "ipam:";

type Row = Endpoint<'static, Handler<AreaState, ZoneOspfSet>>;

/// Every endpoint of the area registry. Only `events.read` (restricted to
/// the config-renderer) serves events with their keys; they are published
/// redacted (`LogEvent for AreaEvent`).
const ENDPOINTS: &[Row] = &[
    command("zone_set", subjects::areas::ZONE_SET, decode_request),
    query("zone_show", subjects::areas::ZONE_SHOW, |s, p| {
        answer(p, |q: Show| s.zone_view(&q.name))
    }),
    query("vpc_show", subjects::areas::VPC_SHOW, |s, p| {
        answer(p, |q: Show| s.vpc_area(&q.name))
    }),
    status(subjects::areas::SERVICE_STATUS),
    paged("zone_areas", subjects::areas::ZONE_AREAS, |s, p, max| {
        paged_answer(p, max, |q: PagedShow, budget| {
            let (settings, areas) = s.zone_areas_after(&q.name, q.after.as_deref())?;
            Ok::<_, vpcroute_areas::AreaError>(page_reply(
                budget,
                Some(&settings),
                "areas",
                areas,
                |a| a.vpc.clone(),
            ))
        })
    }),
    events_read(subjects::areas::EVENTS_READ, Reading::AsRecorded),
];

/// A random MD5 key: 16 characters of [A-Za-z0-9] (about 95 bits).
fn generate_key() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // 248 = 4 * 62: bytes at or above it are dropped to avoid bias.
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut key = String::with_capacity(KEY_LEN);
    let mut buf = [0u8; 32];
    while key.len() < KEY_LEN {
        getrandom::fill(&mut buf)?;
        for b in buf {
            if b < limit && key.len() < KEY_LEN {
                key.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(key)
}

struct Server {
    state: AreaState,
    committer: Committer,
    /// The last ipam seq handled (what the status reports): every one up
    /// to the cursor the log holds was handled before a restart.
    ipam_handled: u64,
}

pub async fn serve(
    client: async_nats::Client,
    log: Arc<EventLog>,
    state: AreaState,
    ipam_poll_interval: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut endpoints = start_endpoints(
        &client,
        subjects::areas::SERVICE_NAME,
        "vpcroute OSPF registry: zone OSPF settings and a unique area per VPC",
        ENDPOINTS,
    )
    .await?;
    let committer = Committer::new(
        client.clone(),
        log,
        Publisher::of::<AreaEvent>(SOURCE, subjects::areas::EVENTS_PREFIX),
    );
    let from_seq = state.ipam_cursor() + 1;
    let mut ipam = follow(
        client.clone(),
        FollowConfig {
            live_subject: subjects::all_events(subjects::ipam::EVENTS_PREFIX),
            read_subject: subjects::ipam::EVENTS_READ.into(),
            from_seq,
            payloads: Payloads::Live,
            poll_interval: ipam_poll_interval,
        },
    )
    .await?;
    let mut server = Server {
        ipam_handled: state.ipam_cursor(),
        state,
        committer,
    };
    tracing::info!(from_seq, "area-registry serving, following ipam");
    loop {
        tokio::select! {
            _ = server.committer.settle() => {}
            next = endpoints.requests.next() => match next {
                Some((handler, request)) => dispatch(&mut server, handler, request),
                None => return Err("NATS subscriptions ended".into()),
            },
            ev = ipam.recv() => match ev {
                Some(ev) => server.ipam_event(ev),
                None => return Err("following ipam ended".into()),
            },
        }
    }
}

impl Service for Server {
    type State = AreaState;
    type Command = ZoneOspfSet;

    fn state(&self) -> &AreaState {
        &self.state
    }

    fn committer(&self) -> &Committer {
        &self.committer
    }

    fn command(&mut self, req: ZoneOspfSet, request: Request) {
        self.zone_set(req, request)
    }

    fn progress(&self) -> Progress {
        Progress {
            followed: vec![FollowedLog {
                source: "ipam".into(),
                applied_seq: self.ipam_handled,
            }],
            ..Progress::default()
        }
    }
}

impl Server {
    fn zone_set(&mut self, req: ZoneOspfSet, request: Request) {
        if req.request_id.starts_with(IPAM_ID_PREFIX) {
            return respond::<()>(
                request,
                Err(ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    format!("request ids starting with {IPAM_ID_PREFIX:?} are reserved"),
                )),
            );
        }
        // The key is hashed in the fingerprint: the log's requests table
        // must not hold it in clear.
        let fingerprint = zone_set_fingerprint(&req);
        let Some(request) = self
            .committer
            .retry_or_new(request, &req.request_id, &fingerprint)
        else {
            return;
        };
        // Drawn up front so that a failing RNG is an error, not a panic;
        // dropped unused unless the zone needs a new key.
        let key = match generate_key() {
            Ok(k) => k,
            Err(e) => {
                tracing::error!("cannot generate an OSPF key: {e}");
                return respond::<()>(
                    request,
                    Err(ErrorBody::new(
                        ErrorCode::Internal,
                        "cannot generate an OSPF key (no randomness available)",
                    )),
                );
            }
        };
        let decision = match self.state.decide_zone_set(&req, move || key) {
            Ok(d) => d,
            // Refusals are not recorded: they changed nothing. Like a
            // query's answer, one waits for the commits in flight.
            Err(e) => return self.committer.reply::<()>(request, Err(e.into())),
        };
        for ev in &decision.events {
            self.state
                .apply(ev)
                .expect("an event just decided applies to the state it was decided on");
        }
        if !decision.events.is_empty() {
            tracing::info!(
                zone = %req.zone,
                revision = decision.reply.revision,
                "zone OSPF settings changed"
            );
        }
        self.committer.commit(
            Some(request),
            req.request_id,
            fingerprint,
            decision.stream,
            new_events(&decision.events),
            serde_json::to_value(&decision.reply).expect("replies serialise"),
        );
    }

    fn ipam_event(&mut self, ev: BusEvent) {
        // The follower hands every seq once, in order: whatever happens
        // below, this one is dealt with.
        self.ipam_handled = ev.seq;
        let event: IpamEvent = match serde_json::from_value(ev.payload.clone()) {
            Ok(e) => e,
            Err(e) => {
                if matches!(ev.event_type.as_str(), "vpc_allocated" | "vpc_released") {
                    tracing::error!(
                        seq = ev.seq,
                        event_type = %ev.event_type,
                        "undecodable ipam event, VPC area not updated: {e}"
                    );
                } else {
                    tracing::warn!(
                        seq = ev.seq,
                        event_type = %ev.event_type,
                        "ignoring undecodable ipam event: {e}"
                    );
                }
                return;
            }
        };
        // Only a zone's first appearance needs a key; drawing it here
        // keeps a failing random source an error, not a panic.
        let key = match &event {
            IpamEvent::ZoneEnabled { .. } => match generate_key() {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::error!(
                        seq = ev.seq,
                        "cannot generate an OSPF key, zone settings not created: {e}"
                    );
                    return;
                }
            },
            _ => None,
        };
        let events = self
            .state
            .on_ipam_event(ev.seq, &event, || key.unwrap_or_default());
        let Some(first) = events.first() else {
            return;
        };
        let stream = AreaState::stream_of(first);
        for e in &events {
            self.state
                .apply(e)
                .expect("an event just derived applies to the state it was derived from");
            match e {
                AreaEvent::AreaAssigned {
                    vpc, zone, area_id, ..
                } => {
                    tracing::info!(vpc = %vpc, zone = %zone, area = %area_id, ipam_seq = ev.seq, "area assigned")
                }
                AreaEvent::AreaRetired {
                    vpc, zone, area_id, ..
                } => {
                    tracing::info!(vpc = %vpc, zone = %zone, area = %area_id, ipam_seq = ev.seq, "area retired")
                }
                AreaEvent::ZoneOspfSet { .. } => {}
            }
        }
        // "ipam:<seq>" makes the append idempotent; the fingerprint is
        // the ipam event itself (it holds no key).
        let request_id = format!("{IPAM_ID_PREFIX}{}", ev.seq);
        let fingerprint = ev.payload.to_string();
        // The record (a `requests` row) must not hold a generated key in
        // clear: only the events may. So it keeps the events redacted.
        // Nothing is lost: this record is read back only when the same
        // ipam event is appended again, and that append has no client
        // to answer (`commit(None, ..)`); the key itself is in the event,
        // where replay and `events.read` find it.
        let redacted: Vec<AreaEvent> = events.iter().map(AreaEvent::redacted).collect();
        let reply = serde_json::to_value(&redacted).expect("events serialise");
        self.committer.commit(
            None,
            request_id,
            fingerprint,
            stream,
            new_events(&events),
            reply,
        );
    }
}
