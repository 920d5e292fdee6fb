//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use vpcroute_eventlog::{AppendRequest, EventLog, ExpectedVersion, LogOptions, NewEvent};

pub fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("log.sqlite")
}

pub fn open(path: &Path) -> EventLog {
    EventLog::open(path, LogOptions::relaxed()).expect("open log")
}

pub fn event(n: u64) -> NewEvent {
    NewEvent {
        event_type: "RouteAdded".into(),
        schema_version: 1,
        payload: json!({ "n": n, "prefix": format!("10.{n}.0.0/24") }),
    }
}

pub fn req(
    id: &str,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> AppendRequest {
    AppendRequest {
        request_id: id.into(),
        fingerprint: format!("fp-{id}"),
        stream: stream.into(),
        expected,
        events,
        result: json!({ "request": id }),
    }
}

/// Append `n` single-event requests to `stream`, ids `{prefix}-{i}`.
pub fn fill(log: &EventLog, prefix: &str, stream: &str, n: u64) {
    for i in 1..=n {
        log.append(req(
            &format!("{prefix}-{i}"),
            stream,
            ExpectedVersion::Any,
            vec![event(i)],
        ))
        .expect("append");
    }
}

/// A raw connection with the append-only triggers dropped: plays the
/// attacker who edits the file behind the log's back.
pub fn tamper(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("raw open");
    conn.execute_batch(
        "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;
         DROP TRIGGER events_seq_contiguous; DROP TRIGGER events_stream_contiguous;
         DROP TRIGGER requests_no_update; DROP TRIGGER requests_no_delete;",
    )
    .expect("drop triggers");
    conn
}

pub fn payload_n(v: &Value) -> u64 {
    v["n"].as_u64().expect("n")
}
