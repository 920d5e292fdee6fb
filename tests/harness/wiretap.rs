//! Records every vpcroute message on the bus: requests (whoever sends them,
//! `vpcctl` included), their replies, and published events.
//!
//! NATS delivers a published message to every matching subscriber, so a
//! plain subscriber on `vpcroute.ipam.>` sees each request next to the
//! service's queue subscription, and one on `_INBOX.>` sees the replies. A
//! reply is tied to its request by the request's reply subject.
//!
//! Tap only the subjects of services that run in the test: a tap is a
//! subscriber, so a request to an absent service would reach the tap
//! instead of failing fast with "no responders", and wait for its timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde_json::Value;

/// What a captured message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Reply,
    Event,
}

/// One message seen on the wire.
#[derive(Debug, Clone)]
pub struct Captured {
    pub direction: Direction,
    /// The request subject (for a reply: the subject of its request), or
    /// the event's subject.
    pub subject: String,
    /// The payload as JSON; a payload that is not JSON is kept as a string.
    pub body: Value,
    /// Whether the payload parsed as JSON.
    pub is_json: bool,
}

#[derive(Debug, Clone)]
struct Raw {
    subject: String,
    reply: Option<String>,
    payload: bytes::Bytes,
    status: bool,
}

pub struct Wiretap {
    raw: Arc<Mutex<Vec<Raw>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _client: async_nats::Client,
}

impl Wiretap {
    /// Taps ipam's requests and every event feed.
    pub async fn start(nats_url: &str) -> Wiretap {
        Self::start_on(nats_url, &["vpcroute.ipam.>", "vpcroute.events.>"]).await
    }

    /// Taps `subjects` (and `_INBOX.>` for the replies). Returns once the
    /// server has the subscriptions, so nothing published afterwards is
    /// missed.
    pub async fn start_on(nats_url: &str, subjects: &[&str]) -> Wiretap {
        let client = async_nats::connect(nats_url)
            .await
            .expect("wiretap connect");
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for subject in subjects.iter().copied().chain(["_INBOX.>"]) {
            let mut sub = client
                .subscribe(subject.to_string())
                .await
                .expect("wiretap subscribe");
            let raw = raw.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(m) = sub.next().await {
                    raw.lock().unwrap().push(Raw {
                        subject: m.subject.to_string(),
                        reply: m.reply.as_ref().map(|r| r.to_string()),
                        payload: m.payload.clone(),
                        status: m.status.is_some(),
                    });
                }
            }));
        }
        client.flush().await.expect("wiretap flush");
        Wiretap {
            raw,
            tasks,
            _client: client,
        }
    }

    /// Everything captured so far, requests tied to replies. Wait a moment
    /// after the last request (or call [`Wiretap::settle`]) so the last
    /// reply is in.
    pub fn captured(&self) -> Vec<Captured> {
        let raw = self.raw.lock().unwrap().clone();
        let mut inbox_subject: HashMap<String, String> = HashMap::new();
        for r in &raw {
            if is_request_subject(&r.subject) {
                if let Some(reply) = &r.reply {
                    inbox_subject.insert(reply.clone(), r.subject.clone());
                }
            }
        }
        let mut out = Vec::new();
        for r in raw {
            let direction = if r.subject.starts_with("vpcroute.events.") {
                Direction::Event
            } else if is_request_subject(&r.subject) {
                Direction::Request
            } else if inbox_subject.contains_key(&r.subject) && !r.status && !r.payload.is_empty() {
                Direction::Reply
            } else {
                continue; // $SRV traffic, no-responder statuses, ...
            };
            let subject = match direction {
                Direction::Reply => inbox_subject[&r.subject].clone(),
                _ => r.subject.clone(),
            };
            let (body, is_json) = match serde_json::from_slice(&r.payload) {
                Ok(v) => (v, true),
                Err(_) => (
                    Value::String(String::from_utf8_lossy(&r.payload).into()),
                    false,
                ),
            };
            out.push(Captured {
                direction,
                subject,
                body,
                is_json,
            });
        }
        out
    }

    /// Waits until no new message arrived for 200 ms.
    pub async fn settle(&self) {
        let mut last = usize::MAX;
        loop {
            let n = self.raw.lock().unwrap().len();
            if n == last {
                return;
            }
            last = n;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

fn is_request_subject(s: &str) -> bool {
    s.starts_with("vpcroute.") && !s.starts_with("vpcroute.events.")
}

impl Drop for Wiretap {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
