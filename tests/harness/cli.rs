//! Running the real `vpcctl` binary with `--json`.

use std::path::Path;

use serde_json::Value;

use crate::bins::binary;

/// One `vpcctl` run.
#[derive(Debug, Clone)]
pub struct CliOutput {
    /// The exit code (-1 if killed by a signal).
    pub code: i32,
    /// stdout parsed as JSON (`Value::Null` if it is not JSON).
    pub json: Value,
    /// stdout exactly as printed, for byte-for-byte comparisons.
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// The `error.code` of a failed run (`None` if the run succeeded or the
    /// output holds no error object).
    pub fn error_code(&self) -> Option<&str> {
        self.json.get("error")?.get("code")?.as_str()
    }

    pub fn error_message(&self) -> Option<&str> {
        self.json.get("error")?.get("message")?.as_str()
    }

    /// Panics with the whole output unless the run succeeded.
    #[track_caller]
    pub fn expect_ok(self) -> Value {
        assert!(
            self.ok(),
            "vpcctl failed (exit {}): {}\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self.json
    }
}

/// Runs `vpcctl --json --nats-url URL ARGS...` and parses its stdout.
pub async fn vpcctl(nats_url: &str, args: &[&str]) -> CliOutput {
    vpcctl_in(None, nats_url, args).await
}

/// Like [`vpcctl`], run in directory `cwd` if given.
pub async fn vpcctl_in(cwd: Option<&Path>, nats_url: &str, args: &[&str]) -> CliOutput {
    let mut cmd = tokio::process::Command::new(binary("vpcctl"));
    cmd.arg("--json")
        .arg("--nats-url")
        .arg(nats_url)
        .args(args)
        .env_remove("VPCROUTE_NATS_URL")
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
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
