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
//! mismatch); `UPDATE_GOLDEN=1` rewrites them (refused under `CI=true`).
//! Golden files are written by the code they check, so each is also held
//! to the real tool that will read it: every FRR file to FRR's parser,
//! `vtysh --dryrun`, and every nftables file to the kernel through
//! `nft -c -f` (check mode, in a namespace of its own); both must accept it
//! silently. Without the tool (or root, for nft) that part is skipped with
//! a message, unless `CI=true`.
//!
//! Each case also checks that re-sending every input changes nothing and
//! that replaying the recorded events from scratch rebuilds the same state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vpcroute_testkit::{check_golden, update_golden, FrrDryRun, NftCheck};

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

/// Compares (or, with UPDATE_GOLDEN=1, rewrites) `expected/`, the rule for
/// when is `vpcroute_testkit::update_golden`'s. Returns the failures.
fn check_expected(case: &Case, files: &BTreeMap<String, String>) -> Vec<String> {
    let dir = case.dir.join("expected");
    let on_disk: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut failures = Vec::new();
    for f in &on_disk {
        if files.contains_key(f) {
            continue;
        }
        if update_golden() {
            std::fs::remove_file(dir.join(f)).unwrap();
        } else {
            failures.push(format!(
                "[{}] expected/{f} exists but no such file is produced (a removed router?)",
                case.name
            ));
        }
    }
    for (name, actual) in files {
        if let Err(e) = check_golden(&dir.join(name), actual, |e, a| e == a) {
            failures.push(format!("[{}] {e}", case.name));
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

        failures.extend(check_expected(&case, &rendered(&case, &st, &log)));
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
    check_all(".frr.conf", "vtysh --dryrun", |f| dry.check_file(f));
}

/// The golden files of every case whose name ends with `suffix`.
fn golden_files(suffix: &str) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for name in CASES {
        let dir = replay_root().join(format!("config-{name}/expected"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect();
        assert!(!files.is_empty(), "{name}: no {suffix} golden file");
        files.sort();
        all.extend(files);
    }
    all
}

/// Holds every golden file ending with `suffix` to `tool`'s `check`.
fn check_all(suffix: &str, tool: &str, check: impl Fn(&Path) -> Result<(), String>) {
    let files = golden_files(suffix);
    let failures: Vec<String> = files.iter().filter_map(|f| check(f).err()).collect();
    eprintln!(
        "{tool} accepted {} of {} {suffix} golden files",
        files.len() - failures.len(),
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn nft_golden_files_pass_nft_check() {
    let Some(nft) = NftCheck::new() else { return };
    check_all(".nft", "nft -c", |f| nft.check_file(f));
}

/// Breaks figure3's golden `file` by replacing `good` with `bad`, and
/// holds `check` to it: the broken copy is rejected with an error naming
/// `names`, and the unbroken copy passes.
fn check_rejects_broken(
    file: &str,
    good: &str,
    bad: &str,
    names: &str,
    check: impl Fn(&Path) -> Result<(), String>,
) {
    let text =
        std::fs::read_to_string(replay_root().join("config-figure3/expected").join(file)).unwrap();
    let broken = text.replace(good, bad);
    assert_ne!(broken, text);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join(file);
    std::fs::write(&f, broken).unwrap();
    let err = check(&f).expect_err("a broken file must be rejected");
    assert!(err.contains(names), "{err}");
    std::fs::write(&f, text).unwrap();
    check(&f).expect("the unbroken file passes");
}

/// The nft check can fail: the kernel rejects a jump to a chain that does
/// not exist.
#[test]
fn nft_check_rejects_a_broken_file() {
    let Some(nft) = NftCheck::new() else { return };
    check_rejects_broken(
        "left-vr.nft",
        "jump in_eth2",
        "jump in_eth9",
        "in_eth9",
        |f| nft.check_file(f),
    );
}

/// The vtysh check can fail: FRR's parser rejects a misspelt command.
#[test]
fn vtysh_check_rejects_a_broken_file() {
    let Some(dry) = FrrDryRun::new() else { return };
    check_rejects_broken(
        "left-vr.frr.conf",
        " ip ospf passive\n",
        " ip ospf pasive-x\n",
        "line ",
        |f| dry.check_file(f),
    );
}
