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
