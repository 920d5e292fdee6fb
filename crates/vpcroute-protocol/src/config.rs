//! Requests, replies and events of the `config-renderer` service: each
//! router's desired configuration, versioned.

use serde::{Deserialize, Serialize};

use crate::areas::{AreaEvent, REDACTED};
use crate::ipam::IpamEvent;

/// Configuration dialect of a router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DialectName {
    #[default]
    Frr,
    Quagga,
}

/// `vpcroute.config.router.get`: the current configuration of a router
/// (what a router resyncs from after a restart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfigGet {
    pub router: String,
    #[serde(default)]
    pub dialect: DialectName,
}

/// The configuration text: one integrated `frr.conf`, or Quagga's split
/// `zebra.conf` and `ospfd.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigText {
    Frr(String),
    Quagga { zebra: String, ospfd: String },
}

/// Reply to `router.get`. The text holds the zone's OSPF key: it is sent
/// only to whoever may ask (router-sync, operators) and never logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterConfig {
    pub router: String,
    /// Goes up by one on every change of the router's configuration text,
    /// and only then.
    pub version: u64,
    pub dialect: DialectName,
    pub vpc: String,
    pub zone: String,
    pub config: ConfigText,
    /// The VR's network ACLs as one nftables table, versioned with the
    /// routing text (the same `version` covers both).
    pub firewall: FirewallRuleset,
}

/// The nftables table `inet vpcroute` of a router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRuleset {
    /// For `nft -f`: replaces the table in one transaction.
    pub file: String,
    /// Exactly what `nft -n list table inet vpcroute` prints once applied:
    /// router-sync verifies by comparing the two.
    pub listing: String,
}

/// `vpcroute.config.router.list` reply item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterSummary {
    pub router: String,
    pub version: u64,
    pub vpc: String,
    pub zone: String,
    /// The router's zone is rotating its MD5 key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_rotation: Option<KeyRotationView>,
}

/// Where a zone's MD5 key rotation stands (no key in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRotationPhase {
    /// Step 1: every router gets the new key, still signing with the old.
    AddNew,
    /// Step 2: every router signs with the new key, still accepting the old.
    SendNew,
}

/// A zone's MD5 key rotation in progress, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotationView {
    pub phase: KeyRotationPhase,
    pub old_key_id: u8,
    pub new_key_id: u8,
    /// The key id the zone's routers are told to sign with now.
    pub sending_key_id: u8,
    /// Routers of the zone that have not yet reported this phase's version
    /// applied: the rotation waits for them (and keeps the old key).
    pub waiting_for: Vec<String>,
    /// In `send_new`: the old key stays on the managed routers at least
    /// until then (ms since the epoch), the window in which unmanaged
    /// routers switch to signing with the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_key_kept_until_ms: Option<i64>,
}

/// `vpcroute.config.router.list` request (no fields today; an object so
/// that filters can be added).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// `vpcroute.config.router.page`: [`RouterList`] one page at a time, by
/// router name (see [`crate::page`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterPage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl crate::page::PagedRequest for RouterPage {
    fn after(&self) -> Option<&str> {
        self.after.as_deref()
    }
    fn limit(&self) -> Option<u32> {
        self.limit
    }
    fn set_after(&mut self, after: Option<String>) {
        self.after = after;
    }
}

/// Published on `vpcroute.config.updated.<router>` when a router's
/// configuration gets a new version. Carries no text (and so no key): the
/// router's syncer fetches it with `router.get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfigUpdated {
    pub router: String,
    pub version: u64,
    pub vpc: String,
    pub zone: String,
}

/// What a `key_rotation_advanced` event moves a zone's MD5 key rotation to
/// (see `vpcroute_configs::rotation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationStep {
    /// Step 2 begins.
    SendNew,
    /// Step 3: the old key goes.
    Done,
}

/// Every fact the config-renderer records, in its own (private) log.
///
/// One input produces one batch, appended atomically: the input first, then
/// one `router_versioned` / `router_removed` per router it changed (sorted
/// by router name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConfigEvent {
    /// An ipam event at `seq` of ipam's log (zone, VPC and tier events
    /// only: VM addresses do not change router configurations).
    IpamInput { seq: u64, event: IpamEvent },
    /// An area-registry event at `seq` of its log, with the OSPF key (the
    /// renderer's log is private; see [`ConfigEvent::redacted`]).
    AreaInput { seq: u64, event: AreaEvent },
    /// The router's rendered text changed: this is its new version.
    /// `fingerprint` covers both dialects' text (see `vpcroute_configs::fingerprint`).
    RouterVersioned {
        router: String,
        version: u64,
        fingerprint: String,
    },
    /// The router's VPC was released in ipam.
    RouterRemoved { router: String },
    /// The router's current inputs do not render (a log written before
    /// ipam refused such data, or a rule tightened by an upgrade): the
    /// router keeps its last version, and `router.get` answers
    /// `render_failed` with `reason` until it renders again. Recorded when
    /// the outcome changes (or the reason does), not on every input.
    /// `reason` is a render error's message: it never holds a key.
    RenderFailed { router: String, reason: String },
    /// The router renders again, to the text of its current version (a new
    /// text is a `router_versioned`, which ends a failure as well).
    RenderRecovered { router: String },
    /// During its zone's MD5 key rotation, router-sync reported `version`
    /// (the router's current one, which carries the rotation's current
    /// step) applied and verified on the router.
    RouterKeysApplied { router: String, version: u64 },
    /// Every router of the zone has the rotation's current step (and, for
    /// `done`, the overlap hold is over): the next one begins at `at_ms`
    /// (see `vpcroute_configs::rotation`). Followed in its batch by the versions it
    /// gives the zone's routers.
    KeyRotationAdvanced {
        zone: String,
        step: RotationStep,
        at_ms: i64,
    },
}

impl ConfigEvent {
    pub const SCHEMA_VERSION: u32 = 1;

    /// The event as it may be published or shown: OSPF keys replaced by
    /// `***`, and the fingerprint too (it is a hash over text that holds
    /// the key, so with a weak key it would allow offline guessing).
    pub fn redacted(&self) -> ConfigEvent {
        match self {
            ConfigEvent::AreaInput { seq, event } => ConfigEvent::AreaInput {
                seq: *seq,
                event: event.redacted(),
            },
            ConfigEvent::RouterVersioned {
                router, version, ..
            } => ConfigEvent::RouterVersioned {
                router: router.clone(),
                version: *version,
                fingerprint: REDACTED.to_string(),
            },
            other => other.clone(),
        }
    }
}
