//! Messages of the `router-sync` service: each managed router's status.

use serde::{Deserialize, Serialize};

/// `vpcroute.sync.router.status`: ask for one router's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterStatusGet {
    pub router: String,
}

/// Where a router stands. Published on `vpcroute.sync.status.<router>`
/// after every check, and the reply to `router.status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterStatus {
    pub router: String,
    /// `in_sync`, `applying`, `failed`, `unreachable`, `no_config` (the
    /// config-renderer has nothing for it yet) or `starting`.
    pub state: String,
    /// Latest version received from the config-renderer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_version: Option<u64>,
    /// Version last applied and verified on the router.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_version: Option<u64>,
    /// Version whose nftables table (the ACLs) was last verified on the
    /// router; absent when router-sync does not manage its firewall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall_version: Option<u64>,
    /// The last failure, if the last attempt failed (no key in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub neighbors: Vec<OspfNeighbor>,
    /// Routes in the router's OSPF routing table.
    pub ospf_routes: u64,
    /// Applies, failures and repairs since router-sync started.
    pub applies: u64,
    pub failures: u64,
    pub repairs: u64,
    pub updated_at_ms: i64,
}

/// An OSPF neighbour as the router reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OspfNeighbor {
    pub router_id: String,
    /// e.g. `Full/DR`, `2-Way/DROther`, `Init`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}
