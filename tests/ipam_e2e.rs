//! End to end: the real `vpcroute-ipam` service and the real `vpcctl`
//! binary, over a real `nats-server`. Each test has its own NATS server and
//! data directory, so they run in parallel.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use ipnet::IpNet;
use serde_json::{json, Value};
use vpcroute_bus::subjects::ipam as subj;
use vpcroute_bus::RequestError;
use vpcroute_protocol::ipam::*;
use vpcroute_protocol::{BusEvent, ErrorCode};
use vpcroute_tests::wiretap::Direction;
use vpcroute_tests::{
    nats_or_skip, vpcctl, Client, NatsServer, SchemaSet, Service, ServiceKind, Wiretap,
};

/// A NATS server, a data directory and an ipam service on them.
struct World {
    nats: NatsServer,
    dir: tempfile::TempDir,
    ipam: Service,
}

impl World {
    async fn start(nats: NatsServer) -> World {
        let dir = tempfile::Builder::new()
            .prefix("vpcroute-ipam-")
            .tempdir()
            .expect("tempdir");
        let ipam = Service::start(ServiceKind::Ipam, &nats.url(), dir.path()).await;
        World { nats, dir, ipam }
    }

    fn url(&self) -> String {
        self.nats.url()
    }

    async fn ctl(&self, args: &[&str]) -> vpcroute_tests::CliOutput {
        vpcctl(&self.url(), args).await
    }

    async fn show_zone(&self, zone: &str) -> String {
        let out = self.ctl(&["show", "zone", zone]).await;
        assert!(out.ok(), "show zone {zone} failed: {}", out.stdout);
        out.stdout
    }
}

fn net(v: &Value) -> IpNet {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a CIDR string, got {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("{v} is not a CIDR: {e}"))
}

fn addr(v: &Value) -> IpAddr {
    v.as_str()
        .unwrap_or_else(|| panic!("expected an address string, got {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("{v} is not an address: {e}"))
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The Figure 3 scenario of the design article, through `vpcctl`.
/// Returns the JSON outputs keyed by object name.
async fn figure3(w: &World) -> BTreeMap<&'static str, Value> {
    let mut out = BTreeMap::new();
    out.insert(
        "z1",
        w.ctl(&["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"])
            .await
            .expect_ok(),
    );
    #[rustfmt::skip]
    let left = w.ctl(&["vpc", "create", "left", "--zone", "z1", "--netmask", "255.255.252.0",
        "--router", "left-vr", "--router-id", "10.255.0.1", "--uplink", "eth1=192.168.100.2/24"]).await;
    out.insert("left", left.expect_ok());
    #[rustfmt::skip]
    let right = w.ctl(&["vpc", "create", "right", "--zone", "z1", "--netmask", "255.255.252.0",
        "--router", "right-vr", "--router-id", "10.255.0.2", "--uplink", "eth1=192.168.100.3/24"]).await;
    out.insert("right", right.expect_ok());
    #[rustfmt::skip]
    let lt = w.ctl(&["tier", "create", "left-tier", "--vpc", "left", "--gateway", "10.1.1.1",
        "--netmask", "255.255.255.0", "--interface", "eth2"]).await;
    out.insert("left-tier", lt.expect_ok());
    #[rustfmt::skip]
    let rt = w.ctl(&["tier", "create", "right-tier", "--vpc", "right", "--gateway", "10.1.5.1",
        "--netmask", "255.255.255.0"]).await;
    out.insert("right-tier", rt.expect_ok());
    out.insert(
        "left-vm",
        w.ctl(&["vm", "create", "left-vm", "--tier", "left-tier"])
            .await
            .expect_ok(),
    );
    out.insert(
        "right-vm",
        w.ctl(&["vm", "create", "right-vm", "--tier", "right-tier"])
            .await
            .expect_ok(),
    );
    out
}

// ------------------------------------------------------------------ (a)

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn figure3_scenario_through_vpcctl() {
    let w = World::start(nats_or_skip!()).await;
    let r = figure3(&w).await;

    assert_eq!(
        r["z1"],
        json!({"zone": "z1", "super_cidrs": ["10.1.0.0/16"]})
    );
    let zone: IpNet = "10.1.0.0/16".parse().unwrap();
    let (left, right) = (net(&r["left"]["cidr"]), net(&r["right"]["cidr"]));
    for (name, v) in [("left", left), ("right", right)] {
        assert_eq!(
            v.prefix_len(),
            22,
            "{name} must be a /22 (netmask 255.255.252.0)"
        );
        assert!(zone.contains(&v), "{name} {v} must lie inside {zone}");
    }
    assert!(!overlaps(&left, &right), "VPCs overlap: {left} {right}");
    assert_eq!(
        r["left"]["router"],
        json!({"name": "left-vr", "router_id": "10.255.0.1",
               "uplink_interface": "eth1", "uplink_address": "192.168.100.2/24"})
    );
    assert_eq!(r["right"]["router"]["router_id"], "10.255.0.2");

    // The article's gateways 10.1.1.1 and 10.1.5.1 need lowest-first
    // carving: left = 10.1.0.0/22, right = 10.1.4.0/22.
    assert_eq!(left.to_string(), "10.1.0.0/22");
    assert_eq!(right.to_string(), "10.1.4.0/22");

    let tiers = [
        ("left-tier", left, "left-vm"),
        ("right-tier", right, "right-vm"),
    ];
    for (tier, vpc_cidr, vm) in tiers {
        let t = &r[tier];
        let cidr = net(&t["cidr"]);
        let gw = addr(&t["gateway"]);
        assert_eq!(cidr.prefix_len(), 24);
        assert!(
            vpc_cidr.contains(&cidr),
            "{tier} {cidr} outside its VPC {vpc_cidr}"
        );
        assert!(cidr.contains(&gw));
        let ip = addr(&r[vm]["ip"]);
        assert_eq!(r[vm]["tier"], tier);
        assert!(cidr.contains(&ip), "{vm} {ip} outside {tier} {cidr}");
        assert_ne!(ip, cidr.network(), "{vm} got the network address");
        assert_ne!(ip, gw, "{vm} got the gateway");
        assert_ne!(ip, cidr.broadcast(), "{vm} got the broadcast address");
    }
    assert_eq!(r["left-tier"]["cidr"], "10.1.1.0/24");
    assert_eq!(r["left-tier"]["interface"], "eth2");
    assert_eq!(r["right-tier"]["cidr"], "10.1.5.0/24");
    assert!(r["right-tier"].get("interface").is_none());

    // `show zone` holds all of it, with utilisation.
    let z = w.ctl(&["show", "zone", "z1"]).await.expect_ok();
    assert_eq!(z["zone"], "z1");
    assert_eq!(z["super_cidrs"], json!(["10.1.0.0/16"]));
    assert_eq!(z["usage_ipv4"]["total"], 65536);
    assert_eq!(z["usage_ipv4"]["used"], 2048);
    assert_eq!(z["usage_ipv4"]["free"], 65536 - 2048);
    // The largest free block (the lowest of the largest).
    assert_eq!(z["usage_ipv4"]["largest_free"], "10.1.128.0/17");
    assert_eq!(z["usage_ipv6"]["total"], 0);
    let vpcs = z["vpcs"].as_array().expect("vpcs");
    assert_eq!(vpcs.len(), 2);
    for (v, name) in vpcs.iter().zip(["left", "right"]) {
        assert_eq!(v["vpc"], name);
        assert_eq!(v["zone"], "z1");
        assert_eq!(v["cidr"], r[name]["cidr"]);
        assert_eq!(v["router"], r[name]["router"]);
        assert_eq!(v["usage"]["total"], 1024);
        assert_eq!(v["usage"]["used"], 256);
        assert_eq!(v["usage"]["free"], 768);
        let tiers = v["tiers"].as_array().expect("tiers");
        assert_eq!(tiers.len(), 1);
        let t = &tiers[0];
        let tier = format!("{name}-tier");
        assert_eq!(t["tier"], tier.as_str());
        assert_eq!(t["cidr"], r[tier.as_str()]["cidr"]);
        assert_eq!(t["gateway"], r[tier.as_str()]["gateway"]);
        assert_eq!(t["usage"]["used"], 1, "one VM in {tier}: {t}");
        let total = t["usage"]["total"].as_u64().unwrap();
        assert!((252..=256).contains(&total), "host count of a /24: {total}");
        assert_eq!(t["usage"]["free"], total - 1);
        let vm = format!("{name}-vm");
        assert_eq!(
            t["vms"],
            json!([{"vm": vm, "tier": tier, "ip": r[vm.as_str()]["ip"]}])
        );
    }
    // `show vpc` agrees with `show zone` (and may add what other services
    // know of the VPC, e.g. its OSPF area).
    let v = w.ctl(&["show", "vpc", "left"]).await.expect_ok();
    for (key, value) in vpcs[0].as_object().unwrap() {
        assert_eq!(&v[key], value, "show vpc left: {key}");
    }
}

// ------------------------------------------------------------------ (b)

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_requests_change_nothing_and_retries_are_idempotent() {
    let w = World::start(nats_or_skip!()).await;
    figure3(&w).await;
    let client = Client::connect(&w.url()).await;
    let head = || async { client.events_read(1, 1).await.expect("events.read").head };

    #[rustfmt::skip]
    let cases: &[(&str, &[&str], ErrorCode)] = &[
        ("VPC larger than the free space",
         &["vpc", "create", "huge", "--zone", "z1", "--netmask", "255.255.0.0"], ErrorCode::NoSpace),
        ("VPC larger than the zone",
         &["vpc", "create", "huge", "--zone", "z1", "--prefix-length", "8"], ErrorCode::NoSpace),
        ("tier larger than its VPC",
         &["tier", "create", "big", "--vpc", "left", "--prefix-length", "21"], ErrorCode::NoSpace),
        ("tier outside its VPC",
         &["tier", "create", "out", "--vpc", "left", "--gateway", "10.1.9.1", "--netmask", "255.255.255.0"],
         ErrorCode::OutsideParent),
        ("tier overlapping a tier",
         &["tier", "create", "over", "--vpc", "left", "--gateway", "10.1.1.129", "--netmask", "255.255.255.128"],
         ErrorCode::Overlap),
        ("unknown zone",
         &["vpc", "create", "x", "--zone", "nowhere", "--netmask", "255.255.255.0"], ErrorCode::UnknownZone),
        ("unknown VPC",
         &["tier", "create", "x", "--vpc", "nowhere", "--prefix-length", "24"], ErrorCode::UnknownVpc),
        ("unknown tier", &["vm", "create", "x", "--tier", "nowhere"], ErrorCode::UnknownTier),
        ("super-CIDR with host bits", &["zone", "enable", "z2", "--super-cidr", "10.2.0.1/16"], ErrorCode::InvalidCidr),
        ("malformed super-CIDR", &["zone", "enable", "z2", "--super-cidr", "10.2.0.0/33"], ErrorCode::InvalidCidr),
        ("garbage super-CIDR", &["zone", "enable", "z2", "--super-cidr", "banana"], ErrorCode::InvalidCidr),
        ("overlapping super-CIDRs",
         &["zone", "enable", "z2", "--super-cidr", "10.2.0.0/16", "--super-cidr", "10.2.128.0/17"],
         ErrorCode::Overlap),
        ("non-contiguous netmask",
         &["vpc", "create", "x", "--zone", "z1", "--netmask", "255.0.255.0"], ErrorCode::InvalidNetmask),
        ("netmask that is no address",
         &["vpc", "create", "x", "--zone", "z1", "--netmask", "255.255.255.256"], ErrorCode::InvalidNetmask),
        ("VM on the gateway", &["vm", "create", "x", "--tier", "left-tier", "--ip", "10.1.1.1"], ErrorCode::ReservedAddress),
        ("VM on the network address",
         &["vm", "create", "x", "--tier", "left-tier", "--ip", "10.1.1.0"], ErrorCode::ReservedAddress),
        ("VM on the broadcast address",
         &["vm", "create", "x", "--tier", "left-tier", "--ip", "10.1.1.255"], ErrorCode::ReservedAddress),
        ("VM outside its tier",
         &["vm", "create", "x", "--tier", "left-tier", "--ip", "10.1.2.10"], ErrorCode::OutsideParent),
        ("VM twice", &["vm", "create", "left-vm", "--tier", "left-tier"], ErrorCode::AlreadyExists),
        ("VPC with tiers", &["vpc", "delete", "left"], ErrorCode::NotEmpty),
        ("tier with VMs", &["tier", "delete", "left-tier"], ErrorCode::NotEmpty),
        ("removing a super-CIDR in use",
         &["zone", "update", "z1", "--super-cidr", "10.9.0.0/16"], ErrorCode::InUse),
        ("duplicate router id",
         &["vpc", "create", "third", "--zone", "z1", "--prefix-length", "24", "--router", "third-vr",
           "--router-id", "10.255.0.1", "--uplink", "eth1=192.168.100.4/24"], ErrorCode::AlreadyExists),
    ];
    for (what, args, code) in cases {
        let before = w.show_zone("z1").await;
        let head_before = head().await;
        let out = w.ctl(args).await;
        assert_ne!(out.code, 0, "{what}: vpcctl must fail: {}", out.stdout);
        let err = out
            .json
            .get("error")
            .unwrap_or_else(|| panic!("{what}: expected {{\"error\":...}}, got {}", out.stdout));
        assert_eq!(
            err.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["code".to_string(), "message".to_string()]),
            "{what}: {err}"
        );
        assert_eq!(err["code"], code.as_str(), "{what}: {err}");
        assert!(
            !err["message"].as_str().unwrap_or("").is_empty(),
            "{what}: empty message"
        );
        assert_eq!(before, w.show_zone("z1").await, "{what} changed the zone");
        assert_eq!(head_before, head().await, "{what} appended events");
    }
    // The failed `zone enable z2`s created nothing either.
    let z2 = w.ctl(&["show", "zone", "z2"]).await;
    assert_eq!(z2.error_code(), Some("unknown_zone"), "{}", z2.stdout);

    // The same request id twice: one allocation, the same answer.
    let head_before = head().await;
    let create = [
        "vpc",
        "create",
        "idem",
        "--zone",
        "z1",
        "--prefix-length",
        "24",
        "--request-id",
        "rid-idem-1",
    ];
    let first = w.ctl(&create).await;
    assert!(first.ok(), "{}", first.stdout);
    let after_first = w.show_zone("z1").await;
    let second = w.ctl(&create).await;
    assert!(
        second.ok(),
        "a retry must succeed, not say already_exists: {}",
        second.stdout
    );
    assert_eq!(
        first.stdout, second.stdout,
        "a retry gets the original answer"
    );
    assert_eq!(
        after_first,
        w.show_zone("z1").await,
        "a retry must not act twice"
    );
    assert_eq!(head().await, head_before + 1, "one event for one request");
    let z: Value = serde_json::from_str(&after_first).unwrap();
    let idem: Vec<&Value> = z["vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["vpc"] == "idem")
        .collect();
    assert_eq!(idem.len(), 1);
    assert_eq!(idem[0]["cidr"], first.json["cidr"]);

    // The same id with another body is refused, changing nothing.
    #[rustfmt::skip]
    let conflicts: &[&[&str]] = &[
        &["vpc", "create", "idem2", "--zone", "z1", "--prefix-length", "24", "--request-id", "rid-idem-1"],
        &["vpc", "create", "idem", "--zone", "z1", "--prefix-length", "25", "--request-id", "rid-idem-1"],
        &["vm", "create", "vm9", "--tier", "left-tier", "--request-id", "rid-idem-1"],
    ];
    for args in conflicts {
        let out = w.ctl(args).await;
        assert_ne!(out.code, 0);
        assert_eq!(
            out.error_code(),
            Some("request_id_conflict"),
            "{args:?}: {}",
            out.stdout
        );
        assert_eq!(after_first, w.show_zone("z1").await);
    }
    assert_eq!(head().await, head_before + 1);
}

// ------------------------------------------------------------------ (c)

#[derive(Debug, Clone)]
enum Acked {
    Vpc(VpcRecord),
    Tier(TierRecord),
    Vm(VmRecord),
}

/// Requests of the workload that got no answer and were sent again.
static RETRIES: AtomicUsize = AtomicUsize::new(0);

/// Retries with the same request id until the service answers.
async fn until_answered<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    let counted = || {
        let fut = f();
        async move {
            let r = fut.await;
            if matches!(
                r,
                Err(RequestError::Unavailable(_) | RequestError::NoResponders(_))
            ) {
                RETRIES.fetch_add(1, Ordering::Relaxed);
            }
            r
        }
    };
    match Client::retry(Duration::from_secs(30), counted).await {
        Ok(v) => v,
        Err(e) => panic!("workload request failed: {e}"),
    }
}

/// One workload task: VPC, tier, VM, again and again, until `stop`.
async fn workload_task(
    client: Client,
    task: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<Acked>>>,
    count: Arc<AtomicUsize>,
) {
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let vpc = format!("w{task}-{i}");
        let tier = format!("{vpc}-t");
        let vm = format!("{vpc}-vm");
        let req = VpcAllocate {
            request_id: format!("rid-{vpc}"),
            vpc: vpc.clone(),
            zone: "z1".into(),
            netmask: None,
            prefix_length: Some(24),
            family: Some(Family::Ipv4),
            router: None,
        };
        let r = until_answered(|| client.vpc_allocate(&req)).await;
        acked.lock().unwrap().push(Acked::Vpc(r));
        count.fetch_add(1, Ordering::Relaxed);
        let req = TierAllocate {
            request_id: format!("rid-{tier}"),
            tier: tier.clone(),
            vpc: vpc.clone(),
            gateway: None,
            netmask: None,
            prefix_length: Some(26),
            interface: Some("eth2".into()),
            acl: None,
        };
        let r = until_answered(|| client.tier_allocate(&req)).await;
        acked.lock().unwrap().push(Acked::Tier(r));
        count.fetch_add(1, Ordering::Relaxed);
        let req = VmAllocate {
            request_id: format!("rid-{vm}"),
            vm: vm.clone(),
            tier: tier.clone(),
            ip: None,
        };
        let r = until_answered(|| client.vm_allocate(&req)).await;
        acked.lock().unwrap().push(Acked::Vm(r));
        count.fetch_add(1, Ordering::Relaxed);
        i += 1;
    }
}

async fn wait_for_count(count: &AtomicUsize, at_least: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count.load(Ordering::Relaxed) < at_least {
        assert!(
            tokio::time::Instant::now() < deadline,
            "workload stalled at {} acknowledged requests",
            count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every acknowledged result is in the zone view, unchanged; returns how
/// many VPCs, tiers and VMs the view holds.
fn check_present(z: &ZoneView, acked: &[Acked]) -> (usize, usize, usize) {
    let vpcs: BTreeMap<&str, &VpcView> = z.vpcs.iter().map(|v| (v.vpc.as_str(), v)).collect();
    let tiers: BTreeMap<&str, &TierView> = z
        .vpcs
        .iter()
        .flat_map(|v| &v.tiers)
        .map(|t| (t.tier.as_str(), t))
        .collect();
    let vms: BTreeMap<&str, &VmRecord> = z
        .vpcs
        .iter()
        .flat_map(|v| &v.tiers)
        .flat_map(|t| &t.vms)
        .map(|vm| (vm.vm.as_str(), vm))
        .collect();
    for a in acked {
        match a {
            Acked::Vpc(r) => {
                let v = vpcs
                    .get(r.vpc.as_str())
                    .unwrap_or_else(|| panic!("acknowledged VPC {} lost", r.vpc));
                assert_eq!(v.cidr, r.cidr, "VPC {} changed its CIDR", r.vpc);
            }
            Acked::Tier(r) => {
                let t = tiers
                    .get(r.tier.as_str())
                    .unwrap_or_else(|| panic!("acknowledged tier {} lost", r.tier));
                assert_eq!(
                    (t.cidr, t.gateway),
                    (r.cidr, r.gateway),
                    "tier {} changed",
                    r.tier
                );
            }
            Acked::Vm(r) => {
                let vm = vms
                    .get(r.vm.as_str())
                    .unwrap_or_else(|| panic!("acknowledged VM {} lost", r.vm));
                assert_eq!(vm.ip, r.ip, "VM {} changed its address", r.vm);
            }
        }
    }
    (vpcs.len(), tiers.len(), vms.len())
}

/// Every acknowledged result is in the zone view, and the view holds
/// nothing else; VPCs, tiers and VMs do not overlap.
fn check_zone_holds(z: &ZoneView, acked: &[Acked]) {
    let held = check_present(z, acked);
    let count = |f: fn(&Acked) -> bool| acked.iter().filter(|a| f(a)).count();
    let n = (
        count(|a| matches!(a, Acked::Vpc(_))),
        count(|a| matches!(a, Acked::Tier(_))),
        count(|a| matches!(a, Acked::Vm(_))),
    );
    // Every request was retried until answered, so whatever is durable was
    // acknowledged: anything more would be a request decided twice.
    assert_eq!(
        held, n,
        "allocations nobody acknowledged (VPCs, tiers, VMs)"
    );
    let all: Vec<&VpcView> = z.vpcs.iter().collect();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert!(
                !overlaps(&a.cidr, &b.cidr),
                "VPCs {} {} and {} {} overlap",
                a.vpc,
                a.cidr,
                b.vpc,
                b.cidr
            );
        }
        for t in &a.tiers {
            assert!(
                a.cidr.contains(&t.cidr),
                "tier {} outside VPC {}",
                t.tier,
                a.vpc
            );
            for vm in &t.vms {
                assert!(
                    t.cidr.contains(&vm.ip) && vm.ip != t.gateway,
                    "VM {} misplaced",
                    vm.vm
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_mid_workload_loses_nothing_acknowledged() {
    let mut w = World::start(nats_or_skip!()).await;
    let client = Client::connect(&w.url())
        .await
        .with_timeout(Duration::from_millis(750));
    let z1 = ZoneEnable {
        request_id: "rid-z1".into(),
        zone: "z1".into(),
        super_cidrs: vec!["10.0.0.0/8".into()],
    };
    until_answered(|| client.zone_enable(&z1)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            tokio::spawn(workload_task(
                client.clone(),
                t,
                stop.clone(),
                acked.clone(),
                count.clone(),
            ))
        })
        .collect();

    // Kill while the tasks have requests in flight.
    wait_for_count(&count, 60).await;
    let before_kill: Vec<Acked> = acked.lock().unwrap().clone();
    w.ipam.kill9();
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.ipam.restart().await;
    // Everything acknowledged before the kill survived it.
    let z = client.zone_show("z1").await.expect("show zone");
    check_present(&z, &before_kill);
    // The workload resumes (retrying what was in flight) after the restart.
    let n = count.load(Ordering::Relaxed);
    wait_for_count(&count, n + 60).await;
    assert!(
        RETRIES.load(Ordering::Relaxed) > 0,
        "the kill hit no request in flight: nothing was retried"
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("workload task");
    }
    let acked: Vec<Acked> = acked.lock().unwrap().clone();

    let before = w.show_zone("z1").await;
    let view: ZoneView = serde_json::from_str(&before).unwrap();
    check_zone_holds(&view, &acked);

    // A quiet kill and restart: the zone is byte-for-byte the same.
    w.ipam.kill9();
    w.ipam.restart().await;
    let after = w.show_zone("z1").await;
    assert_eq!(before, after, "show zone differs across kill -9 + restart");

    // New allocations never overlap old ones.
    let old_vpcs: Vec<IpNet> = view.vpcs.iter().map(|v| v.cidr).collect();
    for i in 0..5 {
        let r = client
            .vpc_allocate(&VpcAllocate {
                request_id: format!("rid-new-{i}"),
                vpc: format!("new-{i}"),
                zone: "z1".into(),
                netmask: Some("255.255.255.0".into()),
                prefix_length: None,
                family: Some(Family::Ipv4),
                router: None,
            })
            .await
            .expect("new VPC");
        for old in &old_vpcs {
            assert!(
                !overlaps(old, &r.cidr),
                "new VPC {} overlaps old {old}",
                r.cidr
            );
        }
    }
    let tier = &view.vpcs[0].tiers[0];
    let r = client
        .vm_allocate(&VmAllocate {
            request_id: "rid-new-vm".into(),
            vm: "new-vm".into(),
            tier: tier.tier.clone(),
            ip: None,
        })
        .await
        .expect("new VM");
    assert!(tier.cidr.contains(&r.ip));
    assert!(
        tier.vms.iter().all(|vm| vm.ip != r.ip),
        "new VM got {}, which is taken",
        r.ip
    );
    assert_ne!(r.ip, tier.gateway);
}

// ------------------------------------------------------------------ (d)

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn log_verify_detects_an_edited_event_and_the_service_refuses_it() {
    let mut w = World::start(nats_or_skip!()).await;
    figure3(&w).await;
    let dir = w.dir.path().to_str().unwrap().to_string();

    // Fresh log: ok, while the service runs and after it stopped.
    let ok = w
        .ctl(&["log", "verify", "--data-dir", &dir])
        .await
        .expect_ok();
    assert_eq!(ok["logs"][0]["ok"], true, "{ok}");
    assert_eq!(ok["logs"][0]["events"], 7, "{ok}");
    w.ipam.kill9();
    let ok = w
        .ctl(&["log", "verify", "--data-dir", &dir])
        .await
        .expect_ok();
    assert_eq!(ok["logs"][0]["events"], 7, "{ok}");

    // Move VPC "right" by hand: drop the append-only trigger, then UPDATE.
    let db = w.dir.path().join("ipam.sqlite");
    let seq: i64 = {
        let conn = rusqlite::Connection::open(&db).expect("open log");
        let seq: i64 = conn
            .query_row(
                "SELECT seq FROM events WHERE event_type = 'vpc_allocated' AND payload LIKE '%\"right\"%'",
                [],
                |r| r.get(0),
            )
            .expect("right's event");
        let err = conn
            .execute("UPDATE events SET payload = payload WHERE seq = ?1", [seq])
            .expect_err("the trigger keeps events append-only");
        assert!(err.to_string().contains("append-only"), "{err}");
        conn.execute_batch("DROP TRIGGER events_no_update")
            .expect("drop trigger");
        let n = conn
            .execute(
                "UPDATE events SET payload = replace(payload, '10.1.4.0/22', '10.1.8.0/22') WHERE seq = ?1",
                [seq],
            )
            .expect("update");
        assert_eq!(n, 1);
        let payload: String = conn
            .query_row("SELECT payload FROM events WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(payload.contains("10.1.8.0/22"), "{payload}");
        seq
    };

    let out = w.ctl(&["log", "verify", "--data-dir", &dir]).await;
    assert_ne!(out.code, 0, "verify must fail: {}", out.stdout);
    assert_eq!(out.error_code(), Some("corrupt_log"), "{}", out.stdout);
    let msg = out.error_message().unwrap();
    assert!(
        msg.contains(&format!("event {seq} ")),
        "message must name event {seq}: {msg}"
    );

    let report = Service::run_to_exit(
        ServiceKind::Ipam,
        &w.url(),
        w.dir.path(),
        Duration::from_secs(15),
    );
    assert!(
        !report.status.success(),
        "the service must refuse a corrupt log"
    );
    assert!(
        report.stderr.contains(&format!("seq {seq}")),
        "stderr must name event {seq}:\n{}",
        report.stderr
    );
}

// ------------------------------------------------------------------ (e)

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registers_with_the_nats_services_api() {
    let w = World::start(nats_or_skip!()).await;
    let nc = async_nats::connect(w.url()).await.unwrap();
    let ask = |subject: &'static str| {
        let nc = nc.clone();
        async move {
            let m = tokio::time::timeout(Duration::from_secs(5), nc.request(subject, "".into()))
                .await
                .unwrap_or_else(|_| panic!("no answer on {subject}"))
                .unwrap_or_else(|e| panic!("{subject}: {e}"));
            serde_json::from_slice::<Value>(&m.payload).expect("JSON")
        }
    };
    for subject in ["$SRV.PING.vpcroute-ipam", "$SRV.PING"] {
        let ping = ask(subject).await;
        assert_eq!(ping["name"], "vpcroute-ipam", "{ping}");
        assert_eq!(ping["type"], "io.nats.micro.v1.ping_response", "{ping}");
        assert!(!ping["version"].as_str().unwrap_or("").is_empty(), "{ping}");
    }
    let info = ask("$SRV.INFO.vpcroute-ipam").await;
    assert_eq!(info["name"], "vpcroute-ipam", "{info}");
    assert_eq!(info["type"], "io.nats.micro.v1.info_response", "{info}");
    assert!(
        !info["description"].as_str().unwrap_or("").is_empty(),
        "{info}"
    );
    let endpoints: BTreeMap<String, String> = info["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("zone_enable", subj::ZONE_ENABLE),
        ("zone_update", subj::ZONE_UPDATE),
        ("zone_show", subj::ZONE_SHOW),
        ("vpc_allocate", subj::VPC_ALLOCATE),
        ("vpc_release", subj::VPC_RELEASE),
        ("vpc_show", subj::VPC_SHOW),
        ("tier_allocate", subj::TIER_ALLOCATE),
        ("tier_release", subj::TIER_RELEASE),
        ("vm_allocate", subj::VM_ALLOCATE),
        ("vm_release", subj::VM_RELEASE),
        ("vm_show", subj::VM_SHOW),
        ("acl_create", subj::ACL_CREATE),
        ("acl_delete", subj::ACL_DELETE),
        ("acl_show", subj::ACL_SHOW),
        ("acl_rule_add", subj::ACL_RULE_ADD),
        ("acl_rule_delete", subj::ACL_RULE_DELETE),
        ("tier_set_acl", subj::TIER_SET_ACL),
        ("service_status", subj::SERVICE_STATUS),
        ("events_read", subj::EVENTS_READ),
        ("zone_summary", subj::ZONE_SUMMARY),
        ("zone_export", subj::ZONE_EXPORT),
        ("vpc_export", subj::VPC_EXPORT),
        ("acl_list", subj::ACL_LIST),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(endpoints, expected);
    // STATS counts what the endpoints served.
    let client = Client::connect(&w.url()).await;
    let _ = client.zone_show("nowhere").await;
    let stats = ask("$SRV.STATS.vpcroute-ipam").await;
    let show = stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "zone_show")
        .cloned()
        .unwrap_or(Value::Null);
    assert!(show["num_requests"].as_u64().unwrap_or(0) >= 1, "{stats}");
}

// ------------------------------------------------------------------ (f)

/// Collects bus events until `n` arrived (or 5 s passed), then for 300 ms
/// more to catch any extra one.
async fn collect_events(sub: &mut async_nats::Subscriber, n: usize) -> Vec<(String, BusEvent)> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let until = if out.len() < n {
            deadline
        } else {
            tokio::time::Instant::now() + Duration::from_millis(300)
        };
        match tokio::time::timeout_at(until, sub.next()).await {
            Ok(Some(m)) => {
                let ev: BusEvent = serde_json::from_slice(&m.payload).expect("a bus event");
                out.push((m.subject.to_string(), ev));
            }
            _ => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn published_events_are_contiguous_and_match_events_read() {
    let w = World::start(nats_or_skip!()).await;
    let nc = async_nats::connect(w.url()).await.unwrap();
    let mut sub = nc.subscribe("vpcroute.events.ipam.>").await.unwrap();
    nc.flush().await.unwrap();

    figure3(&w).await;
    w.ctl(&["vm", "delete", "right-vm"]).await.expect_ok();
    w.ctl(&["tier", "delete", "right-tier"]).await.expect_ok();
    w.ctl(&["vpc", "delete", "right"]).await.expect_ok();
    w.ctl(&[
        "zone",
        "update",
        "z1",
        "--super-cidr",
        "10.1.0.0/16",
        "--super-cidr",
        "10.2.0.0/16",
    ])
    .await
    .expect_ok();
    // Refusals publish nothing.
    let _ = w.ctl(&["vpc", "delete", "left"]).await;

    let client = Client::connect(&w.url()).await;
    let read = client.all_events().await;
    assert_eq!(read.len(), 11);
    let live = collect_events(&mut sub, read.len()).await;
    assert_eq!(
        live.len(),
        read.len(),
        "published {} events, the log holds {}",
        live.len(),
        read.len()
    );
    for (i, (subject, ev)) in live.iter().enumerate() {
        assert_eq!(ev.seq, i as u64 + 1, "published seqs must be 1..N in order");
        assert_eq!(subject, &format!("vpcroute.events.ipam.{}", ev.event_type));
        assert_eq!(ev.payload["type"], ev.event_type.as_str());
        assert_eq!(ev.source, "ipam");
        assert_eq!(ev.stream, "zone/z1");
        assert_eq!(ev.stream_version, ev.seq);
        assert_eq!(ev.schema_version, 1);
        // The payload is an ipam event as stored.
        let _: IpamEvent = serde_json::from_value(ev.payload.clone())
            .unwrap_or_else(|e| panic!("event {} payload: {e}", ev.seq));
    }
    let live: Vec<BusEvent> = live.into_iter().map(|(_, e)| e).collect();
    assert_eq!(live, read, "published events differ from events.read");
    let types: Vec<&str> = live.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "zone_enabled",
            "vpc_allocated",
            "vpc_allocated",
            "tier_allocated",
            "tier_allocated",
            "vm_address_allocated",
            "vm_address_allocated",
            "vm_address_released",
            "tier_released",
            "vpc_released",
            "zone_super_cidrs_changed"
        ]
    );

    // Paging: from the middle, with a limit.
    let page = client.events_read(4, 3).await.unwrap();
    assert_eq!(page.head, 11);
    assert_eq!(page.events, read[3..6].to_vec());
    let raw = client
        .call_raw(subj::EVENTS_READ, &json!({"from_seq": 1}))
        .await;
    assert_eq!(
        raw["ok"]["events"].as_array().unwrap().len(),
        11,
        "default limit covers all"
    );
    assert_eq!(raw["ok"]["events"][0]["seq"], 1);
}

// ------------------------------------------------------------------ (g)

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_on_the_wire_matches_its_schema() {
    let w = World::start(nats_or_skip!()).await;
    let tap = Wiretap::start(&w.url()).await;

    figure3(&w).await;
    let client = Client::connect(&w.url()).await;
    // One of every request and reply, errors included.
    w.ctl(&["show", "vpc", "left"]).await.expect_ok();
    w.ctl(&[
        "vpc",
        "create",
        "x",
        "--zone",
        "nowhere",
        "--netmask",
        "255.255.255.0",
    ])
    .await;
    w.ctl(&[
        "vm",
        "create",
        "x",
        "--tier",
        "left-tier",
        "--ip",
        "10.1.1.1",
    ])
    .await;
    w.ctl(&[
        "vpc",
        "create",
        "v6",
        "--zone",
        "z1",
        "--prefix-length",
        "64",
        "--family",
        "ipv6",
    ])
    .await;
    w.ctl(&[
        "zone",
        "enable",
        "z6",
        "--super-cidr",
        "fd00:1::/48",
        "--super-cidr",
        "200.100.0.0/20",
    ])
    .await
    .expect_ok();
    w.ctl(&[
        "vpc",
        "create",
        "v6",
        "--zone",
        "z6",
        "--prefix-length",
        "56",
        "--family",
        "ipv6",
    ])
    .await
    .expect_ok();
    w.ctl(&[
        "tier",
        "create",
        "v6-t",
        "--vpc",
        "v6",
        "--prefix-length",
        "64",
    ])
    .await
    .expect_ok();
    w.ctl(&["vm", "create", "v6-vm", "--tier", "v6-t"])
        .await
        .expect_ok();
    w.ctl(&["show", "zone", "z1"]).await.expect_ok();
    // IPv6 counts beyond 2^64 must fit the schema too.
    w.ctl(&["show", "zone", "z6"]).await.expect_ok();
    // vpcctl reads zones and VPCs in pages (zone.export, vpc.export); the
    // whole views are still served, and must match their schemas too.
    client.zone_show("z1").await.unwrap();
    client.zone_show("z6").await.unwrap();
    client.vpc_show("v6").await.unwrap();
    w.ctl(&["show", "zone", "z1", "--summary"])
        .await
        .expect_ok();
    w.ctl(&["vm", "delete", "right-vm"]).await.expect_ok();
    w.ctl(&["tier", "delete", "right-tier"]).await.expect_ok();
    w.ctl(&["vpc", "delete", "right"]).await.expect_ok();
    w.ctl(&[
        "zone",
        "update",
        "z1",
        "--super-cidr",
        "10.1.0.0/16",
        "--super-cidr",
        "10.2.0.0/16",
    ])
    .await
    .expect_ok();
    w.ctl(&["zone", "update", "z1", "--super-cidr", "10.9.0.0/16"])
        .await;
    client.events_read(1, 100).await.unwrap();
    // A request the service cannot decode gets an invalid_request reply.
    let bad = client
        .call_raw(subj::VPC_ALLOCATE, &json!({"vpc": "x"}))
        .await;
    assert_eq!(bad["error"]["code"], "invalid_request");
    tap.settle().await;

    let captured = tap.captured();
    let schemas = SchemaSet::workspace();
    let mut seen: BTreeMap<(String, &str), usize> = BTreeMap::new();
    // Messages of ipam first; those of other services (events) are
    // reported at the end.
    let (mut failures, mut others) = (Vec::new(), Vec::new());
    for m in &captured {
        let dir = match m.direction {
            Direction::Request => "request",
            Direction::Reply => "reply",
            Direction::Event => "event",
        };
        let key = if m.direction == Direction::Event {
            "vpcroute.events.ipam.>".to_string()
        } else {
            m.subject.clone()
        };
        *seen.entry((key, dir)).or_default() += 1;
        // The deliberately malformed request above is not expected to match.
        if m.direction == Direction::Request && m.body == json!({"vpc": "x"}) {
            continue;
        }
        if let Err(e) = schemas.validate(m) {
            if m.subject.starts_with("vpcroute.ipam.")
                || m.subject.starts_with("vpcroute.events.ipam.")
            {
                failures.push(e);
            } else {
                others.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} messages do not match their schema:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // The capture is not vacuous: every ipam subject was exercised both ways.
    for s in [
        subj::ZONE_ENABLE,
        subj::ZONE_UPDATE,
        subj::ZONE_SHOW,
        subj::VPC_ALLOCATE,
        subj::VPC_RELEASE,
        subj::VPC_SHOW,
        subj::TIER_ALLOCATE,
        subj::TIER_RELEASE,
        subj::VM_ALLOCATE,
        subj::VM_RELEASE,
        subj::EVENTS_READ,
        subj::ZONE_SUMMARY,
        subj::ZONE_EXPORT,
        subj::VPC_EXPORT,
    ] {
        for dir in ["request", "reply"] {
            assert!(
                seen.contains_key(&(s.to_string(), dir)),
                "no {dir} captured on {s}: {seen:?}"
            );
        }
        assert!(
            schemas.request_subjects().any(|x| x == s),
            "schema missing for subject {s}"
        );
    }
    assert!(seen[&("vpcroute.events.ipam.>".to_string(), "event")] >= 15);

    // And the schemas do reject what the services must never send.
    let reply = captured
        .iter()
        .find(|m| {
            m.direction == Direction::Reply
                && m.subject == subj::VPC_ALLOCATE
                && m.body.get("ok").is_some()
        })
        .expect("a vpc.allocate reply")
        .clone();
    let mut broken = reply.clone();
    broken.body["ok"]["cidr"] = json!("10.1.0.0/33");
    assert!(
        schemas.validate(&broken).is_err(),
        "a reply with a bad CIDR passes the schema"
    );
    let mut broken = reply.clone();
    broken.body = json!({"ok": reply.body["ok"], "error": {"code": "no_space", "message": "x"}});
    assert!(
        schemas.validate(&broken).is_err(),
        "a reply that is both ok and error passes the schema"
    );
    let mut broken = reply;
    broken.body = json!({"error": {"code": "no_such_code", "message": "x"}});
    assert!(
        schemas.validate(&broken).is_err(),
        "an unknown error code passes the schema"
    );
    let request = captured
        .iter()
        .find(|m| m.direction == Direction::Request && m.subject == subj::VPC_ALLOCATE)
        .unwrap()
        .clone();
    let mut broken = request;
    broken.body["unexpected"] = json!(1);
    assert!(
        schemas.validate(&broken).is_err(),
        "a request with an unknown field passes the schema"
    );

    assert!(
        others.is_empty(),
        "{} messages of other services do not match a schema:\n{}",
        others.len(),
        others.join("\n\n")
    );
}

// ------------------------------------------------------------------ IPv6

/// An IPv6 zone's address counts exceed 2^64 (they are u128): showing it
/// must answer, not crash the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ipv6_zone_can_be_shown() {
    let mut w = World::start(nats_or_skip!()).await;
    #[rustfmt::skip]
    let setup: &[&[&str]] = &[
        &["zone", "enable", "z6", "--super-cidr", "fd00:1::/48"],
        &["vpc", "create", "v6", "--zone", "z6", "--prefix-length", "56", "--family", "ipv6"],
        &["tier", "create", "v6-t", "--vpc", "v6", "--prefix-length", "64"],
        &["vm", "create", "v6-vm", "--tier", "v6-t"],
    ];
    for args in setup {
        w.ctl(args).await.expect_ok();
    }
    let out = w.ctl(&["--timeout", "3s", "show", "zone", "z6"]).await;
    let alive = w.ipam.has_exited();
    assert!(
        out.ok(),
        "show zone of an IPv6 zone failed: {}\nservice exit: {alive:?}\nservice stderr (tail): {}",
        out.stdout,
        tail(&w.ipam.stderr(), 15)
    );
    // 2^80 addresses in the /48, 2^72 used by the /56.
    assert!(
        out.stdout.contains("\"total\": 1208925819614629174706176"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\"used\": 4722366482869645213696"),
        "{}",
        out.stdout
    );
    assert_eq!(out.json["vpcs"][0]["cidr"], "fd00:1::/56");
    assert_eq!(out.json["vpcs"][0]["tiers"][0]["vms"][0]["ip"], "fd00:1::2");
    let v = w.ctl(&["--timeout", "3s", "show", "vpc", "v6"]).await;
    assert!(v.ok(), "show vpc of an IPv6 VPC failed: {}", v.stdout);
    assert!(w.ipam.has_exited().is_none(), "the service died");
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ------------------------------------------------------------- harness

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_survives_a_nats_restart_on_the_same_port() {
    let mut w = World::start(nats_or_skip!()).await;
    let url = w.url();
    w.ctl(&["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"])
        .await
        .expect_ok();
    w.nats.stop();
    let down = w.ctl(&["show", "zone", "z1"]).await;
    assert_eq!(down.error_code(), Some("unavailable"), "{}", down.stdout);
    w.nats.restart();
    assert_eq!(w.url(), url, "NATS must come back on the same port");
    // The service reconnects by itself.
    w.ipam.wait_ready().await;
    let out = w
        .ctl(&[
            "vpc",
            "create",
            "a",
            "--zone",
            "z1",
            "--prefix-length",
            "24",
        ])
        .await
        .expect_ok();
    assert_eq!(out["cidr"], "10.1.0.0/24");
    assert!(w.ipam.has_exited().is_none());
}

// ------------------------------------------------------------- vm.show

/// `vpcroute.ipam.vm.show` over NATS: the VM's record (as `vm.allocate`
/// answered it) with its tier's VPC and zone; `unknown_vm` for a VM ipam
/// does not know, including one just released; unknown fields refused.
/// Every message is checked against its schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vm_show_answers_the_record_with_its_vpc_and_zone() {
    let w = World::start(nats_or_skip!()).await;
    let r = figure3(&w).await;
    let client = Client::connect(&w.url()).await;
    let schemas = SchemaSet::workspace();
    let captured = |direction, body: &Value| vpcroute_tests::Captured {
        direction,
        subject: subj::VM_SHOW.to_string(),
        body: body.clone(),
        is_json: true,
    };
    let ask = |body: Value| {
        let (client, schemas) = (&client, &schemas);
        async move {
            let reply = client.call_raw(subj::VM_SHOW, &body).await;
            for msg in [
                captured(Direction::Request, &body),
                captured(Direction::Reply, &reply),
            ] {
                schemas.validate(&msg).unwrap_or_else(|e| panic!("{e}"));
            }
            reply
        }
    };

    for (vm, tier, vpc) in [
        ("left-vm", "left-tier", "left"),
        ("right-vm", "right-tier", "right"),
    ] {
        let mut expected = r[vm].clone();
        assert_eq!(expected["tier"], tier, "vm.allocate's record");
        expected["vpc"] = json!(vpc);
        expected["zone"] = json!("z1");
        assert_eq!(ask(json!({"vm": vm})).await, json!({"ok": expected}));
    }

    let unknown = ask(json!({"vm": "nobody"})).await;
    assert_eq!(unknown["error"]["code"], "unknown_vm", "{unknown}");
    let extra = json!({"vm": "left-vm", "tier": "left-tier"});
    assert!(schemas
        .validate(&captured(Direction::Request, &extra))
        .is_err());
    let refused = client.call_raw(subj::VM_SHOW, &extra).await;
    assert_eq!(refused["error"]["code"], "invalid_request", "{refused}");

    // Released: no longer known (it was, just above).
    w.ctl(&["vm", "delete", "right-vm"]).await.expect_ok();
    let gone = ask(json!({"vm": "right-vm"})).await;
    assert_eq!(gone["error"]["code"], "unknown_vm", "{gone}");
}
