//! Issue 11, item 7, in the lab (real zebra + ospfd in namespaces): a tier
//! recorded in ipam before CloudStack plugs its NIC. FRR rightly announces
//! no range for an area with no interface up; router-sync must say
//! `waiting` (naming the interface), keep checking without kicking or
//! recording anything, and be `in_sync` with the range in the backbone once
//! the NIC is plugged. Needs root and FRR; skipped elsewhere, but never
//! when CI=true.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use vpcroute_protocol::ipam::EventsPage;
use vpcroute_tests::lab::*;
use vpcroute_tests::{nats_or_skip, vpcctl, Service, ServiceKind};

const KEY: &str = "Wait-Key_7";

/// router-sync's log (the instance is named after its only router).
async fn sync_events(nc: &async_nats::Client) -> EventsPage {
    vpcroute_bus::request(
        nc,
        &vpcroute_bus::subjects::sync::events_read("left-vr"),
        &serde_json::json!({"from_seq": 1}),
        Duration::from_secs(5),
    )
    .await
    .expect("router-sync's events")
}

fn event_types(page: &EventsPage) -> Vec<&str> {
    page.events.iter().map(|e| e.event_type.as_str()).collect()
}

/// Whether the core's backbone database holds left-vr's summary of its
/// VPC (the only /22 it advertises), alive (docs/frr-notes.md §7).
fn range_in_backbone() -> bool {
    let db = vtysh_json(CORE, "show ip ospf database summary json");
    db.pointer("/summaryLinkStates/areas/0.0.0.0")
        .and_then(Value::as_array)
        .is_some_and(|lsas| {
            lsas.iter().any(|l| {
                l["advertisingRouter"] == "10.255.0.1"
                    && l["networkMask"] == 22
                    && l["lsaAge"].as_u64().is_some_and(|a| a < 3600)
            })
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tier_without_its_nic_waits_quietly_then_syncs_when_plugged() {
    if !lab_possible() {
        vpcroute_testkit::skip_unless_ci("root, FRR and ping (the namespace lab)");
        return;
    }
    let nats = nats_or_skip!();
    let run = lab_up(KEY);
    let url = nats.url();
    let d = |n: &str| run.dir.path().join(n);
    let _ipam = Service::start(ServiceKind::Ipam, &url, &d("ipam")).await;
    let _areas = Service::start(ServiceKind::AreaRegistry, &url, &d("areas")).await;
    let _config = Service::start(ServiceKind::ConfigRenderer, &url, &d("config")).await;
    let args = sync_args(&["left-vr"], false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Spawned without the harness's readiness probe: the status answers
    // below are what proves it up.
    let _sync = Service::spawn(ServiceKind::RouterSync, &url, &d("sync"), &args);
    let ctl = |args: String| {
        let url = url.clone();
        async move {
            let a: Vec<&str> = args.split_whitespace().collect();
            vpcctl(&url, &a).await.expect_ok()
        }
    };
    ctl(format!(
        "zone enable z1 --super-cidr 10.1.0.0/16 --auth md5 --auth-key-id 1 --auth-key-file {}",
        run.key_path
    ))
    .await;
    ctl(
        "vpc create left --zone z1 --netmask 255.255.252.0 --router left-vr \
         --router-id 10.255.0.1 --uplink eth1=192.168.100.2/24"
            .into(),
    )
    .await;
    // The tier is recorded; its NIC (eth2) is not plugged yet.
    ctl(
        "tier create left-tier --vpc left --gateway 10.1.1.1 --netmask 255.255.255.0 \
         --interface eth2"
            .into(),
    )
    .await;
    let status = || async { vpcctl(&url, &["router", "status", "left-vr"]).await.json };

    // ---- waiting, naming eth2.
    let deadline = Instant::now() + Duration::from_secs(60);
    let st = loop {
        let st = status().await;
        if st["state"] == "waiting" {
            break st;
        }
        assert!(Instant::now() < deadline, "left-vr never waiting: {st}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(st["waiting_for"], serde_json::json!(["eth2"]), "{st}");
    let human = vpcctl_human(&url);
    assert!(
        human.contains(": waiting ") && human.contains("waiting for: eth2\n"),
        "{human}"
    );

    // ---- several checks, nothing recorded, nothing kicked. Each check
    // publishes a new updated_at_ms (the processed-up-to marker).
    let nc = async_nats::connect(&url).await.unwrap();
    let before = sync_events(&nc).await;
    let mut checks = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while checks.len() < 5 {
        let st = status().await;
        assert_eq!(st["state"], "waiting", "left-vr left waiting: {st}");
        assert_eq!(st["waiting_for"], serde_json::json!(["eth2"]), "{st}");
        assert_eq!(st["failures"], 0, "waiting counted as a failure: {st}");
        checks.insert(st["updated_at_ms"].as_i64().unwrap());
        assert!(
            Instant::now() < deadline,
            "only {} checks seen",
            checks.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let after = sync_events(&nc).await;
    assert_eq!(
        after.head,
        before.head,
        "events recorded while waiting: {:?}",
        event_types(&after)
    );
    eprintln!(
        "waiting: {} checks over {} ms, event log head {} before and after",
        checks.len(),
        checks.last().unwrap() - checks.first().unwrap(),
        after.head
    );

    // ---- CloudStack plugs the NIC: in_sync, the range in the backbone.
    let plugged = Instant::now();
    lab(&["tier", "add", "left-vr", "eth2", "10.1.1.1/24"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let st = loop {
        let st = status().await;
        if st["state"] == "in_sync" {
            break st;
        }
        assert!(Instant::now() < deadline, "left-vr never in_sync: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let to_in_sync = plugged.elapsed();
    assert_eq!(st["applied_version"], st["desired_version"], "{st}");
    assert!(st.get("waiting_for").is_none(), "{st}");
    // The core learns the range once its adjacency with left-vr is Full
    // (the first election waits out the 40 s dead interval).
    let to_core = wait_for(
        "left-vr's range in the core's backbone database",
        Duration::from_secs(120),
        range_in_backbone,
    )
    .await;
    // Positive control of the event count: the verified apply is recorded
    // now, and the range was never kicked.
    let done = sync_events(&nc).await;
    let types = event_types(&done);
    assert!(done.head > after.head, "nothing recorded: {types:?}");
    assert!(types.contains(&"applied"), "{types:?}");
    assert!(
        !types
            .iter()
            .any(|t| *t == "range_kicked" || *t == "apply_failed"),
        "{types:?}"
    );
    eprintln!(
        "figure: NIC plugged -> left-vr in_sync {:.2} s; range at the core {:.2} s after plugging",
        to_in_sync.as_secs_f64(),
        (to_core + to_in_sync).as_secs_f64()
    );
}

/// `vpcctl router status left-vr` as a person reads it.
fn vpcctl_human(url: &str) -> String {
    let out = std::process::Command::new(vpcroute_tests::binary("vpcctl"))
        .args(["--nats-url", url, "router", "status", "left-vr"])
        .env_remove("VPCROUTE_NATS_URL")
        .output()
        .expect("run vpcctl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
