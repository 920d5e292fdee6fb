use super::*;
use vpcroute_protocol::acl::{builtin_rules, PortRange, DEFAULT_ALLOW};

pub(crate) fn rule(
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

fn web_tier() -> TierFilter {
    let mut tcp = rule(
        10,
        &["10.1.0.0/22"],
        AclProtocol::Tcp,
        Traffic::Ingress,
        AclAction::Allow,
    );
    tcp.ports = Some(PortRange {
        start: 8080,
        end: 8080,
    });
    let icmp = rule(
        20,
        &["10.1.0.0/22", "2001:db8::/32"],
        AclProtocol::Icmp,
        Traffic::Ingress,
        AclAction::Allow,
    );
    TierFilter {
        tier: "web".into(),
        interface: "eth2".into(),
        acl: "web-acl".into(),
        rules: vec![icmp, tcp],
    }
}

#[test]
fn golden_listing_of_one_tier() {
    let got = render(&FirewallModel {
        tiers: vec![web_tier()],
        vpc_cidrs: vec!["10.1.4.0/22".parse().unwrap()],
    })
    .listing;
    let want = "table inet vpcroute {
\tchain forward {
\t\ttype filter hook forward priority 0; policy accept;
\t\tct state 0x2,0x4 accept
\t\tct state 0x1 drop
\t\toifname \"eth2\" jump in_eth2
\t\tip daddr 10.1.4.0/22 drop
\t}

\tchain in_eth2 {
\t\tip saddr 10.1.0.0/22 tcp dport 8080 accept comment \"acl web-acl rule 10 tier web\"
\t\tip saddr 10.1.0.0/22 meta l4proto 1 accept comment \"acl web-acl rule 20 tier web\"
\t\tip6 saddr 2001:db8::/32 meta l4proto 58 accept comment \"acl web-acl rule 20 tier web\"
\t\tdrop
\t}
}
";
    assert_eq!(got, want, "{}", vpcroute_testkit::line_diff(want, &got));
}

#[test]
fn output_does_not_depend_on_the_order_of_tiers_or_rules() {
    let mut a = web_tier();
    let mut b = web_tier();
    b.interface = "eth3".into();
    b.rules.push(rule(
        5,
        &["0.0.0.0/0"],
        AclProtocol::All,
        Traffic::Egress,
        AclAction::Deny,
    ));
    let one = render(&FirewallModel {
        tiers: vec![a.clone(), b.clone()],
        vpc_cidrs: vec![],
    });
    a.rules.reverse();
    b.rules.reverse();
    let two = render(&FirewallModel {
        tiers: vec![b, a],
        vpc_cidrs: vec![],
    });
    assert_eq!(one, two);
    assert!(one.listing.contains("iifname \"eth3\" jump out_eth3"));
    assert!(
        !one.listing.contains("jump out_eth2"),
        "no egress rules, no egress chain"
    );
    // Every egress jump before every ingress jump.
    let out3 = one.listing.find("jump out_eth3").unwrap();
    let in2 = one.listing.find("jump in_eth2").unwrap();
    assert!(out3 < in2, "{}", one.listing);
    assert!(
        one.listing.contains("ip daddr 0.0.0.0/0 drop comment"),
        "an egress deny drops"
    );
}

#[test]
fn the_file_replaces_the_table_in_one_transaction() {
    let r = render(&FirewallModel::default());
    let f = &r.file;
    assert!(
        f.starts_with("table inet vpcroute\ndelete table inet vpcroute\ntable inet vpcroute {\n")
    );
    assert!(f.ends_with(&r.listing));
}

#[test]
fn verdicts_follow_rule_numbers_first_match_wins() {
    let t = web_tier();
    let mut rules = t.rules.clone();
    let pkt = |src: &str, proto: u8, port: Option<u16>| Packet {
        src: src.parse().unwrap(),
        dst: "10.3.1.5".parse().unwrap(),
        protocol: proto,
        dport_or_type: port,
        icmp_code: None,
    };
    assert_eq!(
        verdict(&rules, Traffic::Ingress, &pkt("10.1.1.9", 6, Some(8080))),
        AclAction::Allow
    );
    assert_eq!(
        verdict(&rules, Traffic::Ingress, &pkt("10.1.1.9", 6, Some(22))),
        AclAction::Deny
    );
    assert_eq!(
        verdict(&rules, Traffic::Ingress, &pkt("10.9.1.9", 6, Some(8080))),
        AclAction::Deny
    );
    assert_eq!(
        verdict(&rules, Traffic::Ingress, &pkt("10.1.1.9", 1, Some(8))),
        AclAction::Allow
    );
    // No egress rule: egress allowed; one egress rule: the rest denied.
    assert_eq!(
        verdict(&rules, Traffic::Egress, &pkt("10.1.1.9", 17, Some(53))),
        AclAction::Allow
    );
    rules.push(rule(
        1,
        &["10.1.1.9/32"],
        AclProtocol::Udp,
        Traffic::Egress,
        AclAction::Allow,
    ));
    let mut p = pkt("10.3.1.5", 17, Some(53));
    p.dst = "10.1.1.9".parse().unwrap();
    assert_eq!(verdict(&rules, Traffic::Egress, &p), AclAction::Allow);
    p.dst = "10.1.1.10".parse().unwrap();
    assert_eq!(verdict(&rules, Traffic::Egress, &p), AclAction::Deny);
    // A lower-numbered deny wins over a later allow.
    rules.push(rule(
        9,
        &["10.1.1.0/24"],
        AclProtocol::All,
        Traffic::Ingress,
        AclAction::Deny,
    ));
    assert_eq!(
        verdict(&rules, Traffic::Ingress, &pkt("10.1.1.9", 6, Some(8080))),
        AclAction::Deny
    );
    // Built-ins.
    let allow = builtin_rules(DEFAULT_ALLOW).unwrap();
    assert_eq!(
        verdict(&allow, Traffic::Ingress, &pkt("192.0.2.1", 47, None)),
        AclAction::Allow
    );
}

#[test]
fn names_that_nft_would_not_parse_are_made_safe() {
    let mut t = web_tier();
    t.interface = "eth0@x".into();
    t.tier = "a\"b".into();
    let mut u = web_tier();
    u.interface = "eth0_x".into();
    let l = render(&FirewallModel {
        tiers: vec![t, u],
        vpc_cidrs: vec![],
    })
    .listing;
    // The interface is matched exactly; the two chains never collide.
    assert!(l.contains("oifname \"eth0@x\" jump in_eth0_ax"), "{l}");
    assert!(l.contains("oifname \"eth0_x\" jump in_eth0__x"), "{l}");
    assert!(l.contains("tier a_b\""));
    // Comments stay under nft's 128 bytes whatever the names.
    let mut long = web_tier();
    long.acl = "a".repeat(255);
    long.tier = "t".repeat(255);
    let l = render(&FirewallModel {
        tiers: vec![long],
        vpc_cidrs: vec![],
    })
    .listing;
    for c in l.split("comment \"").skip(1) {
        assert!(c.find('"').unwrap() <= 128, "{c}");
    }
}
