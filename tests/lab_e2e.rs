//! End to end in the lab (`scripts/lab.sh`): real zebra + ospfd in network
//! namespaces, the four services, driven through `vpcctl` as CloudStack
//! would. Needs root and FRR; skipped elsewhere, but never when CI=true.
//!
//! One test function walks through the scenario in order, because the lab
//! is one network shared by all its steps.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use vpcroute_tests::lab::*;
use vpcroute_tests::{nats_or_skip, vpcctl, NatsServer, Service, ServiceKind};

const KEY: &str = "Lab-Key_42";

struct Stack {
    nats: NatsServer,
    _ipam: Service,
    _areas: Service,
    _config: Service,
    sync: Service,
}

impl Stack {
    async fn ctl(&self, args: &[&str]) -> Value {
        vpcctl(&self.nats.url(), args).await.expect_ok()
    }
    async fn status(&self, router: &str) -> Value {
        vpcctl(&self.nats.url(), &["router", "status", router, "--json"])
            .await
            .json
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_design_articles_network_routes_end_to_end() {
    if !lab_possible() {
        vpcroute_testkit::skip_unless_ci("root, FRR and ping (the namespace lab)");
        return;
    }
    let nats = nats_or_skip!();
    let run = lab_up(KEY);
    let key_path = run.key_path.as_str();

    let url = nats.url();
    let d = |n: &str| -> PathBuf { run.dir.path().join(n) };
    let ipam = Service::start(ServiceKind::Ipam, &url, &d("ipam")).await;
    let areas = Service::start(ServiceKind::AreaRegistry, &url, &d("areas")).await;
    let config = Service::start(ServiceKind::ConfigRenderer, &url, &d("config")).await;
    let args = sync_args(&["left-vr", "right-vr"], false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let sync = Service::start_with_args(ServiceKind::RouterSync, &url, &d("sync"), &args).await;
    let mut s = Stack {
        nats,
        _ipam: ipam,
        _areas: areas,
        _config: config,
        sync,
    };

    // ---- 1. Figure 3 through vpcctl; CloudStack plugs the NICs (lab.sh).
    let (lvm, rvm) = figure3(&s.nats.url(), key_path).await;

    // Each VR reaches Full with the core (the first election waits out the
    // 40 s dead interval), as router-sync reports it too.
    wait_for(
        "both VRs Full with the core",
        Duration::from_secs(120),
        || full_since_ms(LEFT, CORE_ID).is_some() && full_since_ms(RIGHT, CORE_ID).is_some(),
    )
    .await;
    // Right after Full, `converging` (the VPC summary not yet originated)
    // is a legitimate state: wait for router-sync to say in_sync.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let st = s.status("left-vr").await;
        if st["state"] == "in_sync" {
            assert_eq!(st["applied_version"], st["desired_version"], "{st}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left-vr never in_sync after Full: {st}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Each VR holds the other VPC's CIDR as an OSPF route in its kernel.
    inter_vpc_routes(Duration::from_secs(60)).await;
    let route = vtysh_json(LEFT, "show ip ospf route json");
    assert_eq!(
        route["10.1.4.0/22"]["routeType"], "N IA",
        "an inter-area route: {route}"
    );
    // Only the VPC summaries cross the backbone, not the tiers.
    assert!(
        !ospf_routes(LEFT).contains("10.1.5.0/24"),
        "a tier leaked: {}",
        ospf_routes(LEFT)
    );
    wait_for("LeftVM1 pings RightVM1", Duration::from_secs(20), || {
        pings("left-vm1", &rvm)
    })
    .await;

    // ---- 2. A new tier and VM in the right VPC, live.
    let pids = (ospfd_pid(LEFT), ospfd_pid(RIGHT));
    let up_before = (
        full_since_ms(LEFT, CORE_ID).unwrap(),
        full_since_ms(RIGHT, CORE_ID).unwrap(),
    );
    let t0 = Instant::now();
    lab(&["tier", "add", "right-vr", "eth3", "10.1.6.1/24"]);
    s.ctl(&[
        "tier",
        "create",
        "right-tier2",
        "--vpc",
        "right",
        "--gateway",
        "10.1.6.1",
        "--netmask",
        "255.255.255.0",
        "--interface",
        "eth3",
    ])
    .await;
    let rvm2 = s
        .ctl(&["vm", "create", "right-vm2", "--tier", "right-tier2"])
        .await["ip"]
        .as_str()
        .unwrap()
        .to_string();
    lab(&[
        "vm",
        "add",
        "right-vm2",
        "right-vr",
        "eth3",
        &format!("{rvm2}/24"),
        "10.1.6.1",
    ]);
    wait_for("LeftVM1 pings the new VM", Duration::from_secs(30), || {
        pings("left-vm1", &rvm2)
    })
    .await;
    assert!(vtysh(RIGHT, &["show running-config"]).contains("interface eth3"));
    assert_eq!(
        (ospfd_pid(LEFT), ospfd_pid(RIGHT)),
        pids,
        "a daemon was restarted"
    );
    let waited = t0.elapsed().as_millis() as u64;
    for (ns, before) in [(LEFT, up_before.0), (RIGHT, up_before.1)] {
        let now = full_since_ms(ns, CORE_ID).expect("adjacency still Full");
        assert!(
            now + 1000 >= before + waited,
            "{ns}: adjacency was reset ({before} ms + {waited} ms, now {now} ms)"
        );
    }

    // ---- 3a. Drift: lines removed by hand come back.
    vtysh(
        LEFT,
        &[
            "configure terminal",
            "interface eth2",
            "no ip ospf passive",
            "exit",
            "router ospf",
            "no log-adjacency-changes",
        ],
    );
    wait_for(
        "hand-removed lines restored",
        Duration::from_secs(15),
        || {
            let run = vtysh(LEFT, &["show running-config"]);
            run.contains(" ip ospf passive") && run.contains(" log-adjacency-changes")
        },
    )
    .await;
    // ... and router-sync counts it as a repair (its status follows the
    // read-back and the summary check).
    let deadline = Instant::now() + Duration::from_secs(15);
    while s.status("left-vr").await["repairs"].as_u64().unwrap_or(0) < 1 {
        assert!(
            Instant::now() < deadline,
            "no repair reported: {}",
            s.status("left-vr").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // ---- 3b. kill -9 of router-sync, FRR restarted empty on a VR, restart.
    s.sync.kill9();
    lab(&["frr", "restart", "left-vr"]);
    assert!(
        !vtysh(LEFT, &["show running-config"]).contains("router ospf"),
        "the VR restarted empty"
    );
    s.sync.restart().await;
    wait_for(
        "left VR reconfigured after its restart",
        Duration::from_secs(30),
        || vtysh(LEFT, &["show running-config"]).contains("area 0.0.0.1 range 10.1.0.0/22"),
    )
    .await;
    wait_for(
        "routes back after the VR restart",
        Duration::from_secs(120),
        || ospf_routes(LEFT).contains("10.1.4.0/22 nhid") && pings("left-vm1", &rvm),
    )
    .await;

    // ---- 4a. A VM running ospfd on a tier never becomes a neighbour.
    lab(&["frr", "start", "left-vm1"]);
    sh_ok(
        "vpcr-left-vm1",
        &["ip", "addr", "add", "10.99.0.1/32", "dev", "lo"],
    );
    // vtysh panics if any line is refused: the rogue is configured.
    vtysh(
        "vpcr-left-vm1",
        &[
            "configure terminal",
            "interface eth0",
            "ip ospf area 0.0.0.1",
            "exit",
            "interface lo",
            "ip ospf area 0.0.0.1",
            "exit",
            "router ospf",
            "ospf router-id 10.1.1.200",
        ],
    );
    // ---- 4b. A router on the physical segment with the wrong key.
    // Priority 0: it may never be DR, so that once given the right key
    // below it joins the segment without taking over the core's DR role.
    lab(&["router", "add", "bad", "192.168.100.9/24"]);
    let bad_interface = |key: &str| {
        vtysh(
            "vpcr-bad",
            &[
                "configure terminal",
                "interface eth1",
                "ip ospf area 0.0.0.0",
                "ip ospf priority 0",
                "ip ospf authentication message-digest",
                &format!("ip ospf message-digest-key 1 md5 {key}"),
                "exit",
                "router ospf",
                "ospf router-id 10.255.9.9",
            ],
        );
    };
    bad_interface("WRONG-key");
    // Positive controls, and the time the negative checks wait: three
    // hellos of each, sent after its configuration, seen where they would
    // be heard (left-vr's tier, the core's uplink), the wrong key's signed
    // with MD5. That is time enough for any adjacency to start.
    let three_hellos = Duration::from_secs(60);
    let rogue = OspfCapture::start(LEFT, "eth2", &lvm, 3, three_hellos);
    let bad = OspfCapture::start(CORE, "eth1", "192.168.100.9", 3, three_hellos);
    rogue.hellos_from("10.1.1.200");
    let seen = bad.hellos_from("10.255.9.9");
    assert!(seen.contains("Authentication Type: MD5"), "{seen}");
    // The rogue does announce 10.99.0.1: its own OSPF routes have it.
    let rogue_routes = vtysh_json("vpcr-left-vm1", "show ip ospf route json");
    assert!(
        rogue_routes.get("10.99.0.1/32").is_some(),
        "the rogue does not announce 10.99.0.1: {rogue_routes}"
    );
    let left_nbrs = ospf_neighbors(LEFT).expect("left-vr runs OSPF");
    assert!(
        left_nbrs.contains_key(CORE_ID) && !left_nbrs.contains_key("10.1.1.200"),
        "the VM became a neighbour (or the core is gone): {left_nbrs:?}"
    );
    assert!(
        !ospf_routes(LEFT).contains("10.99.0.1"),
        "the VM injected a route"
    );
    assert!(
        !ospf_routes(CORE).contains("10.99.0.1"),
        "the VM's route reached the core"
    );
    let core_nbrs = ospf_neighbors(CORE).expect("the core runs OSPF");
    assert!(
        core_nbrs.contains_key("10.255.0.1") && !core_nbrs.contains_key("10.255.9.9"),
        "wrong key got a neighbour (or left-vr is gone): {core_nbrs:?}"
    );
    assert!(full_since_ms("vpcr-bad", CORE_ID).is_none());
    // Positive control: the same router with the zone's key becomes Full.
    bad_interface(KEY);
    wait_for(
        "the router given the right key Full with the core",
        Duration::from_secs(90),
        || {
            full_since_ms("vpcr-bad", CORE_ID).is_some()
                && full_since_ms(CORE, "10.255.9.9").is_some()
        },
    )
    .await;

    // ---- 2b. Deleting a VPC withdraws its route from every other router.
    for vm in ["right-vm1", "right-vm2"] {
        s.ctl(&["vm", "delete", vm]).await;
    }
    s.ctl(&["tier", "delete", "right-tier"]).await;
    s.ctl(&["tier", "delete", "right-tier2"]).await;
    s.ctl(&["vpc", "delete", "right"]).await;
    wait_for(
        "the right VPC withdrawn everywhere",
        Duration::from_secs(60),
        || !ospf_routes(LEFT).contains("10.1.4.0/22") && !ospf_routes(CORE).contains("10.1.4.0/22"),
    )
    .await;
    // Positive control: only that VPC went; the core still routes the left one.
    let core_routes = ospf_routes(CORE);
    assert!(core_routes.contains("10.1.0.0/22"), "{core_routes}");
    // Its router is cleared of vpcroute's configuration too.
    wait_for(
        "the deleted VPC's router cleared of OSPF",
        Duration::from_secs(10),
        || !vtysh(RIGHT, &["show running-config"]).contains("router ospf"),
    )
    .await;
    drop(s);
}
