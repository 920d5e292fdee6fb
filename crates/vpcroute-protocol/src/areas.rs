//! Requests, replies and events of the `area-registry` service: each zone's
//! OSPF settings and a unique OSPF area per VPC.
//!
//! OSPF keys travel only where they must: in `zone.set` requests, in the
//! registry's own log, and in `events.read` replies (a subject only the
//! config-renderer may use). Events *published* for everyone carry the
//! settings with the key replaced by [`REDACTED`].

use serde::{Deserialize, Serialize};

pub use vpcroute_render::{AreaId, OspfAuth, OspfSettings, Secret};

/// What stands in place of a key in anything shown or broadcast.
pub const REDACTED: &str = "***";

/// Authentication as a request may give it. `key: None` with `md5` on a
/// zone that has no key yet makes the registry generate a random one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthRequest {
    /// A struct variant, not a unit one: serde ignores
    /// `deny_unknown_fields` on unit variants of tagged enums, and
    /// `{"type":"none","key":"..."}` must be refused. The wire form is
    /// still `{"type":"none"}`.
    None {},
    Plaintext {
        key: Secret,
    },
    /// `key_id` absent: the zone's current id when the key stays, the next
    /// id (wrapping within 1..=255) when the key changes and the zone has a
    /// VPC (routers may hold the key), 1 for a zone that
    /// had no MD5 key. A new key under the id in use is refused
    /// (`invalid_settings`) once the zone has a VPC: a new key needs a new
    /// key id.
    Md5 {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_id: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<Secret>,
    },
}

/// `vpcroute.areas.zone.set`: create or change a zone's OSPF settings.
/// Absent fields keep their current value (defaults for a new zone:
/// backbone 0.0.0.0, hello 10, dead 40, retransmit 5, transmit delay 1,
/// MD5 with a generated key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneOspfSet {
    pub request_id: String,
    pub zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone: Option<AreaId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hello_interval: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_interval: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmit_interval: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmit_delay: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthRequest>,
}

/// A zone's OSPF settings as shown: the key is never included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneOspfView {
    pub zone: String,
    pub backbone: AreaId,
    pub hello_interval: u16,
    pub dead_interval: u32,
    pub retransmit_interval: u16,
    pub transmit_delay: u16,
    /// `none`, `plaintext` or `md5`.
    pub auth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<u8>,
    /// Number of the settings' revision; goes up on every change.
    pub revision: u64,
    pub areas: Vec<VpcArea>,
}

/// Reply to `vpcroute.areas.zone.areas`: the zone's settings as
/// `zone.show` gives them, with one page of its areas (by VPC name) in
/// `areas`, and `next` (see [`crate::page`]) unless it is the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneOspfPage {
    #[serde(flatten)]
    pub view: ZoneOspfView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl crate::page::PageReply for ZoneOspfPage {
    fn next_token(&self) -> Option<&str> {
        self.next.as_deref()
    }
}

/// A VPC and its OSPF area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcArea {
    pub vpc: String,
    pub zone: String,
    pub area_id: AreaId,
}

/// Every fact the area registry records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AreaEvent {
    /// The zone's complete OSPF settings after a change.
    ZoneOspfSet {
        zone: String,
        settings: OspfSettings,
    },
    /// A VPC got its area. `ipam_seq` is the ipam event that caused it,
    /// which is also how far the registry has read ipam's log.
    AreaAssigned {
        vpc: String,
        zone: String,
        area_id: AreaId,
        ipam_seq: u64,
    },
    /// The VPC is gone; its area id is never handed out again.
    AreaRetired {
        vpc: String,
        zone: String,
        area_id: AreaId,
        ipam_seq: u64,
    },
}

impl AreaEvent {
    pub const SCHEMA_VERSION: u32 = 1;

    /// The event as it may be broadcast: keys replaced by [`REDACTED`].
    pub fn redacted(&self) -> AreaEvent {
        match self {
            AreaEvent::ZoneOspfSet { zone, settings } => AreaEvent::ZoneOspfSet {
                zone: zone.clone(),
                settings: redact(settings),
            },
            other => other.clone(),
        }
    }
}

/// Settings with the key replaced by [`REDACTED`].
pub fn redact(settings: &OspfSettings) -> OspfSettings {
    let mut s = settings.clone();
    s.auth = match &settings.auth {
        OspfAuth::None => OspfAuth::None,
        OspfAuth::Plaintext { .. } => OspfAuth::Plaintext {
            key: Secret::new(REDACTED),
        },
        OspfAuth::Md5 { key_id, .. } => OspfAuth::Md5 {
            key_id: *key_id,
            key: Secret::new(REDACTED),
        },
    };
    s
}
