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
//! The walk runs in one read transaction, so a live log is checked against a
//! consistent snapshot while appends continue.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Connection;

use crate::chain::{self, ChainInput, Hash};
use crate::error::Error;
use crate::reader::{RawEvent, EVENT_COLUMNS};
use crate::schema;
use crate::types::VerifyReport;

/// Verify a log file without a running service: opens it strictly
/// read-only (never creates it, never writes). For `vpcctl log verify`.
pub fn verify_file(path: &Path) -> Result<VerifyReport, Error> {
    let conn = schema::open_read_only(path)?;
    verify_conn(&conn)
}

pub(crate) fn verify_conn(conn: &Connection) -> Result<VerifyReport, Error> {
    // Dropping the transaction ends the snapshot (rollback of a read).
    let tx = conn.unchecked_transaction()?;
    let report = walk(&tx)?;
    check_requests_tail(&tx, report.head)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    check_requests(&tx, report.head, version >= 2)?;
    Ok(report)
}

fn corrupt(seq: u64, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        seq,
        reason: reason.into(),
    }
}

fn walk(conn: &Connection) -> Result<VerifyReport, Error> {
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
        let raw = RawEvent::from_row(row)
            .map_err(|e| corrupt(seq, format!("changed (column no longer readable: {e})")))?;
        let (Ok(stream_version), Ok(schema_version)) = (
            u64::try_from(raw.stream_version),
            u32::try_from(raw.schema_version),
        ) else {
            return Err(corrupt(seq, "changed (version out of range)"));
        };
        let next_in_stream = streams.get(&raw.stream).copied().unwrap_or(0) + 1;
        let in_order = stream_version == next_in_stream;

        let computed = chain::link(
            &prev,
            &ChainInput {
                seq,
                stream: &raw.stream,
                stream_version,
                event_type: &raw.event_type,
                schema_version,
                payload: &raw.payload,
                request_id: raw.request_id.as_deref(),
                recorded_at_ms: raw.recorded_at_ms,
            },
        );
        if chain::parse_hex(&raw.hash) != Some(computed) {
            return Err(corrupt(seq, if in_order { "changed" } else { "reordered" }));
        }
        if !in_order {
            return Err(corrupt(
                seq,
                format!(
                    "out of sequence (stream {:?} version {stream_version}, expected {next_in_stream})",
                    raw.stream
                ),
            ));
        }
        prev = computed;
        streams.insert(raw.stream, stream_version);
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
/// comes first.
fn check_requests(conn: &Connection, head: u64, hashed: bool) -> Result<(), Error> {
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
        if hashed {
            let stored = row.get::<_, Option<String>>(7).ok().flatten();
            let stored = stored.as_deref().and_then(chain::parse_hex);
            let computed = schema::record_hash(row);
            if stored.is_none() || stored != computed {
                return Err(changed());
            }
        }
    }
    Ok(())
}
