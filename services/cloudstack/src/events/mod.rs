//! Events in: CloudStack's events onto NATS, and into the adapter.
//!
//! Every source puts an event on `cloudstack.events.<category>.<type>.
//! <resourceType>.<uuid>` (`vpcroute_bus::subjects::cloudstack`), body
//! unchanged; the intake takes every event from there, whichever source it
//! came from, so the three sources share one path:
//!
//! ```text
//!  CloudStack ──webhook POST──▶ webhook.rs ─┐
//!  RabbitMQ ────durable queue─▶ amqp.rs ────┼─request─▶ cloudstack.events.… ─▶ intake.rs ─▶ log
//!  a site ──────────────────────publish─────┘                                  (dedup, record, publish
//!                                                                                vpcroute.events.cloudstack.…)
//! ```
//!
//! The two sources of this binary send each event as a NATS *request* and
//! acknowledge CloudStack (HTTP 200) or RabbitMQ (basic.ack) only when the
//! intake answers that the event is durable in its log: an event is never
//! acknowledged before it is safe. A site's plain publish gets no answer.
//! The reconciler (not built yet) will act on the recorded events.

pub mod amqp;
pub mod intake;
pub mod webhook;

use std::time::Duration;

use async_nats::HeaderMap;
use vpcroute_protocol::cloudstack::EventTaken;
use vpcroute_protocol::Reply;

/// An error a task of this binary ends with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a source could not hand an event over.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// No intake answered (NATS down, no adapter subscribed, a timeout):
    /// CloudStack or RabbitMQ should try again later.
    #[error("event not taken in (try again): {0}")]
    Unavailable(String),
    /// The intake refused it for good (not UTF-8, not JSON).
    #[error("event refused: {0}")]
    Refused(String),
}

/// How long a source waits for the intake's answer; under CloudStack's
/// webhook timeout (10 s, `WebhookDeliveryThread.deliveryTimeout`).
const DELIVER_TIMEOUT: Duration = Duration::from_secs(8);

/// Hands one event to the intake through NATS and waits until it is
/// durable there (or was a duplicate).
pub async fn deliver(
    client: &async_nats::Client,
    subject: String,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Result<EventTaken, DeliverError> {
    let request = async_nats::Request::new()
        .headers(headers)
        .payload(body)
        .timeout(Some(DELIVER_TIMEOUT));
    let answer = client
        .send_request(subject, request)
        .await
        .map_err(|e| DeliverError::Unavailable(e.to_string()))?;
    match serde_json::from_slice::<Reply<EventTaken>>(&answer.payload) {
        Ok(Reply::Ok(taken)) => Ok(taken),
        Ok(Reply::Error(e)) => Err(DeliverError::Refused(e.message)),
        Err(e) => Err(DeliverError::Unavailable(format!(
            "undecodable answer from the intake: {e}"
        ))),
    }
}
