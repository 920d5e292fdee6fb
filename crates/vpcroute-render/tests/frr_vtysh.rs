//! Feeds rendered FRR configurations to FRR's own parser: `vtysh --dryrun -f FILE`.
//!
//! How FRR's dry run reports errors: see `vpcroute_testkit::FrrDryRun`.

mod common;

use vpcroute_testkit::FrrDryRun;

use common::*;
use vpcroute_render::*;

fn models() -> Vec<(&'static str, RouterModel)> {
    let mut v = vec![
        ("none", sample(OspfAuth::None)),
        ("plaintext", sample(plain())),
        ("md5", sample(md5())),
    ];

    let mut max_keys = sample(OspfAuth::Md5 {
        key_id: 255,
        key: Secret::new("~\"'`\\{}[];&|$%^*"),
    });
    max_keys.ospf.hello_interval = 65534;
    max_keys.ospf.dead_interval = 65535;
    max_keys.ospf.retransmit_interval = 65535;
    max_keys.ospf.transmit_delay = 65535;
    v.push(("md5-max", max_keys));

    let mut min = sample(OspfAuth::Plaintext {
        key: Secret::new("%&x"),
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
    let Some(dry) = FrrDryRun::new() else { return };
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
    let Some(dry) = FrrDryRun::new() else { return };
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
            good.replace("md5 s3cr3t-md5-Key%", "md5 two words"),
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
    let Some(dry) = FrrDryRun::new() else { return };
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
