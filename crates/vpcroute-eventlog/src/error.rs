//! Typed errors. Callers (services, `vpcctl`) map them onto wire replies and
//! exit codes, so each variant has a stable machine-readable [`Error::code`]
//! that must not change once published.

use crate::types::ExpectedVersion;

/// Everything that can go wrong in the event log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stream was not at the version the caller expected. Nothing was
    /// appended; the caller should reload state and retry its decision.
    #[error("version conflict on stream {stream:?}: expected {expected}, actual version {actual}")]
    VersionConflict {
        stream: String,
        expected: ExpectedVersion,
        actual: u64,
    },

    /// The request id was already recorded for a command with a different
    /// fingerprint: the client reused an idempotency key for another command.
    #[error("request id {request_id:?} was already used for a different command")]
    RequestIdConflict { request_id: String },

    /// The stored history does not match its hash chain. `seq` is the first
    /// event that was changed, removed, or is out of sequence.
    #[error("event log corrupt at seq {seq}: {reason}")]
    Corrupt { seq: u64, reason: String },

    /// A stored row could not be decoded (bad JSON, negative number, …).
    /// `seq` is 0 when the row is not an event (e.g. a recorded result).
    #[error("cannot decode stored row (seq {seq}): {reason}")]
    Decode { seq: u64, reason: String },

    /// The request itself is malformed (empty request id or stream, …).
    #[error("invalid append request: {reason}")]
    InvalidRequest { reason: String },

    /// The file was written by a newer build with a schema we do not know.
    #[error("unsupported event log schema version {found} (this build supports {supported})")]
    UnsupportedSchema { found: i64, supported: i64 },

    /// The writer thread is gone (the log is shutting down or it failed).
    #[error("event log is closed")]
    Closed,

    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Stable, machine-readable identifier for this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::VersionConflict { .. } => "version_conflict",
            Error::RequestIdConflict { .. } => "request_id_conflict",
            Error::Corrupt { .. } => "corrupt",
            Error::Decode { .. } => "decode",
            Error::InvalidRequest { .. } => "invalid_request",
            Error::UnsupportedSchema { .. } => "unsupported_schema",
            Error::Closed => "closed",
            Error::Sqlite(_) => "sqlite",
            Error::Io(_) => "io",
        }
    }

    /// A copy of this error for fanning one failure out to every append of a
    /// failed group commit. `rusqlite::Error` is not `Clone`, so SQLite
    /// failures keep their result code and message and anything else keeps
    /// its message.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::VersionConflict {
                stream,
                expected,
                actual,
            } => Error::VersionConflict {
                stream: stream.clone(),
                expected: *expected,
                actual: *actual,
            },
            Error::RequestIdConflict { request_id } => Error::RequestIdConflict {
                request_id: request_id.clone(),
            },
            Error::Corrupt { seq, reason } => Error::Corrupt {
                seq: *seq,
                reason: reason.clone(),
            },
            Error::Decode { seq, reason } => Error::Decode {
                seq: *seq,
                reason: reason.clone(),
            },
            Error::InvalidRequest { reason } => Error::InvalidRequest {
                reason: reason.clone(),
            },
            Error::UnsupportedSchema { found, supported } => Error::UnsupportedSchema {
                found: *found,
                supported: *supported,
            },
            Error::Closed => Error::Closed,
            Error::Sqlite(rusqlite::Error::SqliteFailure(code, msg)) => {
                Error::Sqlite(rusqlite::Error::SqliteFailure(*code, msg.clone()))
            }
            Error::Sqlite(other) => Error::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                Some(other.to_string()),
            )),
            Error::Io(e) => Error::Io(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}

/// Error from [`crate::EventLog::replay`]: either the log failed, or the
/// caller's handler returned an error (which stops the replay).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError<E> {
    #[error(transparent)]
    Log(#[from] Error),
    #[error("replay handler failed: {0}")]
    Handler(E),
}

impl<E> ReplayError<E> {
    /// Stable code: the log error's code, or `"replay_handler"`.
    pub fn code(&self) -> &'static str {
        match self {
            ReplayError::Log(e) => e.code(),
            ReplayError::Handler(_) => "replay_handler",
        }
    }
}
