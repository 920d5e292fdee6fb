//! router-sync's decisions replayed as data (holo style): one folder per
//! case under `tests/replay/router-sync/` at the workspace root.
//!
//! - `setup.json`: the router's name, the machine's timings, whether its
//!   firewall is managed, the version its event log says was applied, and
//!   the time the machine starts at;
//! - `input.jsonl`: the machine's inputs in order ([`Input`], one a line:
//!   ticks, announcements, and the answer to what it asked last);
//! - `expected-output.jsonl`: for input N, `{"step": N, "actions": [...],
//!   "busy": bool, "status": {...}}`: what the machine asked for, whether
//!   it waits for an answer, and where the router stands after it.
//!
//! Every step must also keep the machine's contract: at most one action
//! awaits an answer, and it is the last. `UPDATE_GOLDEN=1` rewrites the
//! expected files from what the machine does now (refused under
//! `CI=true`); review the diff.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};
use vpcroute_sync::{Input, RouterMachine, Timings};
use vpcroute_testkit::{check_golden, read_jsonl};

/// Cases that must exist: deleting one by accident fails the test.
const CASES: &[&str] = &[
    "first-apply",
    "range-trap-kick",
    "early-kick-converging",
    "waiting-then-nic-up",
    "waiting-md5-no-key-churn",
    "drift-interface-line",
    "drift-router-ospf-line",
    "drift-interface-removed",
    "drift-hand-added-line",
    "key-rotation",
    "restarted-empty-frr",
    "session-lost-mid-apply",
    "read-back-differs",
    "summary-missing-after-timeout",
    "render-failed-recovered",
    "vpc-deleted",
    "firewall-drift-repaired",
    "firewall-apply-mismatch",
    "refetch-after-silence",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setup {
    router: String,
    timings: Timings,
    firewall: bool,
    applied: Option<u64>,
    now_ms: i64,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/replay/router-sync")
}

/// Replays one case; its expected output, one line per input.
fn replay(dir: &Path) -> String {
    let setup: Setup =
        serde_json::from_str(&std::fs::read_to_string(dir.join("setup.json")).expect("setup.json"))
            .expect("setup.json parses");
    let mut m = RouterMachine::new(
        &setup.router,
        setup.timings,
        setup.firewall,
        setup.applied,
        setup.now_ms,
    );
    let mut out = String::new();
    for (n, (line, input)) in read_jsonl::<Input>(&dir.join("input.jsonl"))
        .into_iter()
        .enumerate()
    {
        let actions = m.step(input);
        let asking: Vec<usize> = (0..actions.len())
            .filter(|&i| actions[i].awaits_answer())
            .collect();
        assert!(
            asking.is_empty() || asking == [actions.len() - 1],
            "{} input line {line}: only the last action may await an answer: {actions:?}",
            dir.display()
        );
        let v = json!({"step": n + 1, "actions": actions, "busy": m.busy(), "status": m.status()});
        out.push_str(&serde_json::to_string(&v).expect("serialises"));
        out.push('\n');
    }
    out
}

fn same_jsonl(expected: &str, actual: &str) -> bool {
    let parse = |t: &str| -> Vec<Value> {
        t.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect()
    };
    parse(expected) == parse(actual)
}

#[test]
fn router_sync_cases_replay() {
    let mut found: Vec<String> = std::fs::read_dir(cases_dir())
        .expect("tests/replay/router-sync")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    for case in CASES {
        assert!(found.iter().any(|f| f == case), "case {case} is missing");
    }
    let mut failures = Vec::new();
    for case in &found {
        let dir = cases_dir().join(case);
        let actual = replay(&dir);
        if let Err(e) = check_golden(&dir.join("expected-output.jsonl"), &actual, same_jsonl) {
            failures.push(format!("case {case}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
