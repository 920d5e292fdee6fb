//! The renderer's central promise, checked against the real `nft`: after
//! `nft -f` of [`Ruleset::file`], `nft -n list table inet vpcroute` prints
//! exactly [`Ruleset::listing`]. router-sync verifies routers by that byte
//! comparison, so a rule shape that nft prints differently would make it
//! re-apply forever. Needs root (a scratch network namespace) and nft.

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vpcroute_firewall::{render, FirewallModel, TierFilter};
use vpcroute_protocol::acl::{
    builtin_rules, AclAction, AclProtocol, AclRule, PortRange, Traffic, DEFAULT_ALLOW, DEFAULT_DENY,
};

struct Netns(String);

impl Netns {
    fn new(test: &str) -> Option<Netns> {
        let root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
        let nft = Command::new("nft").arg("--version").output().is_ok();
        if !root || !nft {
            vpcroute_testkit::skip_unless_ci("root and nft (a scratch network namespace)");
            return None;
        }
        let name = format!("vpcrfw-{}-{test}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .ok()?
            .success();
        assert!(ok, "ip netns add {name}");
        Some(Netns(name))
    }

    fn nft(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nft");
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    fn round_trip(&self, model: &FirewallModel) -> Result<(), String> {
        let r = render(model);
        let (ok, err) = self.nft(&["-f", "-"], Some(&r.file));
        if !ok {
            return Err(format!("nft refused the file: {err}\n{}", r.file));
        }
        let (ok, listed) = self.nft(&["-n", "list", "table", "inet", "vpcroute"], None);
        if !ok || listed != r.listing {
            return Err(format!(
                "listing differs:\n{}",
                vpcroute_testkit::line_diff(&r.listing, &listed)
            ));
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn rule(
    number: u32,
    cidrs: &[&str],
    protocol: AclProtocol,
    traffic: Traffic,
    action: AclAction,
) -> AclRule {
    AclRule {
        number,
        cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
        protocol,
        ports: None,
        icmp_type: None,
        icmp_code: None,
        traffic,
        action,
    }
}

fn tier(iface: &str, acl: &str, rules: Vec<AclRule>) -> TierFilter {
    TierFilter {
        tier: format!("tier-{iface}"),
        interface: iface.into(),
        acl: acl.into(),
        rules,
    }
}

#[test]
fn every_rule_shape_lists_back_exactly_as_rendered() {
    let Some(ns) = Netns::new("shapes") else {
        return;
    };
    let mut shapes = Vec::new();
    let mut n = 0;
    let mut push = |mut r: AclRule| {
        n += 1;
        r.number = n;
        shapes.push(r);
    };
    for traffic in [Traffic::Ingress, Traffic::Egress] {
        for action in [AclAction::Allow, AclAction::Deny] {
            for cidrs in [
                &["0.0.0.0/0"][..],
                &["::/0"],
                &["10.1.0.0/22"],
                &["10.1.0.5/32"],
                &["2001:db8::1/128"],
                &["10.1.0.0/22", "10.3.0.0/16", "192.0.2.7/32"],
                &["10.1.0.0/22", "2001:db8::/32", "fd00::/8"],
                &["10.0.0.0/23", "10.0.2.0/24", "10.9.9.9/32", "10.9.9.10/32"],
                &["2001:db8::/127", "2001:db8::2/128"],
                // IPv4-compatible IPv6: glibc prints these as ::a.b.c.d.
                &["::102:300/120"],
                &["::a:0/111", "::1:0/112"],
                &["::ffff:10.0.0.0/104"],
            ] {
                for protocol in [
                    AclProtocol::All,
                    AclProtocol::Tcp,
                    AclProtocol::Udp,
                    AclProtocol::Icmp,
                    AclProtocol::Number(47),
                    AclProtocol::Number(0),
                    AclProtocol::Number(255),
                ] {
                    push(rule(0, cidrs, protocol, traffic, action));
                }
                let mut r = rule(0, cidrs, AclProtocol::Tcp, traffic, action);
                r.ports = Some(PortRange {
                    start: 8080,
                    end: 8080,
                });
                push(r.clone());
                r.ports = Some(PortRange {
                    start: 1,
                    end: 65535,
                });
                push(r.clone());
                r.protocol = AclProtocol::Udp;
                r.ports = Some(PortRange { start: 53, end: 60 });
                push(r);
                let mut r = rule(0, cidrs, AclProtocol::Icmp, traffic, action);
                r.icmp_type = Some(8);
                push(r.clone());
                r.icmp_code = Some(0);
                push(r.clone());
                r.icmp_type = Some(255);
                r.icmp_code = Some(255);
                push(r);
            }
        }
    }
    // The most CIDRs a rule may hold: nft must not wrap the set.
    let many: Vec<String> = (0..64).map(|i| format!("10.{}.0.0/16", 2 * i)).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    push(rule(
        0,
        &many,
        AclProtocol::Tcp,
        Traffic::Ingress,
        AclAction::Allow,
    ));
    let mut long = tier(
        "eth6",
        &"l".repeat(255),
        builtin_rules(DEFAULT_ALLOW).unwrap(),
    );
    long.tier = "t".repeat(255);
    let model = FirewallModel {
        vpc_cidrs: vec![
            "10.1.4.0/22".parse().unwrap(),
            "fd00:1::/64".parse().unwrap(),
        ],
        tiers: vec![
            long,
            tier("eth1@x", "at-sign", builtin_rules(DEFAULT_DENY).unwrap()),
            tier("eth1_x", "underscore", vec![]),
            tier("eth2", "everything", shapes),
            tier("eth3", DEFAULT_ALLOW, builtin_rules(DEFAULT_ALLOW).unwrap()),
            tier("eth4", DEFAULT_DENY, builtin_rules(DEFAULT_DENY).unwrap()),
            tier("eth5", "empty", vec![]),
            tier("eth1.100", "dotted", vec![]),
        ],
    };
    if let Err(e) = ns.round_trip(&model) {
        panic!("{e}");
    }
    if let Err(e) = ns.round_trip(&FirewallModel::default()) {
        panic!("{e}");
    }
}

#[test]
fn random_lists_list_back_exactly_as_rendered() {
    let Some(ns) = Netns::new("random") else {
        return;
    };
    // Small prefixes near each other often touch: nft merges those. And
    // IPv6 prefixes in ::/96, which glibc prints in IPv4-compatible form.
    let cidr = prop_oneof![
        (any::<u32>(), 96u8..=128).prop_map(|(a, p)| ipnet::Ipv6Net::new(u128::from(a).into(), p)
            .unwrap()
            .trunc()
            .into()),
        (0u32..16, 24u8..=32).prop_map(|(i, p)| ipnet::Ipv4Net::new(
            std::net::Ipv4Addr::new(10, 0, (i / 4) as u8, (i % 4) as u8 * 64),
            p
        )
        .unwrap()
        .trunc()
        .into()),
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, p)| ipnet::Ipv4Net::new(a.into(), p).unwrap().trunc().into()),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, p)| ipnet::Ipv6Net::new(a.into(), p).unwrap().trunc().into()),
    ];
    let protocol = prop_oneof![
        Just(AclProtocol::All),
        Just(AclProtocol::Tcp),
        Just(AclProtocol::Udp),
        Just(AclProtocol::Icmp),
        (0u8..=255)
            .prop_filter("named", |n| ![1, 6, 17].contains(n))
            .prop_map(AclProtocol::Number),
    ];
    let a_rule = (
        1u32..=65535,
        proptest::collection::vec(cidr, 1..5),
        protocol,
        proptest::option::of((1u16..=65535, 0u16..100)),
        proptest::option::of((any::<u8>(), proptest::option::of(any::<u8>()))),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(number, cidrs, protocol, ports, icmp, ingress, allow)| AclRule {
                number,
                cidrs: ipnet::IpNet::aggregate(&cidrs),
                protocol,
                ports: ports
                    .filter(|_| protocol.has_ports())
                    .map(|(s, w)| PortRange {
                        start: s,
                        end: s.saturating_add(w),
                    }),
                icmp_type: icmp
                    .filter(|_| protocol == AclProtocol::Icmp)
                    .map(|(t, _)| t),
                icmp_code: icmp
                    .filter(|_| protocol == AclProtocol::Icmp)
                    .and_then(|(_, c)| c),
                traffic: if ingress {
                    Traffic::Ingress
                } else {
                    Traffic::Egress
                },
                action: if allow {
                    AclAction::Allow
                } else {
                    AclAction::Deny
                },
            },
        );
    let model = proptest::collection::vec(proptest::collection::vec(a_rule, 0..6), 1..4).prop_map(
        |tiers| FirewallModel {
            tiers: tiers
                .into_iter()
                .enumerate()
                .map(|(i, mut rules)| {
                    rules.sort_by_key(|r| r.number);
                    rules.dedup_by_key(|r| r.number);
                    tier(&format!("eth{}", i + 2), "random", rules)
                })
                .collect(),
            vpc_cidrs: vec!["10.1.4.0/22".parse().unwrap()],
        },
    );
    let mut runner = TestRunner::new(Config {
        cases: 128,
        ..Config::default()
    });
    runner
        .run(&model, |m| {
            ns.round_trip(&m).map_err(TestCaseError::fail)?;
            Ok(())
        })
        .unwrap();
}
