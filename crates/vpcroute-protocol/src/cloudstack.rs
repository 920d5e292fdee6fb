//! Messages of `vpcroute-cloudstack`, the adapter at the CloudStack edge.
//!
//! CloudStack's own events travel on `cloudstack.events.…` exactly as
//! CloudStack wrote them (bytes unchanged, `schemas/cloudstack/event.json`);
//! they have no type here. What is here is the adapter's record of taking
//! one in, and its answer to a source that asked for one.

use serde::{Deserialize, Serialize};

/// How an event's identity was found: the dedup key of the intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventIdSource {
    /// CloudStack's event UUID, from the message's `X-CS-Event-ID` header
    /// (a webhook carries it; a site publishing itself may set it).
    Header,
    /// CloudStack's AMQP and Kafka messages carry no event UUID (it is not
    /// in the JSON, nor in the routing key): the id is the SHA-256 of the
    /// subject and the body. A redelivered message has the same bytes.
    BodyDigest,
}

/// The adapter's log events, published on
/// `vpcroute.events.cloudstack.<type>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CloudStackEvent {
    /// A CloudStack event taken in: recorded once per `event_id`.
    EventReceived {
        /// The subject it arrived on (`cloudstack.events.…`).
        subject: String,
        event_id: String,
        id_source: EventIdSource,
        /// The event exactly as CloudStack wrote it.
        body: String,
    },
}

impl CloudStackEvent {
    pub const SCHEMA_VERSION: u32 = 1;
}

/// The intake's answer to a source that sent an event as a request (the
/// webhook receiver and the AMQP consumer do, and acknowledge CloudStack
/// or RabbitMQ only on `ok`): the event is durable in the adapter's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTaken {
    pub event_id: String,
    /// The log sequence number of its `event_received`; absent for a
    /// duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Whether the event had been taken in before and was dropped now.
    pub duplicate: bool,
}
