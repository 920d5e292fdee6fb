//! Issue 11, item 4: the vtysh and nft that router-sync starts do not
//! inherit our secret-bearing variables (VPCROUTE_NATS_PASSWORD). Fake
//! commands, shell scripts, write their environment to a file.

use std::path::PathBuf;
use std::time::Duration;

use vpcroute_router_sync::vtysh::Vtysh;

use crate::nft::Nft;

const PASSWORD: &str = "pw-must-not-leak";

/// A fake command that writes its environment to a file and exits, and
/// that file. The password is set first (in this test process only).
fn env_dumping_script(dir: &tempfile::TempDir) -> (String, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    std::env::set_var("VPCROUTE_NATS_PASSWORD", PASSWORD);
    let script = dir.path().join("fake");
    let env_file = dir.path().join("env");
    let body = format!("#!/bin/sh\nenv > '{}'\n", env_file.display());
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script.to_string_lossy().into_owned(), env_file)
}

fn assert_clean(env_file: &PathBuf, what: &str) {
    let env =
        std::fs::read_to_string(env_file).unwrap_or_else(|e| panic!("the fake {what} ran: {e}"));
    assert!(
        env.lines().any(|l| l.starts_with("PATH=")),
        "PATH reaches {what} (positive control): {env}"
    );
    assert!(
        !env.contains("VPCROUTE_NATS_PASSWORD") && !env.contains(PASSWORD),
        "the NATS password reached {what}: {env}"
    );
}

#[tokio::test]
async fn vtysh_is_started_without_our_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (script, env_file) = env_dumping_script(&dir);
    let vtysh = Vtysh::new(&script, Duration::from_secs(10)).unwrap();
    // The fake exits at once, so the session fails; it has written its
    // environment by then.
    assert!(vtysh.show("show version").await.is_err());
    assert_clean(&env_file, "vtysh");
}

#[tokio::test]
async fn nft_is_started_without_our_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (script, env_file) = env_dumping_script(&dir);
    let nft = Nft::new(&script, Duration::from_secs(10)).unwrap();
    nft.list().await.expect("the fake nft succeeds");
    assert_clean(&env_file, "nft");
}
