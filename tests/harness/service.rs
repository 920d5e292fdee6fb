//! A vpcroute service process: spawned from the built binary, killed with
//! SIGKILL, restarted on the same data directory.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::bins::binary;

/// How long a service may take from spawn to answering requests.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    Ipam,
    AreaRegistry,
    ConfigRenderer,
    RouterSync,
}

impl ServiceKind {
    /// The binary's name, also its NATS Services API name.
    pub fn binary_name(self) -> &'static str {
        match self {
            ServiceKind::Ipam => "vpcroute-ipam",
            ServiceKind::AreaRegistry => "vpcroute-area-registry",
            ServiceKind::ConfigRenderer => "vpcroute-config-renderer",
            ServiceKind::RouterSync => "vpcroute-router-sync",
        }
    }

    /// A subject whose reply proves the service is fully up. The ipam
    /// service subscribes `events.read` last, so an answer there means every
    /// endpoint is subscribed; for the others it is at least subscribed and
    /// the log replayed. A router-sync instance's log is read on a subject
    /// of the instance, named by its arguments.
    fn readiness_probe(self, args: &[String]) -> (String, &'static str) {
        use vpcroute_bus::subjects;
        let subject = match self {
            ServiceKind::Ipam => subjects::ipam::EVENTS_READ.to_string(),
            ServiceKind::AreaRegistry => subjects::areas::EVENTS_READ.to_string(),
            ServiceKind::ConfigRenderer => subjects::config::EVENTS_READ.to_string(),
            ServiceKind::RouterSync => subjects::sync::events_read(&sync_instance(args)),
        };
        (subject, r#"{"from_seq":1,"limit":1}"#)
    }
}

/// The instance name router-sync takes from `args`: `--instance`, else its
/// first `--router`'s name (the binary's default).
pub fn sync_instance(args: &[String]) -> String {
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    if let Some(name) = after("--instance") {
        return name.clone();
    }
    after("--router")
        .and_then(|r| r.split_once('='))
        .map(|(name, _)| name.to_string())
        .expect("router-sync needs --instance or a --router")
}

pub struct Service {
    kind: ServiceKind,
    nats_url: String,
    data_dir: PathBuf,
    extra_args: Vec<String>,
    child: Option<Child>,
    /// Length of the stderr file when the current process was spawned.
    spawned_at: usize,
}

/// How a service run that was expected to fail ended.
#[derive(Debug)]
pub struct ExitReport {
    pub status: ExitStatus,
    /// What this run wrote to stderr.
    pub stderr: String,
}

impl Service {
    /// Spawns the service and waits until it answers requests.
    pub async fn start(kind: ServiceKind, nats_url: &str, data_dir: &Path) -> Service {
        Self::start_with_args(kind, nats_url, data_dir, &[]).await
    }

    /// Like [`Service::start`], with extra command-line arguments.
    pub async fn start_with_args(
        kind: ServiceKind,
        nats_url: &str,
        data_dir: &Path,
        extra_args: &[&str],
    ) -> Service {
        let mut s = Service::spawn(kind, nats_url, data_dir, extra_args);
        s.wait_ready().await;
        s
    }

    /// Spawns the service without waiting for it (e.g. while NATS is down).
    pub fn spawn(
        kind: ServiceKind,
        nats_url: &str,
        data_dir: &Path,
        extra_args: &[&str],
    ) -> Service {
        let mut s = Service {
            kind,
            nats_url: nats_url.to_string(),
            data_dir: data_dir.to_path_buf(),
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            child: None,
            spawned_at: 0,
        };
        s.spawn_process();
        s
    }

    /// Runs the service expecting it to exit on its own (e.g. refusing a
    /// corrupt log) within `timeout`; panics if it keeps running.
    pub fn run_to_exit(
        kind: ServiceKind,
        nats_url: &str,
        data_dir: &Path,
        timeout: Duration,
    ) -> ExitReport {
        let mut s = Service::spawn(kind, nats_url, data_dir, &[]);
        let before = s.stderr_len();
        let deadline = Instant::now() + timeout;
        let child = s.child.as_mut().expect("just spawned");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                s.child = None;
                return ExitReport {
                    status,
                    stderr: s.stderr_since(before),
                };
            }
            if Instant::now() > deadline {
                let stderr = s.stderr_since(before);
                s.kill9();
                panic!(
                    "{} was expected to exit but still runs after {timeout:?}; stderr:\n{stderr}",
                    kind.binary_name()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn_process(&mut self) {
        std::fs::create_dir_all(&self.data_dir).expect("create data dir");
        self.spawned_at = self.stderr_len();
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .expect("open stderr log");
        let child = Command::new(binary(self.kind.binary_name()))
            .arg("--nats-url")
            .arg(&self.nats_url)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra_args)
            .env_remove("VPCROUTE_NATS_URL")
            .env_remove("VPCROUTE_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.kind.binary_name()));
        self.child = Some(child);
    }

    /// The file collecting the service's stderr (across restarts).
    pub fn stderr_path(&self) -> PathBuf {
        self.data_dir
            .join(format!("{}.stderr.log", self.kind.binary_name()))
    }

    /// Everything the service wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    fn stderr_len(&self) -> usize {
        self.stderr().len()
    }

    fn stderr_since(&self, offset: usize) -> String {
        self.stderr().get(offset..).unwrap_or_default().to_string()
    }

    /// The service as [`crate::wait_processed`] asks it.
    pub fn running(&self) -> crate::Running {
        match self.kind {
            ServiceKind::Ipam => crate::Running::Ipam,
            ServiceKind::AreaRegistry => crate::Running::AreaRegistry,
            ServiceKind::ConfigRenderer => crate::Running::ConfigRenderer,
            ServiceKind::RouterSync => crate::Running::RouterSync(sync_instance(&self.extra_args)),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Waits until the service answers its readiness probe; panics (with
    /// its stderr) if it exits or takes too long.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let (subject, probe) = self.kind.readiness_probe(&self.extra_args);
        let mut client = None;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "{} exited with {status} before it was ready; stderr:\n{}",
                    self.kind.binary_name(),
                    self.stderr()
                );
            }
            assert!(
                self.child.is_some(),
                "{} is not running",
                self.kind.binary_name()
            );
            if Instant::now() > deadline {
                panic!(
                    "{} did not answer {subject} within {READY_TIMEOUT:?}; stderr:\n{}",
                    self.kind.binary_name(),
                    self.stderr()
                );
            }
            if client.is_none() {
                client = async_nats::connect(&self.nats_url).await.ok();
            }
            if let Some(c) = &client {
                let req = c.request(subject.clone(), probe.as_bytes().to_vec().into());
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), req).await {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the running process has logged a line containing
    /// `needle` (since it was spawned) and returns that line; panics (with
    /// its stderr) if it exits first or takes too long.
    pub async fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let since = self.stderr_since(self.spawned_at);
            if let Some(line) = since.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Some(status) = self.has_exited() {
                panic!(
                    "{} exited with {status} before logging {needle:?}; stderr:\n{since}",
                    self.kind.binary_name()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not log {needle:?} within {READY_TIMEOUT:?}; stderr:\n{since}",
                self.kind.binary_name()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGKILL: no chance to flush or clean up, like a power cut for the
    /// process (the kernel still has what was written).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the service (if running) and starts it again on the same data
    /// directory, waiting until it answers.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn_process();
        self.wait_ready().await;
    }

    /// Whether the process has exited (reaping it if so).
    pub fn has_exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok().flatten();
        if status.is_some() {
            self.child = None;
        }
        status
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}
