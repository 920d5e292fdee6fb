//! `docker compose up` runs the whole stack for real (issue 17): the images
//! build here with no registry (`scripts/docker.sh build`), every service
//! becomes healthy, the design article's Figure 3 is driven through
//! `docker compose exec ctl vpcctl` as the `cloudstack` NATS user, the VM
//! containers of two VPCs ping each other through the VRs' OSPF routes once
//! the ACL allows it, a killed ipam comes back with the same state, a
//! restarted VR's FRR is resynced, and `down -v` leaves nothing behind.
//!
//! Needs Docker with compose; skips outside CI without it. The compose
//! project name is unique per run and a guard takes the stack down if the
//! test fails half-way. The stack's fixed subnets (docker-compose.yml) mean
//! one such stack per machine at a time.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use vpcroute_tests::bins::workspace_root;
use vpcroute_tests::lab::wait_for;

/// Every container of the stack, as docker-compose.yml names its services.
const SERVICES: [&str; 10] = [
    "nats",
    "ipam",
    "area-registry",
    "config-renderer",
    "ctl",
    "core",
    "left-vr",
    "right-vr",
    "left-vm",
    "right-vm",
];

/// One compose project: `scripts/docker.sh -p NAME ...` (the script sets
/// the local-image settings and the secrets directory). Dropping it takes
/// the project down with its volumes.
struct Stack {
    project: String,
    secrets: tempfile::TempDir,
}

impl Stack {
    fn script(&self, args: &[&str]) -> Output {
        Command::new(workspace_root().join("scripts/docker.sh"))
            .args(args)
            .env("VPCROUTE_SECRETS", self.secrets.path())
            .output()
            .expect("run scripts/docker.sh")
    }

    fn compose(&self, args: &[&str]) -> Output {
        let mut all = vec!["-p", self.project.as_str()];
        all.extend_from_slice(args);
        self.script(&all)
    }

    /// `compose args`, which must succeed; its stdout.
    fn compose_ok(&self, args: &[&str]) -> String {
        let out = self.compose(args);
        assert!(
            out.status.success(),
            "docker compose {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `vpcctl --json ARGS` in the ctl container (the cloudstack user).
    fn vpcctl(&self, args: &[&str]) -> Value {
        let mut all = vec!["exec", "-T", "ctl", "vpcctl", "--json"];
        all.extend_from_slice(args);
        let out = self.compose_ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("vpcctl {args:?}: {e}: {out}"))
    }

    /// Whether one ICMP echo from container `from` to `to` is answered.
    /// ping's own failure to run (exit 2) fails the test.
    fn pings(&self, from: &str, to: &str) -> bool {
        let out = self.compose(&["exec", "-T", from, "ping", "-n", "-c", "1", "-W", "1", to]);
        match out.status.code() {
            Some(0) => true,
            Some(1) => false,
            _ => panic!(
                "ping in {from} did not run: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// The project's objects of one kind (`ps -a`, `network ls`,
    /// `volume ls`), by Docker's compose label.
    fn objects(&self, kind: &[&str]) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={}", self.project);
        let out = docker(&[kind, &["--filter", &label, "-q"]].concat());
        out.lines().map(str::to_string).collect()
    }

    /// `(service, state, health)` of every container; health is "" for a
    /// container without a healthcheck (NATS: the official image has no
    /// shell or client to probe it with; the services' checks go through it).
    fn states(&self) -> Vec<(String, String, String)> {
        let ids = self.objects(&["ps", "-a"]);
        if ids.is_empty() {
            return Vec::new();
        }
        let fmt = "{{index .Config.Labels \"com.docker.compose.service\"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}";
        let out = docker(
            &[
                &["inspect", "-f", fmt][..],
                &ids.iter().map(String::as_str).collect::<Vec<_>>(),
            ]
            .concat(),
        );
        out.lines()
            .map(|l| {
                let mut f = l.split_whitespace().map(str::to_string);
                (
                    f.next().unwrap_or_default(),
                    f.next().unwrap_or_default(),
                    f.next().unwrap_or_default(),
                )
            })
            .collect()
    }

    fn all_healthy(&self) -> bool {
        let states = self.states();
        states.len() == SERVICES.len()
            && states.iter().all(|(svc, state, health)| {
                state == "running" && (health == "healthy" || svc == "nats")
            })
    }

    async fn wait_healthy(&self, what: &str) {
        wait_for(what, Duration::from_secs(180), || self.all_healthy()).await;
    }

    /// The router's status once router-sync reports it in sync with its
    /// desired version, firewall included.
    async fn synced(&self, router: &str) -> Value {
        let mut last = Value::Null;
        wait_for(
            &format!("{router} in sync"),
            Duration::from_secs(60),
            || {
                last = self.vpcctl(&["router", "status", router]);
                last["state"] == "in_sync"
                    && last["applied_version"] == last["desired_version"]
                    && last["firewall_version"] == last["desired_version"]
            },
        )
        .await;
        last
    }

    fn routes(&self, container: &str) -> String {
        self.compose_ok(&["exec", "-T", container, "ip", "route"])
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let out = self.compose(&["down", "-v", "--remove-orphans"]);
        if !out.status.success() {
            eprintln!(
                "cleanup of {} failed: {}",
                self.project,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `docker ARGS`, which must succeed; its stdout.
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn docker_available() -> bool {
    let compose = Command::new("docker").args(["compose", "version"]).output();
    let compose_v1 = Command::new("docker-compose").arg("version").output();
    Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success())
        && (compose.is_ok_and(|o| o.status.success())
            || compose_v1.is_ok_and(|o| o.status.success()))
}

/// The Figure 3 commands (scripts/lab.sh's addresses, here fixed by
/// docker-compose.yml; the VPC and tier interfaces are the names the router
/// entrypoint gives them), each VM at the address compose gave it. One
/// command line per string: vpcctl's words, split on spaces.
fn figure3(s: &Stack) {
    let ctl = |line: String| s.vpcctl(&line.split(' ').collect::<Vec<_>>());
    ctl("zone enable z1 --super-cidr 10.1.0.0/16 --auth md5 --auth-key-id 1 --auth-key-file /run/secrets/ospf_key".into());
    for (vpc, rid, uplink, gw, ip) in [
        (
            "left",
            "10.255.0.1",
            "192.168.100.2/24",
            "10.1.1.1",
            "10.1.1.10",
        ),
        (
            "right",
            "10.255.0.2",
            "192.168.100.3/24",
            "10.1.5.1",
            "10.1.5.10",
        ),
    ] {
        ctl(format!(
            "vpc create {vpc} --zone z1 --netmask 255.255.252.0 --router {vpc}-vr --router-id {rid} --uplink bb0={uplink}"
        ));
        ctl(format!("tier create {vpc}-tier --vpc {vpc} --gateway {gw} --netmask 255.255.255.0 --interface tier0"));
        let created = ctl(format!("vm create {vpc}-vm1 --tier {vpc}-tier --ip {ip}"));
        assert_eq!(created["ip"], ip, "{created}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_compose_runs_the_articles_network() {
    if !docker_available() {
        vpcroute_testkit::skip_unless_ci("a Docker engine with compose");
        return;
    }
    let stack = Stack {
        project: format!("vpcroute-e2e-{}", std::process::id()),
        secrets: tempfile::tempdir().expect("tempdir"),
    };

    // A password starting with a digit: nats-server parses a variable's
    // value as config, so this one only works quoted (nats-entrypoint.sh);
    // `openssl rand -hex` gives such a password more often than not.
    std::fs::write(stack.secrets.path().join("nats-ipam"), "6e3f0a9c1d2b4e5f\n")
        .expect("write secret");

    // ---- build (the one documented command) and up
    let build = stack.script(&["build"]);
    assert!(
        build.status.success(),
        "scripts/docker.sh build: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    for secret in ["nats-ipam", "ospf-key"] {
        assert!(
            Path::new(&stack.secrets.path().join(secret)).exists(),
            "no secret {secret}"
        );
    }
    stack.compose_ok(&["up", "-d"]);
    stack.wait_healthy("every service healthy").await;

    // ---- Figure 3 as CloudStack; OSPF carries each VPC to the other VR
    figure3(&stack);
    wait_for(
        "inter-VPC OSPF routes on both VRs",
        Duration::from_secs(120),
        || {
            stack.routes("left-vr").contains("10.1.4.0/22 nhid")
                && stack.routes("right-vr").contains("10.1.0.0/22 nhid")
        },
    )
    .await;
    let before_acl = stack.synced("right-vr").await;
    // No rule allows the left VPC in: the route is there, the echo is not
    // answered (the positive control is the same ping after the ACL).
    assert!(
        !stack.pings("left-vm", "10.1.5.10"),
        "ICMP got through with no ACL rule"
    );
    stack.vpcctl(&["tier", "set-acl", "right-tier", "default_allow"]);
    stack.vpcctl(&["tier", "set-acl", "left-tier", "default_allow"]);
    let after_acl = stack.synced("right-vr").await;
    assert!(after_acl["desired_version"].as_u64() > before_acl["desired_version"].as_u64());
    stack.synced("left-vr").await;
    assert!(
        stack.pings("left-vm", "10.1.5.10"),
        "left VM reaches the right VM"
    );
    assert!(
        stack.pings("right-vm", "10.1.1.10"),
        "right VM reaches the left VM"
    );

    // ---- ipam killed, then `up`: the same state from its volume
    let shown = |s: &Stack| {
        (
            s.vpcctl(&["show", "zone", "z1"]),
            s.vpcctl(&["show", "vpc", "left"]),
            s.vpcctl(&["show", "vm", "right-vm1"]),
        )
    };
    let state = shown(&stack);
    stack.compose_ok(&["kill", "ipam"]);
    assert!(
        stack
            .states()
            .iter()
            .any(|(svc, st, _)| svc == "ipam" && st != "running"),
        "ipam still running after kill: {:?}",
        stack.states()
    );
    stack.compose_ok(&["up", "-d"]);
    stack
        .wait_healthy("every service healthy after ipam's restart")
        .await;
    assert_eq!(shown(&stack), state, "ipam came back with another state");

    // ---- the left VR restarted: its FRR starts empty, router-sync
    // resyncs it and the VPCs reach each other again.
    stack.compose_ok(&["restart", "left-vr"]);
    stack
        .wait_healthy("every service healthy after left-vr's restart")
        .await;
    stack.synced("left-vr").await;
    let running = stack.compose_ok(&[
        "exec",
        "-T",
        "left-vr",
        "vtysh",
        "-c",
        "show running-config",
    ]);
    assert!(
        running.contains("area 0.0.0.1 range 10.1.0.0/22"),
        "{running}"
    );
    wait_for(
        "left VM reaches the right VM after the VR's restart",
        Duration::from_secs(120),
        || stack.pings("left-vm", "10.1.5.10"),
    )
    .await;

    // ---- down -v: no container, network or volume of the project is left
    // (they existed a moment ago: the positive control).
    assert_eq!(stack.objects(&["ps", "-a"]).len(), SERVICES.len());
    assert!(!stack.objects(&["network", "ls"]).is_empty());
    assert!(!stack.objects(&["volume", "ls"]).is_empty());
    stack.compose_ok(&["down", "-v"]);
    for kind in [&["ps", "-a"][..], &["network", "ls"], &["volume", "ls"]] {
        let left = stack.objects(kind);
        assert!(left.is_empty(), "{kind:?} left behind: {left:?}");
    }
}
