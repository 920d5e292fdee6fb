//! Append-only event log, one SQLite file per service.
//!
//! Every vpcroute service keeps its history here and rebuilds its in-memory
//! state by replaying it on start. The log gives four guarantees the services
//! build on:
//!
//! * **Order** – a global, gap-free sequence number `seq` (1, 2, 3, …) plus a
//!   per-stream version used for optimistic concurrency ([`ExpectedVersion`]).
//! * **Idempotency** – every append carries a client request id; its reply is
//!   recorded in the same transaction as its events, so a retried command gets
//!   the original reply back ([`AppendOutcome::Duplicate`]) instead of running
//!   twice.
//! * **Durability** – an append is acknowledged only after the transaction
//!   holding it has been committed (and, with [`Durability::Full`], fsync'd).
//!   One writer thread batches concurrent appends into one transaction
//!   ("group commit") so the fsync cost is shared.
//! * **Tamper evidence** – rows cannot be updated or deleted through SQL
//!   (triggers abort), every event is chained to the previous one with
//!   SHA-256, every event's request has its record, and an anchor file
//!   beside the log records its head, so [`EventLog::verify`] /
//!   [`verify_file`] name the first event that was changed, removed or
//!   reordered behind the database's back, a cut-off tail and a removed
//!   request record. Not a forger who re-hashes the file and the anchor.
//!
//! ```no_run
//! use vpcroute_eventlog::{AppendRequest, EventLog, ExpectedVersion, LogOptions, NewEvent};
//! # fn main() -> Result<(), vpcroute_eventlog::Error> {
//! let log = EventLog::open(std::path::Path::new("/var/lib/vpcroute/ipam.sqlite"), LogOptions::default())?;
//! let outcome = log.append(AppendRequest {
//!     request_id: "6f1c…".into(),
//!     fingerprint: "sha256-of-command".into(),
//!     stream: "vpc/left".into(),
//!     expected: ExpectedVersion::NoStream,
//!     events: vec![NewEvent {
//!         event_type: "VpcRegistered".into(),
//!         schema_version: 1,
//!         payload: serde_json::json!({"name": "left"}),
//!     }],
//!     result: serde_json::json!({"ok": true}),
//! })?;
//! # let _ = outcome; Ok(()) }
//! ```

mod anchor;
mod chain;
mod error;
mod ids;
mod log;
mod reader;
mod schema;
mod types;
mod verify;
mod writer;

pub use chain::GENESIS_HASH;
pub use error::{Error, ReplayError};
pub use log::EventLog;
pub use types::{
    AppendOutcome, AppendReply, AppendRequest, Committed, CommittedReply, Durability, EventRef,
    ExpectedVersion, LogOptions, LogStats, NewEvent, StoredEvent, VerifyReport, WriterSettings,
};
pub use verify::verify_file;
pub use writer::now_ms;
