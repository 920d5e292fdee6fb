//! The envelope in which a service publishes each event of its log.

use serde::{Deserialize, Serialize};

/// One event of a producer's log as it travels on the bus. `seq` is the
/// producer's global sequence number: a consumer that sees `seq` jump past
/// the one it expected knows it missed events and reads them back from the
/// producer (`<service>.events.read`) instead of waiting for the next change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusEvent {
    /// The service whose log holds the event (`ipam`, `area-registry`, ...).
    pub source: String,
    pub seq: u64,
    pub stream: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub recorded_at_ms: i64,
    pub payload: serde_json::Value,
}
