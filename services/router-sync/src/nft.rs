//! Talking to one router's nftables: `nft` run by whatever command the
//! operator gave (`nft`, `ip netns exec NS nft`, `ssh ... nft`).
//!
//! The ruleset goes to nft's standard input (`nft -f -`), so nothing is
//! written on the router's disk and one transaction replaces the table.
//! Verification reads `nft -n list table inet vpcroute` and compares it
//! byte for byte with the listing the config-renderer rendered
//! (`vpcroute_firewall` renders in exactly nft's numeric listing form).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("cannot run nft: {0}")]
    Spawn(String),
    #[error("nft did not answer within {0:?}")]
    Timeout(Duration),
    #[error("nft failed: {0}")]
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Nft {
    argv: Vec<String>,
    timeout: Duration,
}

/// What nft says when our table does not exist (yet, or any more): the
/// error and, under it, the command naming our table. A missing namespace
/// or ssh key also says "No such file or directory", but not that.
fn is_missing_table(stderr: &str) -> bool {
    stderr.contains("Error: No such file or directory") && stderr.contains("table inet vpcroute")
}

impl Nft {
    pub fn new(command: &str, timeout: Duration) -> Result<Nft, String> {
        Ok(Nft {
            argv: vpcroute_router_sync::command::argv("nft", command)?,
            timeout,
        })
    }

    /// Runs nft; `Ok(Err(stderr))` when it ran and failed.
    async fn run(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<Result<String, String>, NftError> {
        let mut child = vpcroute_router_sync::command::child(&self.argv)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| NftError::Spawn(e.to_string()))?;
        let pipe = child.stdin.take();
        // One deadline for writing the ruleset and waiting: a router (or an
        // ssh) that stops reading must not hang the router's task.
        let io = async move {
            if let (Some(mut pipe), Some(input)) = (pipe, stdin) {
                pipe.write_all(input.as_bytes()).await?;
            }
            child.wait_with_output().await
        };
        let out = tokio::time::timeout(self.timeout, io)
            .await
            .map_err(|_| NftError::Timeout(self.timeout))?
            .map_err(|e| NftError::Spawn(e.to_string()))?;
        if out.status.success() {
            Ok(Ok(String::from_utf8_lossy(&out.stdout).into_owned()))
        } else {
            Ok(Err(String::from_utf8_lossy(&out.stderr).into_owned()))
        }
    }

    /// The table as `nft -n` lists it, or `None` when it does not exist.
    pub async fn list(&self) -> Result<Option<String>, NftError> {
        match self
            .run(&["-n", "list", "table", "inet", "vpcroute"], None)
            .await?
        {
            Ok(text) => Ok(Some(text)),
            Err(e) if is_missing_table(&e) => Ok(None),
            Err(e) => Err(NftError::Failed(first_line(&e))),
        }
    }

    /// Applies a ruleset file (one transaction).
    pub async fn apply(&self, file: &str) -> Result<(), NftError> {
        self.run(&["-f", "-"], Some(file))
            .await?
            .map(|_| ())
            .map_err(|e| NftError::Failed(first_line(&e)))
    }

    /// Removes our table, if it is there.
    pub async fn delete(&self) -> Result<(), NftError> {
        match self
            .run(&["delete", "table", "inet", "vpcroute"], None)
            .await?
        {
            Ok(_) => Ok(()),
            Err(e) if is_missing_table(&e) => Ok(()),
            Err(e) => Err(NftError::Failed(first_line(&e))),
        }
    }
}

/// nft's first complaint; rulesets hold no secrets, but messages stay short.
fn first_line(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    vpcroute_protocol::error::clip(line, 200).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_table_is_recognised() {
        assert!(is_missing_table(
            "Error: No such file or directory\nlist table inet vpcroute\n"
        ));
        assert!(!is_missing_table("Error: Operation not permitted"));
        assert!(!is_missing_table(
            "Cannot open network namespace \"vpcr-x\": No such file or directory"
        ));
    }
}
