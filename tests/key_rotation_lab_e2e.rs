//! Issue 11 item 8 in the lab (real zebra + ospfd in network namespaces):
//! an MD5 key rotation on the two managed VRs, with the core (which
//! vpcroute does not manage) updated by the test as the README tells its
//! operator, inside the overlap window. The adjacencies of all three
//! routers are watched throughout: zero resets, and at the end only the
//! new key is configured anywhere.
//!
//! Timers are fast (hello 1, dead 4) so that a router dropping another's
//! packets (a key it lacks) loses the adjacency within 4 s, while the
//! watcher samples every router several times a second. The positive
//! control at the end replays what vpcroute did before (a new key under
//! the same key id on one router, the others not yet changed) and the
//! watcher must count a reset. Needs root and FRR; skipped elsewhere, but
//! never when CI=true. The window's length is printed (a benchmark
//! figure, BENCHMARKS.md).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vpcroute_tests::lab::*;
use vpcroute_tests::{nats_or_skip, vpcctl, Service, ServiceKind};

const OLD_KEY: &str = "Lab-Key_42";
const NEW_KEY: &str = "Lab-Key_43-new";
const DEAD: u64 = 4;
/// config-renderer's `--key-rotation-hold`: the window in which the core's
/// operator (this test) switches the core to the new key.
const HOLD: &str = "8s";

/// What the watcher saw: samples taken and adjacency resets (a neighbour
/// that leaves Full, or whose uptime goes backwards), with where.
#[derive(Default, Debug)]
struct Watch {
    rounds: u64,
    resets: Vec<String>,
    /// (router, neighbour) -> last uptime seen Full.
    up: BTreeMap<(String, String), u64>,
}

impl Watch {
    fn sample(&mut self, ns: &str) {
        // vtysh failing panics (the watcher stops and the test with it); a
        // router with no OSPF instance has no neighbours: all reset.
        let mut seen = BTreeMap::new();
        for (id, entries) in ospf_neighbors(ns).unwrap_or_default() {
            let Some(n) = entries.as_array().and_then(|a| a.first()) else {
                continue;
            };
            if n["converged"] == "Full" {
                seen.insert(id, n["upTimeInMsec"].as_u64().unwrap_or(0));
            }
        }
        for ((router, nbr), up) in self.up.iter_mut() {
            if router != ns {
                continue;
            }
            match seen.get(nbr) {
                None => self.resets.push(format!("{ns}: {nbr} left Full")),
                Some(now) if *now < *up => self
                    .resets
                    .push(format!("{ns}: {nbr} uptime {up} -> {now} ms")),
                _ => {}
            }
        }
        self.up.retain(|(router, _), _| router != ns);
        for (nbr, up) in seen {
            self.up.insert((ns.to_string(), nbr), up);
        }
    }
}

/// Samples the three routers' neighbours until stopped.
fn watch(stop: Arc<AtomicBool>, out: Arc<Mutex<Watch>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            for ns in [CORE, LEFT, RIGHT] {
                out.lock().unwrap().sample(ns);
            }
            out.lock().unwrap().rounds += 1;
        }
    })
}

/// The MD5 key lines of the running configuration of `ns`, in order.
fn keys(ns: &str) -> Vec<String> {
    vtysh(ns, &["show running-config"])
        .lines()
        .filter(|l| l.contains("message-digest-key"))
        .map(|l| l.trim().to_string())
        .collect()
}

fn core(cmds: &[&str]) {
    let mut all = vec!["configure terminal", "interface eth1"];
    all.extend_from_slice(cmds);
    // vtysh panics if the core refuses a line.
    vtysh(CORE, &all);
}

/// Full with both others, on every router.
fn all_full() -> bool {
    [
        (CORE, ["10.255.0.1", "10.255.0.2"]),
        (LEFT, [CORE_ID, "10.255.0.2"]),
        (RIGHT, [CORE_ID, "10.255.0.1"]),
    ]
    .iter()
    .all(|(ns, nbrs)| nbrs.iter().all(|n| full_since_ms(ns, n).is_some()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md5_key_rotation_with_an_unmanaged_core_resets_no_adjacency() {
    if !lab_possible() {
        vpcroute_testkit::skip_unless_ci("root, FRR and ping (the namespace lab)");
        return;
    }
    let nats = nats_or_skip!();
    let dead = DEAD.to_string();
    let run = lab_up_with(OLD_KEY, &["--hello", "1", "--dead", &dead]);
    let url = nats.url();
    let d = |n: &str| -> PathBuf { run.dir.path().join(n) };
    let _ipam = Service::start(ServiceKind::Ipam, &url, &d("ipam")).await;
    let _areas = Service::start(ServiceKind::AreaRegistry, &url, &d("areas")).await;
    let _config = Service::start_with_args(
        ServiceKind::ConfigRenderer,
        &url,
        &d("config"),
        &["--key-rotation-hold", HOLD],
    )
    .await;
    let sync_args = sync_args(&["left-vr", "right-vr"], false);
    let sync_args: Vec<&str> = sync_args.iter().map(String::as_str).collect();
    let sync =
        Service::start_with_args(ServiceKind::RouterSync, &url, &d("sync"), &sync_args).await;
    let ctl = |args: Vec<String>| {
        let url = url.clone();
        async move {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            vpcctl(&url, &a).await.expect_ok()
        }
    };
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    ctl(v(&[
        "zone",
        "enable",
        "z1",
        "--super-cidr",
        "10.1.0.0/16",
        "--auth",
        "md5",
        "--auth-key-id",
        "1",
        "--auth-key-file",
        &run.key_path,
        "--hello-interval",
        "1",
        "--dead-interval",
        &dead,
    ]))
    .await;
    for vr in VRS {
        create_vpc(&url, vr).await;
    }
    wait_for(
        "all three routers Full with each other",
        Duration::from_secs(60),
        all_full,
    )
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Watch::default()));
    let watcher = watch(stop.clone(), seen.clone());
    wait_for(
        "the watcher's first rounds",
        Duration::from_secs(30),
        || seen.lock().unwrap().rounds >= 3,
    )
    .await;

    // README step 1 for the core, before the zone update: the new key,
    // still signing with the old one (re-entering it makes it the last).
    core(&[
        &format!("ip ospf message-digest-key 2 md5 {NEW_KEY}"),
        &format!("ip ospf message-digest-key 1 md5 {OLD_KEY}"),
    ]);
    // Watched for three dead intervals before the VRs hear of key 2: had
    // entering key 1 again not made it the signing key, the core would
    // now sign with key 2, which the VRs lack, and lose them.
    let rounds = seen.lock().unwrap().rounds;
    let since = Instant::now();
    wait_for(
        "three dead intervals watched with the core holding both keys",
        Duration::from_secs(60),
        || {
            since.elapsed() >= Duration::from_secs(3 * DEAD)
                && seen.lock().unwrap().rounds > rounds + 3
        },
    )
    .await;
    assert!(
        seen.lock().unwrap().resets.is_empty(),
        "{:?}",
        seen.lock().unwrap().resets
    );
    let new_key_file = run.dir.path().join("new-key");
    std::fs::write(&new_key_file, format!("{NEW_KEY}\n")).unwrap();
    let t0 = Instant::now();
    // No key id: the next one (2).
    ctl(v(&[
        "zone",
        "update",
        "z1",
        "--auth-key-file",
        new_key_file.to_str().unwrap(),
    ]))
    .await;

    let rotation = || {
        let url = url.clone();
        async move { vpcctl(&url, &["show", "zone", "z1", "--json"]).await.json["key_rotation"].clone() }
    };
    // README step 2: once the zone shows send_new, the core signs with the
    // new key (re-entering it makes it the last).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = rotation().await;
        if r["phase"] == "send_new" {
            assert_eq!(r["sending_key_id"], 2, "{r}");
            assert!(r["old_key_kept_until_ms"].is_i64(), "{r}");
            break;
        }
        assert!(Instant::now() < deadline, "no send_new phase: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Which key signs cannot be read back (vtysh sorts the lines); that
    // both are there can.
    for ns in [LEFT, RIGHT] {
        let k = keys(ns);
        assert_eq!(k.len(), 2, "{ns} has both keys: {k:?}");
    }
    core(&[&format!("ip ospf message-digest-key 2 md5 {NEW_KEY}")]);
    // README step 3: once the zone shows no rotation, the old key goes.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = rotation().await;
        if r.is_null() {
            break;
        }
        assert!(Instant::now() < deadline, "rotation not done: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let window = t0.elapsed();
    core(&["no ip ospf message-digest-key 1"]);
    let want = vec![format!("ip ospf message-digest-key 2 md5 {NEW_KEY}")];
    wait_for(
        "only the new key on both VRs",
        Duration::from_secs(30),
        || keys(LEFT) == want && keys(RIGHT) == want,
    )
    .await;
    assert_eq!(keys(CORE), want);
    // Three dead intervals of watching after the last change: time for any
    // router that drops another's packets to lose it.
    let rounds = seen.lock().unwrap().rounds;
    let quiet_from = Instant::now();
    wait_for(
        "three more dead intervals watched",
        Duration::from_secs(60),
        || {
            quiet_from.elapsed() >= Duration::from_secs(3 * DEAD)
                && seen.lock().unwrap().rounds > rounds + 3
        },
    )
    .await;
    {
        let w = seen.lock().unwrap();
        println!(
            "FIGURE key_rotation overlap_window_s={:.2} hold={HOLD} resets={} rounds={}",
            window.as_secs_f64(),
            w.resets.len(),
            w.rounds
        );
        assert!(
            w.resets.is_empty(),
            "adjacency resets during the rotation: {:?}",
            w.resets
        );
    }
    assert!(all_full(), "every adjacency Full at the end");

    // Positive control, and what vpcroute did before: left-vr alone gets
    // another key under the key id in use (router-sync stopped, or it
    // would put the zone's key back within a second).
    drop(sync);
    vtysh(
        LEFT,
        &[
            "configure terminal",
            "interface eth1",
            "ip ospf message-digest-key 2 md5 Other-Key_44",
        ],
    );
    wait_for(
        "the watcher sees left-vr's adjacencies reset",
        Duration::from_secs(30),
        || !seen.lock().unwrap().resets.is_empty(),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    println!("control: {:?}", seen.lock().unwrap().resets);
}
