//! Issue 11 item 9 in the lab: a key made of every printable character the
//! rule allows besides letters and digits (all punctuation but `?`, `!`,
//! `#`) reaches a real FRR 8.4 through router-sync's vtysh session on stdin
//! and reads back byte-exact from `show running-config`. The punctuation is
//! 29 characters and an MD5 key holds 16, so it is applied as two keys, the
//! second by `zone update`. Needs root and FRR; skipped elsewhere, but never
//! when CI=true.

use std::time::Duration;

use vpcroute_render::KEY_REFUSED_PUNCTUATION;
use vpcroute_tests::lab::*;
use vpcroute_tests::{nats_or_skip, vpcctl, Service, ServiceKind};

/// Every printable ASCII punctuation character the key rule allows.
fn allowed_punctuation() -> String {
    (0x21u8..=0x7e)
        .filter(|b| b.is_ascii_punctuation() && !KEY_REFUSED_PUNCTUATION.contains(b))
        .map(char::from)
        .collect()
}

/// The key of `message-digest-key KEY_ID` in the router's running configuration.
fn running_key_line(ns: &str, key_id: u8) -> Option<String> {
    let running = vtysh(ns, &["show running-config"]);
    let prefix = format!(" ip ospf message-digest-key {key_id} md5 ");
    running
        .lines()
        .find(|l| l.starts_with(&prefix))
        .map(|l| l[prefix.len()..].to_string())
}

/// A command line's words (none of them holds a space).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_every_allowed_punctuation_reads_back_byte_exact() {
    if !lab_possible() {
        vpcroute_testkit::skip_unless_ci("root, FRR and ping (the namespace lab)");
        return;
    }
    let punctuation = allowed_punctuation();
    assert_eq!(punctuation.len(), 29, "{punctuation}");
    let (first, rest) = punctuation.split_at(16);
    let keys = [first.to_string(), format!("{rest}aZ9")];
    let nats = nats_or_skip!();
    let run = lab_up("Lab-Key_42");
    let url = nats.url();
    let d = |n: &str| run.dir.path().join(n);
    let _ipam = Service::start(ServiceKind::Ipam, &url, &d("ipam")).await;
    let _areas = Service::start(ServiceKind::AreaRegistry, &url, &d("areas")).await;
    let _config = Service::start(ServiceKind::ConfigRenderer, &url, &d("config")).await;
    let args = sync_args(&["left-vr"], false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _sync = Service::start_with_args(ServiceKind::RouterSync, &url, &d("sync"), &args).await;
    let key_file = |i: usize| {
        let p = d(&format!("key{i}"));
        std::fs::write(&p, format!("{}\n", keys[i])).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (k0, k1) = (key_file(0), key_file(1));
    vpcctl(
        &url,
        &words(&format!(
            "zone enable z1 --super-cidr 10.1.0.0/16 --auth md5 --auth-key-id 3 --auth-key-file {}",
            k0
        )),
    )
    .await
    .expect_ok();
    vpcctl(
        &url,
        &words("vpc create left --zone z1 --prefix-length 22 --router left-vr --router-id 10.255.0.1 --uplink eth1=192.168.100.2/24"),
    )
    .await
    .expect_ok();
    wait_for("key 3 on left-vr", Duration::from_secs(30), || {
        running_key_line(LEFT, 3).is_some()
    })
    .await;
    assert_eq!(running_key_line(LEFT, 3).as_deref(), Some(keys[0].as_str()));

    vpcctl(
        &url,
        &words(&format!(
            "zone update z1 --auth md5 --auth-key-id 4 --auth-key-file {}",
            k1
        )),
    )
    .await
    .expect_ok();
    wait_for("key 4 on left-vr", Duration::from_secs(30), || {
        running_key_line(LEFT, 4).is_some()
    })
    .await;
    assert_eq!(running_key_line(LEFT, 4).as_deref(), Some(keys[1].as_str()));
    // router-sync verified it too: the running configuration needs no
    // further command, so the router is in sync at the new version.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let st = vpcctl(&url, &["router", "status", "left-vr"]).await.json;
        if st["state"] == "in_sync" && st["applied_version"] == st["desired_version"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left-vr not in sync: {st}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
