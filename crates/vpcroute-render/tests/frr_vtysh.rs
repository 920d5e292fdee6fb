//! Feeds rendered FRR configurations to FRR's own parser: `vtysh --dryrun -f FILE`.
//!
//! What FRR 8.4's `vtysh --dryrun` does (found by experiment):
//! * it parses every line of the file against the command grammar of all
//!   daemons, without any daemon running, and reports each bad line on
//!   STDERR as `line N: % Unknown command[17]:  <text>` (also
//!   `% Command incomplete`, `% Ambiguous command`);
//! * it keeps going after an error and exits with the CMD_* code of the last
//!   failure (2 = CMD_ERR_NO_MATCH, 4 = CMD_ERR_INCOMPLETE, ...), or 0;
//! * a valid file prints nothing at all;
//! * it checks grammar and numeric ranges only, not semantics: an 17-character
//!   md5 key, or `network` mixed with `ip ospf area`, pass the dry run;
//! * it first reads `<config_dir>/vtysh.conf`; when that is missing it prints
//!   `% Can't open configuration file .../vtysh.conf` on stderr but still
//!   exits 0. /etc/frr is mode 0750 frr:frr, so this test passes its own
//!   `--config_dir` with a minimal vtysh.conf to be independent of the host.
//!
//! The check below therefore requires exit status 0 AND empty stdout and
//! stderr. If vtysh is missing the test is skipped with a message, unless
//! `CI=true`, where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use vpcroute_render::*;

fn vtysh() -> Option<PathBuf> {
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

fn vtysh_or_skip() -> Option<PathBuf> {
    match vtysh() {
        Some(p) => Some(p),
        None => {
            if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
                panic!("vtysh not found and CI=true: install FRR (apt-get install frr)");
            }
            eprintln!("SKIPPED: vtysh not found (install FRR, or set VTYSH=/path/to/vtysh)");
            None
        }
    }
}

struct DryRun {
    dir: tempfile::TempDir,
    vtysh: PathBuf,
}

impl DryRun {
    fn new(vtysh: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("vtysh.conf"),
            "service integrated-vtysh-config\n",
        )
        .unwrap();
        DryRun { dir, vtysh }
    }

    /// Ok(()) if vtysh accepts `text` silently, Err(report) otherwise.
    fn check(&self, name: &str, text: &str) -> Result<(), String> {
        let file = self.dir.path().join(format!("{name}.conf"));
        std::fs::write(&file, text).unwrap();
        self.check_file(&file)
    }

    fn check_file(&self, file: &Path) -> Result<(), String> {
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

fn models() -> Vec<(&'static str, RouterModel)> {
    let mut v = vec![
        ("none", sample(OspfAuth::None)),
        ("plaintext", sample(plain())),
        ("md5", sample(md5())),
    ];

    let mut max_keys = sample(OspfAuth::Md5 {
        key_id: 255,
        key: Secret::new("!#~\"'`\\{}[]?;&|$"),
    });
    max_keys.ospf.hello_interval = 65534;
    max_keys.ospf.dead_interval = 65535;
    max_keys.ospf.retransmit_interval = 65535;
    max_keys.ospf.transmit_delay = 65535;
    v.push(("md5-max", max_keys));

    let mut min = sample(OspfAuth::Plaintext {
        key: Secret::new("#!x"),
    });
    min.ospf.hello_interval = 1;
    min.ospf.dead_interval = 2;
    min.ospf.retransmit_interval = 1;
    min.ospf.transmit_delay = 1;
    v.push(("timers-min", min));

    let mut many = sample(md5());
    many.area = AreaId(u32::MAX);
    many.vpc_cidr = "172.16.0.0/12".parse().unwrap();
    many.tiers = (0..12)
        .map(|i| {
            tier(
                &format!("tier {i} (prod)"),
                &format!("eth{}", i + 2),
                &format!("172.16.{i}.1"),
                &format!("172.16.{i}.0/24"),
            )
        })
        .collect();
    v.push(("many-tiers", many));

    let mut empty = sample(OspfAuth::None);
    empty.tiers.clear();
    v.push(("no-tiers", empty));

    let mut bb = sample(md5());
    bb.ospf.backbone = AreaId(0);
    bb.area = AreaId(1);
    bb.hostname = "r-1234-VM".into();
    bb.uplink.interface = "ens3.100".into();
    v.push(("vlan-uplink", bb));
    v
}

#[test]
fn frr_parses_rendered_config() {
    let Some(vtysh) = vtysh_or_skip() else { return };
    let dry = DryRun::new(vtysh);
    let mut failures = Vec::new();
    for (name, m) in models() {
        let r = render(&m, Dialect::Frr).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = r.file("frr.conf").unwrap();
        if let Err(e) = dry.check(name, text) {
            failures.push(format!("[{name}]\n{e}\n--- config ---\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Proves the check above can fail: broken variants of a valid rendering are rejected.
#[test]
fn frr_dryrun_check_rejects_broken_config() {
    let Some(vtysh) = vtysh_or_skip() else { return };
    let dry = DryRun::new(vtysh);
    let good = render(&sample(md5()), Dialect::Frr).unwrap();
    let good = good.file("frr.conf").unwrap().to_owned();
    dry.check("good", &good)
        .expect("the unmodified config must pass");

    let broken = [
        // An unknown command inside the interface block.
        (
            "unknown",
            good.replace(" ip ospf passive\n", " ip ospf passiv3\n"),
        ),
        // Out of range in FRR 8.4.
        (
            "range",
            good.replace(
                " ip ospf retransmit-interval 5\n",
                " ip ospf retransmit-interval 0\n",
            ),
        ),
        (
            "keyid",
            good.replace("message-digest-key 7 md5", "message-digest-key 256 md5"),
        ),
        // Incomplete command.
        (
            "incomplete",
            good.replace(" log-adjacency-changes\n", " area 0.0.0.5 range\n"),
        ),
        // A key with a space becomes an extra token.
        (
            "space-key",
            good.replace("md5 s3cr3t-md5-Key!", "md5 two words"),
        ),
        // A bad line in the middle; later lines are fine (error must not be masked).
        (
            "middle",
            good.replace(
                "log syslog informational\n",
                "log syslog informational\nbogus-command\n",
            ),
        ),
    ];
    for (name, text) in broken {
        assert_ne!(text, good, "{name}: replacement did not apply");
        let err = dry.check(name, &text).expect_err(name);
        assert!(err.contains("line "), "{name}: {err}");
        assert!(err.contains('%'), "{name}: {err}");
    }
}

/// Quagga itself is not packaged in Debian 12, so its files cannot be checked
/// by Quagga. FRR's grammar still accepts every line this crate writes for
/// Quagga (FRR descends from Quagga; `passive-interface IFNAME` is hidden and
/// deprecated in FRR but parsed), which at least catches typos and bad ranges.
#[test]
fn quagga_files_parse_with_frr_grammar() {
    let Some(vtysh) = vtysh_or_skip() else { return };
    let dry = DryRun::new(vtysh);
    let mut failures = Vec::new();
    for (name, mut m) in models() {
        m.ospf.retransmit_interval = m.ospf.retransmit_interval.max(QUAGGA_RETRANSMIT_MIN);
        let r = render(&m, Dialect::Quagga).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (file, text) in r.files() {
            if let Err(e) = dry.check(&format!("quagga-{name}-{file}"), text) {
                failures.push(format!("[{name} {file}]\n{e}\n--- config ---\n{text}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
