//! What the router machine is fed and what it asks for, as data: the
//! replay cases under `tests/replay/router-sync/` are these, one a line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vpcroute_protocol::config::FirewallRuleset;
use vpcroute_protocol::sync::SyncEvent;

/// The machine's timings, in milliseconds. Every figure is the one
/// router-sync used before the machine existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timings {
    /// How often the router is read for drift (`--drift-interval`).
    pub drift_interval_ms: u64,
    /// How long a range may take to appear after an apply (about 7 s in
    /// the lab, docs/frr-notes.md §4).
    pub effect_timeout_ms: u64,
    /// While waiting for a summary, the backbone database is read again
    /// this often.
    pub summary_poll_ms: u64,
    /// A failure is retried after `backoff_base_ms * 2^n` (n consecutive
    /// failures, at most `backoff_max_doublings`), capped at
    /// `backoff_cap_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_doublings: u32,
    pub backoff_cap_ms: u64,
    /// A converging router (a flushed summary still ageing out, about a
    /// minute, §4) is checked again after this, counting no failure.
    pub converging_retry_ms: u64,
    /// The desired configuration is asked for again after this many drift
    /// intervals without an answer, in case an announcement was missed.
    pub refetch_after_drift_intervals: u64,
}

impl Timings {
    pub fn new(drift_interval_ms: u64, effect_timeout_ms: u64) -> Timings {
        Timings {
            drift_interval_ms,
            effect_timeout_ms,
            summary_poll_ms: 100,
            backoff_base_ms: 500,
            backoff_max_doublings: 6,
            backoff_cap_ms: 30_000,
            converging_retry_ms: 5_000,
            refetch_after_drift_intervals: 15,
        }
    }
}

/// The config-renderer's answer to `router.get`, as router-sync tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case", deny_unknown_fields)]
pub enum DesiredAnswer {
    /// A rendered version (FRR text).
    Config {
        version: u64,
        frr: String,
        firewall: FirewallRuleset,
    },
    /// The renderer does not know the router (its VPC was deleted, or the
    /// renderer is catching up after a restart).
    UnknownRouter,
    /// The renderer is not ready, or answered in another dialect: nothing
    /// learnt, but it did answer.
    NotReady,
    /// The renderer cannot render the router (`render_failed`).
    RenderFailed { message: String },
    /// Any other error code: it ends a render failure, and counts as no
    /// answer.
    OtherError { message: String },
    /// No answer at all (NATS, timeout).
    Unreachable { error: String },
}

/// What the router said to an apply, read back in the same vtysh exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadBack {
    /// `show running-config` after the script.
    pub running: String,
    /// `show ip ospf database summary json`, if it parsed.
    pub summaries: Option<Value>,
}

/// One input. `now_ms` is the time it happened: the machine has no clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// The drift timer fired.
    Tick { now_ms: i64 },
    /// The config-renderer announced a version (or the VPC's removal).
    Announced { now_ms: i64 },
    /// The answer to [`Action::FetchDesired`].
    Desired { now_ms: i64, answer: DesiredAnswer },
    /// `show running-config`, for [`Action::ReadRunning`].
    Running {
        now_ms: i64,
        result: Result<String, String>,
    },
    /// The result of [`Action::Apply`].
    Applied {
        now_ms: i64,
        result: Result<ReadBack, String>,
    },
    /// The result of [`Action::Configure`].
    Configured {
        now_ms: i64,
        result: Result<(), String>,
    },
    /// `show ip ospf interface json`, for [`Action::ReadInterfaces`].
    Interfaces {
        now_ms: i64,
        result: Result<Value, String>,
    },
    /// `show ip ospf database summary json`, for [`Action::ReadSummaries`].
    Summaries {
        now_ms: i64,
        result: Result<Value, String>,
    },
    /// `show ip ospf database summary self-originate json` (null when it
    /// could not be read), for [`Action::ReadSelfOriginated`].
    SelfOriginated { now_ms: i64, json: Value },
    /// `nft list` of the table (None: no table), for [`Action::NftList`].
    NftListed {
        now_ms: i64,
        result: Result<Option<String>, String>,
    },
    /// The result of [`Action::NftApply`] or [`Action::NftDelete`].
    NftDone {
        now_ms: i64,
        result: Result<(), String>,
    },
}

impl Input {
    pub fn now_ms(&self) -> i64 {
        match self {
            Input::Tick { now_ms }
            | Input::Announced { now_ms }
            | Input::Desired { now_ms, .. }
            | Input::Running { now_ms, .. }
            | Input::Applied { now_ms, .. }
            | Input::Configured { now_ms, .. }
            | Input::Interfaces { now_ms, .. }
            | Input::Summaries { now_ms, .. }
            | Input::SelfOriginated { now_ms, .. }
            | Input::NftListed { now_ms, .. }
            | Input::NftDone { now_ms, .. } => *now_ms,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
}

/// One thing to do. At most one action of a step asks the router or the
/// renderer something (every one but `record`, `log` and `publish`), and
/// it is the last: its answer is the next input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Ask the config-renderer for the router's configuration (FRR).
    FetchDesired,
    /// `show running-config`.
    ReadRunning,
    /// Run the script, then `show running-config` and `show ip ospf
    /// database summary json` in the same vtysh exchange.
    Apply { script: String },
    /// Run the script (clearing the router, kicking a range).
    Configure { script: String },
    /// `show ip ospf interface json`.
    ReadInterfaces,
    /// `show ip ospf database summary json`, after `delay_ms`.
    ReadSummaries { delay_ms: u64 },
    /// `show ip ospf database summary self-originate json`.
    ReadSelfOriginated,
    /// List the router's nftables table.
    NftList,
    /// `nft -f` the file.
    NftApply { file: String },
    /// Delete the table.
    NftDelete,
    /// Append to router-sync's event log.
    Record { event: SyncEvent },
    /// A log line about the router, with `key=value` fields (the lab
    /// benchmark finds "configuration applied and verified" by its
    /// `version=` field).
    Log {
        level: LogLevel,
        message: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        fields: BTreeMap<String, String>,
    },
    /// Publish the status, after reading the OSPF neighbours and routes
    /// into it if `refresh_ospf`.
    Publish { refresh_ospf: bool },
}

impl Action {
    /// Whether the action's answer is the machine's next input.
    pub fn awaits_answer(&self) -> bool {
        !matches!(
            self,
            Action::Record { .. } | Action::Log { .. } | Action::Publish { .. }
        )
    }
}
