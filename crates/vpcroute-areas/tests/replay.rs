//! Replay cases as data (holo style): `tests/replay/areas-<case>/` at the
//! workspace root, one folder per case.
//!
//! - `inputs.jsonl`: the registry's inputs in order, one a line: either a
//!   request, `{"zone_set": ZoneOspfSet}`, or an ipam event as the registry
//!   follows it, `{"ipam_seq": N, "ipam": IpamEvent}`. A key the registry
//!   generates for input line N is `generated-key-N`, so cases are
//!   deterministic.
//! - `expected-outputs.jsonl`: one line per input: `{"events": [...]}`
//!   (with `"reply"` for a request), or `{"error": {"code", "message"}}`.
//!   Events are as stored, keys included: these are test keys.
//! - `expected-state.json`: the state at the end.
//!
//! Each case also checks what every input must satisfy: deciding leaves
//! the state unchanged; re-sending every ipam event afterwards (a follower
//! restarting from an old cursor) decides nothing; and replaying the
//! recorded events into a fresh state rebuilds the same state, as a
//! restarted area-registry does. `UPDATE_GOLDEN=1` rewrites the expected
//! files (refused under `CI=true`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};
use vpcroute_areas::{AreaState, Dump};
use vpcroute_protocol::areas::{AreaEvent, ZoneOspfSet};
use vpcroute_protocol::ipam::IpamEvent;
use vpcroute_testkit::{check_golden, read_jsonl};

/// Cases that must exist: deleting one by accident fails the test.
const CASES: &[&str] = &[
    "figure3",
    "settings-changes",
    "area-ids-never-reused",
    "ipam-redelivered",
];

#[derive(Debug, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Input {
    ZoneSet { zone_set: ZoneOspfSet },
    Ipam { ipam_seq: u64, ipam: IpamEvent },
}

fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/replay/areas-{name}"))
}

/// The state as JSON; area ids as their dotted form.
fn dump_json(d: &Dump) -> Value {
    json!({
        "zones": d.zones.iter().map(|(n, z)| (n.clone(), json!({
            "settings": z.settings,
            "revision": z.revision,
        }))).collect::<serde_json::Map<_, _>>(),
        "areas": d.areas,
        "issued": d.issued.iter().map(|(id, vpc)| (id.to_string(), json!(vpc))).collect::<serde_json::Map<_, _>>(),
        "next_area": d.next_area,
        "ipam_cursor": d.ipam_cursor,
    })
}

/// Decides one input against `st`: its output line and its events.
fn decide(st: &AreaState, line: usize, input: &Input) -> (Value, Vec<AreaEvent>) {
    let key = move || format!("generated-key-{line}");
    match input {
        Input::ZoneSet { zone_set } => match st.decide_zone_set(zone_set, key) {
            Ok(d) => (json!({ "events": d.events, "reply": d.reply }), d.events),
            Err(e) => (
                json!({ "error": { "code": e.code(), "message": e.to_string() } }),
                vec![],
            ),
        },
        Input::Ipam { ipam_seq, ipam } => {
            let events = st.on_ipam_event(*ipam_seq, ipam, key);
            (json!({ "events": events }), events)
        }
    }
}

/// Runs one case; returns its failures.
fn run_case(name: &str) -> Vec<String> {
    let dir = case_dir(name);
    let inputs: Vec<(usize, Input)> = read_jsonl(&dir.join("inputs.jsonl"));
    let mut st = AreaState::new();
    let mut log: Vec<AreaEvent> = Vec::new();
    let mut outputs = String::new();
    for (line, input) in &inputs {
        let before = st.dump();
        let (output, events) = decide(&st, *line, input);
        assert_eq!(
            st.dump(),
            before,
            "[{name}] line {line}: deciding changed the state"
        );
        for ev in &events {
            st.apply(ev).unwrap_or_else(|e| {
                panic!("[{name}] line {line}: a decided event does not apply: {e}")
            });
        }
        log.extend(events);
        outputs.push_str(&output.to_string());
        outputs.push('\n');
    }
    for (line, input) in &inputs {
        if let Input::Ipam { .. } = input {
            let (_, again) = decide(&st, *line, input);
            assert!(
                again.is_empty(),
                "[{name}] line {line}: a redelivered ipam event decided {again:?}"
            );
        }
    }
    let mut fresh = AreaState::new();
    for ev in &log {
        fresh.apply(ev).expect("recorded events replay");
    }
    assert_eq!(
        fresh.dump(),
        st.dump(),
        "[{name}]: replaying the recorded events differs"
    );

    let json_lines_equal = |e: &str, a: &str| {
        let parse = |s: &str| -> Vec<Value> {
            s.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
                .collect()
        };
        parse(e) == parse(a)
    };
    let state = serde_json::to_string_pretty(&dump_json(&st.dump())).unwrap() + "\n";
    [
        check_golden(
            &dir.join("expected-outputs.jsonl"),
            &outputs,
            json_lines_equal,
        ),
        check_golden(&dir.join("expected-state.json"), &state, |e, a| {
            e.trim_end() == a.trim_end()
        }),
    ]
    .into_iter()
    .filter_map(Result::err)
    .map(|e| format!("[{name}] {e}"))
    .collect()
}

#[test]
fn area_registry_replay_cases_match_golden_files() {
    let failures: Vec<String> = CASES.iter().flat_map(|c| run_case(c)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every `areas-*` folder is a listed case, so none is silently skipped.
#[test]
fn every_areas_case_is_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/replay");
    for e in std::fs::read_dir(&root).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(case) = name.strip_prefix("areas-") {
            assert!(CASES.contains(&case), "tests/replay/{name} is not in CASES");
        }
    }
}
