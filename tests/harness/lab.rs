//! Driving the namespace lab (`scripts/lab.sh`): its routers, VMs and FRR
//! daemons, for the lab tests and the lab benchmarks alike.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bins::workspace_root;
pub use crate::packets::tcp_listen_in;

/// The lab's namespaces and the core router's OSPF router id.
pub const LEFT: &str = "vpcr-left-vr";
pub const RIGHT: &str = "vpcr-right-vr";
pub const CORE: &str = "vpcr-core";
pub const CORE_ID: &str = "10.255.0.254";

/// Runs `scripts/lab.sh ARGS`; panics with its stderr if it fails.
pub fn lab(args: &[&str]) -> String {
    let out = Command::new(workspace_root().join("scripts/lab.sh"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run lab.sh");
    assert!(
        out.status.success(),
        "lab.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The machine has one lab (its namespaces have fixed names), so every
/// user of it, whichever checkout or test binary it runs from, holds this
/// lock from `lab_up` until the lab is down again. Two lab tests started at
/// once then run one after the other instead of tearing each other's
/// namespaces down.
pub struct LabLock {
    _file: std::fs::File,
}

impl LabLock {
    pub fn acquire() -> LabLock {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/run/vpcroute-lab.lock")
            .expect("open /run/vpcroute-lab.lock");
        // SAFETY: flock on a file descriptor we own; released when the file closes.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(
            rc,
            0,
            "flock /run/vpcroute-lab.lock: {}",
            std::io::Error::last_os_error()
        );
        LabLock { _file: file }
    }
}

/// Takes the lab down however the test or benchmark ends.
pub struct LabGuard;

impl Drop for LabGuard {
    fn drop(&mut self) {
        let _ = Command::new(workspace_root().join("scripts/lab.sh"))
            .arg("down")
            .stdin(std::process::Stdio::null())
            .output();
    }
}

/// A fresh lab: whatever an earlier run left is taken down, then `lab.sh
/// up` with the zone's OSPF `key` in a file of a new temp dir (which the
/// test also uses for the services' data). Taken down again on drop.
pub struct LabRun {
    pub dir: tempfile::TempDir,
    pub key_path: String,
    // Dropped in this order: the lab goes down, then the lock is released.
    _guard: LabGuard,
    _lock: LabLock,
}

pub fn lab_up(key: &str) -> LabRun {
    lab_up_with(key, &[])
}

/// [`lab_up`] with more `lab.sh up` options, e.g. the core's timers
/// (`--hello 1 --dead 4`).
pub fn lab_up_with(key: &str, up_args: &[&str]) -> LabRun {
    let lock = LabLock::acquire();
    lab(&["down"]);
    let guard = LabGuard;
    let dir = tempfile::Builder::new()
        .prefix("vpcroute-lab-")
        .tempdir()
        .expect("temp dir");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{key}\n")).expect("write the key");
    let key_path = key_file.to_str().expect("utf-8 path").to_string();
    let mut args = vec!["up", "--key-file", &key_path];
    args.extend_from_slice(up_args);
    lab(&args);
    LabRun {
        dir,
        key_path,
        _guard: guard,
        _lock: lock,
    }
}

/// Whether this process may build the lab (root, FRR, ping).
pub fn lab_possible() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let ping = Command::new("sh")
        .args(["-c", "command -v ping"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    root && std::path::Path::new("/usr/lib/frr/ospfd").exists() && ping
}

/// [`lab_possible`], and nft is installed (the ACL lab tests).
pub fn nft_lab_possible() -> bool {
    lab_possible() && Command::new("nft").arg("--version").output().is_ok()
}

/// Runs a command in a namespace: (success, stdout + stderr).
pub fn sh(ns: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("ip netns exec");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// vtysh of the router in `ns`, one `-c` per command.
pub fn vtysh(ns: &str, cmds: &[&str]) -> String {
    let mut args = vec!["vtysh", "-N", ns];
    for c in cmds {
        args.push("-c");
        args.push(c);
    }
    sh(ns, &args).1
}

/// A vtysh `show ... json` command, parsed (Null if not JSON).
pub fn vtysh_json(ns: &str, cmd: &str) -> Value {
    let text = vtysh(ns, &[cmd]);
    let start = text.find('{').unwrap_or(0);
    serde_json::from_str(&text[start..]).unwrap_or(Value::Null)
}

/// Kernel routes installed by OSPF in a namespace.
pub fn ospf_routes(ns: &str) -> String {
    sh(ns, &["ip", "route", "show", "proto", "ospf"]).1
}

/// Whether VM `from_vm` (short name) gets an answer from `to`.
pub fn pings(from_vm: &str, to: &str) -> bool {
    sh(
        &format!("vpcr-{from_vm}"),
        &["ping", "-c", "1", "-W", "1", to],
    )
    .0
}

/// Whether VM `from_vm` (short name) can open a TCP connection to
/// `to:port` within a second (bash's /dev/tcp: no netcat needed).
pub fn tcp_connects(from_vm: &str, to: &str, port: u16) -> bool {
    sh(
        &format!("vpcr-{from_vm}"),
        &[
            "timeout",
            "1",
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{to}/{port}"),
        ],
    )
    .0
}

/// The pid of the ospfd running in `ns`.
pub fn ospfd_pid(ns: &str) -> String {
    std::fs::read_to_string(format!("/var/run/frr/{ns}/ospfd.pid"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Milliseconds the adjacency of `ns` with `neighbor` has been up (None if
/// not Full).
pub fn full_since_ms(ns: &str, neighbor: &str) -> Option<u64> {
    let v = vtysh_json(ns, "show ip ospf neighbor json");
    let n = v
        .get("neighbors")?
        .get(neighbor)?
        .as_array()?
        .first()?
        .clone();
    (n.get("converged")?.as_str()? == "Full").then(|| n.get("upTimeInMsec")?.as_u64())?
}

/// The lab's two VRs as Figure 3 has them: (VPC, router, router id, uplink
/// on eth1).
pub const VRS: [(&str, &str, &str, &str); 2] = [
    ("left", "left-vr", "10.255.0.1", "192.168.100.2/24"),
    ("right", "right-vr", "10.255.0.2", "192.168.100.3/24"),
];

/// router-sync's arguments for the lab routers `vrs` (short names, e.g.
/// `left-vr`): each one's vtysh in its namespace, its nft too when `nft`,
/// and a drift check every second.
pub fn sync_args(vrs: &[&str], nft: bool) -> Vec<String> {
    let mut args = Vec::new();
    for vr in vrs {
        let ns = format!("vpcr-{vr}");
        args.extend([
            "--router".into(),
            format!("{vr}=ip netns exec {ns} vtysh -N {ns}"),
        ]);
        if nft {
            args.extend(["--nft".into(), format!("{vr}=ip netns exec {ns} nft")]);
        }
    }
    args.extend(["--drift-interval".into(), "1".into()]);
    args
}

/// Waits until router-sync reports `router`'s current version applied and
/// its firewall verified (read back from nft), and returns that version.
pub async fn firewall_synced(nats_url: &str, router: &str) -> u64 {
    let start = Instant::now();
    loop {
        let want = crate::vpcctl(nats_url, &["router", "config", router, "--json"])
            .await
            .expect_ok();
        let st = crate::vpcctl(nats_url, &["router", "status", router, "--json"])
            .await
            .json;
        let v = &want["version"];
        if st["state"] == "in_sync" && &st["applied_version"] == v && &st["firewall_version"] == v {
            return v.as_u64().expect("a version number");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{router} not in sync with version {v}: {st}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `vpcctl vpc create VPC` in zone z1 as a /22 behind router `vr` with its
/// uplink on eth1, as the lab expects (see [`VRS`]).
pub async fn create_vpc(nats_url: &str, (vpc, vr, router_id, uplink): (&str, &str, &str, &str)) {
    let uplink = format!("eth1={uplink}");
    crate::vpcctl(
        nats_url,
        &[
            "vpc",
            "create",
            vpc,
            "--zone",
            "z1",
            "--netmask",
            "255.255.252.0",
            "--router",
            vr,
            "--router-id",
            router_id,
            "--uplink",
            &uplink,
        ],
    )
    .await
    .expect_ok();
}

/// Waits until each VR's kernel holds the other VPC's /22 as an OSPF
/// route (Figure 3's inter-VPC routes).
pub async fn inter_vpc_routes(timeout: Duration) {
    wait_for("inter-VPC routes in both kernels", timeout, || {
        ospf_routes(LEFT).contains("10.1.4.0/22 nhid")
            && ospf_routes(RIGHT).contains("10.1.0.0/22 nhid")
    })
    .await;
}

/// Polls `f` until it holds; panics after `timeout` naming `what`.
pub async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if f() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The design article's Figure 3 driven through `vpcctl` against the lab,
/// with CloudStack's part (plugging tier NICs and VMs into the VRs) done by
/// `lab.sh`: zone z1 (10.1.0.0/16, MD5 key id 1 from `key_file`), VPCs
/// left and right (/22, routers left-vr and right-vr), one tier each on
/// eth2 (gateways 10.1.1.1 and 10.1.5.1), one VM each. Returns the VMs'
/// addresses (left-vm1, right-vm1).
pub async fn figure3(nats_url: &str, key_file: &str) -> (String, String) {
    let ctl = |args: Vec<String>| async move {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::vpcctl(nats_url, &a).await.expect_ok()
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
        key_file,
    ]))
    .await;
    for vr in VRS {
        create_vpc(nats_url, vr).await;
    }
    let mut vms = Vec::new();
    for (vr, tier, vpc, gw, vm) in [
        ("left-vr", "left-tier", "left", "10.1.1.1", "left-vm1"),
        ("right-vr", "right-tier", "right", "10.1.5.1", "right-vm1"),
    ] {
        lab(&["tier", "add", vr, "eth2", &format!("{gw}/24")]);
        ctl(v(&[
            "tier",
            "create",
            tier,
            "--vpc",
            vpc,
            "--gateway",
            gw,
            "--netmask",
            "255.255.255.0",
            "--interface",
            "eth2",
        ]))
        .await;
        let ip = ctl(v(&["vm", "create", vm, "--tier", tier])).await["ip"]
            .as_str()
            .expect("vm create answers an ip")
            .to_string();
        lab(&["vm", "add", vm, vr, "eth2", &format!("{ip}/24"), gw]);
        vms.push(ip);
    }
    let rvm = vms.pop().expect("two VMs");
    let lvm = vms.pop().expect("two VMs");
    (lvm, rvm)
}
