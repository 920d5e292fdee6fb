//! Benchmark 6: one live change to an FRR router holding 100 tiers, applied
//! (a) by router-sync's planner (`vpcroute_sync::FrrConfig` + `plan()` +
//! `plan.script()` on vtysh's stdin, exactly as `services/router-sync`
//! does) and (b) by FRR's reference `frr-reload.py --reload`.
//!
//! Needs root, FRR and the namespace lab (`scripts/lab.sh`); builds its own
//! lab and always takes it down (`lab.sh down`), also on failure.
//!
//! Set-up (untimed): `lab.sh up --key-file` (MD5), 101 tier bridges on
//! left-vr (`eth10`..`eth110`, `10.2.X.1/24`), left-vr configured through
//! the planner with the uplink (area 0, MD5) and tiers `eth10`..`eth109`
//! passive in area 0.0.0.9 with `area 0.0.0.9 range 10.2.0.0/16`, then
//! waits until its adjacency with the core is Full.
//!
//! Timed, 10 times per method, alternating: add tier `eth110` to the area,
//! remove it again. (a) = `show running-config` + parse both + plan +
//! vtysh apply (one process per vtysh call, through `ip netns exec`, like
//! router-sync's `--router` command). (b) = one `frr-reload.py --reload`
//! run (python start-up, its own `show running-config`, its diff, its
//! vtysh calls) whose target file is the router's own `show running-config`
//! in the target state (captured once, untimed): the reference's best case,
//! a file that differs from the running config by exactly the one tier.
//!
//! All along a sampler reads `show ip ospf neighbor json` every 50 ms on
//! left-vr: the core's entry must stay `converged == "Full"` and its
//! `upTimeInMsec` must never decrease (a decrease = the adjacency was
//! reset). The core's own view of left-vr is checked before and after.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vpcroute_benches::{emit, say};
use vpcroute_sync::{plan, FrrConfig};

const NS: &str = "vpcr-left-vr";
const CORE_NS: &str = "vpcr-core";
const CORE_ID: &str = "10.255.0.254";
const LEFT_ID: &str = "10.255.0.1";
const KEY: &str = "Lab-Key_42";
const TIERS: u32 = 100;
const FIRST_IF: u32 = 10;
const ITERATIONS: usize = 10;
const AREA: &str = "0.0.0.9";
const RANGE: &str = "10.2.0.0/16";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ sits in the workspace")
        .to_path_buf()
}

fn lab(args: &[&str]) -> String {
    let out = Command::new(root().join("scripts/lab.sh"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run lab.sh");
    if !out.status.success() {
        panic!(
            "lab.sh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct LabGuard;
impl Drop for LabGuard {
    fn drop(&mut self) {
        say!("lab.sh down");
        let _ = Command::new(root().join("scripts/lab.sh"))
            .arg("down")
            .stdin(Stdio::null())
            .output();
    }
}

/// `ip netns exec NS vtysh -N NS` — the command router-sync is given.
fn vtysh_cmd(ns: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, "vtysh", "-N", ns]);
    c
}

fn vtysh_show(ns: &str, cmd: &str) -> String {
    let out = vtysh_cmd(ns)
        .args(["-c", cmd])
        .stdin(Stdio::null())
        .output()
        .expect("vtysh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn vtysh_json(ns: &str, cmd: &str) -> Value {
    let text = vtysh_show(ns, cmd);
    let start = text.find('{').unwrap_or(text.len());
    serde_json::from_str(&text[start..]).unwrap_or(Value::Null)
}

/// Feeds a script on stdin (router-sync's `Vtysh::configure`); returns the
/// `%` lines (rejections).
fn vtysh_configure(ns: &str, script: &str) -> Vec<String> {
    let mut child = vtysh_cmd(ns)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vtysh");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(script.as_bytes())
        .expect("write script");
    let out = child.wait_with_output().expect("vtysh");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('%') && !l.contains("Can't open configuration file"))
        .map(str::to_string)
        .collect()
}

/// (converged == Full, upTimeInMsec) of `ns`'s adjacency with `nbr`.
fn adjacency(ns: &str, nbr: &str) -> Option<(bool, u64)> {
    let v = vtysh_json(ns, "show ip ospf neighbor json");
    let n = v.get("neighbors")?.get(nbr)?.as_array()?.first()?.clone();
    Some((
        n.get("converged")?.as_str()? == "Full",
        n.get("upTimeInMsec")?.as_u64()?,
    ))
}

/// The desired configuration, in the config-renderer's FRR text format,
/// with tiers eth10.. (`with_extra`: also eth110).
fn desired_text(with_extra: bool) -> String {
    let mut s = String::new();
    for l in [
        "! Generated by vpcroute-render. Do not edit: it is overwritten.",
        "hostname left-vr",
        "log syslog informational",
        "!",
        "interface eth1",
        " description vpcroute uplink",
        " ip ospf area 0.0.0.0",
        " ip ospf network broadcast",
        " ip ospf hello-interval 10",
        " ip ospf dead-interval 40",
        " ip ospf retransmit-interval 5",
        " ip ospf transmit-delay 1",
        " ip ospf authentication message-digest",
    ] {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&format!(
        " ip ospf message-digest-key 1 md5 {KEY}\nexit\n!\n"
    ));
    let n = TIERS + u32::from(with_extra);
    for i in 0..n {
        s.push_str(&format!(
            "interface eth{}\n description vpcroute tier t{i}\n ip ospf area {AREA}\n ip ospf passive\nexit\n!\n",
            FIRST_IF + i
        ));
    }
    s.push_str(&format!(
        "router ospf\n ospf router-id {LEFT_ID}\n log-adjacency-changes\n area {AREA} range {RANGE}\nexit\n!\n"
    ));
    s
}

struct PlannerRun {
    total: Duration,
    show_running: Duration,
    plan: Duration,
    apply: Duration,
    commands: usize,
}

/// What router-sync does for one change: read, parse, plan, apply.
fn planner_apply(desired: &FrrConfig) -> PlannerRun {
    let t0 = Instant::now();
    let running_text = vtysh_show(NS, "show running-config");
    let t1 = Instant::now();
    let running = FrrConfig::parse(&running_text);
    let p = plan(desired, &running);
    let script = p.script();
    let t2 = Instant::now();
    let rejected = if p.is_empty() {
        vec![]
    } else {
        vtysh_configure(NS, &script)
    };
    let t3 = Instant::now();
    assert!(rejected.is_empty(), "router rejected: {rejected:?}");
    PlannerRun {
        total: t3 - t0,
        show_running: t1 - t0,
        plan: t2 - t1,
        apply: t3 - t2,
        commands: p.steps.len(),
    }
}

/// Remaining planner commands to reach `desired` (0 = applied).
fn remaining(desired: &FrrConfig) -> usize {
    plan(
        desired,
        &FrrConfig::parse(&vtysh_show(NS, "show running-config")),
    )
    .steps
    .len()
}

/// The router's running config, without vtysh's header lines, as a file
/// frr-reload.py can take as its target.
fn running_as_file() -> String {
    vtysh_show(NS, "show running-config")
        .lines()
        .filter(|l| *l != "Building configuration..." && *l != "Current configuration:")
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn frr_reload(file: &Path, rundir: &Path) -> (Duration, bool, String) {
    let t0 = Instant::now();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            NS,
            "/usr/bin/python3",
            "/usr/lib/frr/frr-reload.py",
        ])
        .args(["--reload", "--stdout", "--pathspace", NS])
        .args(["--bindir", "/usr/bin", "--confdir", "/etc/frr"])
        .arg("--rundir")
        .arg(rundir)
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("frr-reload.py");
    let took = t0.elapsed();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (took, out.status.success(), text)
}

/// Samples left-vr's adjacency with the core every 50 ms.
struct Sampler {
    stop: Arc<AtomicBool>,
    /// Index into `samples` of the first sample of the current window.
    samples: Arc<Mutex<Vec<(Instant, Option<(bool, u64)>)>>>,
    handle: Option<std::thread::JoinHandle<()>>,
    count: Arc<AtomicUsize>,
}

impl Sampler {
    fn start() -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let (s, v, c) = (stop.clone(), samples.clone(), count.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let t = Instant::now();
                let a = adjacency(NS, CORE_ID);
                v.lock().unwrap().push((t, a));
                c.fetch_add(1, Ordering::Relaxed);
                let spent = t.elapsed();
                if spent < Duration::from_millis(50) {
                    std::thread::sleep(Duration::from_millis(50) - spent);
                }
            }
        });
        Sampler {
            stop,
            samples,
            handle: Some(handle),
            count,
        }
    }

    fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Resets (upTime decreased / not Full) among samples [from..].
    fn check(&self, from: usize) -> (usize, usize, usize) {
        let v = self.samples.lock().unwrap();
        let mut resets = 0;
        let mut not_full = 0;
        let mut prev: Option<(Instant, u64)> = None;
        let start = from.saturating_sub(1);
        for (t, a) in v.iter().skip(start) {
            match a {
                Some((true, up)) => {
                    if let Some((pt, pup)) = prev {
                        // up time must grow with the clock (1 s slack for
                        // FRR's coarse timers and sampling jitter)
                        let elapsed = t.duration_since(pt).as_millis() as u64;
                        if *up + 1000 < pup + elapsed {
                            resets += 1;
                        }
                    }
                    prev = Some((*t, *up));
                }
                _ => not_full += 1,
            }
        }
        (v.len() - start, resets, not_full)
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn stats(ms: &[f64]) -> Value {
    let mut v = ms.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "n": v.len(),
        "min_ms": r(v[0]),
        "p50_ms": r(at(0.5)),
        "p95_ms": r(at(0.95)),
        "max_ms": r(*v.last().unwrap()),
        "mean_ms": r(v.iter().sum::<f64>() / v.len() as f64),
    })
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

static LOAD_START: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn main() {
    let _ = LOAD_START.set(
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    if !is_root || !Path::new("/usr/lib/frr/frr-reload.py").exists() {
        eprintln!("bench-frr-apply: needs root, FRR and /usr/lib/frr/frr-reload.py");
        std::process::exit(2);
    }
    let setup0 = Instant::now();
    lab(&["down"]);
    let _guard = LabGuard;
    let dir = tempfile::Builder::new()
        .prefix("vpcroute-frr-apply-")
        .tempdir()
        .unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    say!("lab.sh up --key-file");
    lab(&["up", "--key-file", key_file.to_str().unwrap()]);
    say!("adding {} tier bridges", TIERS + 1);
    for i in 0..=TIERS {
        lab(&[
            "tier",
            "add",
            "left-vr",
            &format!("eth{}", FIRST_IF + i),
            &format!("10.2.{i}.1/24"),
        ]);
    }
    let base = FrrConfig::parse(&desired_text(false));
    let plus = FrrConfig::parse(&desired_text(true));
    assert!(
        base.interfaces["eth1"].len() >= 5 && base.interfaces.len() == TIERS as usize + 1,
        "desired model: {base:?}"
    );
    let first = planner_apply(&base);
    say!("initial config: {} commands", first.commands);
    assert_eq!(remaining(&base), 0, "initial config not applied");
    say!("waiting for left-vr Full with the core (fresh segment: ~41 s)");
    let w0 = Instant::now();
    loop {
        if adjacency(NS, CORE_ID).is_some_and(|a| a.0) {
            break;
        }
        assert!(
            w0.elapsed() < Duration::from_secs(150),
            "left-vr never reached Full"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let full_after = w0.elapsed();
    // let the LSDB exchange and the ABR task settle
    std::thread::sleep(Duration::from_secs(3));
    let setup_s = setup0.elapsed().as_secs_f64();

    // Warm-up (untimed): one add and one remove through the planner,
    // capturing the running config of both states for frr-reload.py.
    planner_apply(&plus);
    assert_eq!(remaining(&plus), 0);
    let plus_file = dir.path().join("plus.conf");
    std::fs::write(&plus_file, running_as_file()).unwrap();
    planner_apply(&base);
    assert_eq!(remaining(&base), 0);
    let base_file = dir.path().join("base.conf");
    std::fs::write(&base_file, running_as_file()).unwrap();
    let rundir = dir.path().join("run");
    std::fs::create_dir_all(&rundir).unwrap();

    let core_view_before = adjacency(CORE_NS, LEFT_ID);
    let left_view_before = adjacency(NS, CORE_ID);
    let t_all = Instant::now();
    let sampler = Sampler::start();
    std::thread::sleep(Duration::from_millis(200));

    // (a) the planner
    let mut a_total = vec![];
    let mut a_show = vec![];
    let mut a_plan_ms = vec![];
    let mut a_apply = vec![];
    let mut a_cmds = vec![];
    let mut a_remaining = 0;
    for i in 0..ITERATIONS {
        let target = if i % 2 == 0 { &plus } else { &base };
        let r = planner_apply(target);
        a_total.push(ms(r.total));
        a_show.push(ms(r.show_running));
        a_plan_ms.push(r.plan.as_secs_f64() * 1e3);
        a_apply.push(ms(r.apply));
        a_cmds.push(r.commands);
        a_remaining += remaining(target);
        std::thread::sleep(Duration::from_millis(300));
    }
    let (a_samples, a_resets, a_not_full) = sampler.check(0);
    say!("planner: {a_total:?} ms");

    // (b) frr-reload.py
    let b_from = sampler.len();
    let mut b_total = vec![];
    let mut b_ok = 0;
    let mut b_remaining = 0;
    let mut b_first_output = String::new();
    for i in 0..ITERATIONS {
        let (file, target) = if i % 2 == 0 {
            (&plus_file, &plus)
        } else {
            (&base_file, &base)
        };
        let (took, ok, text) = frr_reload(file, &rundir);
        if ok {
            b_ok += 1;
        } else if b_first_output.is_empty() {
            b_first_output = text.chars().take(2000).collect();
        }
        b_total.push(ms(took));
        b_remaining += remaining(target);
        std::thread::sleep(Duration::from_millis(300));
    }
    let (b_samples, b_resets, b_not_full) = sampler.check(b_from);
    say!("frr-reload: {b_total:?} ms");
    std::thread::sleep(Duration::from_millis(200));
    sampler.stop();
    // The same, with no sampler competing for the 2 cores (adjacency
    // checked before/after only).
    let mut qa = vec![];
    for i in 0..ITERATIONS {
        let target = if i % 2 == 0 { &plus } else { &base };
        qa.push(ms(planner_apply(target).total));
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut qb = vec![];
    for i in 0..ITERATIONS {
        let file = if i % 2 == 0 { &plus_file } else { &base_file };
        qb.push(ms(frr_reload(file, &rundir).0));
        std::thread::sleep(Duration::from_millis(300));
    }
    let span_ms = t_all.elapsed().as_millis() as u64;
    let core_view_after = adjacency(CORE_NS, LEFT_ID);
    let core_ok = match (core_view_before, core_view_after) {
        (Some((true, b)), Some((true, a))) => a + 1000 >= b + span_ms,
        _ => false,
    };
    let left_ok = match (left_view_before, adjacency(NS, CORE_ID)) {
        (Some((true, b)), Some((true, a))) => a + 1000 >= b + span_ms,
        _ => false,
    };
    // What vtysh alone costs here (context for both figures).
    let mut show_only = vec![];
    for _ in 0..10 {
        let t = Instant::now();
        vtysh_show(NS, "show running-config");
        show_only.push(ms(t.elapsed()));
    }
    let mut noop = vec![];
    for _ in 0..10 {
        let t = Instant::now();
        vtysh_configure(NS, "configure terminal\nend\n");
        noop.push(ms(t.elapsed()));
    }
    let mut no_netns = vec![];
    for _ in 0..10 {
        let t = Instant::now();
        let _ = Command::new("vtysh")
            .args(["-N", NS, "-c", "show running-config"])
            .output();
        no_netns.push(ms(t.elapsed()));
    }
    let mut netns_true = vec![];
    for _ in 0..10 {
        let t = Instant::now();
        let _ = Command::new("ip")
            .args(["netns", "exec", NS, "true"])
            .output();
        netns_true.push(ms(t.elapsed()));
    }
    let mut py = vec![];
    for _ in 0..5 {
        let t = Instant::now();
        let _ = Command::new("/usr/bin/python3")
            .args(["-c", "pass"])
            .output();
        py.push(ms(t.elapsed()));
    }

    let a_stats = stats(&a_total);
    let b_stats = stats(&b_total);
    let ratio = b_stats["p50_ms"].as_f64().unwrap() / a_stats["p50_ms"].as_f64().unwrap();
    emit(json!({
        "bench": "frr_apply",
        "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "loadavg_at_start": LOAD_START.get().cloned().unwrap_or_default(),
        "router": "left-vr (lab)",
        "tiers": TIERS,
        "area": AREA,
        "range": RANGE,
        "iterations": ITERATIONS,
        "change": "add / remove tier eth110 (10.2.100.0/24) in the area, alternating",
        "setup_s": (setup_s * 10.0).round() / 10.0,
        "full_after_s": (full_after.as_secs_f64() * 10.0).round() / 10.0,
        "planner": {
            "total": a_stats,
            "per_apply_ms": a_total,
            "show_running_config": stats(&a_show),
            "parse_plan_script": stats(&a_plan_ms),
            "vtysh_apply": stats(&a_apply),
            "commands_per_change": a_cmds,
            "commands_left_after": a_remaining,
            "adjacency_samples": a_samples,
            "adjacency_resets": a_resets,
            "not_full_samples": a_not_full,
        },
        "frr_reload": {
            "total": b_stats,
            "per_apply_ms": b_total,
            "succeeded": b_ok,
            "planner_commands_left_after": b_remaining,
            "target_file": "the router's own show running-config in the target state",
            "adjacency_samples": b_samples,
            "adjacency_resets": b_resets,
            "not_full_samples": b_not_full,
            "first_failure_output": b_first_output,
        },
        "ratio_reload_vs_planner_p50": (ratio * 100.0).round() / 100.0,
        "quiet": {
            "note": "same 10 + 10 applies with no 50 ms sampler running",
            "planner": stats(&qa),
            "frr_reload": stats(&qb),
            "ratio_p50": ((stats(&qb)["p50_ms"].as_f64().unwrap() / stats(&qa)["p50_ms"].as_f64().unwrap()) * 100.0).round() / 100.0,
        },
        "core_view_never_reset": core_ok,
        "left_view_never_reset": left_ok,
        "reference": {
            "vtysh_show_running_config": stats(&show_only),
            "vtysh_empty_configure": stats(&noop),
            "python3_startup": stats(&py),
            "vtysh_show_running_config_without_ip_netns_exec": stats(&no_netns),
            "ip_netns_exec_true": stats(&netns_true),
        },
        "target": {
            "planner_le_50ms": a_stats["p50_ms"].as_f64().unwrap() <= 50.0,
            "planner_quiet_le_50ms": stats(&qa)["p50_ms"].as_f64().unwrap() <= 50.0,
            "planner_faster_than_reload": ratio > 1.0,
            "zero_resets": a_resets + b_resets + a_not_full + b_not_full == 0 && core_ok,
        },
    }));
}
