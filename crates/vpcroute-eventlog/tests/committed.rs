//! The paths services use on their hot loops: appends that hand back the
//! stored events, the in-memory request-id check, and verification folded
//! into replay.

mod common;

use std::sync::mpsc;

use common::*;
use vpcroute_eventlog::{AppendOutcome, Committed, Error, EventLog, ExpectedVersion, ReplayError};

fn append_committed(log: &EventLog, r: vpcroute_eventlog::AppendRequest) -> Committed {
    let (tx, rx) = mpsc::sync_channel(1);
    log.submit_committed(
        r,
        Box::new(move |c| {
            let _ = tx.send(c);
        }),
    );
    rx.recv().unwrap().expect("append")
}

/// A log of ten single-event requests `r-1`..`r-10` on stream `s`; the
/// directory must outlive the log.
fn ten_event_log() -> (tempfile::TempDir, std::path::PathBuf, EventLog) {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 10);
    (dir, path, log)
}

#[test]
fn submit_committed_hands_back_the_events_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&db_path(&dir));
    fill(&log, "f", "other", 2);
    let c = append_committed(
        &log,
        req(
            "a",
            "vpc/left",
            ExpectedVersion::NoStream,
            vec![event(1), event(2)],
        ),
    );
    assert!(matches!(
        c.outcome,
        AppendOutcome::Appended {
            first_seq: 3,
            last_seq: 4,
            ..
        }
    ));
    assert_eq!(c.events, log.read_from(3, 10).unwrap());

    // A retry gets the original reply and no events.
    let again = append_committed(
        &log,
        req("a", "vpc/left", ExpectedVersion::NoStream, vec![event(1)]),
    );
    assert!(matches!(again.outcome, AppendOutcome::Duplicate { .. }));
    assert!(again.events.is_empty());
    assert_eq!(log.head().unwrap(), 4);
}

#[test]
fn request_ids_are_known_without_a_query() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        let log = open(&path);
        fill(&log, "r", "s", 3);
        assert!(log.may_have_recorded("r-2"));
        assert!(!log.may_have_recorded("never-seen"));
    }
    // Reopened: the index is rebuilt from the file before the first append.
    let log = open(&path);
    fill(&log, "q", "s", 1);
    assert!(log.may_have_recorded("r-1"));
    assert!(log.may_have_recorded("q-1"));
    assert!(!log.may_have_recorded("never-seen"));
    // A known id is still answered from the record.
    let out = log
        .append(req("r-1", "s", ExpectedVersion::Any, vec![event(9)]))
        .unwrap();
    assert!(matches!(out, AppendOutcome::Duplicate { .. }));
}

#[test]
fn replay_verified_hands_out_every_event_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&db_path(&dir));
    fill(&log, "a", "s1", 3);
    fill(&log, "b", "s2", 2);
    let stored = log.read_from(1, 100).unwrap();
    let mut seen = Vec::new();
    let report = log
        .replay_verified(|ev| {
            seen.push((
                ev.seq,
                ev.stream.to_owned(),
                ev.stream_version,
                ev.event_type.to_owned(),
                ev.schema_version,
                serde_json::from_str::<serde_json::Value>(ev.payload).unwrap(),
                ev.request_id.map(str::to_owned),
                ev.recorded_at_ms,
            ));
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(report, log.verify().unwrap());
    let expected: Vec<_> = stored
        .into_iter()
        .map(|e| {
            (
                e.seq,
                e.stream,
                e.stream_version,
                e.event_type,
                e.schema_version,
                e.payload,
                e.request_id,
                e.recorded_at_ms,
            )
        })
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn replay_verified_never_hands_out_a_tampered_event() {
    let (_dir, path, log) = ten_event_log();
    tamper(&path)
        .execute(
            "UPDATE events SET payload = '{\"n\":500}' WHERE seq = 5",
            [],
        )
        .unwrap();
    let mut seen = Vec::new();
    let err = log
        .replay_verified(|ev| {
            seen.push(ev.seq);
            Ok::<(), ()>(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, ReplayError::Log(Error::Corrupt { seq: 5, reason }) if reason == "changed"),
        "{err:?}"
    );
    assert_eq!(seen, vec![1, 2, 3, 4]);
}

#[test]
fn replay_verified_reports_damage_ahead_of_a_handler_error() {
    let (_dir, path, log) = ten_event_log();

    // Intact log: the handler's first error, and it is not called again.
    let mut calls = 0;
    let err = log
        .replay_verified(|ev| {
            calls += 1;
            if ev.seq == 3 {
                Err(ev.seq)
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(err, ReplayError::Handler(3)), "{err:?}");
    assert_eq!(calls, 3);

    // Damage after the failing event still wins: the log is refused as
    // tampered, not as merely unreplayable.
    tamper(&path)
        .execute("UPDATE events SET stream = 'x' WHERE seq = 8", [])
        .unwrap();
    let err = log
        .replay_verified(|ev| if ev.seq == 3 { Err(ev.seq) } else { Ok(()) })
        .unwrap_err();
    assert!(
        matches!(&err, ReplayError::Log(Error::Corrupt { seq: 8, .. })),
        "{err:?}"
    );
}
