//! Replay cases as data: `tests/replay/config-<case>/` at the workspace root.
//!
//! Each case holds `ipam-events.jsonl` (ipam events exactly as ipam stores
//! them, seq = line number), `area-events.jsonl` (area-registry events with
//! their keys, seq = line number), optionally `order.jsonl` (the
//! interleaving, `{"source":"ipam"|"area","line":N}`; default: every ipam
//! event, then every area event) and `expected/`:
//! * `<router>.frr.conf`, `<router>.zebra.conf`, `<router>.ospfd.conf` and
//!   `<router>.nft` (the nftables file) for every router that has a
//!   configuration at the end (and nothing else);
//! * `versions.json`: `{router: version}`;
//! * `events.jsonl`: the recorded config events, redacted as published.
//!
//! Every golden file is compared byte for byte (a line diff is printed on a
//! mismatch); `UPDATE_GOLDEN=1` rewrites them. Every FRR golden file is also
//! fed to FRR's parser, `vtysh --dryrun`, which must accept it silently.
//! Without vtysh that part is skipped with a message, unless `CI=true`.
//!
//! Each case also checks that re-sending every input changes nothing and
//! that replaying the recorded events from scratch rebuilds the same state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vpcroute_testkit::{line_diff, FrrDryRun};

use vpcroute_configs::{ConfigEvent, RendererState};
use vpcroute_protocol::areas::AreaEvent;
use vpcroute_protocol::config::{ConfigText, DialectName};
use vpcroute_protocol::ipam::IpamEvent;

const CASES: &[&str] = &[
    "figure3",
    "several-tiers",
    "tier-deletion",
    "vpc-deletion",
    "timer-change",
    "key-change",
    "public-super-cidr",
    "acl",
];

fn replay_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/replay")
}

fn read_lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => s
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Ipam,
    Area,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    source: String,
    line: usize,
}

struct Case {
    name: String,
    dir: PathBuf,
    ipam: Vec<IpamEvent>,
    areas: Vec<AreaEvent>,
    order: Vec<(Source, usize)>,
}

fn load(name: &str) -> Case {
    let dir = replay_root().join(format!("config-{name}"));
    assert!(dir.is_dir(), "missing case directory {}", dir.display());
    let ipam: Vec<IpamEvent> = read_lines(&dir.join("ipam-events.jsonl"))
        .iter()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{name} ipam line {}: {e}", i + 1))
        })
        .collect();
    let areas: Vec<AreaEvent> = read_lines(&dir.join("area-events.jsonl"))
        .iter()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{name} area line {}: {e}", i + 1))
        })
        .collect();
    let order_lines = read_lines(&dir.join("order.jsonl"));
    let order: Vec<(Source, usize)> = if order_lines.is_empty() {
        (1..=ipam.len())
            .map(|l| (Source::Ipam, l))
            .chain((1..=areas.len()).map(|l| (Source::Area, l)))
            .collect()
    } else {
        order_lines
            .iter()
            .map(|l| {
                let s: Step =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("{name} order: {e}: {l}"));
                let src = match s.source.as_str() {
                    "ipam" => Source::Ipam,
                    "area" | "areas" | "area-registry" => Source::Area,
                    other => panic!("{name} order: unknown source {other:?}"),
                };
                (src, s.line)
            })
            .collect()
    };
    // Each source's events are delivered in order, each exactly once.
    for (src, len) in [(Source::Ipam, ipam.len()), (Source::Area, areas.len())] {
        let lines: Vec<usize> = order
            .iter()
            .filter(|(s, _)| *s == src)
            .map(|(_, l)| *l)
            .collect();
        assert_eq!(
            lines,
            (1..=len).collect::<Vec<_>>(),
            "{name}: order.jsonl must list every {src:?} line once, in order"
        );
    }
    Case {
        name: name.to_string(),
        dir,
        ipam,
        areas,
        order,
    }
}

/// Feeds a case's inputs like the service does; returns the state and
/// everything recorded.
fn run(case: &Case) -> (RendererState, Vec<ConfigEvent>) {
    let mut st = RendererState::new();
    let mut log = Vec::new();
    for &(src, line) in &case.order {
        let evs = match src {
            Source::Ipam => st.on_ipam(line as u64, &case.ipam[line - 1]),
            Source::Area => st.on_area(line as u64, &case.areas[line - 1]),
        };
        for e in &evs {
            st.apply(e)
                .unwrap_or_else(|e| panic!("{}: {src:?} {line}: {e}", case.name));
        }
        log.extend(evs);
    }
    (st, log)
}

/// The golden files a final state should produce.
fn rendered(case: &Case, st: &RendererState, log: &[ConfigEvent]) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut versions = BTreeMap::new();
    for r in st.routers() {
        versions.insert(r.router.clone(), r.version);
        let frr = st.router_config(&r.router, DialectName::Frr).unwrap();
        assert_eq!(frr.version, r.version);
        match frr.config {
            ConfigText::Frr(t) => files.insert(format!("{}.frr.conf", r.router), t),
            other => panic!("{}: {other:?}", case.name),
        };
        files.insert(format!("{}.nft", r.router), frr.firewall.file.clone());
        let q = st.router_config(&r.router, DialectName::Quagga).unwrap();
        match q.config {
            ConfigText::Quagga { zebra, ospfd } => {
                files.insert(format!("{}.zebra.conf", r.router), zebra);
                files.insert(format!("{}.ospfd.conf", r.router), ospfd);
            }
            other => panic!("{}: {other:?}", case.name),
        }
    }
    files.insert(
        "versions.json".into(),
        serde_json::to_string_pretty(&versions).unwrap() + "\n",
    );
    let mut events = String::new();
    for e in log {
        events.push_str(&serde_json::to_string(&e.redacted()).unwrap());
        events.push('\n');
    }
    files.insert("events.jsonl".into(), events);
    files
}

/// Compares (or, with UPDATE_GOLDEN=1, rewrites) `expected/`. Returns the
/// failures.
fn check_golden(case: &Case, files: &BTreeMap<String, String>) -> Vec<String> {
    let dir = case.dir.join("expected");
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let on_disk: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut failures = Vec::new();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
        for f in &on_disk {
            if !files.contains_key(f) {
                std::fs::remove_file(dir.join(f)).unwrap();
            }
        }
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        eprintln!("{}: golden files rewritten", case.name);
        return failures;
    }
    for f in &on_disk {
        if !files.contains_key(f) {
            failures.push(format!(
                "[{}] expected/{f} exists but no such file is produced (a removed router?)",
                case.name
            ));
        }
    }
    for (name, actual) in files {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(expected) if &expected == actual => {}
            Ok(expected) => failures.push(format!(
                "[{}] expected/{name} differs:\n{}",
                case.name,
                line_diff(&expected, actual)
            )),
            Err(e) => failures.push(format!(
                "[{}] expected/{name}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                case.name
            )),
        }
    }
    failures
}

#[test]
fn replay_cases_match_golden_files() {
    let mut failures = Vec::new();
    for name in CASES {
        let case = load(name);
        let (st, log) = run(&case);

        // Re-sending every input (a follower restarting from an old
        // cursor) changes nothing.
        for (i, ev) in case.ipam.iter().enumerate() {
            assert!(st.on_ipam(i as u64 + 1, ev).is_empty(), "{name}: ipam {i}");
        }
        for (i, ev) in case.areas.iter().enumerate() {
            assert!(st.on_area(i as u64 + 1, ev).is_empty(), "{name}: area {i}");
        }
        // Replaying the recorded events from scratch gives the same state.
        let mut fresh = RendererState::new();
        for e in &log {
            let stored: ConfigEvent =
                serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
            fresh.apply(&stored).unwrap();
        }
        assert_eq!(fresh.dump(), st.dump(), "{name}: replay differs");
        assert!(st.reconcile().is_empty(), "{name}: reconcile not empty");

        failures.extend(check_golden(&case, &rendered(&case, &st, &log)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The published form of the recorded events carries no key.
#[test]
fn golden_events_hold_no_key() {
    for name in CASES {
        let case = load(name);
        let keys: Vec<String> = case
            .areas
            .iter()
            .filter_map(|e| match e {
                AreaEvent::ZoneOspfSet { settings, .. } => match &settings.auth {
                    vpcroute_render::OspfAuth::None => None,
                    vpcroute_render::OspfAuth::Plaintext { key }
                    | vpcroute_render::OspfAuth::Md5 { key, .. } => Some(key.expose().to_owned()),
                },
                _ => None,
            })
            .collect();
        let (_, log) = run(&case);
        let published: String = log
            .iter()
            .map(|e| serde_json::to_string(&e.redacted()).unwrap())
            .collect();
        for k in keys {
            assert!(!published.contains(&k), "{name}: key in published events");
        }
    }
}

#[test]
fn frr_golden_files_parse_with_vtysh() {
    let Some(dry) = FrrDryRun::new() else { return };
    let mut checked = 0;
    let mut failures = Vec::new();
    for name in CASES {
        let dir = replay_root().join(format!("config-{name}/expected"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".frr.conf"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name}: no FRR golden file");
        for f in files {
            checked += 1;
            if let Err(e) = dry.check_file(&f) {
                failures.push(e);
            }
        }
    }
    eprintln!("vtysh --dryrun accepted {checked} FRR golden files");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The check above can fail: a broken copy of a golden file is rejected.
#[test]
fn vtysh_check_rejects_a_broken_file() {
    let Some(dry) = FrrDryRun::new() else { return };
    let good = replay_root().join("config-figure3/expected/left-vr.frr.conf");
    let text = std::fs::read_to_string(&good).unwrap();
    let broken = text.replace(" ip ospf passive\n", " ip ospf pasive-x\n");
    assert_ne!(broken, text);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("broken.conf");
    std::fs::write(&f, broken).unwrap();
    let err = dry
        .check_file(&f)
        .expect_err("a broken file must be rejected");
    assert!(err.contains("line "), "{err}");
}
