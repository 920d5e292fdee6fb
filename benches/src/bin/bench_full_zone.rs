//! Benchmark 9: a zone at full size through every interface (issue 14).
//!
//! One real `nats-server`, the release ipam, area-registry and
//! config-renderer, each with a fresh data directory. Sizes (env):
//! `FULL_ZONE_VPCS` (10000) VPCs of /22 in 10.0.0.0/8, each with a
//! virtual router; `FULL_ZONE_TIERS` (4) tiers of /24 per VPC;
//! `FULL_ZONE_VMS` (25) VMs per tier: 10,000 VPCs, 40,000 tiers and
//! 1,000,000 VMs by default.
//!
//! * **create**: the zone enabled with `vpcctl zone enable`, then every
//!   VPC, tier and VM through `vpcctl import` (one ordinary ipam request
//!   each, pipelined; BENCHMARKS.md §3 has the per-request costs). Timed
//!   from the import's start to its end, and on until config-renderer has
//!   versioned the last router's last change (its `service.status` says it
//!   has followed ipam's log to the end). Reference, same run: the first
//!   `FULL_ZONE_REF_VMS` (2000) VMs of a spare VPC's tier imported one at a
//!   time (`--window 1`).
//! * **reads**: `vpcctl show zone` (human and `--json`), time to its first
//!   and its last line; a full paged read of the zone (`zone.export`, every
//!   VPC, tier and VM): time, pages and bytes on the wire.
//! * **start-up**: each service stopped (SIGKILL) and started again on its
//!   log: time from spawn to its first answer (verify + replay + subscribe);
//!   RSS after start-up and the size of its log.
//! * **key rotation**: a new MD5 key for the zone; time until config-
//!   renderer has announced a new version of every router (step one of the
//!   rotation: both keys on every uplink).
//!
//! Prints one JSON line; asserts no timing.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use vpcroute_benches::{emit, env_or, loadavg, router_spec, rss_kib, say, secs, sibling_bin};
use vpcroute_bus::subjects;
use vpcroute_tests::{NatsServer, Service, ServiceKind};

struct Sizes {
    vpcs: u32,
    tiers: u32,
    vms: u32,
    ref_vms: u32,
}

/// Runs the release vpcctl; returns its JSON answer (panics on failure).
fn vpcctl(url: &str, args: &[&str]) -> Value {
    let out = Command::new(sibling_bin("vpcctl"))
        .arg("--json")
        .arg("--nats-url")
        .arg(url)
        .args(args)
        .output()
        .expect("run vpcctl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vpcctl {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The import file of the whole zone, written line by line (1 M lines,
/// ~90 MB: never held in memory).
fn write_zone_file(path: &Path, s: &Sizes) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for v in 0..s.vpcs {
        let r = router_spec(v);
        let line = json!({"op": "vpc.allocate", "request": {
            "request_id": format!("vpc-{v}"), "vpc": format!("vpc-{v}"), "zone": "z1",
            "prefix_length": 22,
            "router": {"name": r.name, "router_id": r.router_id,
                       "uplink_interface": r.uplink_interface, "uplink_address": r.uplink_address}}});
        writeln!(f, "{line}").unwrap();
        for t in 0..s.tiers {
            let tier = format!("tier-{v}-{t}");
            let line = json!({"op": "tier.allocate", "request": {
                "request_id": tier, "tier": tier, "vpc": format!("vpc-{v}"),
                "prefix_length": 24, "interface": format!("eth{}", t + 2)}});
            writeln!(f, "{line}").unwrap();
            for m in 0..s.vms {
                let vm = format!("vm-{v}-{t}-{m}");
                let line = json!({"op": "vm.allocate", "request": {
                    "request_id": vm, "vm": vm, "tier": tier}});
                writeln!(f, "{line}").unwrap();
            }
        }
    }
}

/// A service's `service.status` reply.
async fn status(client: &async_nats::Client, subject: &str) -> Option<Value> {
    vpcroute_bus::request(client, subject, &json!({}), Duration::from_secs(10))
        .await
        .ok()
}

/// The seq config-renderer has followed ipam's log to, and ipam's head.
async fn renderer_behind(client: &async_nats::Client) -> Option<(u64, u64)> {
    let config = status(client, subjects::config::SERVICE_STATUS).await?;
    let ipam = status(client, subjects::ipam::SERVICE_STATUS).await?;
    let followed = config["followed"]
        .as_array()?
        .iter()
        .find(|f| f["source"] == "ipam")?["applied_seq"]
        .as_u64()?;
    Some((followed, ipam["log"]["head"].as_u64()?))
}

/// Waits until config-renderer has applied every event of ipam's log.
async fn wait_renderer_caught_up(client: &async_nats::Client) {
    loop {
        if let Some((followed, head)) = renderer_behind(client).await {
            if followed >= head && head > 0 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create(url: &str, dir: &Path, s: &Sizes, client: &async_nats::Client) -> Value {
    let file = dir.join("zone.jsonl");
    write_zone_file(&file, s);
    let bytes = std::fs::metadata(&file).unwrap().len();
    let items = s.vpcs as u64 * (1 + s.tiers as u64 * (1 + s.vms as u64));
    say!("importing {items} items ({} MB)", bytes / 1_000_000);
    let t0 = Instant::now();
    let out = vpcctl(url, &["import", file.to_str().unwrap()]);
    let import_s = secs(t0.elapsed());
    assert_eq!(out["succeeded"], items, "import: {out}");
    wait_renderer_caught_up(client).await;
    let rendered_s = secs(t0.elapsed());
    say!("imported in {import_s:.1} s, rendered after {rendered_s:.1} s");
    json!({
        "items": items, "file_mb": bytes / 1_000_000,
        "import_s": import_s, "items_per_s": (items as f64 / import_s).round(),
        "until_rendered_s": rendered_s,
    })
}

/// The same kind of request one at a time: the reference.
fn reference(url: &str, dir: &Path, s: &Sizes) -> Value {
    let file = dir.join("ref.jsonl");
    let mut f = std::fs::File::create(&file).unwrap();
    writeln!(
        f,
        "{}",
        json!({"op": "vpc.allocate", "request": {"vpc": "ref-vpc",
        "zone": "z1", "prefix_length": 20}})
    )
    .unwrap();
    writeln!(
        f,
        "{}",
        json!({"op": "tier.allocate", "request": {"tier": "ref-tier",
        "vpc": "ref-vpc", "prefix_length": 21}})
    )
    .unwrap();
    for m in 0..s.ref_vms {
        writeln!(
            f,
            "{}",
            json!({"op": "vm.allocate", "request": {
            "vm": format!("ref-vm-{m}"), "tier": "ref-tier"}})
        )
        .unwrap();
    }
    drop(f);
    let t0 = Instant::now();
    vpcctl(url, &["import", "--window", "1", file.to_str().unwrap()]);
    let took = secs(t0.elapsed());
    json!({"items": s.ref_vms + 2, "window": 1, "s": took,
           "items_per_s": ((s.ref_vms + 2) as f64 / took).round()})
}

fn db_mb(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.contains(".sqlite") {
            total += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total / 1_000_000
}

/// `vpcctl show zone z1` (human, or `--json`): time to its first and last
/// line of output, and bytes printed.
fn show_zone(url: &str, json_out: bool) -> Value {
    use std::io::BufRead;
    let mut cmd = Command::new(sibling_bin("vpcctl"));
    cmd.arg("--nats-url").arg(url).args(["show", "zone", "z1"]);
    if json_out {
        cmd.arg("--json");
    }
    let t0 = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run vpcctl");
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut lines, mut bytes) = (None, 0u64, 0u64);
    for line in out.lines() {
        let line = line.expect("vpcctl output");
        first.get_or_insert_with(|| secs(t0.elapsed()));
        lines += 1;
        bytes += line.len() as u64 + 1;
    }
    let last = secs(t0.elapsed());
    assert!(child.wait().unwrap().success(), "vpcctl show zone failed");
    json!({"first_line_s": first, "last_line_s": last, "lines": lines, "bytes": bytes})
}

/// Every VPC, tier and VM of the zone through `zone.export`, page after
/// page: time, pages, rows and bytes on the wire (requests and replies).
async fn paged_read(client: &async_nats::Client) -> Value {
    let t0 = Instant::now();
    let (mut after, mut pages, mut rows, mut wire): (Option<String>, u64, u64, u64) =
        (None, 0, 0, 0);
    loop {
        let mut req = json!({"name": "z1"});
        if let Some(a) = &after {
            req["after"] = json!(a);
        }
        let payload = serde_json::to_vec(&req).unwrap();
        wire += payload.len() as u64;
        let msg = client
            .request(subjects::ipam::ZONE_EXPORT, payload.into())
            .await
            .expect("zone.export");
        wire += msg.payload.len() as u64;
        let reply: Value = serde_json::from_slice(&msg.payload).expect("json");
        let page = &reply["ok"];
        assert!(page.is_object(), "zone.export: {reply}");
        pages += 1;
        rows += page["items"].as_array().map_or(0, |a| a.len() as u64);
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    let took = secs(t0.elapsed());
    say!(
        "paged read: {rows} rows in {pages} pages, {} MB, {took:.2} s",
        wire / 1_000_000
    );
    json!({"s": took, "pages": pages, "rows": rows, "wire_bytes": wire})
}

/// Kills each service, starts it again on its log, and times it.
async fn restarts(services: &mut [(&'static str, Service)]) -> Value {
    let mut out = serde_json::Map::new();
    for (name, svc) in services.iter_mut() {
        // Peak of the process that took every request (and, for the
        // renderer, rendered every version), before it goes.
        let (_, hwm_before) = rss_kib(svc.pid());
        svc.kill9();
        let t0 = Instant::now();
        svc.restart().await;
        let up = secs(t0.elapsed());
        let (rss, hwm) = rss_kib(svc.pid());
        say!("{name}: up in {up:.2} s, RSS {} MiB", rss / 1024);
        out.insert(
            name.to_string(),
            json!({"startup_s": up, "rss_mib": rss / 1024, "hwm_mib": hwm / 1024,
                   "hwm_while_creating_mib": hwm_before / 1024,
                   "log_mb": db_mb(svc.data_dir())}),
        );
    }
    Value::Object(out)
}

/// A new key; time until every router has a new version announced.
async fn rotation(url: &str, dir: &Path, client: &async_nats::Client, routers: u32) -> Value {
    let mut updates = client
        .subscribe(format!("{}.*", subjects::config::UPDATED_PREFIX))
        .await
        .unwrap();
    let key = dir.join("new.key");
    std::fs::write(&key, "Rotated-Key_2").unwrap();
    let t0 = Instant::now();
    vpcctl(
        url,
        &[
            "zone",
            "update",
            "z1",
            "--auth-key-file",
            key.to_str().unwrap(),
        ],
    );
    let mut seen = HashSet::new();
    while seen.len() < routers as usize {
        match tokio::time::timeout(Duration::from_secs(60), updates.next()).await {
            Ok(Some(m)) => {
                seen.insert(m.subject.to_string());
            }
            _ => break,
        }
    }
    let took = secs(t0.elapsed());
    say!(
        "rotation: {} routers re-rendered in {took:.2} s",
        seen.len()
    );
    json!({"routers": seen.len(), "s": took})
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let s = Sizes {
        vpcs: env_or("FULL_ZONE_VPCS", 10_000),
        tiers: env_or("FULL_ZONE_TIERS", 4),
        vms: env_or("FULL_ZONE_VMS", 25),
        ref_vms: env_or("FULL_ZONE_REF_VMS", 2_000),
    };
    std::env::set_var("VPCROUTE_BIN_DIR", sibling_bin("."));
    let nats = NatsServer::start().expect("nats-server is needed");
    let url = nats.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().to_path_buf();
    let mut services = vec![
        (
            "ipam",
            Service::start(ServiceKind::Ipam, &url, &dir.join("ipam")).await,
        ),
        (
            "area_registry",
            Service::start(ServiceKind::AreaRegistry, &url, &dir.join("areas")).await,
        ),
        (
            "config_renderer",
            Service::start(ServiceKind::ConfigRenderer, &url, &dir.join("config")).await,
        ),
    ];
    let client = async_nats::connect(&url).await.unwrap();
    let key = dir.join("zone.key");
    std::fs::write(&key, "Bench-Key_1").unwrap();
    vpcctl(
        &url,
        &[
            "zone",
            "enable",
            "z1",
            "--super-cidr",
            "10.0.0.0/8",
            "--auth",
            "md5",
            "--auth-key-file",
            key.to_str().unwrap(),
        ],
    );
    let created = create(&url, &dir, &s, &client).await;
    let reference = reference(&url, &dir, &s);
    let show_human = show_zone(&url, false);
    let show_json = show_zone(&url, true);
    let paged = paged_read(&client).await;
    let startup = restarts(&mut services).await;
    let rotation = rotation(&url, &dir, &client, s.vpcs).await;
    emit(json!({
        "bench": "full_zone",
        "vpcs": s.vpcs, "tiers": s.vpcs * s.tiers, "vms": s.vpcs * s.tiers * s.vms,
        "create": created, "reference_one_at_a_time": reference,
        "show_zone": {"human": show_human, "json": show_json}, "paged_read": paged,
        "startup": startup, "rotation": rotation,
        "loadavg_at_end": loadavg(),
    }));
}
