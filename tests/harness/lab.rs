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

/// Runs a command in a namespace: (success, stdout + stderr). For callers
/// that expect the command may fail and look at why; [`sh_ok`] for the rest.
pub fn sh(ns: &str, args: &[&str]) -> (bool, String) {
    let (status, out) = sh_status(ns, args);
    (status.success(), out)
}

/// Runs a command in a namespace: (exit status, stdout + stderr).
fn sh_status(ns: &str, args: &[&str]) -> (std::process::ExitStatus, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ip netns exec");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Runs a command in a namespace that must succeed; its stdout + stderr.
/// Panics with the command, namespace, exit status and output otherwise:
/// a probe that could not run must fail the test, never read as "absent".
pub fn sh_ok(ns: &str, args: &[&str]) -> String {
    let (status, out) = sh_status(ns, args);
    assert!(
        status.success(),
        "in {ns}: {args:?} failed ({status}):\n{out}"
    );
    out
}

/// vtysh of the router in `ns`, one `-c` per command; its output. Panics
/// (naming the namespace, commands, exit status and output) if vtysh
/// fails, a command is refused (a `%` line: vtysh 8.4 exits 0 for some
/// refusals, 1 for others) or a daemon is not running: a check such as
/// "no `router ospf` in the running configuration" must not pass because
/// vtysh printed an error instead of the configuration.
pub fn vtysh(ns: &str, cmds: &[&str]) -> String {
    let mut args = vec!["vtysh", "-N", ns];
    for c in cmds {
        args.push("-c");
        args.push(c);
    }
    let (status, out) = sh_status(ns, &args);
    let refused = vpcroute_sync::session::rejected(&out);
    let disturbed = vpcroute_sync::session::disturbance(&out);
    assert!(
        status.success() && refused.is_empty() && disturbed.is_none(),
        "vtysh in {ns} failed ({status}; refused {refused:?}; {disturbed:?}) for {cmds:?}:\n{out}"
    );
    out
}

/// A vtysh `show ... json` command, parsed. Panics if vtysh fails (see
/// [`vtysh`]) or prints no JSON object: FRR prints nothing at all for
/// some commands when ospfd has no instance (`show ip ospf json`).
pub fn vtysh_json(ns: &str, cmd: &str) -> Value {
    let text = vtysh(ns, &[cmd]);
    let parsed = text
        .find('{')
        .and_then(|start| serde_json::from_str::<Value>(&text[start..]).ok());
    match parsed {
        Some(v @ Value::Object(_)) => v,
        _ => panic!("vtysh in {ns}: {cmd:?} printed no JSON object:\n{text}"),
    }
}

/// The OSPF neighbours of the router in `ns` (`neighbors` of `show ip ospf
/// neighbor json`: router id -> its adjacencies), or None when ospfd runs
/// but has no OSPF instance (it then answers `{}`: a VR router-sync has
/// not configured yet). Panics if vtysh fails.
pub fn ospf_neighbors(ns: &str) -> Option<serde_json::Map<String, Value>> {
    let v = vtysh_json(ns, "show ip ospf neighbor json");
    match v.get("neighbors") {
        Some(Value::Object(n)) => Some(n.clone()),
        None if v.as_object().is_some_and(|o| o.is_empty()) => None,
        _ => panic!("vtysh in {ns}: unexpected `show ip ospf neighbor json`: {v}"),
    }
}

/// Kernel routes installed by OSPF in a namespace (panics if `ip` fails).
pub fn ospf_routes(ns: &str) -> String {
    sh_ok(ns, &["ip", "route", "show", "proto", "ospf"])
}

/// Whether VM `from_vm` (short name) gets an answer from `to`. ping exits 1
/// when no reply came; anything else (2: an error, 255: no namespace, 127:
/// no ping) is a failed probe and panics.
pub fn pings(from_vm: &str, to: &str) -> bool {
    let ns = format!("vpcr-{from_vm}");
    let (status, out) = sh_status(&ns, &["ping", "-c", "1", "-W", "1", to]);
    match status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("in {ns}: ping {to} failed ({status}):\n{out}"),
    }
}

/// Whether VM `from_vm` (short name) can open a TCP connection to
/// `to:port` within a second (bash's /dev/tcp: no netcat needed). No
/// answer (timeout's 124) or a refusal (bash's `connect:` error) is "no";
/// any other failure of the probe panics.
pub fn tcp_connects(from_vm: &str, to: &str, port: u16) -> bool {
    let ns = format!("vpcr-{from_vm}");
    let script = format!("exec 3<>/dev/tcp/{to}/{port}");
    let (status, out) = sh_status(&ns, &["timeout", "1", "bash", "-c", &script]);
    match status.code() {
        Some(0) => true,
        Some(124) => false,
        Some(1) if out.contains("connect: ") => false,
        _ => panic!("in {ns}: TCP probe of {to}:{port} failed ({status}):\n{out}"),
    }
}

/// The pid of the ospfd running in `ns` (panics if there is none).
pub fn ospfd_pid(ns: &str) -> String {
    let path = format!("/var/run/frr/{ns}/ospfd.pid");
    let pid = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let pid = pid.trim().to_string();
    assert!(!pid.is_empty(), "{path} is empty");
    pid
}

/// Milliseconds the adjacency of `ns` with `neighbor` has been up; None if
/// it is not Full (or `ns` has no OSPF instance yet). Panics if vtysh fails.
pub fn full_since_ms(ns: &str, neighbor: &str) -> Option<u64> {
    let n = ospf_neighbors(ns)?
        .get(neighbor)?
        .as_array()?
        .first()?
        .clone();
    (n.get("converged")?.as_str()? == "Full").then(|| n.get("upTimeInMsec")?.as_u64())?
}

/// OSPF packets seen by tcpdump on one interface of a lab namespace: the
/// evidence that a router's hellos really reach a segment (the positive
/// control of "it never became a neighbour").
pub struct OspfCapture {
    child: std::process::Child,
    what: String,
}

impl OspfCapture {
    /// Starts tcpdump in `ns` on `iface` for the next `count` OSPF packets
    /// from `src`, giving up after `timeout`.
    pub fn start(ns: &str, iface: &str, src: &str, count: u32, timeout: Duration) -> OspfCapture {
        let filter = format!("ip proto 89 and src host {src}");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "timeout",
                &timeout.as_secs().to_string(),
            ])
            .args([
                "tcpdump",
                "-i",
                iface,
                "-n",
                "-l",
                "-v",
                "-c",
                &count.to_string(),
            ])
            .arg(&filter)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run tcpdump (scripts/install-deps.sh installs it)");
        OspfCapture {
            child,
            what: format!("{count} packets `{filter}` on {iface} in {ns}"),
        }
    }

    /// Waits for the packets; panics unless all of them came (tcpdump
    /// exits 0 only then) and each is an OSPF hello from `router_id`.
    /// Returns tcpdump's decoding of them.
    pub fn hellos_from(self, router_id: &str) -> String {
        let out = self.child.wait_with_output().expect("wait for tcpdump");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "tcpdump did not see {} ({}):\n{text}{err}",
            self.what,
            out.status
        );
        let packets = text.matches("proto OSPF (89)").count();
        let hellos = text.matches("OSPFv2, Hello").count();
        let from = text.matches(&format!("Router-ID {router_id},")).count();
        assert!(
            packets > 0 && hellos == packets && from == packets,
            "not all of {} are hellos from {router_id}:\n{text}",
            self.what
        );
        text
    }
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
    crate::vpcctl(nats_url, &vpc_create_args(vpc, vr, router_id, &uplink))
        .await
        .expect_ok();
}

/// `vpcctl` arguments creating VPC `vpc` (a /22 of zone `z1`) with router
/// `router` (`router_id`, `uplink` as IFACE=ADDR/LEN).
pub fn vpc_create_args<'a>(
    vpc: &'a str,
    router: &'a str,
    router_id: &'a str,
    uplink: &'a str,
) -> Vec<&'a str> {
    vec![
        "vpc",
        "create",
        vpc,
        "--zone",
        "z1",
        "--netmask",
        "255.255.252.0",
        "--router",
        router,
        "--router-id",
        router_id,
        "--uplink",
        uplink,
    ]
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
