//! Behaviour of the event log through its public API.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::json;
use vpcroute_eventlog::{
    verify_file, AppendOutcome, Error, EventLog, ExpectedVersion, ReplayError,
};

#[test]
fn append_read_and_replay_from_any_seq() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&db_path(&dir));
    assert_eq!(log.head().unwrap(), 0);

    let out = log
        .append(req(
            "a",
            "vpc/left",
            ExpectedVersion::NoStream,
            vec![event(1), event(2), event(3)],
        ))
        .unwrap();
    assert_eq!(
        out,
        AppendOutcome::Appended {
            first_seq: 1,
            last_seq: 3,
            result: json!({"request": "a"})
        }
    );
    let out = log
        .append(req("b", "vpc/right", ExpectedVersion::Any, vec![event(4)]))
        .unwrap();
    assert!(matches!(
        out,
        AppendOutcome::Appended {
            first_seq: 4,
            last_seq: 4,
            ..
        }
    ));
    let out = log
        .append(req(
            "c",
            "vpc/left",
            ExpectedVersion::Exact(3),
            vec![event(5)],
        ))
        .unwrap();
    assert!(matches!(
        out,
        AppendOutcome::Appended {
            first_seq: 5,
            last_seq: 5,
            ..
        }
    ));

    assert_eq!(log.head().unwrap(), 5);
    assert_eq!(log.stream_version("vpc/left").unwrap(), 4);
    assert_eq!(log.stream_version("vpc/right").unwrap(), 1);
    assert_eq!(log.stream_version("nope").unwrap(), 0);

    let all = log.read_from(0, 100).unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        all.iter()
            .map(|e| payload_n(&e.payload))
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let left: Vec<_> = all
        .iter()
        .filter(|e| e.stream == "vpc/left")
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(left, vec![1, 2, 3, 4]);
    assert_eq!(all[0].event_type, "RouteAdded");
    assert_eq!(all[0].schema_version, 1);
    assert_eq!(all[0].request_id.as_deref(), Some("a"));
    assert!(all[0].recorded_at_ms > 1_600_000_000_000);
    assert_eq!(all[0].hash.len(), 64);

    for from in 0..=6u64 {
        let mut seen = Vec::new();
        let last = log
            .replay(from, |e| {
                seen.push(e.seq);
                Ok::<(), ()>(())
            })
            .unwrap();
        let want: Vec<u64> = (from.max(1)..=5).collect();
        assert_eq!(seen, want, "replay from {from}");
        assert_eq!(last, want.last().copied().unwrap_or(0));
        assert_eq!(
            log.read_from(from, 2)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>(),
            want.iter().copied().take(2).collect::<Vec<_>>()
        );
    }
    assert!(log.read_from(u64::MAX, 10).unwrap().is_empty());
}

#[test]
fn replay_handler_error_stops_replay() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&db_path(&dir));
    fill(&log, "r", "s", 5);
    let mut seen = 0;
    let err = log
        .replay(1, |e| {
            seen += 1;
            if e.seq == 3 {
                Err("boom")
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(err, ReplayError::Handler("boom")));
    assert_eq!(err.code(), "replay_handler");
    assert_eq!(seen, 3);
    // The pooled connection is usable again afterwards.
    assert_eq!(log.head().unwrap(), 5);
}

#[test]
fn version_conflict_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&db_path(&dir));
    log.append(req(
        "a",
        "s",
        ExpectedVersion::NoStream,
        vec![event(1), event(2)],
    ))
    .unwrap();

    let err = log
        .append(req("b", "s", ExpectedVersion::Exact(1), vec![event(3)]))
        .unwrap_err();
    match &err {
        Error::VersionConflict {
            stream,
            expected,
            actual,
        } => {
            assert_eq!(stream, "s");
            assert_eq!(*expected, ExpectedVersion::Exact(1));
            assert_eq!(*actual, 2);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.code(), "version_conflict");
    let err = log
        .append(req("c", "s", ExpectedVersion::NoStream, vec![event(3)]))
        .unwrap_err();
    assert_eq!(err.code(), "version_conflict");
    assert_eq!(log.head().unwrap(), 2);
    // A failed request id is not burned: it can be retried with a good version.
    assert!(log.recorded_result("b").unwrap().is_none());
    let out = log
        .append(req("b", "s", ExpectedVersion::Exact(2), vec![event(3)]))
        .unwrap();
    assert!(matches!(
        out,
        AppendOutcome::Appended {
            first_seq: 3,
            last_seq: 3,
            ..
        }
    ));
}

#[test]
fn duplicate_request_returns_original_result_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&db_path(&dir));
    let first = log
        .append(req("id-1", "s", ExpectedVersion::NoStream, vec![event(1)]))
        .unwrap();
    assert!(matches!(first, AppendOutcome::Appended { .. }));
    log.append(req("id-2", "s", ExpectedVersion::Any, vec![event(2)]))
        .unwrap();

    // Same id and fingerprint, but the stream moved on and the retry carries
    // a stale precondition and a different result: the original wins.
    let mut retry = req("id-1", "s", ExpectedVersion::NoStream, vec![event(1)]);
    retry.result = json!({"something": "else"});
    let dup = log.append(retry).unwrap();
    assert_eq!(
        dup,
        AppendOutcome::Duplicate {
            result: json!({"request": "id-1"})
        }
    );
    assert_eq!(log.head().unwrap(), 2);
    assert_eq!(
        log.recorded_result("id-1").unwrap(),
        Some(("fp-id-1".to_string(), json!({"request": "id-1"})))
    );
    assert_eq!(log.recorded_result("unknown").unwrap(), None);
}

#[test]
fn result_only_command_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&db_path(&dir));
    fill(&log, "x", "s", 2);
    let out = log
        .append(req("noop", "s", ExpectedVersion::Exact(2), vec![]))
        .unwrap();
    assert_eq!(
        out,
        AppendOutcome::Appended {
            first_seq: 3,
            last_seq: 2,
            result: json!({"request": "noop"})
        }
    );
    assert_eq!(log.head().unwrap(), 2);
    let dup = log
        .append(req("noop", "s", ExpectedVersion::Exact(2), vec![]))
        .unwrap();
    assert!(matches!(dup, AppendOutcome::Duplicate { .. }));
    log.verify().unwrap();
}

#[test]
fn fingerprint_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&db_path(&dir));
    log.append(req("id", "s", ExpectedVersion::Any, vec![event(1)]))
        .unwrap();
    let mut other = req("id", "s", ExpectedVersion::Any, vec![event(2)]);
    other.fingerprint = "different".into();
    let err = log.append(other).unwrap_err();
    assert!(matches!(&err, Error::RequestIdConflict { request_id } if request_id == "id"));
    assert_eq!(err.code(), "request_id_conflict");
    assert_eq!(log.head().unwrap(), 1);
}

#[test]
fn invalid_requests_are_rejected_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&db_path(&dir));
    let err = log
        .append(req("", "s", ExpectedVersion::Any, vec![event(1)]))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    let err = log
        .append(req("a", "", ExpectedVersion::Any, vec![event(1)]))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    let mut bad = event(1);
    bad.event_type.clear();
    let err = log
        .append(req("a", "s", ExpectedVersion::Any, vec![bad]))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert_eq!(log.head().unwrap(), 0);
}

/// Hold SQLite's write lock from another connection so the writer stalls
/// on its first job; everything submitted meanwhile queues up and must be
/// committed as one batch once the lock is released.
fn with_stalled_writer(log: &EventLog, path: &std::path::Path, submit: impl FnOnce()) {
    let blocker = rusqlite::Connection::open(path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    log.submit(
        req("stall", "stall", ExpectedVersion::Any, vec![event(0)]),
        Box::new(move |r| tx.send(r).unwrap()),
    );
    std::thread::sleep(Duration::from_millis(200)); // writer now waits on the lock
    submit();
    blocker.execute_batch("COMMIT").unwrap();
    rx.recv().unwrap().unwrap();
}

#[test]
fn same_new_request_id_twice_in_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    let results = Arc::new(Mutex::new(Vec::new()));
    with_stalled_writer(&log, &path, || {
        for tag in ["first", "second"] {
            let results = results.clone();
            log.submit(
                req("same", "s", ExpectedVersion::Any, vec![event(1)]),
                Box::new(move |r| results.lock().unwrap().push((tag, r))),
            );
        }
        let mut conflicting = req("same", "s", ExpectedVersion::Any, vec![event(2)]);
        conflicting.fingerprint = "other".into();
        let results = results.clone();
        log.submit(
            conflicting,
            Box::new(move |r| results.lock().unwrap().push(("third", r))),
        );
    });
    // Wait for the second batch.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while results.lock().unwrap().len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let results = results.lock().unwrap();
    assert_eq!(results.len(), 3);
    assert!(matches!(
        results[0],
        (
            "first",
            Ok(AppendOutcome::Appended {
                first_seq: 2,
                last_seq: 2,
                ..
            })
        )
    ));
    assert!(
        matches!(&results[1], ("second", Ok(AppendOutcome::Duplicate { result })) if result == &json!({"request": "same"}))
    );
    assert!(matches!(
        &results[2],
        ("third", Err(Error::RequestIdConflict { .. }))
    ));
    assert!(log.stats().largest_batch >= 3, "{:?}", log.stats());
    assert_eq!(log.head().unwrap(), 2);
    log.verify().unwrap();
}

#[test]
fn a_failing_append_fails_alone_within_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    let rxs = Mutex::new(Vec::new());
    with_stalled_writer(&log, &path, || {
        let mut rxs = rxs.lock().unwrap();
        rxs.push(log.append_async(req(
            "a",
            "s",
            ExpectedVersion::NoStream,
            vec![event(1), event(2)],
        )));
        rxs.push(log.append_async(req("b", "s", ExpectedVersion::NoStream, vec![event(3)])));
        rxs.push(log.append_async(req("c", "s", ExpectedVersion::Exact(2), vec![event(4)])));
    });
    let out: Vec<_> = rxs
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|rx| rx.recv().unwrap())
        .collect();
    assert!(matches!(
        out[0],
        Ok(AppendOutcome::Appended {
            first_seq: 2,
            last_seq: 3,
            ..
        })
    ));
    assert!(matches!(
        out[1],
        Err(Error::VersionConflict { actual: 2, .. })
    ));
    assert!(matches!(
        out[2],
        Ok(AppendOutcome::Appended {
            first_seq: 4,
            last_seq: 4,
            ..
        })
    ));
    assert_eq!(log.stream_version("s").unwrap(), 3);
    assert_eq!(log.verify().unwrap().head, 4);
}

#[test]
fn triggers_reject_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 3);
    let raw = rusqlite::Connection::open(&path).unwrap();
    for sql in [
        "UPDATE events SET payload = '{}' WHERE seq = 2",
        "DELETE FROM events WHERE seq = 3",
        "DELETE FROM events",
        "INSERT OR REPLACE INTO events SELECT * FROM events WHERE seq = 1",
        "INSERT INTO events (seq, stream, stream_version, event_type, schema_version, payload, recorded_at_ms, hash) \
         VALUES (9, 's', 4, 'T', 1, '{}', 0, '00')",
        "UPDATE requests SET result = '{}'",
        "DELETE FROM requests",
        "INSERT OR REPLACE INTO requests SELECT * FROM requests WHERE request_id = 'r-1'",
    ] {
        let err = raw.execute_batch(sql).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(log.head().unwrap(), 3);
    log.verify().unwrap();
}

#[test]
fn verify_detects_changed_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 10);
    assert_eq!(log.verify().unwrap().events_checked, 10);
    tamper(&path)
        .execute(
            "UPDATE events SET payload = '{\"n\":500}' WHERE seq = 5",
            [],
        )
        .unwrap();
    let err = log.verify().unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { seq: 5, reason } if reason == "changed"),
        "{err:?}"
    );
    assert_eq!(err.code(), "corrupt");
    // The offline check agrees.
    drop(log);
    assert!(matches!(
        verify_file(&path),
        Err(Error::Corrupt { seq: 5, .. })
    ));
}

#[test]
fn verify_detects_changed_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 10);
    let raw = tamper(&path);
    raw.execute(
        "UPDATE events SET recorded_at_ms = recorded_at_ms + 1 WHERE seq = 8",
        [],
    )
    .unwrap();
    raw.execute("UPDATE events SET schema_version = 'x' WHERE seq = 9", [])
        .unwrap();
    assert!(matches!(log.verify(), Err(Error::Corrupt { seq: 8, .. })));
}

#[test]
fn verify_names_the_removed_seq() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 10);
    tamper(&path)
        .execute("DELETE FROM events WHERE seq = 3", [])
        .unwrap();
    let err = log.verify().unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { seq: 3, reason } if reason == "removed"),
        "{err:?}"
    );
}

#[test]
fn verify_detects_removed_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 10);
    tamper(&path)
        .execute("DELETE FROM events WHERE seq >= 9", [])
        .unwrap();
    let err = log.verify().unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { seq: 9, reason } if reason == "removed"),
        "{err:?}"
    );
}

#[test]
fn verify_detects_swapped_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 10);
    let raw = tamper(&path);
    // Swap every column except seq between events 4 and 7 (hashes included).
    raw.execute_batch(
        "CREATE TEMP TABLE t AS SELECT * FROM events WHERE seq IN (4, 7);
         UPDATE events SET stream_version = -seq WHERE seq IN (4, 7);
         UPDATE events SET (stream, stream_version, event_type, schema_version, payload, request_id, recorded_at_ms, hash) =
           (SELECT stream, stream_version, event_type, schema_version, payload, request_id, recorded_at_ms, hash
            FROM t WHERE t.seq = 11 - events.seq)
         WHERE seq IN (4, 7);",
    )
    .unwrap();
    let err = log.verify().unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { seq: 4, reason } if reason == "reordered"),
        "{err:?}"
    );
}

#[test]
fn verify_detects_swapped_payloads_across_streams() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "a", "s1", 3);
    fill(&log, "b", "s2", 3);
    let raw = tamper(&path);
    raw.execute_batch(
        "CREATE TEMP TABLE t AS SELECT seq, payload FROM events WHERE seq IN (2, 6);
         UPDATE events SET payload = (SELECT payload FROM t WHERE t.seq = 8 - events.seq) WHERE seq IN (2, 6);",
    )
    .unwrap();
    assert!(matches!(log.verify(), Err(Error::Corrupt { seq: 2, .. })));
}

#[test]
fn reopen_keeps_history_and_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let before = {
        let log = open(&path);
        fill(&log, "one", "s", 4);
        log.append(req("mid", "t", ExpectedVersion::NoStream, vec![event(9)]))
            .unwrap();
        log.read_from(1, 100).unwrap()
    };
    let log = open(&path);
    assert_eq!(log.read_from(1, 100).unwrap(), before);
    assert_eq!(log.head().unwrap(), 5);
    assert_eq!(log.stream_version("s").unwrap(), 4);
    // Idempotency records survive too.
    let dup = log
        .append(req("one-1", "s", ExpectedVersion::Any, vec![event(1)]))
        .unwrap();
    assert!(matches!(dup, AppendOutcome::Duplicate { .. }));
    // Optimistic concurrency sees the reloaded versions.
    let err = log
        .append(req("late", "t", ExpectedVersion::NoStream, vec![event(1)]))
        .unwrap_err();
    assert_eq!(err.code(), "version_conflict");
    let out = log
        .append(req("two", "s", ExpectedVersion::Exact(4), vec![event(5)]))
        .unwrap();
    assert!(matches!(
        out,
        AppendOutcome::Appended {
            first_seq: 6,
            last_seq: 6,
            ..
        }
    ));
    let report = log.verify().unwrap();
    assert_eq!((report.events_checked, report.head), (6, 6));
    assert_eq!(report.head_hash, log.read_from(6, 1).unwrap()[0].hash);
    drop(log);
    assert_eq!(verify_file(&path).unwrap(), report);
}

#[test]
fn verify_file_never_creates_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let err = verify_file(&path).unwrap_err();
    assert_eq!(err.code(), "io");
    assert!(!path.exists());
}

#[test]
fn verify_file_works_while_the_log_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 5);
    assert_eq!(verify_file(&path).unwrap().head, 5);
    fill(&log, "q", "s", 1);
    assert_eq!(verify_file(&path).unwrap().head, 6);
}

#[test]
fn concurrent_appends_are_group_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = Arc::new(open(&path));
    const THREADS: u64 = 16;
    const PER_THREAD: u64 = 100;
    let mut seqs: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let log = log.clone();
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..PER_THREAD {
                        let out = log
                            .append(req(
                                &format!("t{t}-{i}"),
                                &format!("vpc/{t}"),
                                ExpectedVersion::Exact(i),
                                vec![event(i)],
                            ))
                            .unwrap();
                        match out {
                            AppendOutcome::Appended {
                                first_seq,
                                last_seq,
                                ..
                            } => {
                                assert_eq!(first_seq, last_seq);
                                mine.push(first_seq);
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=THREADS * PER_THREAD).collect::<Vec<_>>());
    let stats = log.stats();
    assert_eq!(stats.appends, THREADS * PER_THREAD);
    assert_eq!(stats.events, THREADS * PER_THREAD);
    assert!(
        stats.commits < stats.appends,
        "no batching happened: {stats:?}"
    );
    assert!(stats.largest_batch > 1, "{stats:?}");
    assert_eq!(log.verify().unwrap().head, THREADS * PER_THREAD);
}

/// What the writer connection itself runs with, asked through `inspect`
/// (a second connection would show its own `synchronous`, not the
/// writer's): WAL and FULL by default, NORMAL only when relaxed.
#[test]
fn the_writer_runs_wal_with_the_synchronous_level_asked_for() {
    let inspect = |log: &EventLog| {
        let (tx, rx) = std::sync::mpsc::channel();
        log.inspect(Box::new(move |s| tx.send(s).unwrap()));
        rx.recv().unwrap().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = EventLog::open(&path, vpcroute_eventlog::LogOptions::default()).unwrap();
    fill(&log, "r", "s", 3);
    let full = inspect(&log);
    assert_eq!(
        (full.journal_mode.as_str(), full.synchronous, full.head),
        ("wal", 2, 3)
    );
    assert_eq!(log.verify().unwrap().head, 3);
    drop(log);
    let log = EventLog::open(&path, vpcroute_eventlog::LogOptions::relaxed()).unwrap();
    let relaxed = inspect(&log);
    assert_eq!(
        (
            relaxed.journal_mode.as_str(),
            relaxed.synchronous,
            relaxed.head
        ),
        ("wal", 1, 3)
    );
}

#[cfg(unix)]
#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // An existing world-readable file is tightened as well.
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = open(&path);
    fill(&log, "r", "s", 2);
    assert_eq!(mode(&path), 0o600);
    for suffix in ["-wal", "-shm"] {
        let side = dir.path().join(format!("log.sqlite{suffix}"));
        assert!(side.exists(), "{suffix} missing");
        assert_eq!(mode(&side), 0o600, "{suffix}");
    }
    drop(log);
    let fresh = dir.path().join("fresh.sqlite");
    let log = open(&fresh);
    fill(&log, "r", "s", 1);
    assert_eq!(mode(&fresh), 0o600);
}

#[test]
fn error_codes_are_stable() {
    assert_eq!(Error::Closed.code(), "closed");
    assert_eq!(
        Error::Corrupt {
            seq: 1,
            reason: "changed".into()
        }
        .code(),
        "corrupt"
    );
    assert_eq!(
        Error::Decode {
            seq: 1,
            reason: String::new()
        }
        .code(),
        "decode"
    );
    assert_eq!(
        Error::UnsupportedSchema {
            found: 9,
            supported: 1
        }
        .code(),
        "unsupported_schema"
    );
}

#[test]
fn a_failing_insert_is_rolled_back_to_its_savepoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.event_type = 'Poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        )
        .unwrap();
    let mut poison = event(2);
    poison.event_type = "Poison".into();
    let rxs = Mutex::new(Vec::new());
    with_stalled_writer(&log, &path, || {
        let mut rxs = rxs.lock().unwrap();
        rxs.push(log.append_async(req("ok1", "s", ExpectedVersion::NoStream, vec![event(1)])));
        // Its first event is inserted before the second one fails.
        rxs.push(log.append_async(req(
            "bad",
            "s",
            ExpectedVersion::Exact(1),
            vec![event(9), poison],
        )));
        rxs.push(log.append_async(req("ok2", "s", ExpectedVersion::Exact(1), vec![event(3)])));
    });
    let out: Vec<_> = rxs
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|rx| rx.recv().unwrap())
        .collect();
    assert!(matches!(
        out[0],
        Ok(AppendOutcome::Appended {
            first_seq: 2,
            last_seq: 2,
            ..
        })
    ));
    assert!(
        matches!(&out[1], Err(e) if e.code() == "sqlite" && e.to_string().contains("poisoned"))
    );
    assert!(matches!(
        out[2],
        Ok(AppendOutcome::Appended {
            first_seq: 3,
            last_seq: 3,
            ..
        })
    ));
    assert!(log.recorded_result("bad").unwrap().is_none());
    assert_eq!(log.verify().unwrap().head, 3);
}

#[test]
fn a_failed_batch_fails_every_append_and_the_log_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    // RAISE(ROLLBACK) kills the whole transaction, not just the statement.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER doom BEFORE INSERT ON events WHEN NEW.event_type = 'Doom'
             BEGIN SELECT RAISE(ROLLBACK, 'doomed'); END;",
        )
        .unwrap();
    let mut doom = event(2);
    doom.event_type = "Doom".into();
    let rxs = Mutex::new(Vec::new());
    with_stalled_writer(&log, &path, || {
        let mut rxs = rxs.lock().unwrap();
        rxs.push(log.append_async(req("ok1", "s", ExpectedVersion::NoStream, vec![event(1)])));
        rxs.push(log.append_async(req("doom", "s", ExpectedVersion::Any, vec![doom])));
        rxs.push(log.append_async(req("ok2", "s", ExpectedVersion::Any, vec![event(3)])));
    });
    for rx in rxs.into_inner().unwrap() {
        let err = rx.recv().unwrap().unwrap_err();
        assert!(err.to_string().contains("doomed"), "{err}");
    }
    assert_eq!(log.head().unwrap(), 1);
    assert_eq!(log.stream_version("s").unwrap(), 0);
    assert!(log.recorded_result("ok1").unwrap().is_none());
    // Caches were reloaded: the retry gets the right seq and version.
    let out = log
        .append(req("ok1", "s", ExpectedVersion::NoStream, vec![event(1)]))
        .unwrap();
    assert!(matches!(
        out,
        AppendOutcome::Appended {
            first_seq: 2,
            last_seq: 2,
            ..
        }
    ));
    assert_eq!(log.verify().unwrap().head, 2);
}
