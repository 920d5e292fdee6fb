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
    pub state: RouterState,
    /// Why the router is `failed` (or `unreachable`), as a wire code, when
    /// there is one more precise than the state: `render_failed` when the
    /// config-renderer cannot render the router's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<crate::ErrorCode>,
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
    /// While `waiting`: the tier interfaces that are down (missing, down
    /// or without an address), none of their area up, so FRR announces no
    /// range for it yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting_for: Vec<String>,
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

/// Where a router stands, as `vpcctl router status` prints it. Only
/// `in_sync` says the router runs what the renderer wants now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterState {
    /// router-sync has not checked the router yet.
    Starting,
    /// The config-renderer has nothing for the router yet.
    NoConfig,
    /// An apply is running.
    Applying,
    /// The router runs the desired version, verified.
    InSync,
    /// Configured correctly, OSPF not caught up yet (short-lived).
    Converging,
    /// Configured correctly, but no tier interface of an area is up yet
    /// (CloudStack plugs NICs after the network exists), so its range
    /// cannot be announced: `waiting_for` names them. Checked every drift
    /// tick, without kicking or recording anything, until one comes up.
    Waiting,
    /// The router cannot follow its desired state: the apply, its
    /// verification or the render failed (`last_error`, `error_code`).
    Failed,
    /// The router's vtysh or nft could not be run or did not answer.
    Unreachable,
}

impl RouterState {
    pub fn as_str(self) -> &'static str {
        match self {
            RouterState::Starting => "starting",
            RouterState::NoConfig => "no_config",
            RouterState::Applying => "applying",
            RouterState::InSync => "in_sync",
            RouterState::Converging => "converging",
            RouterState::Waiting => "waiting",
            RouterState::Failed => "failed",
            RouterState::Unreachable => "unreachable",
        }
    }
}

impl std::fmt::Display for RouterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

/// What router-sync records in its log and publishes on
/// `vpcroute.events.sync.<instance>.<event_type>` (schemas/events/sync.event.json). No key ever: errors are redacted at the
/// source and commands are only counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SyncEvent {
    /// A new desired version was applied and verified.
    Applied {
        router: String,
        version: u64,
        commands: usize,
    },
    /// The router had drifted from a version already applied (a hand edit,
    /// a daemon restarted empty) and was put back.
    DriftRepaired {
        router: String,
        version: u64,
        commands: usize,
    },
    ApplyFailed {
        router: String,
        version: Option<u64>,
        error: String,
    },
    /// The router's VPC is gone: vpcroute's configuration was removed.
    Cleared { router: String, commands: usize },
    /// FRR 8.4 failed to originate a VPC range (docs/frr-notes.md §4) and
    /// router-sync woke its area border router task to do it.
    RangeKicked {
        router: String,
        area: String,
        cidr: String,
    },
    /// The version's nftables table (the VR's ACLs) was applied and read
    /// back identical.
    FirewallApplied { router: String, version: u64 },
    /// The table had drifted from a version already applied (changed by
    /// hand, flushed, deleted) and was put back.
    FirewallRepaired { router: String, version: u64 },
}

impl SyncEvent {
    pub fn router(&self) -> &str {
        match self {
            SyncEvent::Applied { router, .. }
            | SyncEvent::DriftRepaired { router, .. }
            | SyncEvent::ApplyFailed { router, .. }
            | SyncEvent::Cleared { router, .. }
            | SyncEvent::RangeKicked { router, .. }
            | SyncEvent::FirewallApplied { router, .. }
            | SyncEvent::FirewallRepaired { router, .. } => router,
        }
    }
}
