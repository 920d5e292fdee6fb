//! Access control and secrets, end to end, with the NATS server started
//! from the shipped `deploy/nats-server.conf` (one user per service plus
//! `cloudstack`, passwords from the environment):
//!
//! - every service runs under its own NATS user and the design article's
//!   Figure 3 flow works through `vpcctl` as `cloudstack`;
//! - each user is refused what it is not allowed (forged router
//!   configurations or statuses, reading the area registry's log, a
//!   router-sync allocating addresses, a wrong password), next to the
//!   allowed counterpart, so every denial test can fail;
//! - no OSPF key and no NATS password ever reaches a log, even at `trace`;
//! - event logs are created readable by their owner only, whatever the
//!   umask.
//!
//! The harness's `NatsServer` runs without a configuration file and its
//! `Service` probes readiness without credentials, so this file has its own
//! small helpers for both. Services run through `sh -c 'umask 000; exec ..'`
//! so their files' modes cannot come from a strict inherited umask.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::{Event, ServerError};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use vpcroute_bus::subjects;
use vpcroute_tests::lab::vpc_create_args;
use vpcroute_tests::{binary, bins::workspace_root, wait_processed, CliOutput, Running};

use vpcroute_tests::nats::SHIPPED_USERS as USERS;

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A distinctive random string: `prefix` followed by hex digits, `len`
/// characters in all.
fn random_secret(prefix: &str, len: usize) -> String {
    let mut s = prefix.to_string();
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

/// Writes `content` to `path`, readable by its owner only.
fn write_secret_file(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

fn find_nats_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------- NATS

/// nats-server running `deploy/nats-server.conf` on free loopback ports
/// (client and monitoring), with random passwords; killed on drop.
struct SecureNats {
    child: Child,
    port: u16,
    monitor_port: u16,
    passwords: BTreeMap<&'static str, String>,
    dir: tempfile::TempDir,
}

/// Starts the secured NATS server, or skips the test (printing why) when
/// `nats-server` is missing, except under `CI=true`, where that fails.
macro_rules! secure_nats_or_skip {
    () => {
        match SecureNats::start() {
            Some(n) => n,
            None => return,
        }
    };
}

impl SecureNats {
    fn start() -> Option<SecureNats> {
        let Some(bin) = find_nats_server() else {
            let msg = "nats-server not found on PATH (or NATS_SERVER_BIN): \
                       install nats-server >= 2.9 to run the security tests";
            if in_ci() {
                panic!("{msg} (CI=true: not skipping)");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("vpcroute-secnats-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        let mut passwords = BTreeMap::new();
        for (user, _) in USERS {
            // A letter first: the config parser reads the variable's value
            // as a token, and a leading digit would make it a number.
            let pw = random_secret(&format!("pw{}", &user[..2]), 40);
            write_secret_file(&dir.path().join("secrets").join(user), &format!("{pw}\n"));
            passwords.insert(user, pw);
        }
        let conf = workspace_root().join("deploy/nats-server.conf");
        let log = dir.path().join("nats-server.log");
        let mut cmd = Command::new(&bin);
        cmd.arg("-c")
            .arg(&conf)
            .args(["-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-D"])
            .arg("--ports_file_dir")
            .arg(dir.path())
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (user, var) in USERS {
            cmd.env(var, &passwords[user]);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let ports_file = dir.path().join(format!("nats-server_{}.ports", child.id()));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "nats-server -c {} exited with {status}; log:\n{}",
                    conf.display(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if let Some((port, monitor_port)) = read_ports_file(&ports_file) {
                if greets(port) {
                    return Some(SecureNats {
                        child,
                        port,
                        monitor_port,
                        passwords,
                        dir,
                    });
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nats-server with {} not ready in time", conf.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn password(&self, user: &str) -> &str {
        &self.passwords[user]
    }

    fn password_file(&self, user: &str) -> PathBuf {
        self.dir.path().join("secrets").join(user)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats-server.log")).unwrap_or_default()
    }

    /// A client authenticated as `user`, and every connection event it
    /// sees (server errors such as permissions violations included).
    async fn client(&self, user: &str) -> (async_nats::Client, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let client = tokio::time::timeout(
            Duration::from_secs(10),
            async_nats::ConnectOptions::with_user_and_password(
                user.to_string(),
                self.password(user).to_string(),
            )
            .name(format!("security-test-{user}"))
            // As the binaries do: replies only on the user's own inboxes.
            .custom_inbox_prefix(format!("_INBOX_{user}"))
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(event);
                }
            })
            .connect(self.url()),
        )
        .await
        .unwrap_or_else(|_| panic!("connecting as {user} timed out"))
        .unwrap_or_else(|e| panic!("cannot connect as {user}: {e}"));
        (client, rx)
    }

    /// The server's connections with their authenticated users (`/connz`).
    fn connections(&self) -> Vec<Value> {
        let mut s = TcpStream::connect(("127.0.0.1", self.monitor_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET /connz?auth=true&limit=1024 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        let v: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("connz is not JSON ({e}): {resp}"));
        v["connections"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for SecureNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client and monitoring ports from a ports file.
fn read_ports_file(path: &Path) -> Option<(u16, u16)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let port = |key: &str| -> Option<u16> {
        v[key]
            .as_array()?
            .first()?
            .as_str()?
            .rsplit(':')
            .next()?
            .parse()
            .ok()
    };
    Some((port("nats")?, port("monitoring")?))
}

/// Whether a NATS server greets clients on `port` (`INFO {...}`).
fn greets(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).is_ok() && &buf == b"INFO"
}

/// Waits up to `within` for a permissions violation naming `subject`.
async fn violation(
    events: &mut mpsc::UnboundedReceiver<Event>,
    subject: &str,
    within: Duration,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .ok()??;
        if let Event::ServerError(ServerError::Other(msg)) = &ev {
            if msg.to_lowercase().contains("permissions violation") && msg.contains(subject) {
                return Some(msg.clone());
            }
        }
    }
}

/// Drains events already received, returning any permissions violation.
fn pending_violations(events: &mut mpsc::UnboundedReceiver<Event>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let Event::ServerError(ServerError::Other(msg)) = ev {
            if msg.to_lowercase().contains("permissions violation") {
                out.push(msg);
            }
        }
    }
    out
}

/// The next message of `sub` within `within`.
async fn next_msg<S: futures::Stream<Item = async_nats::Message> + Unpin>(
    sub: &mut S,
    within: Duration,
) -> Option<async_nats::Message> {
    tokio::time::timeout(within, sub.next())
        .await
        .ok()
        .flatten()
}

// ---------------------------------------------------------------- services

#[derive(Clone, Copy)]
struct Kind {
    /// Binary and NATS Services API name.
    bin: &'static str,
    user: &'static str,
    /// The endpoint the service adds last: once its `$SRV.INFO` lists it,
    /// every endpoint is subscribed.
    last_endpoint: &'static str,
}

const IPAM: Kind = Kind {
    bin: "vpcroute-ipam",
    user: "ipam",
    last_endpoint: subjects::ipam::EVENTS_READ,
};
const AREAS: Kind = Kind {
    bin: "vpcroute-area-registry",
    user: "area-registry",
    last_endpoint: subjects::areas::EVENTS_READ,
};
const CONFIG: Kind = Kind {
    bin: "vpcroute-config-renderer",
    user: "config-renderer",
    last_endpoint: subjects::config::EVENTS_READ,
};
const SYNC: Kind = Kind {
    bin: "vpcroute-router-sync",
    user: "router-sync",
    // `vpcroute.sync.events.read.<instance>`
    last_endpoint: subjects::sync::EVENTS_READ_PREFIX,
};

/// One service process running as its own NATS user, stderr captured to a
/// file beside (not inside) its data directory.
struct Svc {
    kind: Kind,
    data_dir: PathBuf,
    stderr_path: PathBuf,
    child: Option<Child>,
}

impl Svc {
    fn spawn(nats: &SecureNats, root: &Path, kind: Kind, rust_log: &str, extra: &[&str]) -> Svc {
        let data_dir = root.join(kind.user);
        let stderr_path = root.join(format!("{}.stderr.log", kind.bin));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg("umask 000; exec \"$@\"")
            .arg("sh")
            .arg(binary(kind.bin))
            .arg("--nats-url")
            .arg(nats.url())
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--nats-user")
            .arg(kind.user)
            .arg("--nats-password-file")
            .arg(nats.password_file(kind.user))
            .args(extra)
            .env("RUST_LOG", rust_log)
            .env_remove("VPCROUTE_NATS_URL")
            .env_remove("VPCROUTE_NATS_USER")
            .env_remove("VPCROUTE_NATS_PASSWORD")
            .env_remove("VPCROUTE_NATS_PASSWORD_FILE")
            .env_remove("VPCROUTE_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", kind.bin));
        Svc {
            kind,
            data_dir,
            stderr_path,
            child: Some(child),
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits until the service's `$SRV.INFO` (asked as `probe`'s user)
    /// lists its last endpoint.
    async fn wait_ready(&mut self, probe: &async_nats::Client) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let subject = format!("$SRV.INFO.{}", self.kind.bin);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "{} exited with {status} before it was ready; stderr:\n{}",
                    self.kind.bin,
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready within {READY_TIMEOUT:?}; stderr:\n{}",
                self.kind.bin,
                self.stderr()
            );
            let req = probe.request(subject.clone(), "".into());
            if let Ok(Ok(msg)) = tokio::time::timeout(Duration::from_millis(500), req).await {
                let info = String::from_utf8_lossy(&msg.payload);
                // A prefix: router-sync's log subject ends in its instance.
                if info.contains(&format!("\"{}", self.kind.last_endpoint)) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// NATS plus the four services, each under its own user.
struct Stack {
    // Dropped in order: services first, then NATS.
    svcs: Vec<Svc>,
    nats: SecureNats,
    root: tempfile::TempDir,
}

impl Stack {
    /// Starts ipam, area-registry, config-renderer and (if `sync_args` is
    /// given) router-sync with those arguments.
    async fn start(nats: SecureNats, rust_log: &str, sync_args: Option<&[&str]>) -> Stack {
        let root = tempfile::Builder::new()
            .prefix("vpcroute-secstack-")
            .tempdir()
            .unwrap();
        let (probe, _events) = nats.client("cloudstack").await;
        let mut kinds = vec![(IPAM, &[][..]), (AREAS, &[][..]), (CONFIG, &[][..])];
        if let Some(args) = sync_args {
            kinds.push((SYNC, args));
        }
        let mut svcs: Vec<Svc> = kinds
            .into_iter()
            .map(|(k, args)| Svc::spawn(&nats, root.path(), k, rust_log, args))
            .collect();
        for s in &mut svcs {
            s.wait_ready(&probe).await;
        }
        Stack { svcs, nats, root }
    }

    /// `vpcctl --json` as `cloudstack`, credentials given as flags.
    async fn ctl(&self, args: &[&str]) -> CliOutput {
        let pw_file = self.nats.password_file("cloudstack");
        let mut all = vec![
            "--json",
            "--nats-user",
            "cloudstack",
            "--nats-password-file",
            pw_file.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        run_vpcctl(&self.nats.url(), &all, &[]).await
    }

    async fn ok(&self, args: &[&str]) -> Value {
        self.ctl(args).await.expect_ok()
    }

    /// Repeats `args` until `f` accepts the output, or fails with the last.
    async fn wait_for(
        &self,
        args: &[&str],
        what: &str,
        f: impl Fn(&CliOutput) -> bool,
    ) -> CliOutput {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.ctl(args).await;
            if f(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: `vpcctl {}` kept answering (exit {}): {}{}",
                args.join(" "),
                out.code,
                out.stdout,
                out.stderr
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

/// Runs `vpcctl --nats-url URL ARGS...` with extra environment `envs`
/// (and none of the caller's VPCROUTE_NATS_* variables).
async fn run_vpcctl(url: &str, args: &[&str], envs: &[(&str, &str)]) -> CliOutput {
    let mut cmd = tokio::process::Command::new(binary("vpcctl"));
    cmd.arg("--nats-url")
        .arg(url)
        .args(args)
        .env_remove("VPCROUTE_NATS_URL")
        .env_remove("VPCROUTE_NATS_USER")
        .env_remove("VPCROUTE_NATS_PASSWORD")
        .env_remove("VPCROUTE_NATS_PASSWORD_FILE")
        .env_remove("VPCROUTE_NATS_CREDS")
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("run vpcctl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `ipam`'s event log head, read as the config-renderer (allowed).
async fn ipam_head(reader: &async_nats::Client) -> u64 {
    let msg = tokio::time::timeout(
        Duration::from_secs(5),
        reader.request(
            subjects::ipam::EVENTS_READ,
            json!({"from_seq": 1, "limit": 1}).to_string().into(),
        ),
    )
    .await
    .expect("ipam events.read timed out")
    .expect("ipam events.read");
    let v: Value = serde_json::from_slice(&msg.payload).unwrap();
    v["ok"]["head"]
        .as_u64()
        .unwrap_or_else(|| panic!("no head in {v}"))
}

// ---------------------------------------------------------------- tests

/// Figure 3 of the design article with every service under its own NATS
/// user and `vpcctl` as `cloudstack` (flags and environment variables).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figure3_flow_works_with_every_service_under_its_own_user() {
    let nats = secure_nats_or_skip!();
    let s = Stack::start(
        nats,
        "info",
        Some(&[
            "--router",
            "left-vr=/bin/false",
            "--router",
            "right-vr=/bin/false",
            "--drift-interval",
            "300ms",
        ]),
    )
    .await;

    // Each service is connected, authenticated as its own user.
    let conns = s.nats.connections();
    for kind in [IPAM, AREAS, CONFIG, SYNC] {
        let users: Vec<&str> = conns
            .iter()
            .filter(|c| c["name"].as_str() == Some(kind.bin))
            .map(|c| c["authorized_user"].as_str().unwrap_or("<none>"))
            .collect();
        assert_eq!(
            users,
            vec![kind.user],
            "{} should hold one connection as user {}; connz: {conns:?}",
            kind.bin,
            kind.user
        );
    }

    // What CloudStack may watch: events and router statuses.
    let (watcher, mut watcher_events) = s.nats.client("cloudstack").await;
    let mut ipam_events = watcher.subscribe("vpcroute.events.ipam.>").await.unwrap();
    let mut area_events = watcher.subscribe("vpcroute.events.areas.>").await.unwrap();
    let mut statuses = watcher.subscribe("vpcroute.sync.status.>").await.unwrap();
    watcher.flush().await.unwrap();

    let key = random_secret("kF3", 16);
    let key_file = s.root.path().join("ospf-key");
    write_secret_file(&key_file, &format!("{key}\n"));
    let zone = s
        .ok(&[
            "zone",
            "enable",
            "z1",
            "--super-cidr",
            "10.1.0.0/16",
            "--auth",
            "md5",
            "--auth-key-file",
            key_file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(zone["ospf"]["auth"], "md5", "{zone}");
    assert!(
        !zone.to_string().contains(&key),
        "zone enable echoed the key"
    );

    let left = s
        .ok(&vpc_create_args(
            "left",
            "left-vr",
            "10.255.0.1",
            "eth1=192.168.100.2/24",
        ))
        .await;
    let right = s
        .ok(&vpc_create_args(
            "right",
            "right-vr",
            "10.255.0.2",
            "eth1=192.168.100.3/24",
        ))
        .await;
    assert_eq!(left["cidr"], "10.1.0.0/22", "{left}");
    assert_eq!(right["cidr"], "10.1.4.0/22", "{right}");
    for (tier, vpc, gw) in [
        ("left-tier", "left", "10.1.1.1"),
        ("right-tier", "right", "10.1.5.1"),
    ] {
        s.ok(&[
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
        ])
        .await;
    }
    let vm1 = s
        .ok(&["vm", "create", "left-vm1", "--tier", "left-tier"])
        .await;
    let vm2 = s
        .ok(&["vm", "create", "right-vm1", "--tier", "right-tier"])
        .await;
    assert_eq!(vm1["ip"], "10.1.1.2", "{vm1}");
    assert_eq!(vm2["ip"], "10.1.5.2", "{vm2}");

    // The same user through the environment variables: the area registry
    // (following ipam as `area-registry`) gave each VPC its own area.
    let pw_file = s.nats.password_file("cloudstack");
    let deadline = Instant::now() + Duration::from_secs(20);
    let areas = loop {
        let out = run_vpcctl(
            &s.nats.url(),
            &["--json", "show", "zone", "z1"],
            &[
                ("VPCROUTE_NATS_USER", "cloudstack"),
                ("VPCROUTE_NATS_PASSWORD_FILE", pw_file.to_str().unwrap()),
            ],
        )
        .await;
        let v = out.clone().expect_ok();
        let areas: BTreeMap<String, String> = v["vpcs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| Some((x["vpc"].as_str()?.into(), x["area_id"].as_str()?.into())))
            .collect();
        if areas.len() == 2 {
            break areas;
        }
        assert!(Instant::now() < deadline, "areas never assigned: {v}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    assert_ne!(areas["left"], areas["right"], "{areas:?}");
    assert!(!areas.values().any(|a| a == "0.0.0.0"), "{areas:?}");

    // The config-renderer (following both as `config-renderer`) rendered
    // the key; the operator's explicit request shows it.
    let cfg = s
        .wait_for(&["router", "config", "left-vr"], "left-vr rendered", |o| {
            o.ok() && o.json["config"].as_str().is_some_and(|c| c.contains(&key))
        })
        .await;
    let text = cfg.json["config"].as_str().unwrap();
    assert!(
        text.contains(&format!("message-digest-key 1 md5 {key}")),
        "{text}"
    );
    assert!(text.contains("10.255.0.1"), "{text}");
    let version = cfg.json["version"].as_u64().expect("version");

    // router-sync (as `router-sync`) fetched that version and reports its
    // (failing: /bin/false) attempts, to a request and on the status feed.
    let st = s
        .wait_for(&["router", "status", "left-vr"], "left-vr attempted", |o| {
            o.ok()
                && o.json["desired_version"].as_u64() == Some(version)
                && o.json["failures"].as_u64().unwrap_or(0) >= 1
        })
        .await;
    assert!(st.json["last_error"].is_string(), "{}", st.stdout);
    let status = next_msg(&mut statuses, Duration::from_secs(10))
        .await
        .expect("no status published on vpcroute.sync.status.>");
    assert!(status.subject.starts_with("vpcroute.sync.status."));
    assert!(next_msg(&mut ipam_events, Duration::from_secs(5))
        .await
        .is_some());
    assert!(next_msg(&mut area_events, Duration::from_secs(5))
        .await
        .is_some());

    // Nobody was refused anything along the way.
    assert!(pending_violations(&mut watcher_events).is_empty());
    let log = s.nats.log();
    assert!(
        !log.contains("Violation"),
        "the flow hit a permissions violation:\n{log}"
    );
    for svc in &s.svcs {
        let err = svc.stderr();
        assert!(
            !err.to_lowercase().contains("permissions violation")
                && !err.to_lowercase().contains("authorization violation"),
            "{} was refused something:\n{err}",
            svc.kind.bin
        );
    }
}

/// Every denial next to its allowed counterpart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_is_refused_what_it_is_not_allowed() {
    let nats = secure_nats_or_skip!();
    let s = Stack::start(nats, "info", None).await;
    s.ok(&["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"])
        .await;

    let (cs, mut cs_events) = s.nats.client("cloudstack").await;
    let (cs_watch, _cs_watch_events) = s.nats.client("cloudstack").await;
    let (rs, mut rs_events) = s.nats.client("router-sync").await;
    let (cr, mut cr_events) = s.nats.client("config-renderer").await;
    let quiet = Duration::from_millis(500);

    // 1. cloudstack cannot forge a router configuration announcement; the
    //    config-renderer can. router-sync (allowed to subscribe) is the
    //    witness.
    let subject = subjects::config::updated("left-vr");
    let mut witness = rs.subscribe(subject.clone()).await.unwrap();
    rs.flush().await.unwrap();
    cs.publish(
        subject.clone(),
        r#"{"router":"left-vr","version":999}"#.into(),
    )
    .await
    .unwrap();
    cs.flush().await.unwrap();
    let v = violation(&mut cs_events, &subject, Duration::from_secs(5)).await;
    assert!(
        v.is_some(),
        "no permissions violation for cloudstack publishing {subject}"
    );
    assert!(
        next_msg(&mut witness, quiet).await.is_none(),
        "cloudstack's forged {subject} was delivered"
    );
    cr.publish(subject.clone(), "from-config-renderer".into())
        .await
        .unwrap();
    cr.flush().await.unwrap();
    let got = next_msg(&mut witness, Duration::from_secs(5))
        .await
        .expect("config-renderer's announcement not delivered");
    assert_eq!(&got.payload[..], b"from-config-renderer");
    assert!(pending_violations(&mut cr_events).is_empty());

    // 2. cloudstack cannot forge a router status; router-sync can.
    //    cloudstack itself may watch statuses.
    let subject = subjects::sync::status("left-vr");
    let mut witness = cs_watch.subscribe("vpcroute.sync.status.>").await.unwrap();
    cs_watch.flush().await.unwrap();
    cs.publish(
        subject.clone(),
        r#"{"router":"left-vr","state":"in_sync"}"#.into(),
    )
    .await
    .unwrap();
    cs.flush().await.unwrap();
    assert!(
        violation(&mut cs_events, &subject, Duration::from_secs(5))
            .await
            .is_some(),
        "no permissions violation for cloudstack publishing {subject}"
    );
    assert!(
        next_msg(&mut witness, quiet).await.is_none(),
        "cloudstack's forged {subject} was delivered"
    );
    rs.publish(subject.clone(), "from-router-sync".into())
        .await
        .unwrap();
    rs.flush().await.unwrap();
    let got = next_msg(&mut witness, Duration::from_secs(5))
        .await
        .expect("router-sync's status not delivered");
    assert_eq!(&got.payload[..], b"from-router-sync");
    assert!(pending_violations(&mut rs_events).is_empty());

    // 3. cloudstack cannot read the area registry's log (it holds the
    //    keys); the config-renderer can; cloudstack can ask for a zone.
    let read = json!({"from_seq": 1, "limit": 10}).to_string();
    let denied = tokio::time::timeout(
        Duration::from_secs(3),
        cs.request(subjects::areas::EVENTS_READ, read.clone().into()),
    )
    .await;
    assert!(
        !matches!(denied, Ok(Ok(_))),
        "cloudstack got a reply from {}",
        subjects::areas::EVENTS_READ
    );
    assert!(
        violation(
            &mut cs_events,
            subjects::areas::EVENTS_READ,
            Duration::from_secs(5)
        )
        .await
        .is_some(),
        "no permissions violation for cloudstack requesting {}",
        subjects::areas::EVENTS_READ
    );
    let page = tokio::time::timeout(
        Duration::from_secs(5),
        cr.request(subjects::areas::EVENTS_READ, read.into()),
    )
    .await
    .expect("config-renderer's events.read timed out")
    .expect("config-renderer's events.read");
    let page: Value = serde_json::from_slice(&page.payload).unwrap();
    assert!(
        page["ok"]["events"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{page}"
    );
    let shown = s.ok(&["show", "zone", "z1"]).await;
    assert_eq!(shown["zone"], "z1", "{shown}");

    // 4. router-sync cannot allocate addresses: the request never reaches
    //    ipam and its log does not move. The same request from cloudstack
    //    allocates.
    let before = ipam_head(&cr).await;
    let alloc = json!({
        "request_id": uuid::Uuid::new_v4().to_string(),
        "vpc": "smuggled",
        "zone": "z1",
        "prefix_length": 24,
    })
    .to_string();
    let denied = tokio::time::timeout(
        Duration::from_secs(3),
        rs.request(subjects::ipam::VPC_ALLOCATE, alloc.clone().into()),
    )
    .await;
    assert!(
        !matches!(denied, Ok(Ok(_))),
        "router-sync got a reply from {}",
        subjects::ipam::VPC_ALLOCATE
    );
    assert!(
        violation(
            &mut rs_events,
            subjects::ipam::VPC_ALLOCATE,
            Duration::from_secs(5)
        )
        .await
        .is_some(),
        "no permissions violation for router-sync requesting {}",
        subjects::ipam::VPC_ALLOCATE
    );
    // The violation is the server dropping the request: it never reached
    // ipam, and ipam's head (read after it, and answered after anything
    // ipam had been sent) has not moved.
    assert_eq!(ipam_head(&cr).await, before, "ipam's log moved");
    let shown = s.ctl(&["show", "vpc", "smuggled"]).await;
    assert_eq!(shown.error_code(), Some("unknown_vpc"), "{}", shown.stdout);
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        cs.request(subjects::ipam::VPC_ALLOCATE, alloc.into()),
    )
    .await
    .expect("cloudstack's allocate timed out")
    .expect("cloudstack's allocate");
    let reply: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(reply["ok"]["vpc"], "smuggled", "{reply}");
    assert!(ipam_head(&cr).await > before, "ipam's log did not move");

    // 5. A wrong password, an unknown user or no credentials cannot connect
    //    at all; the right password can.
    let wrong = random_secret("pwWrong", 40);
    for (user, pw) in [
        ("cloudstack", wrong.as_str()),
        ("intruder", s.nats.password("cloudstack")),
    ] {
        let res = tokio::time::timeout(
            Duration::from_secs(10),
            async_nats::ConnectOptions::with_user_and_password(user.into(), pw.into())
                .connect(s.nats.url()),
        )
        .await
        .expect("a refused connect must fail, not hang");
        let err = res
            .err()
            .unwrap_or_else(|| panic!("{user} connected with a wrong password"));
        assert!(
            err.to_string().to_lowercase().contains("authorization"),
            "{user}: {err}"
        );
    }
    let anonymous =
        tokio::time::timeout(Duration::from_secs(10), async_nats::connect(s.nats.url()))
            .await
            .expect("a refused connect must fail, not hang");
    assert!(anonymous.is_err(), "connected without credentials");
    let bad_file = s.root.path().join("bad-password");
    write_secret_file(&bad_file, &format!("{wrong}\n"));
    let out = run_vpcctl(
        &s.nats.url(),
        &[
            "--json",
            "--nats-user",
            "cloudstack",
            "--nats-password-file",
            bad_file.to_str().unwrap(),
            "show",
            "zone",
            "z1",
        ],
        &[],
    )
    .await;
    assert!(
        !out.ok(),
        "vpcctl worked with a wrong password: {}",
        out.stdout
    );
    assert_eq!(out.error_code(), Some("unavailable"), "{}", out.stdout);
    assert!(!out.stdout.contains(&wrong) && !out.stderr.contains(&wrong));
    let (good, _) = s.nats.client("cloudstack").await;
    good.flush().await.unwrap();
}

/// Runs the whole stack at `trace` with NATS auth on, drives every path
/// that carries an OSPF key or a password, and searches every log for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_or_password_ever_reaches_a_log() {
    let nats = secure_nats_or_skip!();
    let scratch = tempfile::tempdir().unwrap();
    // A vtysh that answers show commands and rejects every configuration
    // line, echoing it back as vtysh does: the key passes through its
    // output into router-sync's error handling.
    let fake_vtysh = scratch.path().join("echoing-vtysh.sh");
    std::fs::write(
        &fake_vtysh,
        "#!/bin/sh\n\
         if [ \"$#\" -gt 0 ]; then\n\
           case \"$2\" in *json) echo '{}';; *) echo 'frr version 8.4';; esac\n\
           exit 0\n\
         fi\n\
         while IFS= read -r line; do echo \"% Unknown command: $line\"; done\n\
         exit 0\n",
    )
    .unwrap();
    let echo_router = format!("r2=/bin/sh {}", fake_vtysh.display());
    let s = Stack::start(
        nats,
        "trace",
        Some(&[
            "--router",
            "r1=/bin/false",
            "--router",
            &echo_router,
            "--drift-interval",
            "300ms",
        ]),
    )
    .await;

    let key1 = random_secret("kA1", 16);
    let key2 = random_secret("kB2", 16);
    let key3 = random_secret("kC3", 16); // too long for plaintext (8)
    let keys = [&key1, &key2, &key3];
    let file = |name: &str, content: &str| {
        let p = scratch.path().join(name);
        write_secret_file(&p, &format!("{content}\n"));
        p.to_str().unwrap().to_string()
    };
    let (f1, f2, f3) = (file("k1", &key1), file("k2", &key2), file("k3", &key3));
    let mut outputs: Vec<(String, CliOutput)> = Vec::new();

    // What anyone allowed to watch the bus sees.
    let (watcher, _) = s.nats.client("cloudstack").await;
    let mut feed = futures::stream::select_all([
        watcher.subscribe("vpcroute.events.ipam.>").await.unwrap(),
        watcher.subscribe("vpcroute.events.areas.>").await.unwrap(),
        watcher.subscribe("vpcroute.sync.status.>").await.unwrap(),
    ]);
    watcher.flush().await.unwrap();

    let args = [
        "zone",
        "enable",
        "z1",
        "--super-cidr",
        "10.1.0.0/16",
        "--auth",
        "md5",
        "--auth-key-file",
        f1.as_str(),
    ];
    let out = s.ctl(&args).await;
    assert!(out.ok(), "{}{}", out.stdout, out.stderr);
    outputs.push(("zone enable".into(), out));
    for (vpc, router, rid) in [("v1", "r1", "10.255.0.1"), ("v2", "r2", "10.255.0.2")] {
        let out = s
            .ctl(&vpc_create_args(vpc, router, rid, "eth1=192.168.100.2/24"))
            .await;
        assert!(out.ok(), "{}{}", out.stdout, out.stderr);
        outputs.push((format!("vpc create {vpc}"), out));
    }
    let has_key = |k: &str| {
        let k = k.to_string();
        move |o: &CliOutput| o.ok() && o.stdout.contains(&k)
    };
    s.wait_for(
        &["router", "config", "r1"],
        "key 1 rendered",
        has_key(&key1),
    )
    .await;

    // Rotate the key.
    let args = [
        "zone",
        "update",
        "z1",
        "--auth",
        "md5",
        "--auth-key-id",
        "2",
        "--auth-key-file",
        f2.as_str(),
    ];
    let out = s.ctl(&args).await;
    assert!(out.ok(), "{}{}", out.stdout, out.stderr);
    outputs.push(("zone update".into(), out));
    // `router config` shows the key: the operator asked for it.
    let cfg = s
        .wait_for(
            &["router", "config", "r2"],
            "key 2 rendered",
            has_key(&key2),
        )
        .await;
    // A new key id starts a rotation (issue 11 item 8): the old key stays
    // beside the new one until every router of the zone reports the new
    // one applied, and no router-sync runs here.
    assert!(
        cfg.stdout.contains(&key1),
        "the old key went before any router reported the new one"
    );
    let version = cfg.json["version"].as_u64().unwrap();

    // A plaintext key too long for OSPF is refused, without being echoed.
    let args = [
        "zone",
        "update",
        "z1",
        "--auth",
        "plaintext",
        "--auth-key-file",
        f3.as_str(),
    ];
    let out = s.ctl(&args).await;
    assert!(
        !out.ok(),
        "an over-long plaintext key was accepted: {}",
        out.stdout
    );
    assert!(
        out.error_message()
            .is_some_and(|m| m.contains("longer than")),
        "{}",
        out.stdout
    );
    outputs.push(("zone update plaintext".into(), out.clone()));
    let text_mode = run_vpcctl(
        &s.nats.url(),
        &[
            "--nats-user",
            "cloudstack",
            "--nats-password-file",
            s.nats.password_file("cloudstack").to_str().unwrap(),
            "zone",
            "update",
            "z1",
            "--auth",
            "plaintext",
            "--auth-key-file",
            &f3,
        ],
        &[],
    )
    .await;
    assert!(!text_mode.ok());
    outputs.push(("zone update plaintext (text)".into(), text_mode));
    s.wait_for(
        &["router", "config", "r1"],
        "key 2 still in force",
        has_key(&key2),
    )
    .await;

    // router-sync tried the newest version on both routers and failed.
    for router in ["r1", "r2"] {
        let st = s
            .wait_for(
                &["router", "status", router],
                "router-sync attempted",
                |o| {
                    o.ok()
                        && o.json["desired_version"].as_u64() == Some(version)
                        && o.json["failures"].as_u64().unwrap_or(0) >= 1
                },
            )
            .await;
        outputs.push((format!("router status {router}"), st));
    }
    let st = s.ctl(&["router", "status", "r2"]).await;
    let err = st.json["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains("message-digest-key") || err.contains("rejected"),
        "the echoing vtysh's rejection should be reported: {}",
        st.stdout
    );
    outputs.push(("router status r2 (again)".into(), st));

    // Wrong passwords: made up, or another user's.
    let bad = random_secret("pwBad", 40);
    let bad_file = scratch.path().join("bad-pw");
    write_secret_file(&bad_file, &format!("{bad}\n"));
    let ipam_pw = s.nats.password("ipam").to_string();
    let bad_path = bad_file.to_str().unwrap();
    for format in [&["--json"][..], &[][..]] {
        let with_file = [
            format,
            &[
                "--nats-user",
                "cloudstack",
                "--nats-password-file",
                bad_path,
            ],
            &["show", "zone", "z1"],
        ]
        .concat();
        let out = run_vpcctl(&s.nats.url(), &with_file, &[]).await;
        assert!(!out.ok(), "a made-up password worked");
        assert!(
            out.stdout.contains("uthorization") || out.stderr.contains("uthorization"),
            "the refusal should say why: {}{}",
            out.stdout,
            out.stderr
        );
        outputs.push(("bad password file".into(), out));
        let with_env = [format, &["--nats-user", "cloudstack", "show", "zone", "z1"]].concat();
        let out = run_vpcctl(
            &s.nats.url(),
            &with_env,
            &[("VPCROUTE_NATS_PASSWORD", &ipam_pw)],
        )
        .await;
        assert!(!out.ok(), "ipam's password worked for cloudstack");
        outputs.push(("another user's password".into(), out));
    }

    // router-sync goes round its drift loop twice more for each router at
    // trace (every check publishes the router's status), and every service
    // has handled everything there was to handle: the logs below are then
    // those of all the work this test set off.
    let mut bus = Vec::new();
    let mut checks: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ["r1", "r2"]
        .iter()
        .any(|r| checks.get(*r).is_none_or(|n| *n < 2))
    {
        assert!(
            Instant::now() < deadline,
            "router-sync did not check both routers twice more: {checks:?}"
        );
        let Some(m) = next_msg(&mut feed, Duration::from_secs(1)).await else {
            continue;
        };
        if let Some(router) = m.subject.strip_prefix("vpcroute.sync.status.") {
            *checks.entry(router.to_string()).or_default() += 1;
        }
        bus.push((
            m.subject.to_string(),
            String::from_utf8_lossy(&m.payload).into_owned(),
        ));
    }
    let running = [
        Running::Ipam,
        Running::AreaRegistry,
        Running::ConfigRenderer,
        Running::RouterSync("r1".into()),
    ];
    wait_processed(&watcher, &running).await;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), feed.next()).await {
        bus.push((
            m.subject.to_string(),
            String::from_utf8_lossy(&m.payload).into_owned(),
        ));
    }
    let subjects_seen: std::collections::BTreeSet<&str> =
        bus.iter().map(|(subj, _)| subj.as_str()).collect();
    assert!(
        subjects_seen
            .iter()
            .any(|subj| subj.starts_with("vpcroute.events.areas.")),
        "no area event on the bus: {subjects_seen:?}"
    );

    let mut secrets: Vec<(String, String)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("OSPF key {}", i + 1), k.to_string()))
        .collect();
    for (user, _) in USERS {
        secrets.push((
            format!("NATS password of {user}"),
            s.nats.password(user).to_string(),
        ));
    }
    secrets.push(("made-up NATS password".into(), bad.clone()));

    let mut logs: Vec<(String, String)> = s
        .svcs
        .iter()
        .map(|svc| (svc.kind.bin.to_string(), svc.stderr()))
        .collect();
    logs.push(("nats-server".into(), s.nats.log()));
    for (what, out) in &outputs {
        logs.push((
            format!("vpcctl {what}"),
            format!("{}\n{}", out.stdout, out.stderr),
        ));
    }
    for (subj, payload) in &bus {
        logs.push((format!("bus message on {subj}"), payload.clone()));
    }

    // The logs really are at trace (or at least debug) level.
    for svc in &s.svcs {
        let text = svc.stderr();
        assert!(
            text.contains("DEBUG") || text.contains("TRACE"),
            "{} logged nothing below info:\n{text}",
            svc.kind.bin
        );
    }
    let mut leaks = Vec::new();
    for (where_, text) in &logs {
        for (what, secret) in &secrets {
            if let Some(at) = text.find(secret.as_str()) {
                let from = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let to = text[at..].find('\n').map_or(text.len(), |i| at + i);
                leaks.push(format!("{what} in {where_}: {}", &text[from..to]));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

/// Event logs (and SQLite's -wal/-shm) are 0600 in a 0700 directory, even
/// when the service runs with umask 000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_files_are_readable_by_their_owner_only() {
    let nats = secure_nats_or_skip!();
    let s = Stack::start(nats, "info", Some(&["--router", "vr1=/bin/false"])).await;
    s.ok(&["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"])
        .await;
    s.ok(&vpc_create_args(
        "v1",
        "vr1",
        "10.255.0.1",
        "eth1=192.168.100.2/24",
    ))
    .await;
    s.wait_for(
        &["router", "status", "vr1"],
        "router-sync recorded an attempt",
        |o| o.ok() && o.json["failures"].as_u64().unwrap_or(0) >= 1,
    )
    .await;

    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let check = |svc: &Svc| {
        let dir = &svc.data_dir;
        assert_eq!(
            mode(dir),
            0o700,
            "{} has mode {:o}",
            dir.display(),
            mode(dir)
        );
        let mut sqlite = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let m = mode(&p);
            if name.ends_with(".sqlite")
                || name.ends_with(".sqlite-wal")
                || name.ends_with(".sqlite-shm")
            {
                sqlite += name.ends_with(".sqlite") as usize;
                assert_eq!(m, 0o600, "{} has mode {m:o}", p.display());
            } else {
                assert_eq!(
                    m & 0o077,
                    0,
                    "{} is open to others: mode {m:o}",
                    p.display()
                );
            }
        }
        assert!(sqlite >= 1, "no event log in {}", dir.display());
    };
    for svc in &s.svcs {
        assert!(
            svc.data_dir
                .join(format!("{}.sqlite", svc.kind.user))
                .is_file(),
            "{} has no {}.sqlite",
            svc.kind.bin,
            svc.kind.user
        );
        check(svc);
    }
    // The same after a restart on the existing files.
    let mut s = s;
    let (probe, _) = s.nats.client("cloudstack").await;
    let root = s.root.path().to_path_buf();
    let old = s.svcs.remove(0);
    let kind = old.kind;
    drop(old);
    let mut again = Svc::spawn(&s.nats, &root, kind, "info", &[]);
    again.wait_ready(&probe).await;
    check(&again);
    s.svcs.push(again);
}

/// If every user could subscribe `_INBOX.>`, any of them would see every
/// reply on the bus, e.g. the area registry's `events.read` pages (OSPF
/// keys) sent to the config-renderer. Each user has its own inbox prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_cannot_read_replies_meant_for_another() {
    let nats = secure_nats_or_skip!();
    let s = Stack::start(nats, "info", None).await;
    let (ipam_user, _) = s.nats.client("ipam").await;
    // The default inbox space and the other users' inboxes.
    let mut sniffer = futures::stream::select_all([
        ipam_user.subscribe("_INBOX.>").await.unwrap(),
        ipam_user.subscribe("_INBOX_cloudstack.>").await.unwrap(),
        ipam_user.subscribe("_INBOX_router-sync.>").await.unwrap(),
    ]);
    ipam_user.flush().await.unwrap();
    let key = random_secret("kS9", 16);
    let key_file = s.root.path().join("k");
    write_secret_file(&key_file, &format!("{key}\n"));
    s.ok(&[
        "zone",
        "enable",
        "z1",
        "--super-cidr",
        "10.1.0.0/16",
        "--auth-key-file",
        key_file.to_str().unwrap(),
    ])
    .await;
    s.ok(&vpc_create_args(
        "v1",
        "vr1",
        "10.255.0.1",
        "eth1=192.168.100.2/24",
    ))
    .await;
    s.wait_for(&["router", "config", "vr1"], "rendered", |o| {
        o.ok() && o.stdout.contains(&key)
    })
    .await;
    while let Some(m) = next_msg(&mut sniffer, Duration::from_millis(300)).await {
        assert!(
            !String::from_utf8_lossy(&m.payload).contains(&key),
            "user ipam read a reply holding the OSPF key on {}",
            m.subject
        );
    }
}

/// Credentials in the NATS URL would be echoed in vpcctl's connect error
/// and logged by async-nats at debug level: such URLs are refused, with a
/// message that says so (and not the password), by vpcctl and by every
/// service, which then exits non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_nats_url_is_never_printed() {
    let nats = secure_nats_or_skip!();
    let pw = random_secret("pwUrl", 40);
    let url = format!("nats://cloudstack:{pw}@127.0.0.1:{}", nats.port);
    let refusal = "credentials in the NATS URL are not accepted (nats://***@127.0.0.1:";
    let out = run_vpcctl(&url, &["--json", "show", "zone", "z1"], &[]).await;
    assert!(!out.ok());
    assert!(
        !out.stdout.contains(&pw) && !out.stderr.contains(&pw),
        "vpcctl printed the URL's password: {}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(out.error_code(), Some("invalid_request"), "{}", out.stdout);
    let message = out.error_message().unwrap_or_default();
    assert!(message.contains(refusal), "vpcctl's refusal: {message}");
    // The same command with the password given properly gets through to
    // the bus, where no ipam answers: the refusal above is the URL's.
    let pw_file = nats.password_file("cloudstack");
    let proper = run_vpcctl(
        &nats.url(),
        &[
            "--json",
            "--nats-user",
            "cloudstack",
            "--nats-password-file",
            pw_file.to_str().unwrap(),
            "show",
            "zone",
            "z1",
        ],
        &[],
    )
    .await;
    assert_eq!(
        proper.error_code(),
        Some("unavailable"),
        "with the password given properly vpcctl reaches the bus (no service runs): {}",
        proper.stdout
    );
    assert!(
        !proper
            .error_message()
            .unwrap_or_default()
            .contains("not accepted"),
        "{}",
        proper.stdout
    );

    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("ipam.stderr.log");
    let mut child = Command::new(binary("vpcroute-ipam"))
        .arg("--nats-url")
        .arg(&url)
        .arg("--data-dir")
        .arg(root.path().join("ipam"))
        .env("RUST_LOG", "debug")
        .env_remove("VPCROUTE_NATS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + READY_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ipam kept running with a password in its NATS URL:\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains(&pw),
        "the service logged the URL's password:\n{text}"
    );
    assert!(!status.success(), "ipam exited with {status}:\n{text}");
    assert!(
        text.contains(refusal),
        "ipam's refusal does not say why:\n{text}"
    );
}
