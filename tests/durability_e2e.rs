//! Issue 13, item 5: durability checked, not assumed.
//!
//! - Every running service writes its log in WAL mode with
//!   `synchronous=FULL`, as its own writer connection reports it
//!   (`service.status`, read live from that connection: `synchronous` is a
//!   per-connection setting no other connection can see). A service started
//!   with `--unsafe-no-fsync` reports `normal` beside them, so the probe
//!   reads the setting rather than a constant.
//! - A full disk under a running ipam (a small tmpfs, filled up): the
//!   append fails, ipam stops with a non-zero exit and a line naming the
//!   cause, answers no request after the failure, and once restarted on a
//!   healthy disk (the filler removed) every allocation it acknowledged is
//!   there as acknowledged, and none it did not.
//!
//! The second test mounts a tmpfs, so it needs root: outside CI it is
//! skipped without root (saying so); with `CI=true` it never is.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use vpcroute_bus::RequestError;
use vpcroute_protocol::ipam::*;
use vpcroute_protocol::service::{Durability, JournalMode, ServiceStatus, Synchronous};
use vpcroute_protocol::ErrorCode;
use vpcroute_tests::{
    binary, nats_or_skip, service_status, vpcctl, Client, Running, Service, ServiceKind,
};

const TIMEOUT: Duration = Duration::from_secs(20);

fn zone_enable(zone: &str, cidr: &str) -> ZoneEnable {
    ZoneEnable {
        request_id: format!("rid-zone-{zone}"),
        zone: zone.into(),
        super_cidrs: vec![cidr.into()],
    }
}

fn vpc(name: &str) -> VpcAllocate {
    VpcAllocate {
        request_id: format!("rid-{name}"),
        vpc: name.into(),
        zone: "z1".into(),
        netmask: None,
        prefix_length: Some(24),
        family: Some(Family::Ipv4),
        router: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_running_service_writes_its_log_with_wal_and_synchronous_full() {
    let nats = nats_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let url = nats.url();
    let path = |name: &str| dir.path().join(name);
    let services = [
        Service::start(ServiceKind::Ipam, &url, &path("ipam")).await,
        Service::start(ServiceKind::AreaRegistry, &url, &path("areas")).await,
        Service::start(ServiceKind::ConfigRenderer, &url, &path("config")).await,
        Service::start_with_args(
            ServiceKind::RouterSync,
            &url,
            &path("sync"),
            &["--router", "r1=/bin/false"],
        )
        .await,
    ];
    // The control: the same probe on a log opened without fsync.
    let relaxed = Service::start_with_args(
        ServiceKind::RouterSync,
        &url,
        &path("sync-relaxed"),
        &["--router", "r9=/bin/false", "--unsafe-no-fsync"],
    )
    .await;
    let client = Client::connect(&url).await;
    client
        .zone_enable(&zone_enable("z1", "10.9.0.0/16"))
        .await
        .expect("zone enable");

    let nc = client.nats();
    for (svc, name) in
        services
            .iter()
            .zip(["ipam", "area-registry", "config-renderer", "router-sync"])
    {
        let st: ServiceStatus = service_status(nc, &svc.running()).await;
        assert_eq!(st.service, name);
        assert_eq!(
            (st.log.journal_mode, st.log.synchronous, st.log.durability),
            (JournalMode::Wal, Synchronous::Full, Durability::Full),
            "{name}'s log: {st:?}"
        );
    }
    let st = service_status(nc, &relaxed.running()).await;
    assert_eq!(st.instance.as_deref(), Some("r9"));
    assert_eq!(
        (st.log.journal_mode, st.log.synchronous, st.log.durability),
        (JournalMode::Wal, Synchronous::Normal, Durability::Relaxed),
        "the control started with --unsafe-no-fsync: {st:?}"
    );
    // vpcctl shows the same.
    let shown = vpcctl(&url, &["service", "status", "area-registry", "--json"]).await;
    let shown = shown.expect_ok();
    assert_eq!(shown["log"]["synchronous"], "full", "{shown}");
    assert_eq!(shown["followed"][0]["source"], "ipam", "{shown}");
    let shown = vpcctl(
        &url,
        &["service", "status", "router-sync", "--instance", "r9"],
    )
    .await;
    assert_eq!(shown.expect_ok()["log"]["synchronous"], "normal");
    // The head is the log's: the zone just enabled is in it.
    let ipam = service_status(nc, &Running::Ipam).await;
    let page = client.events_read(1, 1).await.expect("events.read");
    assert!(ipam.log.head >= 1, "{ipam:?}");
    assert_eq!(ipam.log.head, page.head);
}

/// A tmpfs of a few MiB mounted on a fresh directory, unmounted on drop.
struct SmallDisk {
    mount: tempfile::TempDir,
    filler: PathBuf,
}

impl SmallDisk {
    /// Mounts it, or returns `None` (saying why) when not root outside CI.
    fn mount(size: &str) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            vpcroute_testkit::skip_unless_ci("root (to mount a small tmpfs as a full disk)");
            return None;
        }
        let mount = tempfile::Builder::new()
            .prefix("vpcroute-small-disk-")
            .tempdir()
            .unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(mount.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed: {status}");
        let filler = mount.path().join("filler");
        Some(SmallDisk { mount, filler })
    }

    fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Writes a file until the disk is full (and checks that it is).
    fn fill(&self) {
        let mut f = std::fs::File::create(&self.filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let err = loop {
            if let Err(e) = f.write_all(&chunk) {
                break e;
            }
        };
        assert_eq!(
            err.raw_os_error(),
            Some(libc::ENOSPC),
            "filling the disk failed otherwise: {err}"
        );
    }

    /// Makes room again: the disk is healthy.
    fn free(&self) {
        std::fs::remove_file(&self.filler).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.mount.path()).status();
    }
}

/// ipam on `data_dir`, its stderr appended to `stderr` (kept off the small
/// disk, so the line naming the failure can be written).
fn spawn_ipam(url: &str, data_dir: &Path, stderr: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr)
        .unwrap();
    Command::new(binary("vpcroute-ipam"))
        .arg("--nats-url")
        .arg(url)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("VPCROUTE_NATS_URL")
        .env_remove("VPCROUTE_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start vpcroute-ipam")
}

/// Waits until ipam answers its status; panics if it exits first.
async fn wait_answering(nc: &async_nats::Client, child: &mut Child, stderr: &Path) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "ipam exited with {status} before answering:\n{}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
        }
        let subject = Running::Ipam.status_subject();
        let ask = vpcroute_bus::request::<_, ServiceStatus>(
            nc,
            &subject,
            &vpcroute_protocol::service::ServiceStatusGet {},
            Duration::from_millis(500),
        );
        if ask.await.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "ipam did not answer in time");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits for `child` to exit by itself.
async fn wait_exit(child: &mut Child, stderr: &Path) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ipam kept running on a full disk:\n{}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_ipam_which_loses_nothing_it_acknowledged() {
    let nats = nats_or_skip!();
    let Some(disk) = SmallDisk::mount("4m") else {
        return;
    };
    let url = nats.url();
    let data = disk.path().join("ipam");
    let logs = tempfile::tempdir().unwrap();
    let stderr = logs.path().join("vpcroute-ipam.stderr.log");
    let mut ipam = spawn_ipam(&url, &data, &stderr);
    let client = Client::connect(&url)
        .await
        .with_timeout(Duration::from_secs(3));
    wait_answering(client.nats(), &mut ipam, &stderr).await;
    client
        .zone_enable(&zone_enable("z1", "10.60.0.0/16"))
        .await
        .expect("zone enable");
    let mut acked = BTreeMap::new();
    for i in 0..5 {
        let r = client
            .vpc_allocate(&vpc(&format!("before-{i}")))
            .await
            .expect("allocation on a healthy disk");
        acked.insert(r.vpc, r.cidr);
    }

    disk.fill();
    // A burst on the full disk: each allocation is answered `ok` (and must
    // then survive) or not at all; none may be answered with anything else.
    let burst: Vec<String> = (0..10).map(|i| format!("during-{i}")).collect();
    let sends = burst.iter().map(|name| {
        let (client, req) = (client.clone(), vpc(name));
        tokio::spawn(async move { client.vpc_allocate(&req).await })
    });
    let mut unanswered = Vec::new();
    for (name, sent) in burst.iter().zip(futures::future::join_all(sends).await) {
        match sent.expect("send task") {
            Ok(r) => {
                acked.insert(r.vpc, r.cidr);
            }
            Err(RequestError::Unavailable(_) | RequestError::NoResponders(_)) => {
                unanswered.push(name.clone())
            }
            Err(e) => panic!("{name}: answered on a full disk with {e:?}"),
        }
    }
    assert!(
        !unanswered.is_empty(),
        "premise: the full disk failed no append (all of {burst:?} acknowledged)"
    );

    // It stopped by itself, saying why, and answers no one.
    let status = wait_exit(&mut ipam, &stderr).await;
    let text = std::fs::read_to_string(&stderr).unwrap();
    assert!(!status.success(), "ipam exited with {status}:\n{text}");
    let cause = text
        .lines()
        .find(|l| l.contains("event log append failed, stopping"))
        .unwrap_or_else(|| panic!("no line names the failure:\n{text}"));
    assert!(cause.contains("disk is full"), "{cause}");
    eprintln!("ipam exited with {status}: {cause}");
    let after = client.vpc_allocate(&vpc("after")).await;
    assert!(
        matches!(after, Err(RequestError::NoResponders(_))),
        "a request after the failure got {after:?}"
    );

    // On a healthy disk again: everything acknowledged, as acknowledged;
    // nothing that was not.
    disk.free();
    let mut ipam = spawn_ipam(&url, &data, &stderr);
    wait_answering(client.nats(), &mut ipam, &stderr).await;
    for (name, cidr) in &acked {
        let shown = client.vpc_show(name).await.expect("acknowledged VPC");
        assert_eq!(&shown.cidr, cidr, "{name}");
    }
    for name in &unanswered {
        match client.vpc_show(name).await {
            Err(RequestError::Service(e)) => assert_eq!(e.code, ErrorCode::UnknownVpc, "{name}"),
            other => panic!("{name}, never acknowledged, after the restart: {other:?}"),
        }
    }
    let zone = client.zone_show("z1").await.expect("zone show");
    assert_eq!(zone.vpcs.len(), acked.len(), "{zone:?}");
    let _ = ipam.kill();
    let _ = ipam.wait();
    eprintln!(
        "{} acknowledged ({} on the full disk), {} unanswered",
        acked.len(),
        acked.len() - 5,
        unanswered.len()
    );
}
