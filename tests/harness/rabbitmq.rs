//! A private RabbitMQ (Debian's `rabbitmq-server`) for one test: its own
//! node name, AMQP and distribution ports, data, logs, config and Erlang
//! cookie, all in a temporary directory; stopped (SIGTERM to its process
//! group) on drop.
//!
//! What it takes (found on Debian 12's rabbitmq-server 3.10.8, as root):
//! - run `/usr/lib/rabbitmq/bin/rabbitmq-server` directly: Debian's
//!   `/usr/sbin/rabbitmq-server` wrapper switches to the `rabbitmq` user
//!   and its `/var/lib/rabbitmq`;
//! - `HOME` set to the temp dir, so the Erlang cookie is the node's own;
//! - `RABBITMQ_NODENAME` unique per instance (`<name>@localhost`), and
//!   `RABBITMQ_NODE_PORT` / `RABBITMQ_DIST_PORT` free ports;
//! - `RABBITMQ_CONFIG_FILE` (listener on 127.0.0.1, a test user with a
//!   password of its own, `loopback_users = none`),
//!   `RABBITMQ_ENABLED_PLUGINS_FILE`, `RABBITMQ_MNESIA_BASE`,
//!   `RABBITMQ_LOG_BASE`, `RABBITMQ_PID_FILE` in the temp dir, and
//!   `RABBITMQ_CONF_ENV_FILE` pointing at nothing, so /etc/rabbitmq is not read;
//! - epmd: the node starts `epmd -daemon` on port 4369 if none runs. It is
//!   shared by every Erlang node of the machine (nodes register under their
//!   unique names), so it is left running: stopping it could cut another
//!   test's node off from its tools. Nothing here uses it after start.
//!
//! The broker is ready when its AMQP port accepts connections (the listener
//! opens at the end of the boot); about 8 s on the development machine.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// The test user's password: distinctive, so a test can look for it in a
/// service's output.
pub const PASSWORD: &str = "amqp-Pw-7f3c9e1d";
pub const USER: &str = "vpcroute-test";

pub struct RabbitMq {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl RabbitMq {
    /// Starts a private broker, or returns `None` (after printing why) when
    /// `rabbitmq-server` is not installed or this is not root, unless
    /// `CI=true`: then that is a failure.
    pub fn start() -> Option<RabbitMq> {
        let why = if !std::path::Path::new(SERVER).is_file() {
            Some("rabbitmq-server is not installed (scripts/install-deps.sh installs it)")
        } else if unsafe { libc::geteuid() } != 0 {
            Some("a private RabbitMQ is started as root here")
        } else {
            None
        };
        if let Some(why) = why {
            if crate::nats::in_ci() {
                panic!("{why} (CI=true: not skipping)");
            }
            eprintln!("SKIPPED: {why}");
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = tempfile::Builder::new()
            .prefix("vpcroute-rabbitmq-")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let dist_port = free_port();
        let conf = dir.path().join("rabbitmq.conf");
        std::fs::write(
            &conf,
            format!(
                "listeners.tcp.default = 127.0.0.1:{port}\n\
                 default_user = {USER}\n\
                 default_pass = {PASSWORD}\n\
                 loopback_users = none\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("enabled_plugins"), "[].\n").unwrap();
        let node = format!(
            "vpcroute-test-{}-{}@localhost",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let p = |name: &str| dir.path().join(name);
        let log = std::fs::File::create(p("server.out")).unwrap();
        let child = Command::new(SERVER)
            .env("HOME", dir.path())
            .env("RABBITMQ_NODENAME", &node)
            .env("RABBITMQ_NODE_PORT", port.to_string())
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", &conf)
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", p("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", p("mnesia"))
            .env("RABBITMQ_LOG_BASE", p("log"))
            .env("RABBITMQ_PID_FILE", p("pid"))
            .env("RABBITMQ_CONF_ENV_FILE", p("no-rabbitmq-env.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn rabbitmq-server");
        let mut server = RabbitMq {
            port,
            child: Some(child),
            dir,
        };
        server.wait_ready();
        Some(server)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("rabbitmq-server exited with {status}:\n{}", self.output());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "rabbitmq-server did not listen within {READY_TIMEOUT:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server printed (for failures).
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.out")).unwrap_or_default()
    }

    /// `amqp://USER@127.0.0.1:PORT/%2f`, without the password.
    pub fn url_without_password(&self) -> String {
        format!("amqp://{USER}@127.0.0.1:{}/%2f", self.port)
    }

    /// The URL with the password, for the test's own connections.
    pub fn url(&self) -> String {
        format!("amqp://{USER}:{PASSWORD}@127.0.0.1:{}/%2f", self.port)
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The script and the Erlang VM share the group we gave them.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if child.try_wait().ok().flatten().is_none() {
                unsafe {
                    libc::kill(-(child.id() as i32), libc::SIGKILL);
                }
                let _ = child.wait();
            }
        }
    }
}
