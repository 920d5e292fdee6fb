//! Offline and online integrity check: walk every event in seq order,
//! recompute the hash chain and name the FIRST event that does not fit.
//!
//! What is reported (`Error::Corrupt { seq, reason }`):
//! * `"removed"` – a seq is missing. `seq` names the missing one (deleting
//!   event 3 of 10 reports 3). Events removed from the tail are caught by the
//!   `requests` table, whose `last_seq` still points past the head: reported
//!   as the first missing seq, `head + 1`.
//! * `"reordered"` – the row's hash does not match and its stream_version is
//!   not the next one for its stream (rows swapped or moved).
//! * `"changed"` – the row's hash does not match (any column edited), or a
//!   column no longer has the type the log wrote.
//! * `"out of sequence"` – the hash matches but the per-stream version does
//!   not continue its stream (a forged, re-hashed history).
//! * `"request \"<id>\" record changed"` – an idempotency record (`requests`
//!   row) does not match its own hash, which binds it to the chain at its
//!   `last_seq` (reported as `seq`), or its seq range is impossible.
//!   Checked after the whole chain, so a changed event is reported as such.
//!   A schema-1 file (read-only `verify_file` of an old log) has no record
//!   hashes: only the ranges are checked.
//!
//! * `"request \"<id>\" record missing"` – an event carries a request id
//!   that has no `requests` row, or one whose seq range does not hold the
//!   event (`"… record changed (its range holds another request's
//!   event)"` when a row's range holds an event of another). A removed
//!   record would let a retry of that request be decided (and allocate) a
//!   second time.
//! * the anchor (anchor.rs): `"removed: the log ends at event H but its
//!   anchor … records event A"` when the tail was cut, `"changed: …"` when
//!   the event at the anchor's seq has another hash, and a missing or
//!   unreadable anchor for a log of schema 3 that has events.
//!
//! The walk runs in one read transaction, so a live log is checked against a
//! consistent snapshot while appends continue. The anchor is read before
//! the snapshot starts: the writer updates it only after a commit, so it
//! never names an event beyond the snapshot's head.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row};

use crate::anchor;
use crate::chain::{self, Hash};
use crate::error::{Error, ReplayError};
use crate::reader::EVENT_COLUMNS;
use crate::schema;
use crate::types::{EventRef, VerifyReport};

/// Verify a log file without a running service: opens it strictly
/// read-only (never creates it, never writes). For `vpcctl log verify`.
pub fn verify_file(path: &Path) -> Result<VerifyReport, Error> {
    let conn = schema::open_read_only(path)?;
    verify_conn(&conn, path)
}

/// Verify the log at `path` through `conn`, a connection to it.
pub(crate) fn verify_conn(conn: &Connection, path: &Path) -> Result<VerifyReport, Error> {
    match verify_replay_conn(conn, path, |_| Ok::<(), std::convert::Infallible>(())) {
        Ok(report) => Ok(report),
        Err(ReplayError::Log(e)) => Err(e),
        Err(ReplayError::Handler(never)) => match never {},
    }
}

/// Verify, handing each event to `f` once its hash has been checked. After
/// `f`'s first error the walk goes on (without `f`) to the end, so damage
/// anywhere is still reported as `Corrupt`, ahead of `f`'s error.
pub(crate) fn verify_replay_conn<F, E>(
    conn: &Connection,
    path: &Path,
    mut f: F,
) -> Result<VerifyReport, ReplayError<E>>
where
    F: FnMut(EventRef<'_>) -> Result<(), E>,
{
    let anchor = anchor::read(path)?;
    // Dropping the transaction ends the snapshot (rollback of a read).
    let tx = conn.unchecked_transaction().map_err(Error::from)?;
    let mut failed = None;
    let mut with_request_id = 0u64;
    let report = walk(&tx, |ev| {
        with_request_id += u64::from(ev.request_id.is_some());
        if failed.is_none() {
            failed = f(ev).err();
        }
    })?;
    check_requests_tail(&tx, report.head)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(Error::from)?;
    let covered = check_requests(&tx, report.head, version >= 2)?;
    if covered != with_request_id {
        return Err(missing_record(&tx)?.into());
    }
    if version >= 3 || anchor.is_some() {
        anchor::check(path, anchor, report.head, |seq| stored_hash(&tx, seq))?;
    }
    match failed {
        Some(e) => Err(ReplayError::Handler(e)),
        None => Ok(report),
    }
}

/// The stored hash of event `seq` (already verified by the walk).
fn stored_hash(conn: &Connection, seq: u64) -> Result<Option<Hash>, Error> {
    let hex: Option<String> = conn
        .query_row(
            "SELECT hash FROM events WHERE seq = ?1",
            [crate::reader::to_sql_int(seq)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(hex.as_deref().and_then(chain::parse_hex))
}

/// Names what is wrong when the records' ranges do not cover exactly the
/// events that carry a request id: an event whose request has no record
/// (or one whose range misses it), or a range holding another request's
/// event. Only run then: the common check is the count, which costs
/// nothing beyond the walks `verify` does anyway (a join per event would
/// add a lookup per event to every start-up).
fn missing_record(conn: &Connection) -> Result<Error, Error> {
    let orphan: Option<(i64, String)> = conn
        .query_row(
            "SELECT e.seq, e.request_id FROM events e \
             LEFT JOIN requests r ON r.request_id = e.request_id \
             WHERE e.request_id IS NOT NULL \
               AND (r.request_id IS NULL OR e.seq < r.first_seq OR e.seq > r.last_seq) \
             ORDER BY e.seq LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let foreign: Option<(i64, String)> = conn
        .query_row(
            "SELECT e.seq, r.request_id FROM requests r \
             JOIN events e ON e.seq BETWEEN r.first_seq AND r.last_seq \
             WHERE e.request_id IS NOT r.request_id \
             ORDER BY e.seq LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let orphan = orphan.map(|(seq, id)| (seq, format!("request {id:?} record missing")));
    let foreign = foreign.map(|(seq, id)| {
        (
            seq,
            format!("request {id:?} record changed (its range holds another request's event)"),
        )
    });
    Ok(match orphan.into_iter().chain(foreign).min() {
        Some((seq, reason)) => corrupt(u64::try_from(seq).unwrap_or(0), reason),
        None => corrupt(
            0,
            "request records changed (their ranges overlap or miss events)",
        ),
    })
}

fn corrupt(seq: u64, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        seq,
        reason: reason.into(),
    }
}

/// The columns of an event row (in [`EVENT_COLUMNS`] order after `seq`),
/// borrowed, each with the type the log writes.
fn columns<'r>(row: &'r Row<'_>, seq: u64) -> Result<(EventRef<'r>, &'r str), String> {
    let text = |i: usize| -> Result<&'r str, String> {
        row.get_ref(i)
            .map_err(|e| e.to_string())?
            .as_str()
            .map_err(|e| format!("column {i}: {e}"))
    };
    let int = |i: usize| -> Result<i64, String> {
        row.get_ref(i)
            .map_err(|e| e.to_string())?
            .as_i64()
            .map_err(|e| format!("column {i}: {e}"))
    };
    let (stream, stream_version, event_type) = (text(1)?, int(2)?, text(3)?);
    let (schema_version, payload) = (int(4)?, text(5)?);
    let request_id = row
        .get_ref(6)
        .map_err(|e| e.to_string())?
        .as_str_or_null()
        .map_err(|e| format!("column 6: {e}"))?;
    let (recorded_at_ms, hash) = (int(7)?, text(8)?);
    let (Ok(stream_version), Ok(schema_version)) =
        (u64::try_from(stream_version), u32::try_from(schema_version))
    else {
        return Err(VERSION_OUT_OF_RANGE.into());
    };
    let ev = EventRef {
        seq,
        stream,
        stream_version,
        event_type,
        schema_version,
        payload,
        request_id,
        recorded_at_ms,
    };
    Ok((ev, hash))
}

const VERSION_OUT_OF_RANGE: &str = "version out of range";

fn walk(conn: &Connection, mut visit: impl FnMut(EventRef<'_>)) -> Result<VerifyReport, Error> {
    let mut stmt = conn.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut prev: Hash = [0; 32];
    let mut expected_seq: u64 = 1;
    let mut streams: HashMap<String, u64> = HashMap::new();

    while let Some(row) = rows.next()? {
        // seq is the INTEGER PRIMARY KEY, so it always reads as an integer.
        let seq: i64 = row.get(0)?;
        match u64::try_from(seq) {
            Ok(s) if s == expected_seq => {}
            Ok(s) if s > expected_seq => return Err(corrupt(expected_seq, "removed")),
            _ => {
                return Err(corrupt(
                    expected_seq,
                    format!("out of sequence (found seq {seq})"),
                ))
            }
        }
        let seq = expected_seq;
        let (ev, stored_hash) = columns(row, seq).map_err(|e| {
            if e == VERSION_OUT_OF_RANGE {
                corrupt(seq, format!("changed ({e})"))
            } else {
                corrupt(seq, format!("changed (column no longer readable: {e})"))
            }
        })?;
        let stream_version = ev.stream_version;
        let last_in_stream = streams.get_mut(ev.stream);
        let next_in_stream = last_in_stream.as_deref().copied().unwrap_or(0) + 1;
        let in_order = stream_version == next_in_stream;

        let computed = chain::link(&prev, &ev);
        if !chain::hex_matches(stored_hash, &computed) {
            return Err(corrupt(seq, if in_order { "changed" } else { "reordered" }));
        }
        if !in_order {
            return Err(corrupt(
                seq,
                format!(
                    "out of sequence (stream {:?} version {stream_version}, expected {next_in_stream})",
                    ev.stream
                ),
            ));
        }
        match last_in_stream {
            Some(last) => *last = stream_version,
            None => {
                streams.insert(ev.stream.to_owned(), stream_version);
            }
        }
        prev = computed;
        visit(ev);
        expected_seq += 1;
    }
    let head = expected_seq - 1;
    Ok(VerifyReport {
        events_checked: head,
        head,
        head_hash: hex::encode(prev),
    })
}

/// The chain cannot see events cut off its end; the idempotency records
/// can: every request remembers the head after it was appended.
fn check_requests_tail(conn: &Connection, head: u64) -> Result<(), Error> {
    let max_last: Option<i64> =
        conn.query_row("SELECT MAX(last_seq) FROM requests", [], |r| r.get(0))?;
    match max_last {
        Some(last) if last > crate::reader::to_sql_int(head) => Err(corrupt(head + 1, "removed")),
        _ => Ok(()),
    }
}

/// Every idempotency record must describe a possible append
/// (`1 <= first_seq <= last_seq + 1`, `last_seq <= head`) and, from schema 2
/// on, match its hash. Reported in `last_seq` order, so the earliest damage
/// comes first. Returns how many events the records' ranges cover.
///
/// Each record's range holds exactly its request's events (the writer
/// stores both in one transaction), so the ranges cover each event with a
/// request id once: a total that differs from the number of such events
/// means a record was removed, or one was re-appended for a request
/// already in the log (see [`missing_record`]).
fn check_requests(conn: &Connection, head: u64, hashed: bool) -> Result<u64, Error> {
    let columns = if hashed {
        crate::reader::REQUEST_COLUMNS.to_owned()
    } else {
        crate::reader::REQUEST_COLUMNS.replace("r.hash", "NULL")
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {columns} FROM requests r LEFT JOIN events e ON e.seq = r.last_seq \
         ORDER BY r.last_seq, r.request_id"
    ))?;
    let mut rows = stmt.query([])?;
    let mut covered = 0u64;
    while let Some(row) = rows.next()? {
        let request_id = match row.get_ref(0)? {
            rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            other => format!("{other:?}"),
        };
        let seq_of = |i| {
            row.get::<_, i64>(i)
                .ok()
                .and_then(|s| u64::try_from(s).ok())
        };
        let (first_seq, last_seq) = (seq_of(3), seq_of(4));
        let changed = || crate::reader::record_changed(last_seq.unwrap_or(0), &request_id);
        let (Some(first_seq), Some(last_seq)) = (first_seq, last_seq) else {
            return Err(changed());
        };
        if first_seq == 0 || first_seq > last_seq.saturating_add(1) || last_seq > head {
            return Err(changed());
        }
        covered += last_seq + 1 - first_seq;
        if hashed {
            let stored = row.get::<_, Option<String>>(7).ok().flatten();
            let stored = stored.as_deref().and_then(chain::parse_hex);
            let computed = schema::record_hash(row);
            if stored.is_none() || stored != computed {
                return Err(changed());
            }
        }
    }
    Ok(covered)
}
