//! Requests, replies and events of the `config-renderer` service: each
//! router's desired configuration, versioned.

use serde::{Deserialize, Serialize};

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
