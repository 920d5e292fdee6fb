//! Following another service's event log over NATS.
//!
//! Live events arrive on `<prefix>.>`; they are only a fast path. The source
//! of truth is the producer's log, read with `<service>.events.read`. The
//! follower hands events to its consumer strictly in sequence order, with
//! no gap and no duplicate:
//! - a live event with the next expected seq is passed on as it is;
//! - a live event further ahead means events were missed (a NATS outage, a
//!   slow consumer dropped by the server): the follower reads the missing
//!   ones from the producer's log first;
//! - a periodic poll reads from the next expected seq as well, so a
//!   consumer that was down, or missed the *last* event of a burst, catches
//!   up without waiting for the next change.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use vpcroute_protocol::ipam::{EventsPage, EventsRead};
use vpcroute_protocol::BusEvent;

/// How the follower gets event payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payloads {
    /// Use live events as they come (their payload is complete).
    Live,
    /// Treat live events as wake-up calls only and read every payload from
    /// the producer's log (live payloads are redacted, e.g. OSPF keys).
    FromLog,
}

#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// Wildcard of the live events, e.g. `vpcroute.events.ipam.>`.
    pub live_subject: String,
    /// The producer's `events.read` subject.
    pub read_subject: String,
    /// First seq the consumer still needs.
    pub from_seq: u64,
    pub payloads: Payloads,
    /// How often to poll the producer's log when nothing arrives.
    pub poll_interval: Duration,
}

/// Starts following; events come out of the returned channel in order.
/// The task ends when the receiver is dropped.
pub async fn follow(
    client: async_nats::Client,
    cfg: FollowConfig,
) -> Result<mpsc::Receiver<BusEvent>, async_nats::SubscribeError> {
    let live = client.subscribe(cfg.live_subject.clone()).await?;
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(run(client, cfg, live, tx));
    Ok(rx)
}

async fn run(
    client: async_nats::Client,
    cfg: FollowConfig,
    mut live: async_nats::Subscriber,
    tx: mpsc::Sender<BusEvent>,
) {
    let mut next = cfg.from_seq.max(1);
    let mut poll = tokio::time::interval(cfg.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reads = ReadHealth::default();
    loop {
        tokio::select! {
            msg = live.next() => {
                let Some(msg) = msg else { return };
                let Ok(ev) = serde_json::from_slice::<BusEvent>(&msg.payload) else {
                    tracing::warn!(subject = %msg.subject, "ignoring undecodable event");
                    continue;
                };
                if ev.seq < next {
                    continue; // already passed on
                }
                if ev.seq == next && cfg.payloads == Payloads::Live {
                    if tx.send(ev).await.is_err() { return; }
                    next += 1;
                    continue;
                }
                if ev.seq > next {
                    // Rare (a NATS outage, a slow consumer cut off): worth
                    // a line, and the proof that a gap was noticed.
                    tracing::info!(
                        subject = %cfg.read_subject,
                        expected = next,
                        got = ev.seq,
                        "missed events on the live feed, reading them from the log"
                    );
                }
                // A gap, or payloads must come from the log.
                match catch_up(&client, &cfg, &tx, &mut next).await {
                    Ok(read) => reads.note(&cfg.read_subject, read),
                    Err(Closed) => return,
                }
            }
            _ = poll.tick() => {
                match catch_up(&client, &cfg, &tx, &mut next).await {
                    Ok(read) => reads.note(&cfg.read_subject, read),
                    Err(Closed) => return,
                }
            }
        }
    }
}

struct Closed;

/// How a catch-up read went.
enum Read {
    Done,
    /// The producer did not answer (down, no NATS): retried at the next
    /// poll or live event.
    Failed(String),
}

/// Whether the producer's log could be read last time, so that an outage
/// is logged once when it starts and once when it ends, not at every poll.
#[derive(Default)]
struct ReadHealth {
    failing: bool,
}

impl ReadHealth {
    fn note(&mut self, subject: &str, read: Read) {
        match read {
            Read::Failed(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(%subject, "cannot read the producer's log, retrying at the next poll or event: {e}");
            }
            Read::Failed(e) => tracing::debug!(%subject, "catch-up read failed: {e}"),
            Read::Done if self.failing => {
                self.failing = false;
                tracing::info!(%subject, "reading the producer's log again");
            }
            Read::Done => {}
        }
    }
}

/// Reads the producer's log from `next` up to its head, passing every
/// event on. A producer that does not answer is retried at the next poll.
async fn catch_up(
    client: &async_nats::Client,
    cfg: &FollowConfig,
    tx: &mpsc::Sender<BusEvent>,
    next: &mut u64,
) -> Result<Read, Closed> {
    loop {
        let req = EventsRead {
            from_seq: *next,
            limit: 1000,
        };
        let page: EventsPage =
            match vpcroute_bus::request(client, &cfg.read_subject, &req, Duration::from_secs(5))
                .await
            {
                Ok(p) => p,
                Err(e) => return Ok(Read::Failed(e.to_string())),
            };
        let got = page.events.len();
        for ev in page.events {
            if ev.seq != *next {
                tracing::warn!(
                    expected = *next,
                    got = ev.seq,
                    "producer log out of sequence"
                );
                return Ok(Read::Done);
            }
            tx.send(ev).await.map_err(|_| Closed)?;
            *next += 1;
        }
        if got == 0 || *next > page.head {
            return Ok(Read::Done);
        }
    }
}
