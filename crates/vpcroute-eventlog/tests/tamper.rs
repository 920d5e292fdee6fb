//! Issue 11, item 10: what `verify` catches beyond an edited event — a cut
//! tail (with or without its records) and a removed request record — and
//! what it must still accept: an anchor lagging behind the log after a
//! crash between a commit and the anchor's update.

mod common;

use common::*;
use vpcroute_eventlog::{verify_file, AppendOutcome, Error, ExpectedVersion};

fn anchor_of(path: &std::path::Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".anchor");
    s.into()
}

fn assert_corrupt(err: &Error, seq: u64, words: &[&str]) {
    assert!(
        matches!(err, Error::Corrupt { seq: s, reason }
            if *s == seq && words.iter().all(|w| reason.contains(w))),
        "expected corrupt at {seq} naming {words:?}, got {err:?}"
    );
}

#[test]
fn a_tail_cut_with_its_records_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 10);
    assert_eq!(log.verify().unwrap().head, 10, "positive control");
    tamper(&path)
        .execute_batch(
            "DELETE FROM events WHERE seq >= 9;
             DELETE FROM requests WHERE request_id IN ('r-9', 'r-10');",
        )
        .unwrap();
    let err = log.verify().unwrap_err();
    assert_corrupt(&err, 9, &["removed", "anchor", "9..=10"]);
    drop(log);
    assert_corrupt(&verify_file(&path).unwrap_err(), 9, &["removed"]);
}

#[test]
fn a_removed_request_record_is_detected_and_would_let_a_retry_append_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "r", "s", 10);
    drop(log);
    tamper(&path)
        .execute("DELETE FROM requests WHERE request_id = 'r-5'", [])
        .unwrap();
    let err = verify_file(&path).unwrap_err();
    assert_corrupt(&err, 5, &["request \"r-5\" record missing"]);

    // Why it matters: the log no longer knows r-5, so its retry is
    // appended a second time instead of answered from the record.
    let log = open(&path);
    let again = log
        .append(req("r-5", "s", ExpectedVersion::Any, vec![event(5)]))
        .unwrap();
    assert!(matches!(again, AppendOutcome::Appended { .. }), "{again:?}");
    assert_corrupt(&log.verify().unwrap_err(), 5, &["record missing"]);
}

#[test]
fn a_lagging_anchor_still_verifies_a_rewound_or_missing_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    fill(&log, "a", "s", 5);
    let at_5 = std::fs::read(anchor_of(&path)).expect("an anchor after commits");
    fill(&log, "b", "s", 5);
    let at_10 = std::fs::read(anchor_of(&path)).unwrap();
    assert_ne!(at_5, at_10, "the anchor follows the head");

    // A crash between the commits of 6..=10 and the anchor's update.
    std::fs::write(anchor_of(&path), &at_5).unwrap();
    assert_eq!(log.verify().unwrap().head, 10);
    drop(log);
    assert_eq!(verify_file(&path).unwrap().head, 10);

    // An anchor whose event 5 is not the log's event 5: history rewritten.
    let other = tempfile::tempdir().unwrap();
    let other_path = db_path(&other);
    let other_log = open(&other_path);
    fill(&other_log, "x", "t", 5);
    drop(other_log);
    std::fs::copy(anchor_of(&other_path), anchor_of(&path)).unwrap();
    assert_corrupt(&verify_file(&path).unwrap_err(), 5, &["changed", "anchor"]);

    // A torn or scribbled anchor is reported, never taken for a valid one.
    let mut torn = at_10.clone();
    torn[40] ^= 1;
    std::fs::write(anchor_of(&path), &torn).unwrap();
    assert_corrupt(
        &verify_file(&path).unwrap_err(),
        0,
        &["anchor", "unreadable"],
    );

    // No anchor at all: a cut tail could no longer be ruled out.
    std::fs::remove_file(anchor_of(&path)).unwrap();
    assert_corrupt(&verify_file(&path).unwrap_err(), 10, &["anchor", "missing"]);
    // Opening the log does not paper over it.
    let log = open(&path);
    assert!(log.verify().is_err());
}

#[test]
fn an_empty_log_needs_no_events_behind_its_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let log = open(&path);
    assert_eq!(log.verify().unwrap().head, 0);
    assert!(anchor_of(&path).exists(), "a new log is anchored at once");
}
