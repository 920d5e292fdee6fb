//! Benchmark 3: VPC, tier and VM allocations through NATS into the real
//! release `vpcroute-ipam` with its durable log (default durability: every
//! reply waits for an fsync'd group commit), against a bare NATS echo on
//! the same server at the same concurrency.
//!
//! * One real `nats-server` on a free loopback port for the whole run.
//! * Per concurrency level (1, 16, 64 clients): a fresh `vpcroute-ipam`
//!   with a fresh temp `--data-dir`, a zone owning 10.0.0.0/8, then
//!   `clients` async tasks over `min(clients, 4)` async-nats connections,
//!   each looping: one VPC (/24, with a virtual router), one tier (/26, with
//!   a VR interface), eight VMs: 10 allocations per cycle, each a
//!   request/reply through `vpcroute_bus::request`.
//! * The echo reference: a responder task in this process (its own
//!   connection) answering `bench.echo` with the request's bytes; the same
//!   clients send a VM-allocation-sized payload.
//! * 1 s warm-up, then `BENCH_SECONDS` (default 5) measured; only requests
//!   started and finished inside the window count.
//! * Durability check: after the run the service is SIGKILLed and the
//!   events in its SQLite file are counted: every answered allocation must
//!   be there.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use vpcroute_benches::{cpu_secs, emit, env_or, pcts, say, secs, sibling_bin};
use vpcroute_bus::subjects::ipam as subj;
use vpcroute_protocol::ipam as msg;
use vpcroute_tests::NatsServer;

const KINDS: [&str; 4] = ["vpc", "tier", "vm", "echo"];
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct TaskResult {
    /// (kind, start offset from window start in ns, latency ns)
    samples: Vec<(u8, u64)>,
    ok_total: u64,
    errors: u64,
    first_error: Option<String>,
}

struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn counts(&self, t0: Instant, t1: Instant) -> bool {
        t0 >= self.start && t1 <= self.end
    }
}

fn echo_payload() -> bytes::Bytes {
    serde_json::to_vec(&msg::VmAllocate {
        request_id: "b64-c63-m99999-0".into(),
        vm: "vm-63-99999-7".into(),
        tier: "tier-63-99999".into(),
        ip: None,
    })
    .unwrap()
    .into()
}

async fn echo_task(client: async_nats::Client, win: std::sync::Arc<Window>) -> TaskResult {
    let payload = echo_payload();
    let mut r = TaskResult::default();
    loop {
        let t0 = Instant::now();
        if t0 >= win.end {
            return r;
        }
        match client.request("bench.echo", payload.clone()).await {
            Ok(_) => {
                let t1 = Instant::now();
                r.ok_total += 1;
                if win.counts(t0, t1) {
                    r.samples.push((3, (t1 - t0).as_nanos() as u64));
                }
            }
            Err(e) => {
                r.errors += 1;
                r.first_error.get_or_insert(e.to_string());
            }
        }
    }
}

async fn ipam_task(
    client: async_nats::Client,
    win: std::sync::Arc<Window>,
    c: u32,
    level: usize,
) -> TaskResult {
    let mut r = TaskResult::default();
    let timed = |r: &mut TaskResult, kind: u8, t0: Instant, res: Result<(), String>| {
        let t1 = Instant::now();
        match res {
            Ok(()) => {
                r.ok_total += 1;
                if win.counts(t0, t1) {
                    r.samples.push((kind, (t1 - t0).as_nanos() as u64));
                }
                true
            }
            Err(e) => {
                r.errors += 1;
                r.first_error.get_or_insert(e);
                false
            }
        }
    };
    for i in 0u32.. {
        if Instant::now() >= win.end {
            break;
        }
        let id = |what: &str| format!("b{level}-c{c}-{what}{i}");
        let vpc = format!("vpc-{c}-{i}");
        let t0 = Instant::now();
        let res = vpcroute_bus::request::<_, msg::VpcRecord>(
            &client,
            subj::VPC_ALLOCATE,
            &msg::VpcAllocate {
                request_id: id("v"),
                vpc: vpc.clone(),
                zone: "zone-1".into(),
                netmask: None,
                prefix_length: Some(24),
                family: Some(msg::Family::Ipv4),
                router: Some(msg::RouterSpec {
                    name: format!("vr-{c}-{i}"),
                    router_id: Ipv4Addr::from(0x0b00_0000u32 + (c << 16) + i + 1),
                    uplink_interface: "eth1".into(),
                    uplink_address: "192.168.100.2/24".parse().unwrap(),
                }),
            },
            TIMEOUT,
        )
        .await;
        if !timed(&mut r, 0, t0, res.map(|_| ()).map_err(|e| e.to_string())) {
            continue;
        }
        let tier = format!("tier-{c}-{i}");
        let t0 = Instant::now();
        let res = vpcroute_bus::request::<_, msg::TierRecord>(
            &client,
            subj::TIER_ALLOCATE,
            &msg::TierAllocate {
                request_id: id("t"),
                tier: tier.clone(),
                vpc,
                gateway: None,
                netmask: None,
                prefix_length: Some(26),
                interface: Some("eth2".into()),
                acl: None,
            },
            TIMEOUT,
        )
        .await;
        if !timed(&mut r, 1, t0, res.map(|_| ()).map_err(|e| e.to_string())) {
            continue;
        }
        for k in 0..8 {
            if Instant::now() >= win.end {
                break;
            }
            let t0 = Instant::now();
            let res = vpcroute_bus::request::<_, msg::VmRecord>(
                &client,
                subj::VM_ALLOCATE,
                &msg::VmAllocate {
                    request_id: id(&format!("m{k}-")),
                    vm: format!("vm-{c}-{i}-{k}"),
                    tier: tier.clone(),
                    ip: None,
                },
                TIMEOUT,
            )
            .await;
            timed(&mut r, 2, t0, res.map(|_| ()).map_err(|e| e.to_string()));
        }
    }
    r
}

struct Measured {
    ops: usize,
    secs: f64,
    all: vpcroute_benches::Pcts,
    per_kind: Vec<(usize, vpcroute_benches::Pcts)>,
    ok_total: u64,
    errors: u64,
    first_error: Option<String>,
}

async fn run_tasks<F, Fut>(
    clients: usize,
    conns: &[async_nats::Client],
    warmup: Duration,
    dur: Duration,
    spawn: F,
) -> Measured
where
    F: Fn(async_nats::Client, std::sync::Arc<Window>, u32) -> Fut,
    Fut: std::future::Future<Output = TaskResult> + Send + 'static,
{
    let now = Instant::now();
    let win = std::sync::Arc::new(Window {
        start: now + warmup,
        end: now + warmup + dur,
    });
    let handles: Vec<_> = (0..clients)
        .map(|c| tokio::spawn(spawn(conns[c % conns.len()].clone(), win.clone(), c as u32)))
        .collect();
    let mut samples = Vec::new();
    let (mut ok_total, mut errors, mut first_error) = (0, 0, None);
    for h in handles {
        let r = h.await.expect("task");
        samples.extend(r.samples);
        ok_total += r.ok_total;
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
    }
    let mut all: Vec<u64> = samples.iter().map(|s| s.1).collect();
    let per_kind = (0..4u8)
        .map(|k| {
            let mut v: Vec<u64> = samples.iter().filter(|s| s.0 == k).map(|s| s.1).collect();
            (v.len(), pcts(&mut v))
        })
        .collect();
    Measured {
        ops: all.len(),
        secs: dur.as_secs_f64(),
        all: pcts(&mut all),
        per_kind,
        ok_total,
        errors,
        first_error,
    }
}

fn spawn_ipam(data_dir: &Path, url: &str) -> Child {
    let bin = sibling_bin("vpcroute-ipam");
    let log = std::fs::File::create(data_dir.join("ipam.stderr")).unwrap();
    Command::new(&bin)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--nats-url")
        .arg(url)
        // Diagnostics only (e.g. `--unsafe-no-fsync`); bench.sh passes none.
        .args(
            std::env::var("BENCH_IPAM_ARGS")
                .unwrap_or_default()
                .split_whitespace(),
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

async fn wait_ready(client: &async_nats::Client) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = vpcroute_bus::request::<_, serde_json::Value>(
            client,
            subj::EVENTS_READ,
            &json!({"from_seq": 1, "limit": 1}),
            Duration::from_millis(500),
        )
        .await;
        if r.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "vpcroute-ipam not ready: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count_events(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open ipam log");
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .expect("count")
}

fn measured_json(m: &Measured) -> serde_json::Value {
    let mut kinds = serde_json::Map::new();
    for (k, (n, p)) in m.per_kind.iter().enumerate() {
        if *n > 0 {
            kinds.insert(KINDS[k].into(), p.json_us());
        }
    }
    json!({
        "ops": m.ops,
        "ops_per_s": (m.ops as f64 / m.secs).round(),
        "latency": m.all.json_us(),
        "per_kind": kinds,
        "errors": m.errors,
        "first_error": m.first_error,
    })
}

/// The echo responder: its own connection, one task.
async fn start_echo_responder(url: &str) {
    let responder = async_nats::connect(url).await.expect("connect");
    let mut sub = responder.subscribe("bench.echo").await.expect("subscribe");
    let r2 = responder.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            if let Some(reply) = m.reply {
                let _ = r2.publish(reply, m.payload).await;
            }
        }
    });
    responder.flush().await.unwrap();
}

/// What a run against a fresh `vpcroute-ipam` measured.
struct IpamRun {
    measured: Measured,
    cpu_json: serde_json::Value,
    in_log: i64,
}

/// A fresh `vpcroute-ipam` on a fresh data dir with its zone, `clients`
/// allocating tasks, then SIGKILL and a count of the events in its log.
async fn measure_ipam(
    nats: &NatsServer,
    conns: &[async_nats::Client],
    clients: usize,
    warmup: Duration,
    dur: Duration,
) -> IpamRun {
    let dir = tempfile::Builder::new()
        .prefix("vpcroute-bench-ipam-")
        .tempdir()
        .expect("tempdir");
    let mut child = spawn_ipam(dir.path(), &nats.url());
    wait_ready(&conns[0]).await;
    let _: msg::ZoneRecord = vpcroute_bus::request(
        &conns[0],
        subj::ZONE_ENABLE,
        &msg::ZoneEnable {
            request_id: format!("bench-zone-{clients}"),
            zone: "zone-1".into(),
            super_cidrs: vec!["10.0.0.0/8".into()],
        },
        TIMEOUT,
    )
    .await
    .expect("zone enable");
    let pid = child.id();
    let (cpu_ipam0, cpu_nats0, cpu_self0) = (
        cpu_secs(pid),
        cpu_secs(nats.pid().expect("running")),
        cpu_secs(std::process::id()),
    );
    let ipam = run_tasks(clients, conns, warmup, dur, move |c, w, id| {
        ipam_task(c, w, id, clients)
    })
    .await;
    let wall = warmup + dur;
    let cpu = |a: f64, b: f64| ((b - a) / wall.as_secs_f64() * 100.0).round() / 100.0;
    let ipam_cpu_s = cpu_secs(pid) - cpu_ipam0;
    let cpu_json = json!({
        "ipam_cores": cpu(cpu_ipam0, cpu_secs(pid)),
        // What one allocation costs the service, whatever else runs on
        // the machine (CPU over warm-up + window / answers in both).
        "ipam_us_per_alloc": (ipam_cpu_s * 1e6 / ipam.ok_total.max(1) as f64).round(),
        "nats_server_cores": cpu(cpu_nats0, cpu_secs(nats.pid().expect("running"))),
        "bench_client_cores": cpu(cpu_self0, cpu_secs(std::process::id())),
    });
    let _ = child.kill();
    let _ = child.wait();
    let in_log = count_events(&dir.path().join("ipam.sqlite"));
    IpamRun {
        measured: ipam,
        cpu_json,
        in_log,
    }
}

/// One concurrency level: the echo reference, then ipam, as one JSON
/// object of the `levels` list.
async fn measure_level(
    nats: &NatsServer,
    clients: usize,
    warmup: Duration,
    dur: Duration,
) -> serde_json::Value {
    let url = nats.url();
    let mut conns = Vec::new();
    for _ in 0..clients.min(4) {
        conns.push(async_nats::connect(&url).await.expect("connect"));
    }

    // Echo reference.
    let echo = run_tasks(clients, &conns, warmup, dur, |c, w, _| echo_task(c, w)).await;
    say!(
        "{clients} clients, echo: {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs",
        echo.ops as f64 / echo.secs,
        echo.all.p50 as f64 / 1e3,
        echo.all.p99 as f64 / 1e3
    );

    // ipam.
    let IpamRun {
        measured: ipam,
        cpu_json,
        in_log,
    } = measure_ipam(nats, &conns, clients, warmup, dur).await;
    // +1: the zone_enabled event.
    let durable_ok = in_log as u64 > ipam.ok_total;
    say!(
        "{clients} clients, ipam: {:.0} alloc/s, p50 {:.0} µs, p99 {:.0} µs, errors {}; {} answered, {} events in the log after SIGKILL; cpu {}",
        ipam.ops as f64 / ipam.secs,
        ipam.all.p50 as f64 / 1e3,
        ipam.all.p99 as f64 / 1e3,
        ipam.errors,
        ipam.ok_total,
        in_log,
        cpu_json
    );
    json!({
        "clients": clients,
        "connections": conns.len(),
        "echo": measured_json(&echo),
        "ipam": measured_json(&ipam),
        "p50_ratio_vs_echo": ((ipam.all.p50 as f64 / echo.all.p50.max(1) as f64) * 10.0).round() / 10.0,
        "answered_total": ipam.ok_total,
        "events_in_log_after_kill": in_log,
        "every_answer_durable": durable_ok,
        "cpu": cpu_json,
    })
}

#[tokio::main]
async fn main() {
    let levels: Vec<usize> = std::env::var("BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,16,64".into())
        .split(',')
        .map(|s| s.trim().parse().expect("BENCH_CLIENTS"))
        .collect();
    let dur = Duration::from_secs_f64(env_or("BENCH_SECONDS", 5.0));
    let warmup = Duration::from_secs(1);
    let nats = NatsServer::start().expect("nats-server is needed");
    let url = nats.url();
    say!("nats-server on {url}");
    start_echo_responder(&url).await;

    let mut results = Vec::new();
    for &clients in &levels {
        results.push(measure_level(&nats, clients, warmup, dur).await);
    }
    emit(json!({
        "bench": "ipam_nats",
        "measure_s": secs(dur),
        "warmup_s": secs(warmup),
        "durability": "Full (default: WAL + synchronous=FULL)",
        "levels": results,
    }));
}
