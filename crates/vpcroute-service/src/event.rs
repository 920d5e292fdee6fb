//! What a service needs to know about its log's events: one trait, so
//! that turning an event into a log record, naming it and redacting it
//! before it leaves the service are each written once.

use serde::de::DeserializeOwned;
use serde::Serialize;
use vpcroute_eventlog::NewEvent;
use vpcroute_protocol::areas::AreaEvent;
use vpcroute_protocol::cloudstack::CloudStackEvent;
use vpcroute_protocol::config::ConfigEvent;
use vpcroute_protocol::ipam::IpamEvent;
use vpcroute_protocol::sync::SyncEvent;

/// The key of every log event's serde tag (`#[serde(tag = "type")]`): its
/// value is the event type, recorded beside the payload and the last token
/// of the event's subject.
pub const EVENT_TAG: &str = "type";

/// An event of a service's log.
pub trait LogEvent: Serialize + DeserializeOwned + Clone {
    /// The version of the payload's schema recorded with each event.
    const SCHEMA_VERSION: u32;
    /// Whether an event may hold a secret: then it is decoded and
    /// [`redacted`](LogEvent::redacted) before it is published (and an
    /// event that does not decode is published as `null`).
    const HOLDS_SECRETS: bool = false;

    /// The event as it may leave the service.
    fn redacted(&self) -> Self {
        self.clone()
    }

    /// The event type: the serde tag, so it can never disagree with the
    /// stored payload.
    fn event_type(&self) -> String {
        event_type_of(&to_payload(self)).to_string()
    }

    /// The event as a record of the log.
    fn to_new_event(&self) -> NewEvent {
        let payload = to_payload(self);
        NewEvent {
            event_type: event_type_of(&payload).to_string(),
            schema_version: Self::SCHEMA_VERSION,
            payload,
        }
    }
}

fn to_payload<E: Serialize>(ev: &E) -> serde_json::Value {
    serde_json::to_value(ev).expect("events serialise")
}

/// The event type of a stored payload.
fn event_type_of(payload: &serde_json::Value) -> &str {
    payload[EVENT_TAG]
        .as_str()
        .expect("log events are tagged with their type (#[serde(tag = \"type\")])")
}

/// Every event as a log record, in order.
pub fn new_events<E: LogEvent>(events: &[E]) -> Vec<NewEvent> {
    events.iter().map(LogEvent::to_new_event).collect()
}

/// `payload` as it may leave the service: redacted if `E` holds secrets,
/// `null` if it does not decode (never publish what could not be redacted;
/// the schemas reject `null`, it should never happen).
pub fn redact_payload<E: LogEvent>(payload: serde_json::Value) -> serde_json::Value {
    if !E::HOLDS_SECRETS {
        return payload;
    }
    match serde_json::from_value::<E>(payload) {
        Ok(ev) => to_payload(&ev.redacted()),
        Err(_) => serde_json::Value::Null,
    }
}

impl LogEvent for IpamEvent {
    const SCHEMA_VERSION: u32 = IpamEvent::SCHEMA_VERSION;
}

/// Zone settings hold the OSPF key.
impl LogEvent for AreaEvent {
    const SCHEMA_VERSION: u32 = AreaEvent::SCHEMA_VERSION;
    const HOLDS_SECRETS: bool = true;
    fn redacted(&self) -> Self {
        AreaEvent::redacted(self)
    }
}

/// Area inputs hold the OSPF key, version fingerprints a hash over it.
impl LogEvent for ConfigEvent {
    const SCHEMA_VERSION: u32 = ConfigEvent::SCHEMA_VERSION;
    const HOLDS_SECRETS: bool = true;
    fn redacted(&self) -> Self {
        ConfigEvent::redacted(self)
    }
}

/// router-sync's record of what it did to its routers; errors are redacted
/// at the source, so nothing is left to redact here.
impl LogEvent for SyncEvent {
    const SCHEMA_VERSION: u32 = 1;
}

/// CloudStack's events hold no secrets (UUIDs, names, a description).
impl LogEvent for CloudStackEvent {
    const SCHEMA_VERSION: u32 = CloudStackEvent::SCHEMA_VERSION;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The type comes from the serde tag, as the stored payload has it.
    #[test]
    fn event_type_is_the_serde_tag() {
        let ev = IpamEvent::AclCreated {
            acl: "web".into(),
            vpc: "vpc-1".into(),
        };
        assert_eq!(ev.event_type(), "acl_created");
        let rec = ev.to_new_event();
        assert_eq!(rec.event_type, "acl_created");
        assert_eq!(rec.payload["type"], "acl_created");
        assert_eq!(rec.schema_version, IpamEvent::SCHEMA_VERSION);
        let ev = ConfigEvent::RouterRemoved {
            router: "r-1".into(),
        };
        assert_eq!(ev.event_type(), "router_removed");
    }

    #[test]
    fn secrets_are_redacted_and_undecodable_payloads_become_null() {
        let ev = ConfigEvent::RouterVersioned {
            router: "r-1".into(),
            version: 2,
            fingerprint: "sha256:abc".into(),
        };
        let shown = redact_payload::<ConfigEvent>(to_payload(&ev));
        assert_eq!(shown["fingerprint"], vpcroute_protocol::areas::REDACTED);
        assert_eq!(
            redact_payload::<ConfigEvent>(serde_json::json!({"type": "nope"})),
            serde_json::Value::Null
        );
        // Events without secrets are passed through untouched, even when
        // they would not decode.
        let odd = serde_json::json!({"type": "nope"});
        assert_eq!(redact_payload::<IpamEvent>(odd.clone()), odd);
    }
}
