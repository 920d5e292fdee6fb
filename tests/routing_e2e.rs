//! End to end across ipam, area-registry and config-renderer: unique areas
//! through deletions and restarts of every service, and router versions
//! that move exactly when a router's configuration changes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use vpcroute_tests::{
    nats_or_skip, vpcctl, wait_processed, CliOutput, NatsServer, Service, ServiceKind,
};

struct Stack {
    nats: NatsServer,
    _dir: tempfile::TempDir,
    ipam: Service,
    areas: Service,
    config: Service,
}

impl Stack {
    async fn start(nats: NatsServer) -> Stack {
        let dir = tempfile::Builder::new()
            .prefix("vpcroute-stack-")
            .tempdir()
            .unwrap();
        let url = nats.url();
        let ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
        let areas =
            Service::start(ServiceKind::AreaRegistry, &url, &dir.path().join("areas")).await;
        let config = Service::start(
            ServiceKind::ConfigRenderer,
            &url,
            &dir.path().join("config"),
        )
        .await;
        Stack {
            nats,
            _dir: dir,
            ipam,
            areas,
            config,
        }
    }

    async fn ctl(&self, args: &[&str]) -> CliOutput {
        vpcctl(&self.nats.url(), args).await
    }

    async fn ok(&self, args: &[&str]) -> Value {
        self.ctl(args).await.expect_ok()
    }

    /// Router name → version, from `config.router.list`.
    async fn versions(&self) -> BTreeMap<String, u64> {
        let client = async_nats::connect(self.nats.url()).await.unwrap();
        let list: Vec<vpcroute_protocol::config::RouterSummary> = vpcroute_bus::request(
            &client,
            vpcroute_bus::subjects::config::ROUTER_LIST,
            &vpcroute_protocol::config::RouterList::default(),
            Duration::from_secs(5),
        )
        .await
        .expect("router list");
        list.into_iter().map(|r| (r.router, r.version)).collect()
    }

    /// Router versions once the area registry and the config-renderer have
    /// handled everything ipam and the registry hold: what the requests so
    /// far set off has all been decided (`wait_processed`), so a version
    /// that has not moved now will not.
    async fn settled_versions(&self) -> BTreeMap<String, u64> {
        let nc = async_nats::connect(self.nats.url()).await.unwrap();
        let running = [&self.ipam, &self.areas, &self.config].map(|s| s.running());
        wait_processed(&nc, &running).await;
        self.versions().await
    }

    /// Waits until `versions()` satisfies `f`, or fails with the last value.
    async fn wait_versions(
        &self,
        what: &str,
        f: impl Fn(&BTreeMap<String, u64>) -> bool,
    ) -> BTreeMap<String, u64> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.versions().await;
            if f(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: versions stayed {v:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// VPC → area id of every live VPC in `zone`, once the registry knows
    /// all of them.
    async fn areas_of(&self, zone: &str, vpcs: &BTreeSet<String>) -> BTreeMap<String, String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.ok(&["show", "zone", zone, "--json"]).await;
            let got: BTreeMap<String, String> = out["vpcs"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| {
                    Some((
                        v["vpc"].as_str()?.to_string(),
                        v["area_id"].as_str()?.to_string(),
                    ))
                })
                .collect();
            if got.keys().cloned().collect::<BTreeSet<_>>() == *vpcs {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "areas never caught up: {got:?} vs {vpcs:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn vpc_args<'a>(name: &'a str, router: &'a str, rid: &'a str, uplink: &'a str) -> Vec<&'a str> {
    vec![
        "vpc",
        "create",
        name,
        "--zone",
        "z1",
        "--prefix-length",
        "24",
        "--router",
        router,
        "--router-id",
        rid,
        "--uplink",
        uplink,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn areas_stay_unique_through_deletes_and_restarts_of_every_service() {
    let nats = nats_or_skip!();
    let mut s = Stack::start(nats).await;
    s.ok(&["zone", "enable", "z1", "--super-cidr", "10.20.0.0/16"])
        .await;

    // A fixed but irregular order of creations, deletions and restarts.
    let mut live = BTreeSet::new();
    let mut seen_areas: BTreeMap<String, String> = BTreeMap::new(); // area → first VPC
    let plan: &[(&str, u32)] = &[
        ("create", 1),
        ("create", 2),
        ("create", 3),
        ("delete", 2),
        ("restart-areas", 0),
        ("create", 4),
        ("delete", 1),
        ("restart-ipam", 0),
        ("create", 5),
        ("create", 2),
        ("restart-config", 0),
        ("delete", 3),
        ("create", 6),
        ("restart-all", 0),
        ("delete", 5),
        ("create", 7),
        ("create", 1),
    ];
    let mut generation = 0;
    for (op, n) in plan {
        match *op {
            "create" => {
                generation += 1;
                let name = format!("vpc{n}");
                let router = format!("vr{n}-{generation}");
                let rid = format!("10.255.1.{generation}");
                s.ok(&vpc_args(&name, &router, &rid, "eth1=192.168.100.9/24"))
                    .await;
                live.insert(name);
            }
            "delete" => {
                let name = format!("vpc{n}");
                s.ok(&["vpc", "delete", &name]).await;
                live.remove(&name);
            }
            "restart-areas" => {
                s.areas.kill9();
                s.areas.restart().await;
            }
            "restart-ipam" => {
                s.ipam.kill9();
                s.ipam.restart().await;
            }
            "restart-config" => {
                s.config.kill9();
                s.config.restart().await;
            }
            "restart-all" => {
                s.ipam.kill9();
                s.areas.kill9();
                s.config.kill9();
                s.config.restart().await;
                s.areas.restart().await;
                s.ipam.restart().await;
            }
            _ => unreachable!(),
        }
        let areas = s.areas_of("z1", &live).await;
        let distinct: BTreeSet<&String> = areas.values().collect();
        assert_eq!(
            distinct.len(),
            areas.len(),
            "two live VPCs share an area: {areas:?}"
        );
        assert!(
            !areas.values().any(|a| a == "0.0.0.0"),
            "a VPC got the backbone: {areas:?}"
        );
        // An area id once given is never given to another VPC incarnation.
        for (vpc, area) in &areas {
            let key = format!("{vpc}#{}", generation_of(&s, vpc).await);
            match seen_areas.get(area) {
                Some(first) => assert_eq!(first, &key, "area {area} reused"),
                None => {
                    seen_areas.insert(area.clone(), key);
                }
            }
        }
    }
}

/// The router name identifies one incarnation of a VPC (a re-created VPC
/// of the same name gets a new router name in the test above).
async fn generation_of(s: &Stack, vpc: &str) -> String {
    let out = s.ok(&["show", "vpc", vpc, "--json"]).await;
    out["router"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_move_exactly_when_a_router_configuration_changes() {
    let nats = nats_or_skip!();
    let s = Stack::start(nats).await;
    s.ok(&["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"])
        .await;
    s.ok(&["zone", "enable", "z2", "--super-cidr", "10.2.0.0/16"])
        .await;
    for (vpc, zone, router, rid) in [
        ("left", "z1", "left-vr", "10.255.0.1"),
        ("right", "z1", "right-vr", "10.255.0.2"),
        ("other", "z2", "other-vr", "10.255.0.3"),
    ] {
        s.ok(&[
            "vpc",
            "create",
            vpc,
            "--zone",
            zone,
            "--netmask",
            "255.255.252.0",
            "--router",
            router,
            "--router-id",
            rid,
            "--uplink",
            "eth1=192.168.100.2/24",
        ])
        .await;
    }
    let v0 = s
        .wait_versions("all three routers rendered", |v| v.len() == 3)
        .await;

    // A timer change in z1: every router of z1 moves, z2's does not.
    s.ok(&[
        "zone",
        "update",
        "z1",
        "--hello-interval",
        "5",
        "--dead-interval",
        "20",
    ])
    .await;
    let v1 = s
        .wait_versions("z1 routers re-rendered", |v| {
            v["left-vr"] > v0["left-vr"] && v["right-vr"] > v0["right-vr"]
        })
        .await;
    assert_eq!(v1["left-vr"], v0["left-vr"] + 1, "one change, one version");
    assert_eq!(
        v1["other-vr"], v0["other-vr"],
        "a router of another zone moved"
    );
    let text = s.ok(&["router", "config", "left-vr"]).await;
    assert!(text.to_string().contains("ip ospf hello-interval 5"));

    // A key change: the same.
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), "n3w-s3cret-key\n").unwrap();
    let key_path = key.path().to_str().unwrap();
    s.ok(&[
        "zone",
        "update",
        "z1",
        "--auth",
        "md5",
        "--auth-key-id",
        "2",
        "--auth-key-file",
        key_path,
    ])
    .await;
    let v2 = s
        .wait_versions("key rotated", |v| {
            v["left-vr"] > v1["left-vr"] && v["right-vr"] > v1["right-vr"]
        })
        .await;
    assert_eq!(v2["other-vr"], v0["other-vr"]);
    let text = s.ok(&["router", "config", "right-vr", "--json"]).await;
    assert!(text["config"]
        .as_str()
        .unwrap()
        .contains("message-digest-key 2 md5 n3w-s3cret-key"));

    // A tier in one VPC moves only that VPC's router.
    s.ok(&[
        "tier",
        "create",
        "web",
        "--vpc",
        "left",
        "--gateway",
        "10.1.1.1",
        "--netmask",
        "255.255.255.0",
        "--interface",
        "eth2",
    ])
    .await;
    let v3 = s
        .wait_versions("tier rendered", |v| v["left-vr"] > v2["left-vr"])
        .await;
    assert_eq!(v3["right-vr"], v2["right-vr"]);
    assert_eq!(v3["other-vr"], v0["other-vr"]);

    // Things that do not change any text change no version: a VM, and the
    // same settings sent again.
    s.ok(&["vm", "create", "vm1", "--tier", "web"]).await;
    s.ok(&["zone", "update", "z1", "--hello-interval", "5"])
        .await;
    assert_eq!(s.settled_versions().await, v3);

    // ACLs: the tier with no list is closed in the router's table.
    let fw = s.ok(&["router", "config", "left-vr", "--json"]).await["firewall"].clone();
    let listing = fw["listing"].as_str().unwrap();
    assert!(
        listing.contains("oifname \"eth2\" jump in_eth2"),
        "{listing}"
    );
    assert!(fw["file"]
        .as_str()
        .unwrap()
        .starts_with("table inet vpcroute\ndelete table inet vpcroute\n"));
    // A list no tier uses moves nothing; attaching it moves only its VPC's
    // router; each rule change moves it again.
    s.ok(&["acl", "create", "web-acl", "--vpc", "left"]).await;
    s.ok(&[
        "acl",
        "rule",
        "add",
        "web-acl",
        "--number",
        "10",
        "--cidr",
        "10.1.4.0/22",
        "--protocol",
        "tcp",
        "--ports",
        "8080",
        "--traffic",
        "ingress",
        "--action",
        "allow",
    ])
    .await;
    assert_eq!(
        s.settled_versions().await,
        v3,
        "an unattached list moved a router"
    );
    s.ok(&["tier", "set-acl", "web", "web-acl"]).await;
    let v4 = s
        .wait_versions("list attached", |v| v["left-vr"] > v3["left-vr"])
        .await;
    assert_eq!(
        (v4["right-vr"], v4["other-vr"]),
        (v3["right-vr"], v3["other-vr"])
    );
    let listing = s.ok(&["router", "config", "left-vr", "--json"]).await["firewall"]["listing"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        listing.contains(
            "ip saddr 10.1.4.0/22 tcp dport 8080 accept comment \"acl web-acl rule 10 tier web\""
        ),
        "{listing}"
    );
    s.ok(&["acl", "rule", "delete", "web-acl", "--number", "10"])
        .await;
    let v5 = s
        .wait_versions("rule deleted", |v| v["left-vr"] > v4["left-vr"])
        .await;
    assert_eq!(v5["left-vr"], v4["left-vr"] + 1);
    // Refusals name the cause and change nothing.
    let e = s.ctl(&["acl", "delete", "web-acl"]).await;
    assert_eq!(e.error_code(), Some("in_use"), "{:?}", e.error_message());
    let e = s.ctl(&["tier", "set-acl", "web", "nope"]).await;
    assert_eq!(e.error_code(), Some("unknown_acl"));
    let e = s
        .ctl(&[
            "acl",
            "rule",
            "add",
            "web-acl",
            "--number",
            "1",
            "--cidr",
            "10.0.0.0/8",
            "--protocol",
            "icmp",
            "--ports",
            "80",
            "--traffic",
            "ingress",
            "--action",
            "allow",
        ])
        .await;
    assert_eq!(e.error_code(), Some("invalid_request"));
    assert!(e.error_message().unwrap().contains("tcp and udp"));
    let shown = s.ok(&["show", "acl", "web-acl", "--json"]).await;
    assert_eq!(shown["rules"], serde_json::json!([]));
    assert_eq!(shown["tiers"], serde_json::json!(["web"]));
    assert_eq!(s.settled_versions().await, v5);
}
