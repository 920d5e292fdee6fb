//! Validate once, end to end (issue 11 item 1): what the renderer would
//! refuse is refused at the request; and a log written by an older version
//! that holds such data makes the router visibly `failed` with
//! `render_failed` (config-renderer's `router.get`, router-sync's status),
//! while the zone's other router still renders.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vpcroute_eventlog::{AppendRequest, EventLog, ExpectedVersion, LogOptions, NewEvent};
use vpcroute_protocol::config::{DialectName, RouterConfig, RouterConfigGet};
use vpcroute_protocol::ErrorCode;
use vpcroute_tests::{nats_or_skip, vpcctl, CliOutput, NatsServer, Service, ServiceKind};

/// `vpc create VPC` in zone z1, a /22, with its router.
fn vpc_create(vpc: &str, router: &str, rid: &str, uplink: &str) -> String {
    format!("vpc create {vpc} --zone z1 --prefix-length 22 --router {router} --router-id {rid} --uplink {uplink}")
}

async fn ctl(nats: &NatsServer, args: &[&str]) -> CliOutput {
    vpcctl(&nats.url(), args).await
}

/// Polls `f` until it returns Some, for at most 20 s.
async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn router_get(
    client: &async_nats::Client,
    router: &str,
) -> Result<RouterConfig, (ErrorCode, String)> {
    vpcroute_bus::request::<_, RouterConfig>(
        client,
        vpcroute_bus::subjects::config::ROUTER_GET,
        &RouterConfigGet {
            router: router.into(),
            dialect: DialectName::Frr,
        },
        Duration::from_secs(5),
    )
    .await
    .map_err(|e| {
        let b = e.into_body();
        (b.code, b.message)
    })
}

/// The live defect: `tier create bad --interface eth3@1` was accepted and
/// its router silently frozen. Now it is refused and nothing changes; an
/// uplink inside the VPC's own block is refused too.
/// A command line's words (none of them holds a space).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_renderer_refuses_is_refused_at_the_request() {
    let nats = nats_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let url = nats.url();
    let _ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
    ctl(
        &nats,
        &["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"],
    )
    .await
    .expect_ok();
    ctl(
        &nats,
        &words(&vpc_create(
            "left",
            "left-vr",
            "10.255.0.1",
            "eth1=192.168.100.2/24",
        )),
    )
    .await
    .expect_ok();
    let before = ctl(&nats, &["show", "vpc", "left"]).await.expect_ok();

    let bad = ctl(
        &nats,
        &words("tier create bad --vpc left --prefix-length 26 --interface eth3@1"),
    )
    .await;
    assert!(!bad.ok(), "eth3@1 accepted: {}", bad.stdout);
    assert_eq!(bad.error_code(), Some("invalid_request"), "{}", bad.stdout);
    assert!(
        bad.error_message().unwrap().contains("eth3@1"),
        "{}",
        bad.stdout
    );
    // The uplink inside the VPC's block: the zone is 10.1.0.0/16, so the
    // first /22 is 10.1.4.0/22 (left holds 10.1.0.0/22); an uplink there
    // overlaps it.
    let inside = ctl(
        &nats,
        &words(&vpc_create(
            "right",
            "right-vr",
            "10.255.0.2",
            "eth1=10.1.4.2/24",
        )),
    )
    .await;
    assert!(
        !inside.ok(),
        "uplink inside the VPC accepted: {}",
        inside.stdout
    );
    assert_eq!(inside.error_code(), Some("overlap"), "{}", inside.stdout);
    assert_eq!(
        ctl(&nats, &["show", "vpc", "left"]).await.expect_ok(),
        before,
        "a refusal changed the VPC"
    );
    let right = ctl(&nats, &["show", "vpc", "right"]).await;
    assert_eq!(right.error_code(), Some("unknown_vpc"), "{}", right.stdout);
    // Positive control: the same requests with good values are accepted.
    ctl(
        &nats,
        &words("tier create bad --vpc left --prefix-length 26 --interface eth3"),
    )
    .await
    .expect_ok();
    ctl(
        &nats,
        &words(&vpc_create(
            "right",
            "right-vr",
            "10.255.0.2",
            "eth1=192.168.100.3/24",
        )),
    )
    .await
    .expect_ok();
}

/// A fake vtysh: answers the `show` commands router-sync runs with empty
/// answers, and every line on stdin as vtysh answers a line that is no
/// command (which also ends each of router-sync's exchanges).
const FAKE_VTYSH: &str = "#!/bin/sh\n\
     while IFS= read -r line; do echo \"% Unknown command: $line\"; done\n\
     exit 0\n";

/// A log written by an older ipam holds a tier on `eth3@1`: the router is
/// `render_failed` at config-renderer and `failed`/`render_failed` in its
/// router-sync status; the zone's other router still renders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_from_an_older_version_makes_the_router_render_failed() {
    let nats = nats_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let url = nats.url();
    let mut ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
    let _areas = Service::start(ServiceKind::AreaRegistry, &url, &dir.path().join("areas")).await;
    let config = Service::start(
        ServiceKind::ConfigRenderer,
        &url,
        &dir.path().join("config"),
    )
    .await;
    ctl(
        &nats,
        &["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"],
    )
    .await
    .expect_ok();
    for (vpc, vr, rid, up) in [
        ("left", "left-vr", "10.255.0.1", "eth1=192.168.100.2/24"),
        ("right", "right-vr", "10.255.0.2", "eth1=192.168.100.3/24"),
    ] {
        ctl(&nats, &words(&vpc_create(vpc, vr, rid, up)))
            .await
            .expect_ok();
    }
    let left: Value = ctl(&nats, &["show", "vpc", "left"]).await.expect_ok();
    let client = async_nats::connect(&url).await.unwrap();
    wait_for("both routers rendered", || async {
        (router_get(&client, "left-vr").await.is_ok()
            && router_get(&client, "right-vr").await.is_ok())
        .then_some(())
    })
    .await;

    // What an ipam before the fix recorded for
    // `tier create bad --vpc left --prefix-length 26 --interface eth3@1`.
    ipam.kill9();
    let cidr = left["cidr"].as_str().unwrap().replace("/22", "/26");
    let gateway = cidr.replace(".0/26", ".1");
    {
        let log = EventLog::open(
            &dir.path().join("ipam").join("ipam.sqlite"),
            LogOptions::default(),
        )
        .unwrap();
        log.append(AppendRequest {
            request_id: "older-version-tier".into(),
            fingerprint: "older-version-tier".into(),
            stream: "zone/z1".into(),
            expected: ExpectedVersion::Any,
            events: vec![NewEvent {
                event_type: "tier_allocated".into(),
                schema_version: 1,
                payload: json!({"type": "tier_allocated", "tier": "bad", "vpc": "left",
                    "cidr": cidr, "gateway": gateway, "interface": "eth3@1"}),
            }],
            result: Value::Null,
        })
        .unwrap();
    }
    ipam.restart().await;

    let (code, message) = wait_for("left-vr render_failed", || async {
        router_get(&client, "left-vr").await.err()
    })
    .await;
    assert_eq!(code, ErrorCode::RenderFailed, "{message}");
    assert!(message.contains("eth3@1"), "{message}");
    // Positive control: the zone's other router is unaffected.
    let right = router_get(&client, "right-vr")
        .await
        .expect("right-vr still renders");
    assert_eq!(right.vpc, "right");
    // A warning logged (the event: vpcroute-configs' state tests).
    assert!(
        wait_for("render_failed warning", || async {
            config.stderr().contains("does not render").then_some(true)
        })
        .await
    );

    // router-sync, both routers on a fake vtysh.
    let script = dir.path().join("fake-vtysh.sh");
    std::fs::write(&script, FAKE_VTYSH).unwrap();
    let left_cmd = format!("left-vr=/bin/sh {}", script.display());
    let right_cmd = format!("right-vr=/bin/sh {}", script.display());
    let sync = Service::start_with_args(
        ServiceKind::RouterSync,
        &url,
        &dir.path().join("sync"),
        &[
            "--router",
            &left_cmd,
            "--router",
            &right_cmd,
            "--drift-interval",
            "300ms",
        ],
    )
    .await;
    let status = wait_for("left-vr failed", || async {
        let out = ctl(&nats, &["router", "status", "left-vr"]).await;
        (out.ok() && out.json["state"] == "failed" && out.json["error_code"] == "render_failed")
            .then_some(out.json)
    })
    .await;
    assert!(
        status["last_error"].as_str().unwrap().contains("eth3@1"),
        "{status}"
    );
    let human = tokio::process::Command::new(vpcroute_tests::binary("vpcctl"))
        .args(["--nats-url", &url, "router", "status", "left-vr"])
        .output()
        .await
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains("failed (render_failed)"), "{human}");
    // Positive control: right-vr has its configuration (the fake vtysh
    // refuses to apply it, but that is no render failure).
    let right = wait_for("right-vr has a desired version", || async {
        let out = ctl(&nats, &["router", "status", "right-vr"]).await;
        (out.ok() && out.json["desired_version"].is_u64()).then_some(out.json)
    })
    .await;
    assert_ne!(right["error_code"], "render_failed", "{right}");
    // The failure is recorded once and warned once, not on every check:
    // wait until left-vr has been checked several more times.
    wait_for("left-vr checked again", || async {
        let out = ctl(&nats, &["router", "status", "left-vr"]).await;
        // Checked every 300 ms: a status more than 1.5 s newer has been
        // through several checks.
        let seen = status["updated_at_ms"].as_i64().unwrap_or(0);
        (out.json["updated_at_ms"].as_i64().unwrap_or(0) > seen + 1500).then_some(())
    })
    .await;
    let warnings = sync
        .stderr()
        .matches("config-renderer cannot render the router")
        .count();
    assert_eq!(warnings, 1, "{}", sync.stderr());
}

/// Items 5 and 9 through vpcctl: a backbone other than 0.0.0.0, and a key
/// holding `?`, `!`, `#` or surrounding spaces, are refused at `zone
/// enable` (the zone is then not enabled anywhere) and at `zone update`
/// (the settings keep their revision), with `invalid_settings`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_backbones_and_keys_are_refused_at_enable_and_update() {
    let nats = nats_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let url = nats.url();
    let _ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
    let _areas = Service::start(ServiceKind::AreaRegistry, &url, &dir.path().join("areas")).await;
    let key_file = |name: &str, key: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("{key}\n")).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = key_file("good", "good$Key%1");
    ctl(
        &nats,
        &words(&format!(
            "zone enable z1 --super-cidr 10.1.0.0/16 --auth md5 --auth-key-file {}",
            good
        )),
    )
    .await
    .expect_ok();
    let zone_z1 = || async { ctl(&nats, &["show", "zone", "z1"]).await.expect_ok() };
    let before = zone_z1().await;
    assert_eq!(before["ospf"]["backbone"], "0.0.0.0", "{before}");

    let mut cases: Vec<(String, Vec<String>)> = vec![(
        "backbone 0.0.0.5".into(),
        vec!["--backbone-area".into(), "0.0.0.5".into()],
    )];
    for (i, key) in ["ab?cd", "ab!cd", "ab#cd", " abcd", "abcd "]
        .iter()
        .enumerate()
    {
        let f = key_file(&format!("bad{i}"), key);
        for auth in ["md5", "plaintext"] {
            cases.push((
                format!("{auth} key {key:?}"),
                vec![
                    "--auth".into(),
                    auth.into(),
                    "--auth-key-file".into(),
                    f.clone(),
                ],
            ));
        }
    }
    for (what, flags) in &cases {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let mut enable = vec!["zone", "enable", "z2", "--super-cidr", "10.2.0.0/16"];
        enable.extend(&flags);
        let out = ctl(&nats, &enable).await;
        assert_eq!(
            out.error_code(),
            Some("invalid_settings"),
            "enable, {what}: {}{}",
            out.stdout,
            out.stderr
        );
        let shown = ctl(&nats, &["show", "zone", "z2"]).await;
        assert_eq!(
            shown.error_code(),
            Some("unknown_zone"),
            "enable, {what} half-done: {}",
            shown.stdout
        );
        let mut update = vec!["zone", "update", "z1"];
        update.extend(&flags);
        let out = ctl(&nats, &update).await;
        assert_eq!(
            out.error_code(),
            Some("invalid_settings"),
            "update, {what}: {}{}",
            out.stdout,
            out.stderr
        );
        let msg = out.error_message().unwrap();
        assert!(
            msg.contains("0.0.0.5") || msg.contains("'?', '!' and '#'"),
            "update, {what}: {msg}"
        );
        assert_eq!(zone_z1().await, before, "update, {what} changed the zone");
    }
    // Positive control: the same commands with good values go through.
    let ok = ctl(
        &nats,
        &words(&format!(
            "zone update z1 --backbone-area 0.0.0.0 --auth md5 --auth-key-id 2 --auth-key-file {}",
            good
        )),
    )
    .await
    .expect_ok();
    assert_eq!(ok["ospf"]["key_id"], 2, "{ok}");
    ctl(
        &nats,
        &words("zone enable z2 --super-cidr 10.2.0.0/16 --backbone-area 0.0.0.0"),
    )
    .await
    .expect_ok();
}
