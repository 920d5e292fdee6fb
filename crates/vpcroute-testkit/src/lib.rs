//! Helpers shared by the test suites of several crates (a dev-dependency
//! only; nothing here ships in a service).

use std::path::{Path, PathBuf};
use std::process::Command;

mod golden;
mod nft;
pub mod schemas;

pub use golden::{check_golden, read_jsonl, update_golden};
pub use nft::NftCheck;
pub use schemas::Schemas;

/// Whether this run is CI's (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips a test that needs `what` (prints why), except in CI, where the
/// missing piece is a failure: CI must run every test.
pub fn skip_unless_ci(what: &str) {
    if in_ci() {
        panic!("{what} is required when CI=true");
    }
    eprintln!("SKIPPED: {what} is not available");
}

/// A unified line diff of `expected` and `actual`, for golden files.
pub fn line_diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .header("expected", "actual")
        .to_string()
}

/// FRR's own configuration parser, `vtysh --dryrun -f FILE`, as a check.
///
/// What FRR 8.4's `vtysh --dryrun` does (found by experiment): it parses
/// every line against the grammar of all daemons with none running,
/// reports each bad line on stderr (`line N: % Unknown command ...`,
/// `% Command incomplete`), keeps going, and exits with the code of the
/// last failure, or 0. It checks grammar and ranges, not meaning (a
/// 17-character MD5 key passes). It first reads `<config_dir>/vtysh.conf`
/// and complains on stderr when that is missing, so each check gets its
/// own config dir. A file passes only with exit status 0 and no output.
pub struct FrrDryRun {
    dir: tempfile::TempDir,
    vtysh: PathBuf,
}

impl FrrDryRun {
    /// `None` (after `skip_unless_ci`) when vtysh is not installed.
    pub fn new() -> Option<FrrDryRun> {
        let Some(vtysh) = vtysh_path() else {
            skip_unless_ci("vtysh (Debian package frr)");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("vtysh.conf"),
            "service integrated-vtysh-config\n",
        )
        .expect("write vtysh.conf");
        Some(FrrDryRun { dir, vtysh })
    }

    /// Checks configuration text.
    pub fn check(&self, name: &str, text: &str) -> Result<(), String> {
        let file = self.dir.path().join(format!("{name}.conf"));
        std::fs::write(&file, text).expect("write config");
        self.check_file(&file)
    }

    /// Checks a configuration file.
    pub fn check_file(&self, file: &Path) -> Result<(), String> {
        let out = Command::new(&self.vtysh)
            .arg("--config_dir")
            .arg(self.dir.path())
            .arg("--dryrun")
            .arg("-f")
            .arg(file)
            .output()
            .expect("run vtysh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty() {
            Ok(())
        } else {
            Err(format!(
                "vtysh --dryrun rejected {}: status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
                file.display(),
                out.status.code()
            ))
        }
    }
}

/// `$VTYSH`, else `vtysh` on the PATH or in the usual places.
pub fn vtysh_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VTYSH") {
        return Some(PathBuf::from(p));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/bin", "/usr/local/bin", "/usr/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join("vtysh"))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::{check_golden, line_diff};

    #[test]
    fn diff_marks_changed_lines() {
        let d = line_diff("a\nb\nc\n", "a\nB\nc\n");
        assert!(d.contains("-b\n") && d.contains("+B\n"), "{d}");
    }

    #[test]
    fn golden_check_reports_a_difference_and_accepts_a_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txt");
        std::fs::write(&path, "a\nb\n").unwrap();
        let same = |e: &str, a: &str| e == a;
        if std::env::var_os("UPDATE_GOLDEN").is_none() {
            assert!(check_golden(&path, "a\nb\n", same).is_ok());
            let err = check_golden(&path, "a\nc\n", same).unwrap_err();
            assert!(err.contains("-b\n") && err.contains("+c\n"), "{err}");
            let missing = check_golden(&dir.path().join("none"), "a", same).unwrap_err();
            assert!(missing.contains("UPDATE_GOLDEN=1"), "{missing}");
        }
    }

    /// Run by the test below in a child process whose environment says
    /// CI=true and UPDATE_GOLDEN=1; outside that it does nothing.
    #[test]
    fn child_asks_to_update_golden_files() {
        if std::env::var_os("VPCROUTE_TESTKIT_CHILD").is_some() {
            let _ = super::update_golden();
        }
    }

    #[test]
    fn update_golden_is_refused_under_ci() {
        let run = |ci: &str| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "tests::child_asks_to_update_golden_files",
                    "--nocapture",
                ])
                .env("VPCROUTE_TESTKIT_CHILD", "1")
                .env("UPDATE_GOLDEN", "1")
                .env("CI", ci)
                .output()
                .unwrap()
        };
        let ci = run("true");
        let out =
            String::from_utf8_lossy(&ci.stdout).into_owned() + &String::from_utf8_lossy(&ci.stderr);
        assert!(
            !ci.status.success(),
            "UPDATE_GOLDEN ran under CI=true:\n{out}"
        );
        assert!(
            out.contains("UPDATE_GOLDEN is refused under CI=true"),
            "{out}"
        );
        // Positive control: the same child outside CI runs and passes.
        let dev = run("false");
        assert!(
            dev.status.success(),
            "{}",
            String::from_utf8_lossy(&dev.stderr)
        );
    }
}
