//! Finding (and building) the workspace binaries the tests drive.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Packages whose binaries the harness runs.
const PACKAGES: &[&str] = &[
    "vpcroute-ipam-service",
    "vpcroute-area-registry-service",
    "vpcroute-config-renderer-service",
    "vpcroute-router-sync-service",
    "vpcctl",
    "vpcroute-cloudstack-service",
];

/// `target/<profile>/`, and the cargo profile name that builds into it.
fn target_profile_dir() -> (PathBuf, String) {
    // An integration test runs as target/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().map(Path::to_path_buf);
    while let Some(d) = dir {
        if d.file_name().is_some_and(|n| n == "deps") {
            let profile_dir = d.parent().expect("deps has a parent").to_path_buf();
            let name = profile_dir
                .file_name()
                .expect("profile dir name")
                .to_string_lossy()
                .into_owned();
            let profile = if name == "debug" {
                "dev".to_string()
            } else {
                name
            };
            return (profile_dir, profile);
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    // Not run by cargo test: fall back to the workspace's debug build.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    (target.join("debug"), "dev".to_string())
}

/// The workspace root (the parent of this package).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The directory holding the binaries, building them once per process.
fn bin_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("VPCROUTE_BIN_DIR") {
            return PathBuf::from(dir);
        }
        let (dir, profile) = target_profile_dir();
        let target_dir = dir
            .parent()
            .expect("profile dir has a parent")
            .to_path_buf();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root())
            .arg("build")
            .arg("--quiet")
            .arg("--profile")
            .arg(&profile)
            .arg("--target-dir")
            .arg(&target_dir);
        for p in PACKAGES {
            cmd.arg("-p").arg(p);
        }
        let status = cmd.status();
        match status {
            Ok(s) if s.success() => {}
            other => {
                // A build can fail while someone is mid-edit elsewhere in
                // the tree; binaries from an earlier build still serve.
                let all_there = ["vpcroute-ipam", "vpcctl"]
                    .iter()
                    .all(|b| dir.join(b).is_file());
                assert!(
                    all_there,
                    "building the service binaries failed ({other:?}) and none are in {}",
                    dir.display()
                );
                eprintln!(
                    "warning: `cargo build` of the service binaries failed ({other:?}); \
                     using the existing ones in {}",
                    dir.display()
                );
            }
        }
        dir
    })
}

/// The path of workspace binary `name` (`vpcroute-ipam`, `vpcctl`).
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "binary {name} not found at {} (is its package in bins::PACKAGES?)",
        path.display()
    );
    path
}
