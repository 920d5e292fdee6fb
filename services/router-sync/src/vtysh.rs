//! Talking to one router's vtysh: a local `vtysh`, `ip netns exec NS vtysh
//! -N NS`, or `ssh ... vtysh` — whatever command the operator gave.
//!
//! The command is started once and kept: commands go to its standard
//! input, each followed by a marker that delimits its answer
//! (`vpcroute_sync::session`, docs/frr-notes.md §9). Starting vtysh costs
//! 25-40 ms of CPU, a command on a running one about a millisecond. The
//! session is dropped (and started again by the next call) when it exits,
//! times out, or reports a daemon lost or reconnected, so a restarted
//! router is never talked to through a stale connection.
//!
//! Configuration goes to standard input, never the arguments, so OSPF keys
//! do not show in the router's process table. vtysh goes on after a failed
//! command and reports nothing but the text, so every output line starting
//! with `%` counts as an error.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::process::{Child, ChildStdin};
use tokio::sync::Mutex;
use vpcroute_sync::redact::redact_line;
use vpcroute_sync::session;

#[derive(Debug, thiserror::Error)]
pub enum VtyshError {
    #[error("cannot run vtysh: {0}")]
    Spawn(String),
    #[error("vtysh did not answer within {0:?}")]
    Timeout(Duration),
    #[error("vtysh failed: {0}")]
    Failed(String),
    #[error("router rejected commands: {0}")]
    Rejected(String),
    #[error("unreadable vtysh output: {0}")]
    BadOutput(String),
}

/// What an apply reads back in the same exchange: the running
/// configuration (verify 1) and the backbone's summary LSAs (verify 2).
pub const READ_BACK: [&str; 2] = ["show running-config", "show ip ospf database summary json"];

#[derive(Debug)]
pub struct Vtysh {
    argv: Vec<String>,
    timeout: Duration,
    session: Mutex<Option<Session>>,
}

/// One running vtysh. Dropping it closes its input and kills it.
#[derive(Debug)]
struct Session {
    _child: Child,
    stdin: ChildStdin,
    /// Its standard output and error, one pipe: a daemon-lost warning on
    /// stderr then arrives in order, inside the answer it concerns.
    out: pipe::Receiver,
    buf: Vec<u8>,
    next_marker: u64,
}

impl Session {
    async fn start(argv: &[String]) -> Result<Session, VtyshError> {
        let spawn_err = |e: std::io::Error| VtyshError::Spawn(e.to_string());
        let (tx, out) = pipe::pipe().map_err(spawn_err)?;
        let tx = tx.into_blocking_fd().map_err(spawn_err)?;
        let mut child = crate::command::child(argv)
            // vtysh appends every line it reads, keys included, to
            // $HOME/.history_frr; with this HOME it cannot.
            .env("HOME", "/dev/null")
            .stdin(Stdio::piped())
            .stdout(tx.try_clone().map_err(spawn_err)?)
            .stderr(tx)
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_err)?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let mut s = Session {
            _child: child,
            stdin,
            out,
            buf: Vec::new(),
            next_marker: 0,
        };
        // Past the banner, and proof that it reads commands.
        s.exchange(&[""]).await?;
        Ok(s)
    }

    /// Writes the commands and reads one answer per command.
    async fn exchange(&mut self, commands: &[&str]) -> Result<Vec<String>, VtyshError> {
        let first = self.next_marker;
        self.next_marker += commands.len() as u64;
        let input = session::framed(commands, first);
        let Session {
            stdin, out, buf, ..
        } = self;
        // Written while reading, so a long answer cannot block vtysh while
        // we are still writing.
        let write = async {
            stdin.write_all(input.as_bytes()).await?;
            stdin.flush().await
        };
        let read = async {
            let mut answers = Vec::with_capacity(commands.len());
            for i in 0..commands.len() as u64 {
                let marker = session::marker(first + i);
                loop {
                    if let Some(a) = session::take_answer(buf, &marker) {
                        answers.push(a);
                        break;
                    }
                    if out.read_buf(buf).await? == 0 {
                        return Err(std::io::Error::other("exited"));
                    }
                }
            }
            Ok(answers)
        };
        match tokio::try_join!(write, read) {
            Ok(((), answers)) => Ok(answers),
            Err(e) => {
                // Whatever it said last explains it ("failed to connect to
                // any daemons", no such namespace, ...).
                let said = String::from_utf8_lossy(buf);
                let why = said
                    .lines()
                    .find(|l| !l.trim().is_empty() && !session::is_benign(l))
                    .map(redact_line)
                    .unwrap_or_else(|| e.to_string());
                Err(VtyshError::Failed(why))
            }
        }
    }
}

impl Vtysh {
    pub fn new(command: &str, timeout: Duration) -> Result<Vtysh, String> {
        Ok(Vtysh {
            argv: crate::command::argv("router", command)?,
            timeout,
            session: Mutex::new(None),
        })
    }

    /// Runs the commands in order in the session (started if need be) and
    /// returns their answers; on any trouble the session is dropped.
    async fn batch(&self, commands: &[&str]) -> Result<Vec<String>, VtyshError> {
        let mut slot = self.session.lock().await;
        let run = async {
            if slot.is_none() {
                *slot = Some(Session::start(&self.argv).await?);
            }
            let answers = slot.as_mut().expect("started").exchange(commands).await?;
            match answers.iter().find_map(|a| session::disturbance(a)) {
                Some(line) => Err(VtyshError::Failed(redact_line(line))),
                None => Ok(answers),
            }
        };
        let result = tokio::time::timeout(self.timeout, run)
            .await
            .unwrap_or(Err(VtyshError::Timeout(self.timeout)));
        if result.is_err() {
            *slot = None;
        }
        result
    }

    /// Runs show commands, in one exchange; returns their outputs.
    pub async fn shows(&self, commands: &[&str]) -> Result<Vec<String>, VtyshError> {
        let answers = self.batch(commands).await?;
        Ok(answers
            .iter()
            .map(|a| session::output(a).to_string())
            .collect())
    }

    /// Runs one show command and returns its text.
    pub async fn show(&self, command: &str) -> Result<String, VtyshError> {
        Ok(self.shows(&[command]).await?.remove(0))
    }

    /// Runs one show command that prints JSON.
    pub async fn show_json(&self, command: &str) -> Result<serde_json::Value, VtyshError> {
        parse_json(&self.show(command).await?)
    }

    /// Feeds a configuration script. Errors name the rejected lines, with
    /// keys redacted.
    pub async fn configure(&self, script: &str) -> Result<(), VtyshError> {
        self.configure_and_show(script, &[]).await.map(|_| ())
    }

    /// Feeds a configuration script (which must end with `end`), then runs
    /// show commands in the same exchange — the read-back of an apply costs
    /// no extra round trip. Fails if any line of the script was rejected.
    pub async fn configure_and_show(
        &self,
        script: &str,
        shows: &[&str],
    ) -> Result<Vec<String>, VtyshError> {
        let mut commands = vec![script];
        commands.extend_from_slice(shows);
        let answers = self.batch(&commands).await?;
        let rejected: Vec<String> = session::rejected(&answers[0])
            .into_iter()
            .map(redact_line)
            .collect();
        if !rejected.is_empty() {
            return Err(VtyshError::Rejected(rejected.join("; ")));
        }
        Ok(answers[1..]
            .iter()
            .map(|a| session::output(a).to_string())
            .collect())
    }
}

/// A show command's JSON (vtysh may print a line before it).
pub fn parse_json(text: &str) -> Result<serde_json::Value, VtyshError> {
    let start = text.find('{').unwrap_or(text.len());
    serde_json::from_str(&text[start..]).map_err(|e| VtyshError::BadOutput(e.to_string()))
}
