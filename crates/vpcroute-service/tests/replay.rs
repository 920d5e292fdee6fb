//! The one-pass start-up replay: verified, in order, failures named by seq,
//! damage reported ahead of everything else.

use serde::Deserialize;
use serde_json::json;
use vpcroute_eventlog::{AppendRequest, EventLog, ExpectedVersion, LogOptions, NewEvent};
use vpcroute_service::{replay_verified_events, StartupError};

#[derive(Debug, Deserialize, PartialEq)]
struct Ev {
    n: u64,
}

/// A log of `n` events `{"n": i}` (i = 1..=n) in batches of 7, plus one
/// undecodable payload at `bad` if given.
fn log_with(dir: &tempfile::TempDir, n: u64, bad: Option<u64>) -> EventLog {
    let log = EventLog::open(&dir.path().join("log.sqlite"), LogOptions::relaxed()).unwrap();
    let ids: Vec<u64> = (1..=n).collect();
    for (i, chunk) in ids.chunks(7).enumerate() {
        let events = chunk
            .iter()
            .map(|&k| NewEvent {
                event_type: "counted".into(),
                schema_version: 1,
                payload: if Some(k) == bad {
                    json!({"m": k})
                } else {
                    json!({"n": k})
                },
            })
            .collect();
        log.append(AppendRequest {
            request_id: format!("r{i}"),
            fingerprint: "f".into(),
            stream: "s".into(),
            expected: ExpectedVersion::Any,
            events,
            result: json!(null),
        })
        .unwrap();
    }
    log
}

/// An apply that counts its calls and refuses event `{"n": n}`.
fn refuse_at(n: u64, applied: &mut u64) -> impl FnMut(Ev) -> Result<(), &'static str> + '_ {
    move |e| {
        *applied += 1;
        if e.n == n {
            Err("refused")
        } else {
            Ok(())
        }
    }
}

#[test]
fn every_event_is_applied_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // Several reader batches (of 1024 rows).
    let log = log_with(&dir, 5000, None);
    let mut seen = Vec::new();
    let head = replay_verified_events(&log, |e: Ev| {
        seen.push(e.n);
        Ok::<(), String>(())
    })
    .unwrap();
    assert_eq!(head, 5000);
    assert_eq!(seen, (1..=5000).collect::<Vec<_>>());
}

#[test]
fn the_first_failure_is_named_by_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(&dir, 3000, Some(2500));
    // An apply failure before the undecodable event wins...
    let mut applied = 0;
    let err = replay_verified_events(&log, refuse_at(1200, &mut applied)).unwrap_err();
    assert!(
        matches!(&err, StartupError::Replay { seq: 1200, reason, .. } if reason == "refused"),
        "{err}"
    );
    // ...otherwise the undecodable event is named.
    let err = replay_verified_events(&log, |_: Ev| Ok::<(), String>(())).unwrap_err();
    assert!(
        matches!(&err, StartupError::Replay { seq: 2500, reason, .. } if reason.contains("undecodable counted event")),
        "{err}"
    );
}

#[test]
fn a_tampered_log_is_refused_whatever_apply_did() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(&dir, 3000, None);
    let raw = rusqlite::Connection::open(dir.path().join("log.sqlite")).unwrap();
    raw.execute_batch("DROP TRIGGER events_no_update").unwrap();
    raw.execute(
        "UPDATE events SET payload = '{\"n\":7}' WHERE seq = 2900",
        [],
    )
    .unwrap();
    let mut applied = 0;
    let err = replay_verified_events(&log, refuse_at(10, &mut applied)).unwrap_err();
    assert!(
        matches!(
            &err,
            StartupError::Corrupt {
                source: vpcroute_eventlog::Error::Corrupt { seq: 2900, .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(applied, 10, "apply is not called after its first error");
}
