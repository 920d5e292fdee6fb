//! Replay tests as data (holo style).
//!
//! Each directory under `tests/replay/` holding an `events.jsonl` is one
//! case (other components keep their own cases there, e.g. `config-*`):
//! - `events.jsonl`: one `IpamEvent` per line, exactly as the event log
//!   stores its payload (`{"type":"vpc_allocated",...}`);
//! - `commands.jsonl` (optional): one command per line,
//!   `{"command":"vpc_allocate", ...request fields...}`, decided and applied
//!   in order after the events;
//! - `expected-replies.jsonl`: per command, `{"ok": REPLY}` or
//!   `{"error": {"code": CODE}}`;
//! - `expected-state.json`: `IpamState::dump()` at the end, pretty JSON;
//! - `expected-error.txt` instead, for a log that must not replay: the
//!   error, naming the line.
//!
//! On a mismatch the test prints a diff. `UPDATE_GOLDEN=1 cargo test -p
//! vpcroute-tests --test replay` rewrites the expected files from what the
//! code does now (review the diff before committing it; refused under
//! `CI=true`).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use vpcroute_ipam::{Command, IpamState};
use vpcroute_protocol::ipam::IpamEvent;
use vpcroute_testkit::{check_golden, line_diff, read_jsonl, update_golden};

/// Cases that must exist: deleting one by accident fails the test.
const REQUIRED_CASES: &[&str] = &[
    "acl-lists",
    "errors-change-nothing",
    "figure3",
    "inconsistent-log",
    "ipv6-zone",
    "public-super-cidr",
    "tier-and-vm-release",
    "zone-update-add-remove",
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("replay")
}

/// Non-empty lines with their 1-based line numbers.
fn jsonl(path: &Path) -> Vec<(usize, Value)> {
    read_jsonl(path)
}

/// A `commands.jsonl` line: `Command`'s own tagged form.
fn parse_command(v: &Value) -> Result<Command, String> {
    let cmd: Command = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    // Our parse and the type's own serialisation agree on the format.
    let back = serde_json::to_value(&cmd).map_err(|e| e.to_string())?;
    if &back != v {
        return Err(format!("command does not round-trip: {v} became {back}"));
    }
    Ok(cmd)
}

/// Replays `events` into a fresh state; the error names the line.
fn replay(file: &str, events: &[(usize, Value)]) -> Result<IpamState, String> {
    let mut state = IpamState::new();
    for (line, v) in events {
        let ev: IpamEvent = serde_json::from_value(v.clone())
            .map_err(|e| format!("{file} line {line}: undecodable event: {e}"))?;
        // The line is exactly the stored form of the event.
        let back = serde_json::to_value(&ev).expect("events serialise");
        if &back != v {
            return Err(format!(
                "{file} line {line}: not in stored form: {v} re-encodes as {back}"
            ));
        }
        state
            .apply(&ev)
            .map_err(|e| format!("{file} line {line}: {e}"))?;
    }
    Ok(state)
}

/// The state as pretty JSON text. Not through `serde_json::Value`: IPv6
/// address counts are u128 and do not fit a `Value` number.
/// The state as JSON: every zone, and the ACL lists when there are any
/// (so the cases written before ACLs keep their files).
fn dump_text(state: &IpamState) -> String {
    let acls = state.acl_views();
    let mut s = if acls.is_empty() {
        serde_json::to_string_pretty(&state.dump())
    } else {
        serde_json::to_string_pretty(&json!({ "zones": state.dump(), "acls": acls }))
    }
    .expect("dump serialises");
    s.push('\n');
    s
}

/// Compares `actual` with the golden file `name` (or rewrites it).
fn golden(dir: &Path, name: &str, actual: &str, failures: &mut Vec<String>) {
    let json = name.ends_with(".json") || name.ends_with(".jsonl");
    let same = |expected: &str, actual: &str| {
        if !json {
            // expected-state.json is compared as text: u128 counts do not
            // survive a round trip through `serde_json::Value`.
            return expected.trim_end() == actual.trim_end();
        }
        // Compare as JSON, line by line, so formatting is not a failure.
        let parse = |s: &str| -> Vec<Option<Value>> {
            if name.ends_with(".jsonl") {
                s.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str(l).ok())
                    .collect()
            } else {
                vec![serde_json::from_str(s).ok()]
            }
        };
        let (e, a) = (parse(expected), parse(actual));
        e == a && e.iter().all(Option::is_some)
    };
    if let Err(e) = check_golden(&dir.join(name), actual, same) {
        failures.push(e);
    }
}

fn run_case(dir: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let events = jsonl(&dir.join("events.jsonl"));
    let mut state = match replay("events.jsonl", &events) {
        Ok(s) => s,
        Err(e) => {
            golden(dir, "expected-error.txt", &format!("{e}\n"), &mut failures);
            if !update_golden() && !dir.join("expected-error.txt").exists() {
                failures.push(format!("replay failed: {e}"));
            }
            return failures;
        }
    };
    if dir.join("expected-error.txt").exists() && !update_golden() {
        failures.push("expected the replay to fail (expected-error.txt), but it succeeded".into());
    }

    let mut log: Vec<(usize, Value)> = events.clone();
    let commands_file = dir.join("commands.jsonl");
    if commands_file.exists() {
        let mut replies = String::new();
        for (line, v) in jsonl(&commands_file) {
            let cmd = parse_command(&v)
                .unwrap_or_else(|e| panic!("{} line {line}: {e}", commands_file.display()));
            let before = dump_text(&state);
            let reply = match state.decide(&cmd) {
                Ok(d) => {
                    assert_eq!(
                        dump_text(&state),
                        before,
                        "commands.jsonl line {line}: decide changed the state"
                    );
                    for ev in &d.events {
                        state.apply(ev).unwrap_or_else(|e| {
                            panic!("commands.jsonl line {line}: decided event does not apply: {e}")
                        });
                        log.push((log.len() + 1, serde_json::to_value(ev).unwrap()));
                    }
                    json!({ "ok": d.reply })
                }
                Err(e) => {
                    let after = dump_text(&state);
                    if after != before {
                        failures.push(format!(
                            "commands.jsonl line {line}: refused command changed the state:\n{}",
                            line_diff(&before, &after)
                        ));
                    }
                    json!({ "error": { "code": e.code().as_str() } })
                }
            };
            replies.push_str(&serde_json::to_string(&reply).unwrap());
            replies.push('\n');
        }
        golden(dir, "expected-replies.jsonl", &replies, &mut failures);
    }

    let dump = dump_text(&state);
    golden(dir, "expected-state.json", &dump, &mut failures);

    // The events decided above, replayed from scratch, rebuild the same
    // state: what is logged is all there is.
    match replay("events.jsonl + decided", &log) {
        Ok(fresh) => {
            let fresh = dump_text(&fresh);
            if fresh != dump {
                failures.push(format!(
                    "replaying the log rebuilds a different state:\n{}",
                    line_diff(&dump, &fresh)
                ));
            }
        }
        Err(e) => failures.push(format!("the decided events do not replay: {e}")),
    }
    failures
}

#[test]
fn replay_cases() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/replay/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    // tests/replay/ also holds other components' cases (config-renderer's
    // `config-*`, with ipam-events.jsonl); an ipam case has events.jsonl.
    dirs.retain(|d| {
        let ipam = d.join("events.jsonl").is_file();
        if !ipam {
            eprintln!(
                "{}: not an ipam case (no events.jsonl), skipped",
                d.display()
            );
        }
        ipam
    });
    dirs.sort();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in REQUIRED_CASES {
        assert!(
            names.iter().any(|n| n == required),
            "replay case {required} is missing"
        );
    }
    let mut report = Vec::new();
    for dir in &dirs {
        let failures = run_case(dir);
        if failures.is_empty() {
            eprintln!("replay case {}: ok", dir.display());
        } else {
            report.push(format!("case {}:\n{}", dir.display(), failures.join("\n")));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n\n"));
}

/// The runner itself notices a wrong golden file.
#[test]
fn a_wrong_expectation_is_reported_with_a_diff() {
    if update_golden() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = cases_dir().join("figure3");
    for f in [
        "events.jsonl",
        "commands.jsonl",
        "expected-replies.jsonl",
        "expected-state.json",
    ] {
        std::fs::copy(src.join(f), tmp.path().join(f)).unwrap();
    }
    assert!(run_case(tmp.path()).is_empty());
    let state = std::fs::read_to_string(tmp.path().join("expected-state.json")).unwrap();
    std::fs::write(
        tmp.path().join("expected-state.json"),
        state.replacen("10.1.1.0/24", "10.1.2.0/24", 1),
    )
    .unwrap();
    let failures = run_case(tmp.path());
    assert_eq!(failures.len(), 1, "{failures:?}");
    let has = |mark: &str, cidr: &str| {
        failures[0]
            .lines()
            .any(|l| l.starts_with(mark) && l.contains(&format!("\"cidr\": \"{cidr}\"")))
    };
    assert!(
        has("- ", "10.1.2.0/24") && has("+ ", "10.1.1.0/24"),
        "{}",
        failures[0]
    );
}
