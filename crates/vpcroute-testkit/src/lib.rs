//! Helpers shared by the test suites of several crates (a dev-dependency
//! only; nothing here ships in a service).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Skips a test that needs `what` (prints why), except in CI, where the
/// missing piece is a failure: CI must run every test.
pub fn skip_unless_ci(what: &str) {
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
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
    use super::line_diff;

    #[test]
    fn diff_marks_changed_lines() {
        let d = line_diff("a\nb\nc\n", "a\nB\nc\n");
        assert!(d.contains("-b\n") && d.contains("+B\n"), "{d}");
    }
}
