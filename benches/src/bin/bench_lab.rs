//! Benchmark 7: the lab end to end. From `vpcctl tier create` returning to
//! (a) the tier's configuration verified on its VR and (b) the new tier
//! reachable from the other VPC.
//!
//! Needs root, FRR, ping and nats-server; builds its own lab and always
//! takes it down (`lab.sh down`), also on failure. Service binaries come
//! from `VPCROUTE_BIN_DIR`, by default this binary's own directory
//! (`target/release`: `scripts/lab-bench.sh` builds them).
//!
//! Set-up (untimed), as in `tests/lab_e2e.rs`: `lab.sh up --key-file`
//! (MD5), NATS + the four release services (router-sync manages left-vr
//! and right-vr with `--drift-interval 1`), Figure 3 through `vpcctl`
//! (zone, VPCs left 10.1.0.0/22 and right 10.1.4.0/22, one tier and one VM
//! each), until both VRs are Full with the core, hold each other's VPC
//! route, and LeftVM1 pings RightVM1.
//!
//! Per iteration (10): `lab.sh tier add left-vr ethN 10.1.S.1/24` and
//! `lab.sh vm add nvmI left-vr ethN 10.1.S.10/24 10.1.S.1` (the NIC and a
//! VM exist first, as CloudStack plugs them), then the timed
//! `vpcctl tier create tI --vpc left --gateway 10.1.S.1 --netmask
//! 255.255.255.0 --interface ethN`. From its return:
//! (a) the first `vpcroute.sync.status.left-vr` with `desired_version`
//!     the new version and `applied_version == firewall_version ==
//!     desired_version` (router-sync runs with `--nft`, as run.sh starts it) (then
//!     `interface ethN` is checked in `show running-config`);
//! (b) right-vr's kernel routes the VM's address via left-vr
//!     (`ip route get`) AND the VM pings RightVM1.
//! Also collected: when the bench itself saw `vpcroute.config.updated
//! .left-vr` (the renderer's announcement), and the timestamps of the
//! renderer's "router configuration versioned" and router-sync's
//! "configuration applied and verified" log lines. Then the tier is deleted
//! (and its removal waited for) so the /22 VPC has room for the next one
//! (S alternates 2 and 3); each iteration uses a fresh interface.
//!
//! First, on a lab of its own (`lab.sh up --hello 1 --dead 4`, issue 11
//! item 6): a new VR's time to Full with the core, from its configuration
//! applied (one vtysh script, as router-sync sends it: `plan()` of the
//! rendered text against an empty router) to `show ip ospf neighbor`
//! saying Full, polled every 50 ms. Reference in the same run: the same
//! script in the order before the fix (the uplink's `ip ospf area` before
//! its timers). left-vr is restarted (`lab.sh frr restart`) before each
//! try; the core is alone on the segment with it. `--only-new-vr-full`
//! runs just this part. Emitted as `{"bench":"lab_new_vr_full",...}`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use serde_json::{json, Value};
use vpcroute_benches::{emit, loadavg, ms, ms_stats, say, time_ms};
use vpcroute_protocol::config::{DialectName, RouterConfig, RouterConfigGet};
use vpcroute_router_sync::vtysh::{Vtysh, READ_BACK};
use vpcroute_tests::lab::{
    figure3, full_since_ms, lab, lab_possible, lab_up, lab_up_with, ospf_routes, pings, sh, vtysh,
    wait_for, CORE_ID, LEFT, RIGHT,
};
use vpcroute_tests::{vpcctl, NatsServer, Service, ServiceKind};

const KEY: &str = "Lab-Key_42";
const ITERATIONS: usize = 10;

fn vtysh_stdin(ns: &str, script: &str) {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "vtysh", "-N", ns])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vtysh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let _ = child.wait_with_output();
}

/// left-vr's configuration for a zone with hello 1 / dead 4, as
/// router-sync sends it to an empty router: the renderer's text planned
/// against nothing. `old_order`: the uplink's `ip ospf area` moved before
/// its timers, as the renderer and planner wrote it before issue 11 item 6.
fn new_vr_script(old_order: bool) -> String {
    use vpcroute_render::*;
    let model = RouterModel {
        hostname: "left-vr".into(),
        router_id: "10.255.0.1".parse().unwrap(),
        uplink: Uplink {
            interface: "eth1".into(),
            address: "192.168.100.2/24".parse().unwrap(),
        },
        ospf: OspfSettings {
            hello_interval: 1,
            dead_interval: 4,
            auth: OspfAuth::Md5 {
                key_id: 1,
                key: Secret::new(KEY),
            },
            ..OspfSettings::default()
        },
        area: AreaId(1),
        vpc_cidr: "10.1.0.0/22".parse().unwrap(),
        tiers: vec![],
        md5_rotation: None,
    };
    let RenderedConfig::Frr { frr_conf } = render(&model, Dialect::Frr).unwrap() else {
        unreachable!()
    };
    let desired = vpcroute_sync::FrrConfig::parse(&frr_conf);
    let script = vpcroute_sync::plan(&desired, &vpcroute_sync::FrrConfig::default()).script();
    if !old_order {
        return script;
    }
    let area = "ip ospf area 0.0.0.0\n";
    script
        .replace(area, "")
        .replace("interface eth1\n", &format!("interface eth1\n{area}"))
}

/// Time to Full of a freshly started left-vr given `script`, in seconds.
async fn time_to_full(script: &str) -> f64 {
    lab(&["frr", "restart", "left-vr"]);
    let t0 = Instant::now();
    vtysh_stdin(LEFT, script);
    wait_for(
        "left-vr Full with the core",
        Duration::from_secs(120),
        || full(LEFT),
    )
    .await;
    t0.elapsed().as_secs_f64()
}

/// See the module documentation: new order and old order, alternately.
async fn new_vr_full() {
    const TRIES: usize = 3;
    say!("lab.sh up --hello 1 --dead 4 (new VR time to Full)");
    let _run = lab_up_with(KEY, &["--hello", "1", "--dead", "4"]);
    let (mut new, mut old) = (Vec::new(), Vec::new());
    for i in 0..TRIES {
        new.push(time_to_full(&new_vr_script(false)).await);
        old.push(time_to_full(&new_vr_script(true)).await);
        say!(
            "try {i}: area last {:.2} s, area first {:.2} s",
            new[i],
            old[i]
        );
    }
    let stats = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        json!({ "min_s": r2(v[0]), "median_s": r2(v[v.len() / 2]), "max_s": r2(v[v.len() - 1]), "all_s": v.iter().map(|x| r2(*x)).collect::<Vec<_>>() })
    };
    emit(json!({
        "bench": "lab_new_vr_full",
        "hello_s": 1,
        "dead_s": 4,
        "tries": TRIES,
        "area_last": stats(&new),
        "area_first_before_the_fix": stats(&old),
        "bound_3_dead_intervals_s": 12,
    }));
}

/// Whether `ns` is Full with the core (the harness's probe: vtysh failing
/// panics rather than reading as "not Full").
fn full(ns: &str) -> bool {
    full_since_ms(ns, CORE_ID).is_some()
}

fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

/// `2026-11-26T05:21:00.123456Z` → ms since the epoch.
fn parse_ts(s: &str) -> Option<f64> {
    let s = s.trim_end_matches('Z');
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, dd) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (hh, mm) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    let ss = t.next()?.parse::<f64>().ok()?;
    // days from civil (Howard Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(((days as f64 * 86400.0) + hh * 3600.0 + mm * 60.0 + ss) * 1e3)
}

/// Wall-clock ms of the first log line in `file` containing `msg`,
/// `router=left-vr` and `version=V`.
fn log_time(file: &Path, msg: &str, version: u64) -> Option<f64> {
    let text = std::fs::read_to_string(file).ok()?;
    let ver = format!("version={version}");
    text.lines()
        .map(strip_ansi)
        .filter(|l| l.contains(msg) && l.contains("router=left-vr"))
        .find(|l| l.split_whitespace().any(|w| w == ver))
        .and_then(|l| parse_ts(l.split_whitespace().next()?))
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c2 in chars.by_ref() {
                if c2.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn time_n(n: usize, f: impl FnMut()) -> Value {
    ms_stats(&time_ms(n, f))
}

/// The status of a router as router-sync answers it.
async fn status(url: &str, router: &str) -> Value {
    vpcctl(url, &["router", "status", router, "--json"])
        .await
        .json
}

fn version(v: &Value, field: &str) -> u64 {
    v[field].as_u64().unwrap_or(0)
}

/// Waits for a status message on `sub` with desired > `after` and
/// applied == desired; returns (when, desired version).
async fn wait_applied(
    sub: &mut async_nats::Subscriber,
    after: u64,
    timeout: Duration,
) -> Option<(Instant, u64)> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let msg = tokio::time::timeout_at(deadline, sub.next()).await.ok()??;
        let now = Instant::now();
        let v: Value = serde_json::from_slice(&msg.payload).unwrap_or(Value::Null);
        let (d, a, f) = (
            version(&v, "desired_version"),
            version(&v, "applied_version"),
            version(&v, "firewall_version"),
        );
        // Routing and firewall both at the new version: router-sync manages
        // the VRs' nftables (--nft), as scripts/run.sh starts it.
        if d > after && a == d && f == d {
            return Some((now, d));
        }
    }
}

static LOAD_START: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `vpcctl ARGS` against the bench's NATS, which must succeed.
async fn ctl(url: &str, args: &[&str]) {
    vpcctl(url, args).await.expect_ok();
}

/// The four release services on the lab; router-sync manages left-vr and
/// right-vr. Dropping them stops them, in field order: router-sync first,
/// ipam last (the reverse of their start).
struct Services {
    sync: Service,
    config: Service,
    _areas: Service,
    _ipam: Service,
}

async fn start_services(url: &str, dir: &Path) -> Services {
    let d = |n: &str| dir.join(n);
    let _ipam = Service::start(ServiceKind::Ipam, url, &d("ipam")).await;
    let _areas = Service::start(ServiceKind::AreaRegistry, url, &d("areas")).await;
    let config = Service::start(ServiceKind::ConfigRenderer, url, &d("config")).await;
    let sync_args = [
        "--router".to_string(),
        format!("left-vr=ip netns exec {LEFT} vtysh -N {LEFT}"),
        "--nft".into(),
        format!("left-vr=ip netns exec {LEFT} nft"),
        "--router".into(),
        format!("right-vr=ip netns exec {RIGHT} vtysh -N {RIGHT}"),
        "--nft".into(),
        format!("right-vr=ip netns exec {RIGHT} nft"),
        "--drift-interval".into(),
        "1".into(),
    ];
    let sync_args: Vec<&str> = sync_args.iter().map(String::as_str).collect();
    let sync = Service::start_with_args(ServiceKind::RouterSync, url, &d("sync"), &sync_args).await;
    Services {
        sync,
        config,
        _areas,
        _ipam,
    }
}

/// Figure 3, as tests/lab_e2e.rs, until both VRs are Full, hold each
/// other's VPC route, LeftVM1 pings RightVM1 and left-vr is in sync.
/// Returns RightVM1's address and the time both VRs took to be Full.
async fn figure3_in_sync(url: &str, key_path: &str) -> (String, Duration) {
    say!("Figure 3 set-up");
    let (_lvm, rvm) = figure3(url, key_path).await;
    // RightVM1 answers pings from anywhere (the new VMs' tiers have no list:
    // their egress is allowed).
    ctl(url, &["tier", "set-acl", "right-tier", "default_allow"]).await;
    say!("waiting for both VRs Full with the core (~41 s on a fresh segment)");
    let full_after = wait_for("both VRs Full", Duration::from_secs(150), || {
        full(LEFT) && full(RIGHT)
    })
    .await;
    wait_for("inter-VPC routes", Duration::from_secs(60), || {
        ospf_routes(LEFT).contains("10.1.4.0/22 nhid")
            && ospf_routes(RIGHT).contains("10.1.0.0/22 nhid")
    })
    .await;
    wait_for("LeftVM1 pings RightVM1", Duration::from_secs(20), || {
        pings("left-vm1", &rvm)
    })
    .await;
    wait_for("left-vr in sync", Duration::from_secs(30), || true).await;
    let t_sync = Instant::now();
    loop {
        let st = status(url, "left-vr").await;
        if st["state"] == "in_sync" && st["applied_version"] == st["desired_version"] {
            break;
        }
        assert!(
            t_sync.elapsed() < Duration::from_secs(30),
            "left-vr not in sync: {st}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (rvm, full_after)
}

/// What the steps cost by hand (context for the breakdown).
async fn by_hand_costs(client: &async_nats::Client, url: &str) -> Value {
    let q = RouterConfigGet {
        router: "left-vr".into(),
        dialect: DialectName::Frr,
    };
    let mut fetch = vec![];
    for _ in 0..20 {
        let t = Instant::now();
        let _: RouterConfig = vpcroute_bus::request(
            client,
            vpcroute_bus::subjects::config::ROUTER_GET,
            &q,
            Duration::from_secs(5),
        )
        .await
        .expect("router.get");
        fetch.push(ms(t.elapsed()));
    }
    let mut status_ms = vec![];
    for _ in 0..10 {
        let t = Instant::now();
        status(url, "left-vr").await;
        status_ms.push(ms(t.elapsed()));
    }
    // router-sync's own vtysh session: a one-line change read back, in one
    // exchange (what an apply costs once the session runs)
    let session = Vtysh::new(
        &format!("ip netns exec {LEFT} vtysh -N {LEFT}"),
        Duration::from_secs(15),
    )
    .unwrap();
    session.show("show version").await.expect("session start");
    let mut exchange = vec![];
    for _ in 0..20 {
        let t = Instant::now();
        session
            .configure_and_show(
                "configure terminal\nrouter ospf\nlog-adjacency-changes\nend\n",
                &READ_BACK,
            )
            .await
            .expect("session exchange");
        exchange.push(ms(t.elapsed()));
    }
    drop(session);
    json!({
        "session_configure_1_line_and_read_back": ms_stats(&exchange),
        "ip_netns_exec_true": time_n(20, || { sh(LEFT, &["true"]); }),
        "vtysh_show_running_config": time_n(20, || { vtysh(LEFT, &["show running-config"]); }),
        "vtysh_configure_stdin_1_line": time_n(20, || vtysh_stdin(LEFT, "configure terminal\nrouter ospf\nlog-adjacency-changes\nend\n")),
        "vtysh_show_ip_ospf_database_summary_json": time_n(20, || { vtysh(LEFT, &["show ip ospf database summary json"]); }),
        "vtysh_show_ip_ospf_neighbor_json": time_n(20, || { vtysh(LEFT, &["show ip ospf neighbor json"]); }),
        "vtysh_show_ip_ospf_route_json": time_n(20, || { vtysh(LEFT, &["show ip ospf route json"]); }),
        "nats_config_router_get": ms_stats(&fetch),
        "vpcctl_router_status": ms_stats(&status_ms),
    })
}

/// What every iteration reads: the bench's NATS, RightVM1's address, the
/// renderer's and router-sync's logs, and its two subscriptions.
struct Watch {
    url: String,
    rvm: String,
    renderer_log: PathBuf,
    sync_log: PathBuf,
    st_sub: async_nats::Subscriber,
    up_sub: async_nats::Subscriber,
}

/// Names and addresses of iteration `i`'s tier and VM.
struct NewTier {
    iface: String,
    s: usize,
    gw: String,
    vm_ip: String,
    vm: String,
    tier: String,
}

impl NewTier {
    fn new(i: usize) -> NewTier {
        let s = [2, 3][i % 2];
        NewTier {
            iface: format!("eth{}", 3 + i),
            s,
            gw: format!("10.1.{s}.1"),
            vm_ip: format!("10.1.{s}.10"),
            vm: format!("nvm{i}"),
            tier: format!("t{i}"),
        }
    }
}

/// What one iteration measured, from `vpcctl tier create` returning.
struct Iteration {
    version: u64,
    reachable_before: bool,
    create: Duration,
    rend: Option<f64>,
    upd: Option<Duration>,
    ver: Option<f64>,
    a: Duration,
    iface_ok: bool,
    b_route: Duration,
    b_ping: Duration,
}

/// Drops the messages a subscription already holds.
async fn drain(sub: &mut async_nats::Subscriber) {
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(1), sub.next()).await {}
}

/// (b) in a thread of its own: blocking ip/ping calls. When right-vr
/// routes `vm_ip` via left-vr, then when `vm` pings `rvm`, from `t0`.
fn probe_reachable(
    t0: Instant,
    vm: String,
    vm_ip: String,
    rvm: String,
) -> std::thread::JoinHandle<Option<(Duration, Duration)>> {
    std::thread::spawn(move || {
        let mut route_at = None;
        loop {
            let el = t0.elapsed();
            if route_at.is_none() {
                let (_, out) = sh(RIGHT, &["ip", "route", "get", &vm_ip]);
                if out.contains("via 192.168.100.2") {
                    route_at = Some(t0.elapsed());
                }
            }
            if let Some(at) = route_at.filter(|_| pings(&vm, &rvm)) {
                return Some((at, t0.elapsed()));
            }
            if el > Duration::from_secs(30) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

/// One iteration: the NIC and VM first, as CloudStack plugs them, then the
/// timed `vpcctl tier create` and (a), (b) and the log times from its return.
async fn measure_tier_create(w: &mut Watch, i: usize, n: &NewTier) -> Iteration {
    lab(&["tier", "add", "left-vr", &n.iface, &format!("{}/24", n.gw)]);
    lab(&[
        "vm",
        "add",
        &n.vm,
        "left-vr",
        &n.iface,
        &format!("{}/24", n.vm_ip),
        &n.gw,
    ]);
    let reachable_before = pings(&n.vm, &w.rvm);
    let v0 = version(&status(&w.url, "left-vr").await, "desired_version");
    // drain old messages
    drain(&mut w.st_sub).await;
    drain(&mut w.up_sub).await;

    let c0 = Instant::now();
    ctl(
        &w.url,
        &[
            "tier",
            "create",
            &n.tier,
            "--vpc",
            "left",
            "--gateway",
            &n.gw,
            "--netmask",
            "255.255.255.0",
            "--interface",
            &n.iface,
        ],
    )
    .await;
    let t0 = Instant::now();
    let t0_wall = wall_ms();
    let create = t0 - c0;

    let b_task = probe_reachable(t0, n.vm.clone(), n.vm_ip.clone(), w.rvm.clone());
    // the renderer's announcement, as any subscriber sees it
    let upd = tokio::time::timeout(Duration::from_secs(30), w.up_sub.next())
        .await
        .ok()
        .flatten()
        .map(|_| t0.elapsed());
    let applied = wait_applied(&mut w.st_sub, v0, Duration::from_secs(30)).await;
    let Some((a_at, v_new)) = applied else {
        panic!("iteration {i}: left-vr never reported the new version applied")
    };
    let a = a_at - t0;
    let iface_ok =
        vtysh(LEFT, &["show running-config"]).contains(&format!("interface {}\n", n.iface));
    let b = b_task.join().unwrap();
    let (b_route, b_ping) = b.expect("the new VM never reached RightVM1");
    let rend =
        log_time(&w.renderer_log, "router configuration versioned", v_new).map(|t| t - t0_wall);
    let ver =
        log_time(&w.sync_log, "configuration applied and verified", v_new).map(|t| t - t0_wall);
    say!(
        "#{i} {}: create {:.1} ms, versioned {:?}, updated {:?}, verified {:?}, status (a) {:.1} ms, (b) route {:.1} ping {:.1} ms",
        n.iface, ms(create), rend.map(r2), upd.map(ms), ver.map(r2), ms(a), ms(b_route), ms(b_ping)
    );
    Iteration {
        version: v_new,
        reachable_before,
        create,
        rend,
        upd,
        ver,
        a,
        iface_ok,
        b_route,
        b_ping,
    }
}

/// clean-up: the /22 has room for two more /24 tiers only
async fn remove_tier(w: &mut Watch, n: &NewTier, version: u64) {
    ctl(&w.url, &["tier", "delete", &n.tier]).await;
    wait_applied(&mut w.st_sub, version, Duration::from_secs(30))
        .await
        .expect("tier removal applied");
    lab(&["vm", "del", &n.vm]);
    lab(&["tier", "del", "left-vr", &n.iface]);
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The iterations' figures, series by series, and one row per iteration.
#[derive(Default)]
struct Series {
    rows: Vec<Value>,
    a_ms: Vec<f64>,
    b_ms: Vec<f64>,
    create_ms: Vec<f64>,
    upd_ms: Vec<f64>,
    ver_ms: Vec<f64>,
    rend_ms: Vec<f64>,
    sync_part: Vec<f64>,
    status_part: Vec<f64>,
    route_ms: Vec<f64>,
    ping_ms: Vec<f64>,
    all_iface_ok: bool,
}

impl Series {
    fn push(&mut self, n: &NewTier, it: &Iteration) {
        self.all_iface_ok &= it.iface_ok;
        self.a_ms.push(ms(it.a));
        self.b_ms.push(ms(it.b_ping));
        self.route_ms.push(ms(it.b_route));
        self.ping_ms.push(ms(it.b_ping));
        self.create_ms.push(ms(it.create));
        if let Some(u) = it.upd {
            self.upd_ms.push(ms(u));
        }
        if let Some(x) = it.rend {
            self.rend_ms.push(r2(x));
        }
        if let (Some(x), Some(u)) = (it.ver, it.upd) {
            self.ver_ms.push(r2(x));
            self.sync_part.push(r2(x - ms(u)));
            self.status_part.push(r2(ms(it.a) - x));
        }
        self.rows.push(json!({
            "iface": n.iface, "tier": format!("10.1.{}.0/24", n.s), "version": it.version,
            "reachable_before_create": it.reachable_before,
            "vpcctl_tier_create_ms": ms(it.create),
            "renderer_versioned_log_ms": it.rend.map(r2),
            "updated_seen_ms": it.upd.map(ms),
            "router_sync_verified_log_ms": it.ver.map(r2),
            "a_status_applied_ms": ms(it.a),
            "running_config_has_iface": it.iface_ok,
            "b_route_on_right_vr_ms": ms(it.b_route),
            "b_ping_ok_ms": ms(it.b_ping),
        }));
    }
}

fn emit_figures(setup_s: f64, full_after: Duration, by_hand: Value, series: Series) {
    let a_stats = ms_stats(&series.a_ms);
    let met = a_stats["p50_ms"].as_f64().unwrap_or(f64::MAX) <= 100.0;
    emit(json!({
        "bench": "lab",
        "loadavg_at_end": loadavg(),
        "loadavg_at_start": LOAD_START.get().cloned().unwrap_or_default(),
        "iterations": ITERATIONS,
        "drift_interval_s": 1,
        "setup_s": r2(setup_s),
        "full_after_s": r2(full_after.as_secs_f64()),
        "a_to_verified_status": a_stats,
        "b_reachable_from_right": ms_stats(&series.b_ms),
        "b_route_on_right_vr": ms_stats(&series.route_ms),
        "b_ping_ok": ms_stats(&series.ping_ms),
        "vpcctl_tier_create": ms_stats(&series.create_ms),
        "breakdown_from_create_return": {
            "renderer_versioned_log": ms_stats(&series.rend_ms),
            "updated_announcement_seen": ms_stats(&series.upd_ms),
            "router_sync_verified_log": ms_stats(&series.ver_ms),
            "router_sync_updated_to_verified": ms_stats(&series.sync_part),
            "verified_to_status_seen": ms_stats(&series.status_part),
        },
        "by_hand": by_hand,
        "running_config_has_iface_every_time": series.all_iface_ok,
        "iterations_detail": series.rows,
        "target": { "a_p50_le_100ms": met },
    }));
}

/// Service binaries and their logs, before anything starts.
fn set_env() {
    if std::env::var_os("VPCROUTE_BIN_DIR").is_none() {
        let exe = std::env::current_exe().unwrap();
        std::env::set_var("VPCROUTE_BIN_DIR", exe.parent().unwrap());
    }
    // services inherit these: plain-text info logs with timestamps
    std::env::set_var("NO_COLOR", "1");
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "info");
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = LOAD_START.set(loadavg());
    set_env();
    if !lab_possible() {
        eprintln!("bench-lab: needs root, FRR, ping and nats-server");
        std::process::exit(2);
    }
    new_vr_full().await;
    if std::env::args().any(|a| a == "--only-new-vr-full") {
        return;
    }
    let Some(nats) = NatsServer::start() else {
        eprintln!("bench-lab: nats-server not found");
        std::process::exit(2);
    };
    let setup0 = Instant::now();
    say!("lab.sh up --key-file");
    let run = lab_up(KEY);
    let url = nats.url();
    let services = start_services(&url, run.dir.path()).await;
    let (rvm, full_after) = figure3_in_sync(&url, &run.key_path).await;
    let setup_s = setup0.elapsed().as_secs_f64();
    say!("set-up done in {setup_s:.1} s");

    let client = async_nats::connect(&url).await.unwrap();
    let by_hand = by_hand_costs(&client, &url).await;
    say!("by hand: {by_hand}");

    let st_sub = client
        .subscribe(vpcroute_bus::subjects::sync::status("left-vr"))
        .await
        .unwrap();
    let up_sub = client
        .subscribe(vpcroute_bus::subjects::config::updated("left-vr"))
        .await
        .unwrap();
    let mut watch = Watch {
        url: url.clone(),
        rvm,
        renderer_log: services.config.stderr_path(),
        sync_log: services.sync.stderr_path(),
        st_sub,
        up_sub,
    };

    // ---- the iterations
    let mut series = Series {
        all_iface_ok: true,
        ..Series::default()
    };
    for i in 0..ITERATIONS {
        let n = NewTier::new(i);
        let it = measure_tier_create(&mut watch, i, &n).await;
        series.push(&n, &it);
        remove_tier(&mut watch, &n, it.version).await;
    }
    emit_figures(setup_s, full_after, by_hand, series);
    drop(watch);
}
