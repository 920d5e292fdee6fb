//! Plain data types of the public API. They derive serde so services can put
//! them on the wire (e.g. an `ExpectedVersion` inside a command) unchanged.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How hard a commit must hit the disk before an append is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Durability {
    /// WAL + `synchronous=FULL`: the WAL is fsync'd at every commit, so an
    /// acknowledged append survives power loss. The production setting.
    #[default]
    Full,
    /// WAL + `synchronous=NORMAL`: survives a process crash but may lose the
    /// last commits on power loss. For tests and benchmarks.
    Relaxed,
}

/// Options for [`crate::EventLog::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    pub durability: Durability,
    /// Most appends the writer folds into one transaction (group commit).
    /// 0 is treated as 1.
    pub max_batch: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            durability: Durability::Full,
            max_batch: 1024,
        }
    }
}

impl LogOptions {
    /// Defaults with [`Durability::Relaxed`], for tests.
    pub fn relaxed() -> Self {
        LogOptions {
            durability: Durability::Relaxed,
            ..LogOptions::default()
        }
    }
}

/// Optimistic-concurrency precondition on the target stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not have any events yet (version 0).
    NoStream,
    /// The stream must be at exactly this version (0 == no events).
    Exact(u64),
}

impl ExpectedVersion {
    /// Does a stream currently at `actual` satisfy this precondition?
    pub fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(v) => actual == v,
        }
    }
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// One event to append. `schema_version` is the version of `payload`'s shape
/// for this `event_type`, so replay code can upcast old events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: u32,
    pub payload: serde_json::Value,
}

/// One command's worth of events, appended atomically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppendRequest {
    /// Idempotency key chosen by the client (a UUID string).
    pub request_id: String,
    /// Hash of the command body. The same request id with a different
    /// fingerprint is rejected with [`Error::RequestIdConflict`].
    pub fingerprint: String,
    /// Target stream, e.g. `"vpc/left"`.
    pub stream: String,
    pub expected: ExpectedVersion,
    /// May be empty: a command that only records its result.
    pub events: Vec<NewEvent>,
    /// The reply recorded for this request id and returned to retries.
    pub result: serde_json::Value,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AppendOutcome {
    /// The events now hold seqs `first_seq..=last_seq`. For an append with no
    /// events the range is empty: `last_seq` is the head at that moment and
    /// `first_seq == last_seq + 1`.
    Appended {
        first_seq: u64,
        last_seq: u64,
        result: serde_json::Value,
    },
    /// The request id was already recorded: nothing was appended and the
    /// originally recorded result is returned.
    Duplicate { result: serde_json::Value },
}

impl AppendOutcome {
    /// The recorded reply, whichever way the append went.
    pub fn result(&self) -> &serde_json::Value {
        match self {
            AppendOutcome::Appended { result, .. } | AppendOutcome::Duplicate { result } => result,
        }
    }
}

/// Callback that receives the outcome of [`crate::EventLog::submit`]. It runs
/// on the writer thread right after the commit, so it must be cheap and must
/// not block (sending into a channel is the intended use).
pub type AppendReply = Box<dyn FnOnce(Result<AppendOutcome, Error>) + Send + 'static>;

/// An append's outcome with the events it stored, as
/// [`crate::EventLog::submit_committed`] reports them: what a service needs
/// to publish its events without reading them back from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    pub outcome: AppendOutcome,
    /// The events exactly as stored (seq, stream version, time, hash), in
    /// seq order; empty for a duplicate or an append without events.
    pub events: Vec<StoredEvent>,
}

/// Callback of [`crate::EventLog::submit_committed`]; same rules as
/// [`AppendReply`].
pub type CommittedReply = Box<dyn FnOnce(Result<Committed, Error>) + Send + 'static>;

/// An event as stored, borrowed from the row being read: what
/// [`crate::EventLog::replay_verified`] hands out, so a service can decode
/// the payload text straight into its own event type (no intermediate
/// `serde_json::Value`, no copies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    pub seq: u64,
    pub stream: &'a str,
    pub stream_version: u64,
    pub event_type: &'a str,
    pub schema_version: u32,
    /// The exact JSON text stored (and hashed).
    pub payload: &'a str,
    pub request_id: Option<&'a str>,
    pub recorded_at_ms: i64,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub seq: u64,
    pub stream: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: serde_json::Value,
    pub request_id: Option<String>,
    /// Wall-clock milliseconds since the Unix epoch at append time.
    pub recorded_at_ms: i64,
    /// Hex SHA-256 chain hash (see the `chain` module docs).
    pub hash: String,
}

/// Result of a successful hash-chain walk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub events_checked: u64,
    /// Last seq (0 for an empty log).
    pub head: u64,
    /// Hex chain hash of the head event (all zeros for an empty log).
    pub head_hash: String,
}

/// Writer counters since this `EventLog` was opened. `commits < appends`
/// shows group commit at work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogStats {
    /// Transactions committed (one per batch).
    pub commits: u64,
    /// Append requests answered from committed batches (including
    /// duplicates and per-append failures such as version conflicts).
    pub appends: u64,
    /// Events written.
    pub events: u64,
    /// Largest batch seen.
    pub largest_batch: u64,
}

/// What the writer connection runs with, read from it live, and the head
/// it has committed: [`crate::EventLog::inspect`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterSettings {
    /// Last committed seq (0 when empty).
    pub head: u64,
    /// `PRAGMA journal_mode` as SQLite answers it (`wal`).
    pub journal_mode: String,
    /// `PRAGMA synchronous`: 0 off, 1 normal, 2 full, 3 extra.
    pub synchronous: i64,
}
