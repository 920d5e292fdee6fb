//! Talking to one router's vtysh: a local `vtysh`, `ip netns exec NS vtysh
//! -N NS`, or `ssh ... vtysh` — whatever command the operator gave.
//!
//! Configuration scripts go to vtysh's standard input, never its
//! arguments, so OSPF keys do not show in the router's process table.
//! In that mode vtysh exits 0 even when a command fails, so every output
//! line starting with `%` counts as an error.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use vpcroute_sync::redact::redact_line;

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

#[derive(Debug, Clone)]
pub struct Vtysh {
    argv: Vec<String>,
    timeout: Duration,
}

/// Lines vtysh prints that are not errors of the commands sent.
fn is_benign(line: &str) -> bool {
    line.contains("Can't open configuration file")
}

impl Vtysh {
    pub fn new(command: &str, timeout: Duration) -> Result<Vtysh, String> {
        let argv = shell_words::split(command).map_err(|e| format!("bad router command: {e}"))?;
        if argv.is_empty() {
            return Err("empty router command".into());
        }
        Ok(Vtysh { argv, timeout })
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, VtyshError> {
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..])
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| VtyshError::Spawn(e.to_string()))?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            pipe.write_all(input.as_bytes())
                .await
                .map_err(|e| VtyshError::Spawn(e.to_string()))?;
            drop(pipe);
        }
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| VtyshError::Timeout(self.timeout))?
            .map_err(|e| VtyshError::Spawn(e.to_string()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let first = stderr
                .lines()
                .chain(stdout.lines())
                .find(|l| !l.trim().is_empty() && !is_benign(l))
                .map(redact_line)
                .unwrap_or_else(|| out.status.to_string());
            return Err(VtyshError::Failed(first));
        }
        Ok(stdout)
    }

    /// Runs one show command and returns its text.
    pub async fn show(&self, command: &str) -> Result<String, VtyshError> {
        self.run(&["-c", command], None).await
    }

    /// Runs one show command that prints JSON.
    pub async fn show_json(&self, command: &str) -> Result<serde_json::Value, VtyshError> {
        let text = self.show(command).await?;
        let start = text.find('{').unwrap_or(text.len());
        serde_json::from_str(&text[start..]).map_err(|e| VtyshError::BadOutput(e.to_string()))
    }

    /// Feeds a configuration script on standard input. Errors name the
    /// rejected lines, with keys redacted.
    pub async fn configure(&self, script: &str) -> Result<(), VtyshError> {
        let out = self.run(&[], Some(script)).await?;
        let rejected: Vec<String> = out
            .lines()
            .filter(|l| l.starts_with('%') && !is_benign(l))
            .map(redact_line)
            .collect();
        if rejected.is_empty() {
            Ok(())
        } else {
            Err(VtyshError::Rejected(rejected.join("; ")))
        }
    }
}
