//! Network ACLs end to end in the lab (issue 7): real zebra + ospfd and
//! real nftables in network namespaces, the four services, router-sync
//! managing both VRs' FRR and nft, driven through `vpcctl`. Needs root, FRR
//! and nft; skipped elsewhere, but never when CI=true.
//!
//! One test walks through the four points in order, on one lab.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use vpcroute_tests::lab::*;
use vpcroute_tests::{nats_or_skip, vpcctl, NatsServer, Service, ServiceKind};

const KEY: &str = "Lab-Key_42";
const LEFT_VPC: &str = "10.1.0.0/22";

struct Stack {
    nats: NatsServer,
    _services: Vec<Service>,
}

impl Stack {
    async fn ctl(&self, args: &[&str]) -> Value {
        vpcctl(&self.nats.url(), args).await.expect_ok()
    }

    async fn synced(&self, router: &str) -> u64 {
        firewall_synced(&self.nats.url(), router).await
    }

    async fn repairs(&self, router: &str) -> u64 {
        let st = vpcctl(&self.nats.url(), &["router", "status", router, "--json"])
            .await
            .json;
        st["repairs"].as_u64().unwrap_or(0)
    }

    /// The router's table as nft lists it equals the rendered listing.
    async fn table_is_desired(&self, router: &str, ns: &str) -> bool {
        let want: Value = self.ctl(&["router", "config", router, "--json"]).await;
        let (ok, listed) = sh(ns, &["nft", "-n", "list", "table", "inet", "vpcroute"]);
        ok && listed == want["firewall"]["listing"].as_str().unwrap()
    }
}

/// The adjacencies of both VRs with the core are still the ones they were:
/// Full, and up for at least as long as when `before` was taken.
fn adjacencies_undisturbed(before: (u64, u64), since: Instant) {
    let waited = since.elapsed().as_millis() as u64;
    for (ns, up) in [(LEFT, before.0), (RIGHT, before.1)] {
        let now = full_since_ms(ns, CORE_ID).expect("adjacency still Full");
        // upTimeInMsec has 1 s resolution in places: allow that much.
        assert!(
            now + 1000 >= up + waited,
            "{ns}: adjacency was reset ({up} ms + {waited} ms, now {now} ms)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_between_routed_vpcs_are_enforced_on_the_vrs() {
    if !nft_lab_possible() {
        vpcroute_testkit::skip_unless_ci("root, FRR, ping and nft (the namespace lab)");
        return;
    }
    let nats = nats_or_skip!();
    let run = lab_up(KEY);
    let key_path = run.key_path.as_str();

    let url = nats.url();
    let d = |n: &str| -> PathBuf { run.dir.path().join(n) };
    let mut services = vec![
        Service::start(ServiceKind::Ipam, &url, &d("ipam")).await,
        Service::start(ServiceKind::AreaRegistry, &url, &d("areas")).await,
        Service::start(ServiceKind::ConfigRenderer, &url, &d("config")).await,
    ];
    let sync_args = sync_args(&["left-vr", "right-vr"], true);
    let sync_args: Vec<&str> = sync_args.iter().map(String::as_str).collect();
    services.push(
        Service::start_with_args(ServiceKind::RouterSync, &url, &d("sync"), &sync_args).await,
    );
    let s = Stack {
        nats,
        _services: services,
    };

    let (_lvm, rvm) = figure3(&s.nats.url(), key_path).await;
    tcp_listen_in("vpcr-right-vm1", &[8080, 8081]);
    // The VM's own view: both ports open (nothing in the VM filters).
    assert!(
        sh(
            "vpcr-right-vm1",
            &[
                "timeout",
                "1",
                "bash",
                "-c",
                "exec 3<>/dev/tcp/127.0.0.1/8081"
            ]
        )
        .0,
        "the listener runs in the VM"
    );

    // ---- 1. No rule: OSPF carries the routes, yet nothing gets through.
    wait_for(
        "both VRs Full with the core",
        Duration::from_secs(120),
        || full_since_ms(LEFT, CORE_ID).is_some() && full_since_ms(RIGHT, CORE_ID).is_some(),
    )
    .await;
    inter_vpc_routes(Duration::from_secs(60)).await;
    s.synced("left-vr").await;
    s.synced("right-vr").await;
    assert!(s.table_is_desired("right-vr", RIGHT).await);
    let table = sh_ok(RIGHT, &["nft", "list", "table", "inet", "vpcroute"]);
    assert!(table.contains("oifname \"eth2\" jump in_eth2"), "{table}");
    assert!(!pings("left-vm1", &rvm), "ICMP got through with no rule");
    assert!(
        !tcp_connects("left-vm1", &rvm, 8080),
        "TCP got through with no rule"
    );
    // The tier with no list still reaches out (egress allowed by default):
    // the left VR forwards the echo; it is the right VR that drops it.
    let counters = sh_ok(
        LEFT,
        &["nft", "list", "chain", "inet", "vpcroute", "forward"],
    );
    assert!(
        !counters.contains("jump out_eth2"),
        "no egress chain without egress rules"
    );

    let up_before = (
        full_since_ms(LEFT, CORE_ID).unwrap(),
        full_since_ms(RIGHT, CORE_ID).unwrap(),
    );
    let since = Instant::now();

    // ---- 2. Allow TCP 8080 from the left VPC: that port only; then ICMP.
    let v0 = s.synced("right-vr").await;
    s.ctl(&["acl", "create", "right-acl", "--vpc", "right"])
        .await;
    let view = s
        .ctl(&[
            "acl",
            "rule",
            "add",
            "right-acl",
            "--number",
            "10",
            "--cidr",
            LEFT_VPC,
            "--protocol",
            "tcp",
            "--ports",
            "8080",
            "--traffic",
            "ingress",
            "--action",
            "allow",
            "--json",
        ])
        .await;
    assert_eq!(view["rules"][0]["ports"]["start"], 8080, "{view}");
    // The list is attached to no tier yet: the routers do not change.
    assert_eq!(s.synced("right-vr").await, v0);
    s.ctl(&["tier", "set-acl", "right-tier", "right-acl"]).await;
    let v1 = s.synced("right-vr").await;
    assert!(v1 > v0, "attaching a list makes a new version");
    assert!(
        tcp_connects("left-vm1", &rvm, 8080),
        "the allowed port is open"
    );
    assert!(
        !tcp_connects("left-vm1", &rvm, 8081),
        "only the allowed port"
    );
    assert!(!pings("left-vm1", &rvm), "ICMP is not allowed yet");
    s.ctl(&[
        "acl",
        "rule",
        "add",
        "right-acl",
        "--number",
        "20",
        "--cidr",
        LEFT_VPC,
        "--protocol",
        "icmp",
        "--traffic",
        "ingress",
        "--action",
        "allow",
    ])
    .await;
    s.synced("right-vr").await;
    assert!(pings("left-vm1", &rvm), "ICMP allowed: ping gets through");
    assert!(
        !tcp_connects("left-vm1", &rvm, 8081),
        "still only the allowed port"
    );
    let shown = s.ctl(&["acl", "show", "right-acl", "--json"]).await;
    assert_eq!(shown["tiers"], serde_json::json!(["right-tier"]), "{shown}");

    // ---- 3. Deleting the rule closes the path again within seconds.
    s.ctl(&["acl", "rule", "delete", "right-acl", "--number", "10"])
        .await;
    let t0 = Instant::now();
    let closed = wait_for("TCP 8080 closed again", Duration::from_secs(10), || {
        !tcp_connects("left-vm1", &rvm, 8080)
    })
    .await;
    eprintln!(
        "rule delete -> TCP 8080 refused after {closed:?} ({:?} incl. the last probe)",
        t0.elapsed()
    );
    s.synced("right-vr").await;
    assert!(pings("left-vm1", &rvm), "the ICMP rule still holds");
    // No ACL change disturbed an established adjacency.
    adjacencies_undisturbed(up_before, since);

    // ---- 4. A ruleset changed by hand on the VR is put back.
    for (what, edit) in [
        (
            "a rule inserted by hand",
            &[
                "nft", "insert", "rule", "inet", "vpcroute", "in_eth2", "accept",
            ][..],
        ),
        (
            "the table deleted by hand",
            &["nft", "delete", "table", "inet", "vpcroute"][..],
        ),
        (
            "a chain flushed by hand",
            &["nft", "flush", "chain", "inet", "vpcroute", "in_eth2"][..],
        ),
    ] {
        let repairs = s.repairs("right-vr").await;
        let (ok, out) = sh(RIGHT, edit);
        assert!(ok, "{what}: {out}");
        let start = Instant::now();
        while !(s.repairs("right-vr").await > repairs
            && s.table_is_desired("right-vr", RIGHT).await)
        {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{what}: not repaired"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("{what}: repaired after {:?}", start.elapsed());
        assert!(
            !tcp_connects("left-vm1", &rvm, 8081),
            "{what}: closed again after the repair"
        );
        assert!(
            pings("left-vm1", &rvm),
            "{what}: the ICMP rule holds after the repair"
        );
    }
    // ---- 5. Between two tiers of one VPC: the source tier's egress, then
    // the destination tier's ingress, as in CloudStack.
    // A NIC plugged before vpcroute knows its tier: the table has no chain
    // for it, and the VPC's catch-all drops what is routed to it.
    lab(&["tier", "add", "right-vr", "eth3", "10.1.6.1/24"]);
    let vm2 = "10.1.6.2".to_string();
    lab(&[
        "vm",
        "add",
        "right-vm2",
        "right-vr",
        "eth3",
        &format!("{vm2}/24"),
        "10.1.6.1",
    ]);
    assert!(!pings("left-vm1", &vm2), "an unknown tier fails closed");
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
    s.ctl(&[
        "vm",
        "create",
        "right-vm2",
        "--tier",
        "right-tier2",
        "--ip",
        &vm2,
    ])
    .await;
    s.synced("right-vr").await;
    // right-tier's list allows ICMP from the left VPC only; right-tier2 has
    // no list: nothing in, either way.
    assert!(
        !pings("right-vm2", &rvm),
        "same VPC, not allowed by right-acl"
    );
    assert!(
        !pings("right-vm1", &vm2),
        "a tier with no list lets nothing in"
    );
    s.ctl(&[
        "acl",
        "rule",
        "add",
        "right-acl",
        "--number",
        "30",
        "--cidr",
        "10.1.6.0/24",
        "--protocol",
        "icmp",
        "--traffic",
        "ingress",
        "--action",
        "allow",
    ])
    .await;
    s.synced("right-vr").await;
    assert!(
        pings("right-vm2", &rvm),
        "right-acl now allows ICMP from right-tier2"
    );
    // The source tier's egress counts too: right-tier2 may send ICMP
    // nowhere, so right-tier's allow does not help.
    s.ctl(&["acl", "create", "tier2-acl", "--vpc", "right"])
        .await;
    s.ctl(&[
        "acl",
        "rule",
        "add",
        "tier2-acl",
        "--number",
        "1",
        "--cidr",
        "0.0.0.0/0",
        "--protocol",
        "icmp",
        "--traffic",
        "egress",
        "--action",
        "deny",
    ])
    .await;
    s.ctl(&["tier", "set-acl", "right-tier2", "tier2-acl"])
        .await;
    s.synced("right-vr").await;
    assert!(
        !pings("right-vm2", &rvm),
        "right-tier2's egress denies ICMP"
    );

    // Other tables are never touched: one of the operator's own survives.
    let (ok, _) = sh(RIGHT, &["nft", "add", "table", "inet", "operator"]);
    assert!(ok);
    s.ctl(&["tier", "set-acl", "right-tier", "default_allow"])
        .await;
    s.synced("right-vr").await;
    assert!(
        tcp_connects("left-vm1", &rvm, 8081),
        "default_allow opens everything"
    );
    assert!(
        sh(RIGHT, &["nft", "list", "table", "inet", "operator"]).0,
        "operator's table kept"
    );
    // The path to right-vm2 was there all along: only the ACLs closed it.
    s.ctl(&["tier", "set-acl", "right-tier2", "default_allow"])
        .await;
    s.synced("right-vr").await;
    assert!(
        pings("left-vm1", &vm2),
        "default_allow on right-tier2 opens it"
    );
    adjacencies_undisturbed(up_before, since);
}
