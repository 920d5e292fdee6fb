//! The idempotency records (`requests` rows) are covered by their own hash,
//! bound to the event chain: editing a recorded reply is detected by
//! `verify`, `verify_file`, and by the retry that would have replayed it.

mod common;

use common::*;
use serde_json::json;
use vpcroute_eventlog::{verify_file, AppendOutcome, Error, ExpectedVersion};

/// `id-1..=id-3` with one event each, then a result-only `noop`.
fn build(path: &std::path::Path) {
    let log = open(path);
    fill(&log, "id", "s", 3);
    log.append(req("noop", "s", ExpectedVersion::Exact(3), vec![]))
        .unwrap();
}

fn assert_record_changed(err: &Error, seq: u64, request_id: &str) {
    assert!(
        matches!(err, Error::Corrupt { seq: s, reason }
            if *s == seq && reason.contains("record changed") && reason.contains(request_id)),
        "{err:?}"
    );
    assert_eq!(err.code(), "corrupt");
}

#[test]
fn an_untouched_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    build(&path);
    let log = open(&path);
    assert_eq!(log.verify().unwrap().head, 3);
    drop(log);
    assert_eq!(verify_file(&path).unwrap().head, 3);
}

#[test]
fn an_edited_result_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    build(&path);
    let log = open(&path);
    tamper(&path)
        .execute(
            "UPDATE requests SET result = '{\"request\":\"forged\"}' WHERE request_id = 'id-2'",
            [],
        )
        .unwrap();
    assert_record_changed(&log.verify().unwrap_err(), 2, "id-2");
    // The retry is not answered with the forged reply.
    let err = log
        .append(req("id-2", "s", ExpectedVersion::Any, vec![event(2)]))
        .unwrap_err();
    assert_record_changed(&err, 2, "id-2");
    assert_record_changed(&log.recorded_result("id-2").unwrap_err(), 2, "id-2");
    // Untouched records still answer.
    assert!(matches!(
        log.append(req("id-1", "s", ExpectedVersion::Any, vec![event(1)]))
            .unwrap(),
        AppendOutcome::Duplicate { .. }
    ));
    drop(log);
    assert_record_changed(&verify_file(&path).unwrap_err(), 2, "id-2");
}

#[test]
fn an_edited_result_only_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    build(&path);
    tamper(&path)
        .execute(
            "UPDATE requests SET result = '{}' WHERE request_id = 'noop'",
            [],
        )
        .unwrap();
    assert_record_changed(&verify_file(&path).unwrap_err(), 3, "noop");
}

#[test]
fn an_edited_fingerprint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    build(&path);
    let log = open(&path);
    tamper(&path)
        .execute(
            "UPDATE requests SET fingerprint = 'fp-other' WHERE request_id = 'id-3'",
            [],
        )
        .unwrap();
    assert_record_changed(&log.verify().unwrap_err(), 3, "id-3");
    drop(log);
    assert_record_changed(&verify_file(&path).unwrap_err(), 3, "id-3");
}

#[test]
fn edited_ranges_and_hashes_are_refused() {
    for sql in [
        "UPDATE requests SET hash = '' WHERE request_id = 'id-1'",
        "UPDATE requests SET hash = (SELECT hash FROM requests WHERE request_id = 'id-2') \
         WHERE request_id = 'id-1'",
        "UPDATE requests SET recorded_at_ms = recorded_at_ms + 1 WHERE request_id = 'id-1'",
        "UPDATE requests SET first_seq = 3 WHERE request_id = 'id-1'",
        "UPDATE requests SET result = 7 WHERE request_id = 'id-1'",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        build(&path);
        tamper(&path).execute_batch(sql).unwrap();
        assert_record_changed(&verify_file(&path).unwrap_err(), 1, "id-1");
    }
}

/// Turn a current file back into the schema-1 shape (no `requests.hash`).
fn downgrade_to_v1(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "ALTER TABLE requests DROP COLUMN hash;
         PRAGMA user_version = 1;",
    )
    .unwrap();
}

#[test]
fn a_schema_1_log_is_migrated_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    build(&path);
    downgrade_to_v1(&path);
    // Still readable offline, without migrating it.
    assert_eq!(verify_file(&path).unwrap().head, 3);
    let version = |path: &std::path::Path| -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(&path), 1);

    let log = open(&path);
    assert_eq!(
        version(&path),
        3,
        "migrated to the current schema (3: anchored)"
    );
    let raw = rusqlite::Connection::open(&path).unwrap();
    let empty: i64 = raw
        .query_row("SELECT COUNT(*) FROM requests WHERE hash = ''", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(empty, 0);
    // The update trigger is back.
    let err = raw
        .execute_batch("UPDATE requests SET result = '{}'")
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_eq!(log.verify().unwrap().head, 3);
    // Old records still answer retries; new appends continue the log.
    assert_eq!(
        log.append(req("id-2", "s", ExpectedVersion::Any, vec![event(2)]))
            .unwrap(),
        AppendOutcome::Duplicate {
            result: json!({"request": "id-2"})
        }
    );
    log.append(req("id-4", "s", ExpectedVersion::Exact(3), vec![event(4)]))
        .unwrap();
    assert_eq!(log.verify().unwrap().head, 4);
    drop(log);
    assert_eq!(verify_file(&path).unwrap().head, 4);

    // A migrated record is protected like any other.
    tamper(&path)
        .execute(
            "UPDATE requests SET result = '{}' WHERE request_id = 'id-1'",
            [],
        )
        .unwrap();
    assert_record_changed(&verify_file(&path).unwrap_err(), 1, "id-1");
}

#[test]
fn a_schema_1_record_past_the_head_is_reported_after_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    build(&path);
    downgrade_to_v1(&path);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TRIGGER requests_no_update;
             UPDATE requests SET first_seq = 9, last_seq = 9 WHERE request_id = 'id-1';",
        )
        .unwrap();
    }
    let log = open(&path);
    let err = log.verify().unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { seq: 4, reason } if reason == "removed"),
        "{err:?}"
    );
}
