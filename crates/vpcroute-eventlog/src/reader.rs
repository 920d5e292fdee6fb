//! Read side: a small pool of read-only connections, and decoding of stored
//! rows. In WAL mode each reader sees a committed snapshot and never waits
//! for the writer, so queries and replays run while appends keep flowing.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Row};

use crate::error::Error;
use crate::schema;
use crate::types::StoredEvent;

/// Idle connections kept for reuse. More concurrent readers than this just
/// open (and later close) extra connections.
const MAX_IDLE: usize = 4;

/// Columns in the order [`RawEvent::from_row`] expects.
pub(crate) const EVENT_COLUMNS: &str = "seq, stream, stream_version, event_type, schema_version, \
     payload, request_id, recorded_at_ms, hash";

pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A connection borrowed from the pool; returned to it on drop.
pub(crate) struct PooledConn<'a> {
    pool: &'a ReaderPool,
    conn: Option<Connection>,
}

impl std::ops::Deref for PooledConn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Always Some until drop.
        self.conn
            .as_ref()
            .expect("pooled connection present until drop")
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Never hand back a connection stuck inside a transaction (e.g.
            // a replay handler panicked mid-walk): just close it.
            if !conn.is_autocommit() {
                return;
            }
            let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }
}

impl ReaderPool {
    pub(crate) fn new(path: PathBuf) -> ReaderPool {
        ReaderPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn get(&self) -> Result<PooledConn<'_>, Error> {
        let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match reused {
            Some(c) => c,
            None => schema::open_reader(&self.path)?,
        };
        Ok(PooledConn {
            pool: self,
            conn: Some(conn),
        })
    }
}

/// An event row exactly as stored, before JSON decoding. Verification works
/// on this form because it must hash the stored text, not a re-encoding.
pub(crate) struct RawEvent {
    pub seq: i64,
    pub stream: String,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i64,
    pub payload: String,
    pub request_id: Option<String>,
    pub recorded_at_ms: i64,
    pub hash: String,
}

impl RawEvent {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
        Ok(RawEvent {
            seq: row.get(0)?,
            stream: row.get(1)?,
            stream_version: row.get(2)?,
            event_type: row.get(3)?,
            schema_version: row.get(4)?,
            payload: row.get(5)?,
            request_id: row.get(6)?,
            recorded_at_ms: row.get(7)?,
            hash: row.get(8)?,
        })
    }

    pub(crate) fn decode(self) -> Result<StoredEvent, Error> {
        let seq = u64::try_from(self.seq).map_err(|_| Error::Decode {
            seq: 0,
            reason: format!("negative seq {}", self.seq),
        })?;
        let bad = |reason: String| Error::Decode { seq, reason };
        let stream_version = u64::try_from(self.stream_version)
            .map_err(|_| bad(format!("negative stream_version {}", self.stream_version)))?;
        let schema_version = u32::try_from(self.schema_version).map_err(|_| {
            bad(format!(
                "schema_version {} out of range",
                self.schema_version
            ))
        })?;
        let payload = serde_json::from_str(&self.payload)
            .map_err(|e| bad(format!("payload is not JSON: {e}")))?;
        Ok(StoredEvent {
            seq,
            stream: self.stream,
            stream_version,
            event_type: self.event_type,
            schema_version,
            payload,
            request_id: self.request_id,
            recorded_at_ms: self.recorded_at_ms,
            hash: self.hash,
        })
    }
}

/// Clamp a caller's u64 into SQLite's integer range (no seq can exceed it).
pub(crate) fn to_sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn read_from(
    conn: &Connection,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<StoredEvent>, Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let mut rows = stmt.query((to_sql_int(from_seq), limit))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(RawEvent::from_row(row)?.decode()?);
    }
    Ok(out)
}

/// Stream rows to `f` one at a time; memory stays flat however long the log.
pub(crate) fn replay<E>(
    conn: &Connection,
    from_seq: u64,
    mut f: impl FnMut(StoredEvent) -> Result<(), E>,
) -> Result<u64, crate::error::ReplayError<E>> {
    use crate::error::ReplayError;
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq >= ?1 ORDER BY seq"
        ))
        .map_err(Error::from)?;
    let mut rows = stmt.query([to_sql_int(from_seq)]).map_err(Error::from)?;
    let mut last = 0;
    while let Some(row) = rows.next().map_err(Error::from)? {
        let ev = RawEvent::from_row(row).map_err(Error::from)?.decode()?;
        last = ev.seq;
        f(ev).map_err(ReplayError::Handler)?;
    }
    Ok(last)
}

pub(crate) fn head(conn: &Connection) -> Result<u64, Error> {
    let head: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
        .query_row([], |r| r.get(0))?;
    u64::try_from(head).map_err(|_| Error::Decode {
        seq: 0,
        reason: format!("negative head seq {head}"),
    })
}

pub(crate) fn stream_version(conn: &Connection, stream: &str) -> Result<u64, Error> {
    let v: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream = ?1")?
        .query_row([stream], |r| r.get(0))?;
    u64::try_from(v).map_err(|_| Error::Decode {
        seq: 0,
        reason: format!("negative version {v} for stream {stream:?}"),
    })
}

/// A `requests` row joined with the chain hash of the event at its
/// `last_seq`, in the column order [`schema::record_hash`] expects, followed
/// by the stored record hash.
pub(crate) const REQUEST_COLUMNS: &str = "r.request_id, r.fingerprint, r.result, r.first_seq, \
     r.last_seq, r.recorded_at_ms, e.hash, r.hash";

/// The fingerprint and raw result text recorded for a request id. The
/// record's hash is checked first: an edited record is never replayed to a
/// retry (`Corrupt`, as `verify` would report it).
pub(crate) fn recorded_raw(
    conn: &Connection,
    request_id: &str,
) -> Result<Option<(String, String)>, Error> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {REQUEST_COLUMNS} FROM requests r LEFT JOIN events e ON e.seq = r.last_seq \
             WHERE r.request_id = ?1"
        ))?
        .query_row([request_id], |r| {
            let intact = match (schema::record_hash(r), r.get::<_, Option<String>>(7)) {
                (Some(h), Ok(Some(stored))) => crate::chain::parse_hex(&stored) == Some(h),
                _ => false,
            };
            let last_seq = r.get::<_, i64>(4).ok().and_then(|s| u64::try_from(s).ok());
            let fields = if intact {
                Some((r.get(1)?, r.get(2)?))
            } else {
                None
            };
            Ok((fields, last_seq))
        })
        .optional()?;
    match found {
        None => Ok(None),
        Some((Some(fields), _)) => Ok(Some(fields)),
        Some((None, last_seq)) => Err(record_changed(last_seq.unwrap_or(0), request_id)),
    }
}

/// The error for an idempotency record that no longer matches its hash.
pub(crate) fn record_changed(last_seq: u64, request_id: &str) -> Error {
    Error::Corrupt {
        seq: last_seq,
        reason: format!("request {request_id:?} record changed"),
    }
}

/// Parse a recorded result text.
pub(crate) fn decode_result(request_id: &str, text: &str) -> Result<serde_json::Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::Decode {
        seq: 0,
        reason: format!("recorded result of request {request_id:?} is not JSON: {e}"),
    })
}
