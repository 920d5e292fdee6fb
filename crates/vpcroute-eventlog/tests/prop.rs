//! Property: whatever sequence of appends is accepted, replay returns exactly
//! those events, in order, with contiguous seqs and stream versions, and the
//! chain verifies — before and after reopening.

mod common;

use std::collections::HashMap;

use common::*;
use proptest::prelude::*;
use serde_json::json;
use vpcroute_eventlog::{AppendOutcome, ExpectedVersion, NewEvent};

#[derive(Debug, Clone)]
struct Op {
    stream: u8,
    /// None = Any; Some(true) = correct Exact; Some(false) = wrong Exact.
    check: Option<bool>,
    /// Reuse an earlier request id (index) instead of a new one.
    reuse: Option<usize>,
    payloads: Vec<(String, i64)>,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0u8..3,
        prop::option::of(any::<bool>()),
        prop::option::weighted(0.15, 0usize..50),
        prop::collection::vec(("[a-zA-Z0-9 \"\\\\é]{0,12}", any::<i64>()), 0..4),
    )
        .prop_map(|(stream, check, reuse, payloads)| Op {
            stream,
            check,
            reuse,
            payloads,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn appends_replay_to_the_same_list(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let log = open(&path);
        let mut expected: Vec<(String, u64, String, serde_json::Value)> = Vec::new();
        let mut versions: HashMap<String, u64> = HashMap::new();
        let mut ids: Vec<String> = Vec::new();

        for (i, op) in ops.iter().enumerate() {
            let stream = format!("vpc/{}", op.stream);
            let current = versions.get(&stream).copied().unwrap_or(0);
            let exp = match op.check {
                None => ExpectedVersion::Any,
                Some(true) => ExpectedVersion::Exact(current),
                Some(false) => ExpectedVersion::Exact(current + 1),
            };
            let reused = op.reuse.and_then(|k| ids.get(k % ids.len().max(1)).cloned());
            let id = reused.clone().unwrap_or_else(|| format!("req-{i}"));
            let events: Vec<NewEvent> = op.payloads.iter().map(|(s, n)| NewEvent {
                event_type: format!("E{}", op.stream),
                schema_version: 2,
                payload: json!({"s": s, "n": n}),
            }).collect();
            let mut r = req(&id, &stream, exp, events.clone());
            r.fingerprint = "same-for-all".into();
            let out = log.append(r);
            match (reused.is_some(), op.check) {
                (true, _) => prop_assert!(matches!(out, Ok(AppendOutcome::Duplicate { .. })), "{:?}", out),
                (false, Some(false)) => prop_assert_eq!(out.unwrap_err().code(), "version_conflict"),
                (false, _) => {
                    let head_before = expected.len() as u64;
                    match out.unwrap() {
                        AppendOutcome::Appended { first_seq, last_seq, .. } => {
                            prop_assert_eq!(first_seq, head_before + 1);
                            prop_assert_eq!(last_seq, head_before + events.len() as u64);
                        }
                        other => prop_assert!(false, "unexpected {:?}", other),
                    }
                    ids.push(id);
                    for e in events {
                        let v = versions.entry(stream.clone()).or_insert(0);
                        *v += 1;
                        expected.push((stream.clone(), *v, e.event_type, e.payload));
                    }
                }
            }
        }

        // First through the handle that appended (its writer thread and
        // in-memory indexes), then through one opened afresh once that
        // handle is closed: the two must read the same list.
        check_replay(&log, &expected)?;
        drop(log);
        check_replay(&open(&path), &expected)?;
    }
}

/// Replay and verify give exactly `expected` (stream, version, type,
/// payload per event, in order).
fn check_replay(
    log: &vpcroute_eventlog::EventLog,
    expected: &[(String, u64, String, serde_json::Value)],
) -> Result<(), TestCaseError> {
    let mut got = Vec::new();
    let last = log
        .replay(1, |e| {
            got.push(e);
            Ok::<(), ()>(())
        })
        .unwrap();
    prop_assert_eq!(last, expected.len() as u64);
    prop_assert_eq!(got.len(), expected.len());
    for (i, (e, (stream, version, ty, payload))) in got.iter().zip(expected).enumerate() {
        prop_assert_eq!(e.seq, i as u64 + 1);
        prop_assert_eq!(&e.stream, stream);
        prop_assert_eq!(e.stream_version, *version);
        prop_assert_eq!(&e.event_type, ty);
        prop_assert_eq!(e.schema_version, 2);
        prop_assert_eq!(&e.payload, payload);
    }
    prop_assert_eq!(log.verify().unwrap().head, expected.len() as u64);
    Ok(())
}
