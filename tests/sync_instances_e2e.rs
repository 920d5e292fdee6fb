//! Several router-sync instances on one bus (docker-compose runs one beside
//! each router): every request about a router is answered by the instance
//! that manages it, a router nobody manages is told apart at once, and each
//! instance's event log is readable on its own.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use vpcroute_protocol::ipam::EventsPage;
use vpcroute_tests::{nats_or_skip, vpcctl, Service, ServiceKind};

/// A vtysh that answers show commands with nothing and rejects every
/// configuration line, so each router-sync records `apply_failed` events
/// about its own router (as tests/security_e2e.rs's echoing vtysh).
const REJECTING_VTYSH: &str = "#!/bin/sh\n\
    if [ \"$#\" -gt 0 ]; then\n\
      case \"$2\" in *json) echo '{}';; *) echo 'frr version 8.4';; esac\n\
      exit 0\n\
    fi\n\
    while IFS= read -r line; do echo \"% Unknown command: $line\"; done\n\
    exit 0\n";

/// The deadline of every wait below.
fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

async fn poll_pause() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_router_is_answered_by_the_instance_that_manages_it() {
    let nats = nats_or_skip!();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    let vtysh = d("rejecting-vtysh.sh");
    std::fs::write(&vtysh, REJECTING_VTYSH).unwrap();
    let _ipam = Service::start(ServiceKind::Ipam, &url, &d("ipam")).await;
    let _areas = Service::start(ServiceKind::AreaRegistry, &url, &d("areas")).await;
    let _config = Service::start(ServiceKind::ConfigRenderer, &url, &d("config")).await;
    // Two instances, each managing one router and named after it (the
    // default instance name). Spawned without the harness's readiness
    // probe: the status answers below are what proves them up.
    let router_arg = |r: &str| format!("{r}=/bin/sh {}", vtysh.display());
    let (ra, rb) = (router_arg("ra"), router_arg("rb"));
    let _sync_a = Service::spawn(
        ServiceKind::RouterSync,
        &url,
        &d("sync-a"),
        &["--router", &ra, "--drift-interval", "300ms"],
    );
    let _sync_b = Service::spawn(
        ServiceKind::RouterSync,
        &url,
        &d("sync-b"),
        &["--router", &rb, "--drift-interval", "300ms"],
    );
    let nc = async_nats::connect(&url).await.unwrap();
    let mut events = nc.subscribe("vpcroute.events.sync.>").await.unwrap();
    nc.flush().await.unwrap();

    vpcctl(
        &url,
        &["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"],
    )
    .await
    .expect_ok();
    for (vpc, router, rid, uplink) in [
        ("va", "ra", "10.255.0.1", "eth1=192.168.100.2/24"),
        ("vb", "rb", "10.255.0.2", "eth1=192.168.100.3/24"),
    ] {
        let args = format!(
            "vpc create {vpc} --zone z1 --prefix-length 22 \
             --router {router} --router-id {rid} --uplink {uplink}"
        );
        let args: Vec<&str> = args.split_whitespace().collect();
        vpcctl(&url, &args).await.expect_ok();
    }
    // Both instances are up once each router's status has been answered.
    for router in ["ra", "rb"] {
        let end = deadline();
        loop {
            let o = vpcctl(&url, &["router", "status", router]).await;
            if o.ok() && o.json["router"] == router {
                break;
            }
            assert!(Instant::now() < end, "no status of {router}: {}", o.stdout);
            poll_pause().await;
        }
    }

    // 20 of 20 status requests for each router: answered, by its instance.
    for router in ["ra", "rb"] {
        let mut wrong = Vec::new();
        for _ in 0..20 {
            let o = vpcctl(&url, &["router", "status", router]).await;
            if !(o.ok() && o.json["router"] == router && o.json["state"].is_string()) {
                wrong.push(o.stdout);
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of 20 status requests for {router} were answered wrong: {wrong:#?}",
            wrong.len()
        );
    }

    // A router no instance manages: unknown_router, said by vpcctl from
    // NATS's "no responders" (a timeout would be `unavailable`, after the
    // 60 s given here).
    let o = vpcctl(&url, &["--timeout", "60s", "router", "status", "rz"]).await;
    assert_eq!(o.error_code(), Some("unknown_router"), "{}", o.stdout);
    assert_eq!(
        o.error_message(),
        Some("no router-sync manages rz"),
        "{}",
        o.stdout
    );

    // Each instance's log holds its own router's events, read on its
    // instance's subject; its published events carry the instance.
    for router in ["ra", "rb"] {
        let subject = vpcroute_bus::subjects::sync::events_read(router);
        let end = deadline();
        let page = loop {
            let page: Option<EventsPage> = vpcroute_bus::request(
                &nc,
                &subject,
                &serde_json::json!({"from_seq": 1}),
                Duration::from_secs(5),
            )
            .await
            .ok();
            match page {
                Some(p) if !p.events.is_empty() => break p,
                other => assert!(Instant::now() < end, "no events on {subject}: {other:?}"),
            }
            poll_pause().await;
        };
        for ev in &page.events {
            assert_eq!(ev.source, "router-sync");
            assert_eq!(
                ev.payload["router"], router,
                "instance {router}'s log holds another router's event: {ev:?}"
            );
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let end = deadline();
    while seen.len() < 2 {
        let Ok(Some(m)) = tokio::time::timeout_at(end.into(), events.next()).await else {
            panic!("events published by {seen:?} only");
        };
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        // vpcroute.events.sync.<instance>.<event_type>
        let instance = m.subject.split('.').nth(3).unwrap().to_string();
        assert_eq!(
            v["payload"]["router"], instance,
            "{} carries {v}",
            m.subject
        );
        seen.insert(instance);
    }
}
