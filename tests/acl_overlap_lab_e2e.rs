//! First match wins, on the wire (issue 13): ACL lists whose allow and deny
//! rules overlap, in both orders by rule number and in both directions,
//! rendered by the config-renderer and applied by router-sync to the lab's
//! VRs (real zebra + ospfd + nftables in network namespaces, driven through
//! `vpcctl`). Real TCP, UDP and ICMP packets go between the VMs of two
//! VPCs, and every outcome is compared with `vpcroute_firewall::verdict`,
//! the reference evaluation the firewall crate's unit tests check too.
//! Needs root, FRR and nft; skipped elsewhere, but never when CI=true.
//!
//! The lists under test go on right-tier (right-vm1, behind right-vr);
//! left-tier has `default_allow`. Each phase attaches one list and probes
//! both ways at once: left-vm1 -> right-vm1 crosses left-tier's egress (on
//! left-vr) and right-tier's ingress (on right-vr), right-vm1 -> left-vm1
//! the other two. In the egress phases right-tier is a replying tier with
//! an egress deny: what left-vm1 opens is answered through it (conntrack),
//! what right-vm1 opens is refused where the list denies it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use vpcroute_firewall::{verdict, Packet};
use vpcroute_protocol::acl::{
    builtin_rules, AclAction, AclProtocol, AclRule, AclView, PortRange, Traffic, DEFAULT_ALLOW,
};
use vpcroute_tests::lab::*;
use vpcroute_tests::packets::{send_all, udp_echo_in, Outcome, Probe, ProbeKind};
use vpcroute_tests::{nats_or_skip, vpcctl, Service, ServiceKind};

const KEY: &str = "Lab-Key_42";
const LEFT_VPC: &str = "10.1.0.0/22";
/// The ports probed with TCP and UDP. The overlapping rules cover 7000-7001
/// (allow) and 7001-7002 (deny): 7000 one, 7001 both, 7002 the other, 7003
/// neither.
const PORTS: [u16; 4] = [7000, 7001, 7002, 7003];
/// How long a probe waits for its answer before it counts as dropped (an
/// answer takes well under a millisecond in the lab).
const WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    AllowFirst,
    DenyFirst,
}

/// The last rule for the direction under test: what neither overlapping
/// rule matches gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    AllowAll,
    DenyAll,
}

/// The list attached to right-tier for one round of probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `default_allow`: every probe is a positive control.
    Open,
    Overlap {
        traffic: Traffic,
        order: Order,
        tail: Tail,
    },
}

/// The open phase first, then every direction × order × tail.
fn phases() -> Vec<Phase> {
    let mut out = vec![Phase::Open];
    for traffic in [Traffic::Ingress, Traffic::Egress] {
        for tail in [Tail::AllowAll, Tail::DenyAll] {
            for order in [Order::AllowFirst, Order::DenyFirst] {
                out.push(Phase::Overlap {
                    traffic,
                    order,
                    tail,
                });
            }
        }
    }
    out
}

impl Phase {
    fn acl_name(self) -> String {
        match self {
            Phase::Open => DEFAULT_ALLOW.to_string(),
            Phase::Overlap {
                traffic,
                order,
                tail,
            } => format!("ovl-{traffic:?}-{order:?}-{tail:?}").to_lowercase(),
        }
    }

    /// The list's rules, in the order they are added: the allow rules
    /// always before the deny rules, so only the numbers say which comes
    /// first. Every rule's CIDR is the left VPC (the source of ingress, the
    /// destination of egress).
    fn rules(self) -> Vec<AclRule> {
        let Phase::Overlap {
            traffic,
            order,
            tail,
        } = self
        else {
            return builtin_rules(DEFAULT_ALLOW).expect("a built-in list");
        };
        let (allow_at, deny_at) = match order {
            Order::AllowFirst => (10, 20),
            Order::DenyFirst => (20, 10),
        };
        let r = |number, protocol, ports: Option<(u16, u16)>, icmp_type, action| AclRule {
            number,
            cidrs: vec![LEFT_VPC.parse().expect("a CIDR")],
            protocol,
            ports: ports.map(|(start, end)| PortRange { start, end }),
            icmp_type,
            icmp_code: None,
            traffic,
            action,
        };
        use AclAction::{Allow, Deny};
        use AclProtocol::{All, Icmp, Tcp, Udp};
        let mut rules = vec![
            r(allow_at, Tcp, Some((7000, 7001)), None, Allow),
            r(allow_at + 1, Udp, Some((7000, 7001)), None, Allow),
            // Echo requests only: an echo reply matches the deny alone.
            r(allow_at + 2, Icmp, None, Some(8), Allow),
            r(deny_at, Tcp, Some((7001, 7002)), None, Deny),
            r(deny_at + 1, Udp, Some((7001, 7002)), None, Deny),
            r(deny_at + 2, Icmp, None, None, Deny),
        ];
        let tail = match tail {
            Tail::AllowAll => Allow,
            Tail::DenyAll => Deny,
        };
        rules.push(r(100, All, None, None, tail));
        if traffic == Traffic::Egress {
            // The other side may open connections to the replying tier.
            let mut open = r(500, All, None, None, Allow);
            open.traffic = Traffic::Ingress;
            rules.push(open);
        }
        rules
    }
}

/// `vpcctl acl rule add` for `r`.
fn rule_add_args(acl: &str, r: &AclRule) -> Vec<String> {
    let cidrs: Vec<String> = r.cidrs.iter().map(ToString::to_string).collect();
    let mut args: Vec<String> = ["acl", "rule", "add", acl, "--number"]
        .map(String::from)
        .to_vec();
    args.push(r.number.to_string());
    args.extend(["--cidr".into(), cidrs.join(",")]);
    args.extend(["--protocol".into(), r.protocol.to_string()]);
    if let Some(p) = r.ports {
        args.extend(["--ports".into(), p.to_string()]);
    }
    if let Some(t) = r.icmp_type {
        args.extend(["--icmp-type".into(), t.to_string()]);
    }
    let lower = |s: String| s.to_lowercase();
    args.extend(["--traffic".into(), lower(format!("{:?}", r.traffic))]);
    args.extend(["--action".into(), lower(format!("{:?}", r.action))]);
    args
}

/// One lab VM as the oracle sees it.
struct Vm {
    name: &'static str,
    ip: Ipv4Addr,
}

/// One probe of one phase, what the oracle expects of it and what came back.
struct Case {
    phase: Phase,
    from: &'static str,
    to: &'static str,
    probe: Probe,
    /// The oracle: the source tier's egress and the destination tier's
    /// ingress both allow the probe.
    expected: Outcome,
    /// The oracle on the answer as if it opened a connection of its own:
    /// `Deny` where only conntrack lets it through.
    answer_alone: AclAction,
    observed: Option<Result<Outcome, String>>,
}

fn packet(src: Ipv4Addr, dst: Ipv4Addr, kind: ProbeKind) -> Packet {
    let (protocol, dport_or_type) = match kind {
        ProbeKind::Tcp(port) => (6, port),
        ProbeKind::Udp(port) => (17, port),
        // An echo request.
        ProbeKind::Icmp => (1, 8),
    };
    Packet {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        protocol,
        dport_or_type: Some(dport_or_type),
        icmp_code: (protocol == 1).then_some(0),
    }
}

/// The answer to `probe`: back to its source port, or an echo reply.
fn answer(probe: &Probe) -> Packet {
    let mut p = packet(probe.dst, probe.src, probe.kind);
    p.dport_or_type = Some(match probe.kind {
        ProbeKind::Icmp => 0,
        _ => probe.sport,
    });
    p
}

/// Both tiers' lists allow `p` from `src_rules`' tier to `dst_rules`'.
fn passes(src_rules: &[AclRule], dst_rules: &[AclRule], p: &Packet) -> AclAction {
    let out = verdict(src_rules, Traffic::Egress, p);
    let into = verdict(dst_rules, Traffic::Ingress, p);
    if out == AclAction::Allow && into == AclAction::Allow {
        AclAction::Allow
    } else {
        AclAction::Deny
    }
}

/// Every probe of phase number `k` (both ways, every port and ICMP), each
/// with its own source port (or echo id), with the oracle's expectations.
fn cases(k: usize, phase: Phase, right_rules: &[AclRule], vms: &[Vm; 2]) -> Vec<Case> {
    let left_rules = builtin_rules(DEFAULT_ALLOW).expect("a built-in list");
    let mut kinds: Vec<ProbeKind> = PORTS.iter().map(|p| ProbeKind::Tcp(*p)).collect();
    kinds.extend(PORTS.iter().map(|p| ProbeKind::Udp(*p)));
    kinds.push(ProbeKind::Icmp);
    let mut out = Vec::new();
    for (from, to, src_rules, dst_rules) in [
        (&vms[0], &vms[1], &left_rules[..], right_rules),
        (&vms[1], &vms[0], right_rules, &left_rules[..]),
    ] {
        for kind in &kinds {
            let probe = Probe {
                from_ns: format!("vpcr-{}", from.name),
                src: from.ip,
                sport: u16::try_from(20_000 + k * 100 + out.len()).expect("a port"),
                dst: to.ip,
                kind: *kind,
            };
            let expected = match passes(src_rules, dst_rules, &packet(from.ip, to.ip, *kind)) {
                AclAction::Allow => Outcome::Answered,
                AclAction::Deny => Outcome::Silent,
            };
            let answer_alone = passes(dst_rules, src_rules, &answer(&probe));
            out.push(Case {
                phase,
                from: from.name,
                to: to.name,
                probe,
                expected,
                answer_alone,
                observed: None,
            });
        }
    }
    out
}

fn protocol_of(kind: ProbeKind) -> &'static str {
    match kind {
        ProbeKind::Tcp(_) => "tcp",
        ProbeKind::Udp(_) => "udp",
        ProbeKind::Icmp => "icmp",
    }
}

/// The case table can tell a wrong firewall from a right one: positive
/// controls for every protocol in every phase, denials in every overlap
/// phase, outcomes that differ between the two orders for every protocol,
/// direction and tail, and answers that pass only by conntrack.
fn check_the_table_discriminates(all: &[Case]) {
    for phase in phases() {
        let of_phase: Vec<&Case> = all.iter().filter(|c| c.phase == phase).collect();
        for proto in ["tcp", "udp", "icmp"] {
            assert!(
                of_phase
                    .iter()
                    .any(|c| protocol_of(c.probe.kind) == proto && c.expected == Outcome::Answered),
                "{phase:?}: no positive control for {proto}"
            );
        }
        if phase != Phase::Open {
            assert!(
                of_phase.iter().any(|c| c.expected == Outcome::Silent),
                "{phase:?}: nothing denied"
            );
        }
        if let Phase::Overlap {
            traffic,
            order: Order::AllowFirst,
            tail,
        } = phase
        {
            let other = Phase::Overlap {
                traffic,
                order: Order::DenyFirst,
                tail,
            };
            for proto in ["tcp", "udp", "icmp"] {
                let differs = all.iter().any(|a| {
                    a.phase == phase
                        && protocol_of(a.probe.kind) == proto
                        && all.iter().any(|b| {
                            b.phase == other
                                && b.from == a.from
                                && b.probe.kind == a.probe.kind
                                && b.expected != a.expected
                        })
                });
                assert!(
                    differs,
                    "{phase:?} and {other:?} agree on every {proto} probe"
                );
            }
        }
    }
    for traffic in [Traffic::Ingress, Traffic::Egress] {
        for proto in ["tcp", "udp", "icmp"] {
            assert!(
                all.iter().any(
                    |c| matches!(c.phase, Phase::Overlap { traffic: t, .. } if t == traffic)
                        && protocol_of(c.probe.kind) == proto
                        && c.expected == Outcome::Answered
                        && c.answer_alone == AclAction::Deny
                ),
                "{traffic:?} phases: no {proto} answer that only conntrack lets through"
            );
        }
    }
}

fn table(cases: &[&Case]) -> String {
    let mut out = format!(
        "{:<34} {:<22} {:<10} {:<9} {:<9} {}\n",
        "list on right-tier", "from -> to", "probe", "oracle", "observed", "answer alone"
    );
    for c in cases {
        let observed = match &c.observed {
            Some(Ok(o)) => format!("{o:?}"),
            Some(Err(e)) => format!("ERROR {e}"),
            None => "-".to_string(),
        };
        out.push_str(&format!(
            "{:<34} {:<22} {:<10} {:<9} {:<9} {:?}\n",
            c.phase.acl_name(),
            format!("{} -> {}", c.from, c.to),
            format!("{:?}", c.probe.kind),
            format!("{:?}", c.expected),
            observed,
            c.answer_alone
        ));
    }
    out
}

/// Creates the phase's list with its rules (unless built in) and returns
/// the rules as ipam holds them, which are what the oracle evaluates.
async fn create_list(url: &str, phase: Phase) -> Vec<AclRule> {
    let acl = phase.acl_name();
    let rules = phase.rules();
    if phase == Phase::Open {
        return rules;
    }
    let ok = |args: Vec<String>| async move {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        vpcctl(url, &a).await.expect_ok()
    };
    ok(["acl", "create", &acl, "--vpc", "right"]
        .map(String::from)
        .to_vec())
    .await;
    for r in &rules {
        ok(rule_add_args(&acl, r)).await;
    }
    let shown = ok(["acl", "show", &acl, "--json"].map(String::from).to_vec()).await;
    let view: AclView = serde_json::from_value(shown).expect("acl show --json is an AclView");
    let mut want = rules;
    want.sort_by_key(|r| r.number);
    assert_eq!(view.rules, want, "{acl}: ipam holds the rules added");
    view.rules
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_rules_decide_real_packets_as_the_oracle_does() {
    if !nft_lab_possible() {
        vpcroute_testkit::skip_unless_ci("root, FRR, ping and nft (the namespace lab)");
        return;
    }
    let started = Instant::now();
    let nats = nats_or_skip!();
    let url = nats.url();
    let run = lab_up(KEY);
    let d = |n: &str| -> PathBuf { run.dir.path().join(n) };
    let sync_args = sync_args(&["left-vr", "right-vr"], true);
    let sync_args: Vec<&str> = sync_args.iter().map(String::as_str).collect();
    let _services = [
        Service::start(ServiceKind::Ipam, &url, &d("ipam")).await,
        Service::start(ServiceKind::AreaRegistry, &url, &d("areas")).await,
        Service::start(ServiceKind::ConfigRenderer, &url, &d("config")).await,
        Service::start_with_args(ServiceKind::RouterSync, &url, &d("sync"), &sync_args).await,
    ];
    let (lvm, rvm) = figure3(&url, &run.key_path).await;
    let vms = [
        Vm {
            name: "left-vm1",
            ip: lvm.parse().expect("an IPv4 address"),
        },
        Vm {
            name: "right-vm1",
            ip: rvm.parse().expect("an IPv4 address"),
        },
    ];
    for vm in &vms {
        let ns = format!("vpcr-{}", vm.name);
        tcp_listen_in(&ns, &PORTS);
        udp_echo_in(&ns, &PORTS);
    }
    inter_vpc_routes(Duration::from_secs(120)).await;
    vpcctl(&url, &["tier", "set-acl", "left-tier", DEFAULT_ALLOW])
        .await
        .expect_ok();
    firewall_synced(&url, "left-vr").await;
    eprintln!("lab up, figure 3 in place: {:?}", started.elapsed());

    // Every list first (unattached lists change no router), then the whole
    // table of cases, checked before a packet is sent.
    let mut all: Vec<Case> = Vec::new();
    for (k, phase) in phases().into_iter().enumerate() {
        let rules = create_list(&url, phase).await;
        all.extend(cases(k, phase, &rules, &vms));
    }
    check_the_table_discriminates(&all);

    let probing = Instant::now();
    for phase in phases() {
        vpcctl(&url, &["tier", "set-acl", "right-tier", &phase.acl_name()])
            .await
            .expect_ok();
        firewall_synced(&url, "right-vr").await;
        let of_phase: Vec<&mut Case> = all.iter_mut().filter(|c| c.phase == phase).collect();
        let probes: Vec<Probe> = of_phase.iter().map(|c| c.probe.clone()).collect();
        let outcomes = tokio::task::spawn_blocking(move || send_all(&probes, WAIT))
            .await
            .expect("the probes ran");
        for (case, outcome) in of_phase.into_iter().zip(outcomes) {
            case.observed = Some(outcome);
        }
    }
    let everything: Vec<&Case> = all.iter().collect();
    eprintln!(
        "{} probes in {} phases: {:?}\n{}",
        all.len(),
        phases().len(),
        probing.elapsed(),
        table(&everything)
    );
    let wrong: Vec<&Case> = all
        .iter()
        .filter(|c| !matches!(&c.observed, Some(Ok(o)) if *o == c.expected))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} probes disagree with the oracle (or failed to run):\n{}",
        wrong.len(),
        all.len(),
        table(&wrong)
    );
    eprintln!("total {:?}", started.elapsed());
}
