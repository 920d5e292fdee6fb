//! The ipam state machine: the design article's scenario, refusals that
//! change nothing, and replay equal to live.

use vpcroute_ipam::{Command, IpamState};
use vpcroute_protocol::ipam::*;
use vpcroute_protocol::ErrorCode;

fn run(state: &mut IpamState, log: &mut Vec<IpamEvent>, cmd: Command) -> serde_json::Value {
    let d = state
        .decide(&cmd)
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    for ev in &d.events {
        state.apply(ev).unwrap();
        log.push(ev.clone());
    }
    d.reply
}

fn refuse(state: &mut IpamState, cmd: Command) -> ErrorCode {
    let before = format!("{:?}", state.dump());
    let err = state.decide(&cmd).expect_err("must be refused");
    assert_eq!(
        before,
        format!("{:?}", state.dump()),
        "a refusal changed state"
    );
    err.code()
}

fn zone(z: &str, cidrs: &[&str]) -> Command {
    Command::ZoneEnable(ZoneEnable {
        request_id: "r".into(),
        zone: z.into(),
        super_cidrs: cidrs.iter().map(|s| s.to_string()).collect(),
    })
}

fn vpc(name: &str, netmask: &str) -> Command {
    Command::VpcAllocate(VpcAllocate {
        request_id: "r".into(),
        vpc: name.into(),
        zone: "z1".into(),
        netmask: Some(netmask.into()),
        prefix_length: None,
        family: Some(Family::Ipv4),
        router: None,
    })
}

fn tier(name: &str, vpc: &str, gw: Option<&str>, netmask: &str) -> Command {
    Command::TierAllocate(TierAllocate {
        request_id: "r".into(),
        tier: name.into(),
        vpc: vpc.into(),
        gateway: gw.map(String::from),
        netmask: Some(netmask.into()),
        prefix_length: None,
        interface: None,
        acl: None,
    })
}

fn vm(name: &str, tier: &str, ip: Option<&str>) -> Command {
    Command::VmAllocate(VmAllocate {
        request_id: "r".into(),
        vm: name.into(),
        tier: tier.into(),
        ip: ip.map(String::from),
    })
}

fn release(kind: &str, name: &str) -> Command {
    let r = Release {
        request_id: "r".into(),
        name: name.into(),
    };
    match kind {
        "vpc" => Command::VpcRelease(r),
        "tier" => Command::TierRelease(r),
        _ => Command::VmRelease(r),
    }
}

#[test]
fn figure_3_scenario() {
    let (mut s, mut log) = (IpamState::new(), vec![]);
    run(&mut s, &mut log, zone("z1", &["10.1.0.0/16"]));
    let left = run(&mut s, &mut log, vpc("left", "255.255.252.0"));
    let right = run(&mut s, &mut log, vpc("right", "255.255.252.0"));
    assert_eq!(left["cidr"], "10.1.0.0/22");
    assert_eq!(right["cidr"], "10.1.4.0/22");
    let lt = run(
        &mut s,
        &mut log,
        tier("lt", "left", Some("10.1.1.1"), "255.255.255.0"),
    );
    let rt = run(
        &mut s,
        &mut log,
        tier("rt", "right", Some("10.1.5.1"), "255.255.255.0"),
    );
    assert_eq!(
        (lt["cidr"].as_str(), lt["gateway"].as_str()),
        (Some("10.1.1.0/24"), Some("10.1.1.1"))
    );
    assert_eq!(rt["cidr"], "10.1.5.0/24");
    // Lowest free address that is not the network or the gateway.
    assert_eq!(
        run(&mut s, &mut log, vm("lvm1", "lt", None))["ip"],
        "10.1.1.2"
    );
    assert_eq!(
        run(&mut s, &mut log, vm("rvm1", "rt", None))["ip"],
        "10.1.5.2"
    );

    // Replaying the events gives the same state.
    let mut replayed = IpamState::new();
    for ev in &log {
        replayed.apply(ev).unwrap();
    }
    assert_eq!(s.dump(), replayed.dump());
}

#[test]
fn refusals_are_precise_and_change_nothing() {
    let (mut s, mut log) = (IpamState::new(), vec![]);
    run(&mut s, &mut log, zone("z1", &["10.1.0.0/16"]));
    run(&mut s, &mut log, vpc("left", "255.255.252.0"));
    run(
        &mut s,
        &mut log,
        tier("lt", "left", Some("10.1.1.1"), "255.255.255.0"),
    );

    assert_eq!(
        refuse(&mut s, vpc("big", "255.254.0.0")),
        ErrorCode::NoSpace
    );
    let err = s
        .decide(&vpc("big", "255.254.0.0"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/15") && err.contains("/17"), "{err}");
    assert_eq!(
        refuse(&mut s, vpc("left", "255.255.252.0")),
        ErrorCode::AlreadyExists
    );
    assert_eq!(
        refuse(&mut s, vpc("x", "255.0.255.0")),
        ErrorCode::InvalidNetmask
    );
    assert_eq!(
        refuse(&mut s, zone("z2", &["10.1.0.5/16"])),
        ErrorCode::InvalidCidr
    );
    assert_eq!(
        refuse(&mut s, zone("z2", &["10.0.0.0/33"])),
        ErrorCode::InvalidCidr
    );
    assert_eq!(
        refuse(&mut s, zone("z2", &["10.0.0.0/8", "10.1.0.0/16"])),
        ErrorCode::Overlap
    );
    let mut unknown = vpc("x", "255.255.255.0");
    if let Command::VpcAllocate(c) = &mut unknown {
        c.zone = "nope".into();
    }
    assert_eq!(refuse(&mut s, unknown), ErrorCode::UnknownZone);
    // Outside the VPC, and overlapping another tier.
    assert_eq!(
        refuse(
            &mut s,
            tier("t2", "left", Some("10.1.9.1"), "255.255.255.0")
        ),
        ErrorCode::OutsideParent
    );
    assert_eq!(
        refuse(
            &mut s,
            tier("t2", "left", Some("10.1.1.129"), "255.255.255.128")
        ),
        ErrorCode::Overlap
    );
    assert_eq!(
        refuse(
            &mut s,
            tier("t2", "left", Some("10.1.2.0"), "255.255.255.0")
        ),
        ErrorCode::ReservedAddress
    );
    assert_eq!(
        refuse(&mut s, vm("v", "lt", Some("10.1.1.1"))),
        ErrorCode::ReservedAddress
    );
    assert_eq!(
        refuse(&mut s, vm("v", "lt", Some("10.1.1.255"))),
        ErrorCode::ReservedAddress
    );
    assert_eq!(
        refuse(&mut s, vm("v", "lt", Some("10.1.2.7"))),
        ErrorCode::OutsideParent
    );
    assert_eq!(
        refuse(&mut s, vm("v", "lt", Some("not-an-ip"))),
        ErrorCode::InvalidCidr
    );
    assert_eq!(refuse(&mut s, release("vpc", "left")), ErrorCode::NotEmpty);
    assert_eq!(refuse(&mut s, release("vm", "ghost")), ErrorCode::UnknownVm);
    let update = Command::ZoneUpdate(ZoneUpdate {
        request_id: "r".into(),
        zone: "z1".into(),
        super_cidrs: vec!["10.2.0.0/16".into()],
    });
    assert_eq!(refuse(&mut s, update), ErrorCode::InUse);
}

#[test]
fn release_returns_space_and_tiers_by_size_get_first_host_as_gateway() {
    let (mut s, mut log) = (IpamState::new(), vec![]);
    run(&mut s, &mut log, zone("z1", &["10.1.0.0/16", "fd00::/48"]));
    run(&mut s, &mut log, vpc("a", "255.255.255.0"));
    let t = run(&mut s, &mut log, tier("t", "a", None, "255.255.255.192"));
    assert_eq!(
        (t["cidr"].as_str(), t["gateway"].as_str()),
        (Some("10.1.0.0/26"), Some("10.1.0.1"))
    );
    run(&mut s, &mut log, vm("v", "t", Some("10.1.0.9")));
    run(&mut s, &mut log, release("vm", "v"));
    run(&mut s, &mut log, release("tier", "t"));
    run(&mut s, &mut log, release("vpc", "a"));
    assert_eq!(
        run(&mut s, &mut log, vpc("b", "255.255.255.0"))["cidr"],
        "10.1.0.0/24"
    );
    let v6 = run(
        &mut s,
        &mut log,
        Command::VpcAllocate(VpcAllocate {
            request_id: "r".into(),
            vpc: "six".into(),
            zone: "z1".into(),
            netmask: None,
            prefix_length: Some(56),
            family: Some(Family::Ipv6),
            router: None,
        }),
    );
    assert_eq!(v6["cidr"], "fd00::/56");
    let z = s.zone_view("z1").unwrap();
    assert_eq!(z.usage_ipv4.used, 256);
    assert_eq!(z.usage_ipv4.total, 65536);
}

#[test]
fn fingerprint_ignores_request_id_only() {
    let a = vpc("a", "255.255.255.0");
    let mut b = a.clone();
    if let Command::VpcAllocate(c) = &mut b {
        c.request_id = "other".into();
    }
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), vpc("a", "255.255.254.0").fingerprint());
}

#[test]
fn huge_ipv6_counts_serialise() {
    let (mut s, mut log) = (IpamState::new(), vec![]);
    run(&mut s, &mut log, zone("z6", &["fd00::/8"]));
    let view = s.zone_view("z6").unwrap();
    let v = serde_json::to_value(&view).expect("u128 counts above 2^64 serialise");
    let back: vpcroute_protocol::ipam::ZoneView = serde_json::from_value(v).unwrap();
    assert_eq!(back.usage_ipv6.total, 1u128 << 120);
}

#[test]
fn a_router_name_or_id_serves_one_vpc_until_it_is_released() {
    let (mut s, mut log) = (IpamState::new(), vec![]);
    run(&mut s, &mut log, zone("z1", &["10.1.0.0/16"]));
    let with_router = |vpc: &str, name: &str, id: &str| {
        let mut c = vpc_cmd(vpc);
        if let Command::VpcAllocate(v) = &mut c {
            v.router = Some(RouterSpec {
                name: name.into(),
                router_id: id.parse().unwrap(),
                uplink_interface: "eth1".into(),
                uplink_address: "192.168.100.2/24".parse().unwrap(),
            });
        }
        c
    };
    run(&mut s, &mut log, with_router("a", "vr-a", "10.255.0.1"));
    assert_eq!(
        refuse(&mut s, with_router("b", "vr-a", "10.255.0.2")),
        ErrorCode::AlreadyExists
    );
    assert_eq!(
        refuse(&mut s, with_router("b", "vr-b", "10.255.0.1")),
        ErrorCode::AlreadyExists
    );
    run(&mut s, &mut log, release("vpc", "a"));
    run(&mut s, &mut log, with_router("b", "vr-a", "10.255.0.1"));
}

fn vpc_cmd(name: &str) -> Command {
    vpc(name, "255.255.255.0")
}

/// Issue 11: what the renderer would refuse for a router is refused at the
/// request, by the renderer's own rules, with a structured code, and
/// changes nothing.
#[test]
fn router_data_the_renderer_refuses_is_refused_at_the_request() {
    let mut st = IpamState::new();
    let mut log = vec![];
    run(
        &mut st,
        &mut log,
        zone("z1", &["10.1.0.0/16", "192.168.100.0/24"]),
    );
    let with_router = |vpc: &str, name: &str, rid: &str, iface: &str, up: &str| {
        let Command::VpcAllocate(mut c) = self::vpc(vpc, "255.255.252.0") else {
            unreachable!()
        };
        c.router = Some(RouterSpec {
            name: name.into(),
            router_id: rid.parse().unwrap(),
            uplink_interface: iface.into(),
            uplink_address: up.parse().unwrap(),
        });
        Command::VpcAllocate(c)
    };
    let up = "192.168.100.2/24";
    for (iface, rid) in [
        ("eth3@1", "10.255.0.1"),
        ("eth 1", "10.255.0.1"),
        ("eth1234567890abcd", "10.255.0.1"),
        ("eth1", "0.0.0.0"),
        ("eth1", "255.255.255.255"),
    ] {
        let code = refuse(&mut st, with_router("left", "left-vr", rid, iface, up));
        assert_eq!(code, ErrorCode::InvalidRequest, "{iface} {rid}");
    }
    // The first /22 of the zone is 10.1.0.0/22: an uplink inside it.
    let code = refuse(
        &mut st,
        with_router("left", "left-vr", "10.255.0.1", "eth1", "10.1.1.2/24"),
    );
    assert_eq!(code, ErrorCode::Overlap);
    // And one whose network holds the whole block.
    let code = refuse(
        &mut st,
        with_router("left", "left-vr", "10.255.0.1", "eth1", "10.0.0.2/8"),
    );
    assert_eq!(code, ErrorCode::Overlap);
    // Positive control.
    run(
        &mut st,
        &mut log,
        with_router("left", "left-vr", "10.255.0.1", "eth1", up),
    );

    let Command::TierAllocate(mut t) = tier("bad", "left", None, "255.255.255.192") else {
        unreachable!()
    };
    for iface in ["eth3@1", "eth3 ", "a/b", "", "eth1234567890abcd"] {
        t.interface = Some(iface.into());
        let code = refuse(&mut st, Command::TierAllocate(t.clone()));
        assert_eq!(code, ErrorCode::InvalidRequest, "{iface:?}");
    }
    t.interface = Some("eth3".into());
    run(&mut st, &mut log, Command::TierAllocate(t));
}

/// A VPC of `prefix_length` in `zone` with the family left out.
fn vpc_by_length(name: &str, zone: &str, prefix_length: u8) -> Command {
    Command::VpcAllocate(VpcAllocate {
        request_id: "r".into(),
        vpc: name.into(),
        zone: zone.into(),
        netmask: None,
        prefix_length: Some(prefix_length),
        family: None,
        router: None,
    })
}

/// Without a family, ipam takes the only one that fits; on a zone of both
/// families a length that fits both is refused with a word on `--family`.
#[test]
fn the_family_is_inferred_when_only_one_fits() {
    let mut s = IpamState::new();
    let mut log = Vec::new();
    run(&mut s, &mut log, zone("v6", &["fd00::/16"]));
    run(&mut s, &mut log, zone("v4", &["10.1.0.0/16"]));
    run(
        &mut s,
        &mut log,
        zone("both", &["10.2.0.0/16", "fd01::/40"]),
    );
    // The zone's only family (the issue's case: /56 on an IPv6-only
    // zone), even for a length that would fit IPv4.
    assert_eq!(
        run(&mut s, &mut log, vpc_by_length("b", "v6", 24))["cidr"],
        "fd00::/24"
    );
    let a = run(&mut s, &mut log, vpc_by_length("a", "v6", 56));
    assert!(a["cidr"].as_str().unwrap().starts_with("fd00:"), "{a}");
    assert_eq!(
        run(&mut s, &mut log, vpc_by_length("c", "v4", 24))["cidr"],
        "10.1.0.0/24"
    );
    // A length above 32 can only be IPv6.
    assert_eq!(
        run(&mut s, &mut log, vpc_by_length("d", "both", 56))["cidr"],
        "fd01::/56"
    );
    // Both fit: refused, saying how to choose, nothing changed.
    let cmd = vpc_by_length("e", "both", 24);
    assert_eq!(refuse(&mut s, cmd.clone()), ErrorCode::InvalidRequest);
    let msg = s.decide(&cmd).unwrap_err().to_string();
    assert!(msg.contains("--family"), "{msg}");
    // Given explicitly, the family is used as before.
    let mut v4 = cmd;
    if let Command::VpcAllocate(c) = &mut v4 {
        c.family = Some(Family::Ipv4);
    }
    assert_eq!(run(&mut s, &mut log, v4)["cidr"], "10.2.0.0/24");
}
