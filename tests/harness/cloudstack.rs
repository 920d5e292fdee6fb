//! `vpcroute-cloudstack` for a test: its secret files (0600), the
//! process, and what it published.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bins::binary;

/// Secrets the tests give the adapter; distinctive, so a test can look
/// for them in its output.
pub const API_KEY: &str = "api-Key-51d0c6";
pub const API_SECRET: &str = "api-Secret-9b27e4";
pub const WEBHOOK_SECRET: &str = "webhook-Secret-c4e81a";

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes `text` to `dir/name` with `mode`.
pub fn secret_file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{text}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

pub struct Adapter {
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
    /// stderr lines that mean "up" (one per source started).
    ready_lines: Vec<&'static str>,
}

impl Adapter {
    /// The required flags, with the API key files (0600) in `dir`,
    /// plus `extra`.
    pub fn args(nats_url: &str, dir: &Path, extra: &[String]) -> Vec<String> {
        let key = secret_file(dir, "api.key", API_KEY, 0o600);
        let secret = secret_file(dir, "api.secret", API_SECRET, 0o600);
        let mut args: Vec<String> = [
            "--nats-url",
            nats_url,
            "--data-dir",
            &dir.join("data").to_string_lossy(),
            "--api-url",
            "http://127.0.0.1:9/client/api",
            "--api-key-file",
            &key.to_string_lossy(),
            "--secret-key-file",
            &secret.to_string_lossy(),
            "--zone",
            "5a2e9c1b-0000-4000-8000-000000000001=east",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().cloned());
        args
    }

    /// Starts the adapter and waits until its intake (and each source
    /// named in `args`) has said it is listening.
    pub fn start(args: Vec<String>, dir: &Path) -> Adapter {
        let mut ready_lines = vec!["intake listening"];
        if args.iter().any(|a| a == "--webhook-listen") {
            ready_lines.push("webhook receiver listening");
        }
        if args.iter().any(|a| a == "--amqp-url") || std::env::var_os("VPCROUTE_AMQP_URL").is_some()
        {
            ready_lines.push("AMQP consumer started");
        }
        let mut a = Adapter {
            args,
            dir: dir.to_path_buf(),
            child: None,
            ready_lines,
        };
        a.spawn();
        a
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.join("vpcroute-cloudstack.stderr.log")
    }

    /// Everything the adapter wrote to stderr, every run appended.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .unwrap();
        let before = self.stderr().len();
        let child = Command::new(binary("vpcroute-cloudstack"))
            .args(&self.args)
            // Everything it can log, so a secret in any line is seen.
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn vpcroute-cloudstack");
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let out = self.stderr();
            let since = out.get(before..).unwrap_or_default();
            if self.ready_lines.iter().all(|l| since.contains(l)) {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("vpcroute-cloudstack exited with {status} before it was ready:\n{out}");
            }
            assert!(
                Instant::now() < deadline,
                "vpcroute-cloudstack not ready within {READY_TIMEOUT:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until the current run's stderr has a line containing `text`
    /// (the adapter saying it did something); panics after a while.
    pub fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while !self.stderr().lines().any(|l| l.contains(text)) {
            assert!(
                Instant::now() < deadline,
                "the adapter never logged {text:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGKILL: the adapter gets no chance to do anything more.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same data directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs the adapter with `args` expecting it to refuse to start; returns
/// its exit code and stderr. One still running after `REFUSE_TIMEOUT` did
/// not refuse: it is killed and the code is `None`.
pub fn run_refused(args: &[String]) -> (Option<i32>, String) {
    const REFUSE_TIMEOUT: Duration = Duration::from_secs(20);
    let dir = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("stderr");
    let mut child = Command::new(binary("vpcroute-cloudstack"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("run vpcroute-cloudstack");
    let deadline = Instant::now() + REFUSE_TIMEOUT;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    (code, std::fs::read_to_string(&err_path).unwrap_or_default())
}
