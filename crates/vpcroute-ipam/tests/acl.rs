//! Network ACL lists in the ipam state machine: what is accepted, what is
//! refused (changing nothing), and replay equal to live.

use vpcroute_ipam::{Command, IpamState};
use vpcroute_protocol::acl::*;
use vpcroute_protocol::ipam::*;
use vpcroute_protocol::ErrorCode;

struct H {
    s: IpamState,
    log: Vec<IpamEvent>,
}

impl H {
    fn new() -> H {
        let mut h = H {
            s: IpamState::new(),
            log: vec![],
        };
        h.ok(Command::ZoneEnable(ZoneEnable {
            request_id: "r".into(),
            zone: "z1".into(),
            super_cidrs: vec!["10.1.0.0/16".into()],
        }));
        for v in ["left", "right"] {
            h.ok(Command::VpcAllocate(VpcAllocate {
                request_id: "r".into(),
                vpc: v.into(),
                zone: "z1".into(),
                netmask: Some("255.255.252.0".into()),
                prefix_length: None,
                family: Some(Family::Ipv4),
                router: None,
            }));
        }
        h
    }

    fn ok(&mut self, cmd: Command) -> serde_json::Value {
        let d = self
            .s
            .decide(&cmd)
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        for ev in &d.events {
            self.s.apply(ev).unwrap();
            self.log.push(ev.clone());
        }
        d.reply
    }

    /// Everything observable, ACLs included.
    fn picture(&self, acls: &[&str]) -> String {
        let views: Vec<_> = acls.iter().map(|a| self.s.acl_view(a).ok()).collect();
        format!("{:?} {:?} {:?}", self.s.dump(), views, self.s.acl_views())
    }

    fn refuse(&mut self, cmd: Command) -> ErrorCode {
        let acls = ["web", "other", "db"];
        let before = self.picture(&acls);
        let err = self.s.decide(&cmd).expect_err("must be refused");
        assert_eq!(before, self.picture(&acls), "a refusal changed state");
        err.code()
    }
}

fn tier(name: &str, vpc: &str, gw: &str, acl: Option<&str>) -> Command {
    // One VR interface per tier: eth + the gateway's third octet.
    let interface = format!("eth{}", gw.split('.').nth(2).unwrap());
    Command::TierAllocate(TierAllocate {
        request_id: "r".into(),
        tier: name.into(),
        vpc: vpc.into(),
        gateway: Some(gw.into()),
        netmask: Some("255.255.255.0".into()),
        prefix_length: None,
        interface: Some(interface),
        acl: acl.map(String::from),
    })
}

fn create(acl: &str, vpc: &str) -> Command {
    Command::AclCreate(AclCreate {
        request_id: "r".into(),
        acl: acl.into(),
        vpc: vpc.into(),
    })
}

fn rule(acl: &str, number: u32, cidr: &str, protocol: &str, ports: Option<&str>) -> AclRuleAdd {
    AclRuleAdd {
        request_id: "r".into(),
        acl: acl.into(),
        number,
        cidrs: vec![cidr.into()],
        protocol: protocol.into(),
        ports: ports.map(String::from),
        icmp_type: None,
        icmp_code: None,
        traffic: Traffic::Ingress,
        action: AclAction::Allow,
    }
}

fn set_acl(tier: &str, acl: &str) -> Command {
    Command::TierSetAcl(TierSetAcl {
        request_id: "r".into(),
        tier: tier.into(),
        acl: acl.into(),
    })
}

#[test]
fn lists_rules_and_tiers_in_the_design_scenario() {
    let mut h = H::new();
    h.ok(create("web", "right"));
    let view = h.ok(Command::AclRuleAdd(rule(
        "web",
        20,
        "10.1.0.0/22",
        "icmp",
        None,
    )));
    assert_eq!(view["rules"].as_array().unwrap().len(), 1);
    let view = h.ok(Command::AclRuleAdd(rule(
        "web",
        10,
        "10.1.0.0/22",
        "tcp",
        Some("8080"),
    )));
    // Rules come back in number order, whatever the order they were added in.
    let numbers: Vec<u64> = view["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![10, 20]);
    assert_eq!(
        view["rules"][0]["ports"],
        serde_json::json!({"start": 8080, "end": 8080})
    );

    // A tier created with the list, another given it later.
    let rt = h.ok(tier("rt", "right", "10.1.5.1", Some("web")));
    assert_eq!(rt["acl"], "web");
    h.ok(tier("rt2", "right", "10.1.6.1", None));
    let rec = h.ok(set_acl("rt2", "web"));
    assert_eq!(rec["acl"], "web");
    assert!(rec.get("previous").is_none(), "no list before: {rec}");
    assert_eq!(
        h.s.acl_view("web").unwrap().tiers,
        vec!["rt".to_string(), "rt2".to_string()]
    );
    let vpc = h.s.vpc_view("right").unwrap();
    assert_eq!(vpc.acls, vec!["web".to_string()]);
    assert_eq!(vpc.tiers[0].acl.as_deref(), Some("web"));

    // Built-ins serve any VPC's tiers.
    h.ok(set_acl("rt2", DEFAULT_ALLOW));
    assert_eq!(h.s.acl_view("web").unwrap().tiers, vec!["rt".to_string()]);
    assert_eq!(h.s.acl_view(DEFAULT_ALLOW).unwrap().rules.len(), 2);

    // Deleting a rule; deleting the list once no tier uses it.
    let view = h.ok(Command::AclRuleDelete(AclRuleDelete {
        request_id: "r".into(),
        acl: "web".into(),
        number: 10,
    }));
    assert_eq!(view["rules"].as_array().unwrap().len(), 1);
    h.ok(set_acl("rt", DEFAULT_DENY));
    h.ok(Command::AclDelete(Release {
        request_id: "r".into(),
        name: "web".into(),
    }));
    assert_eq!(
        h.s.acl_view("web").unwrap_err().code(),
        ErrorCode::UnknownAcl
    );

    // Replaying the events gives the same state.
    let mut replayed = IpamState::new();
    for ev in &h.log {
        replayed.apply(ev).unwrap();
    }
    assert_eq!(
        format!("{:?}", h.s.dump()),
        format!("{:?}", replayed.dump())
    );
}

#[test]
fn refusals_are_precise_and_change_nothing() {
    let mut h = H::new();
    h.ok(create("web", "right"));
    h.ok(create("other", "left"));
    h.ok(Command::AclRuleAdd(rule(
        "web",
        10,
        "10.1.0.0/22",
        "tcp",
        Some("8080"),
    )));
    h.ok(tier("rt", "right", "10.1.5.1", Some("web")));

    assert_eq!(h.refuse(create("web", "left")), ErrorCode::AlreadyExists);
    assert_eq!(
        h.refuse(create(DEFAULT_ALLOW, "left")),
        ErrorCode::AlreadyExists
    );
    assert_eq!(
        h.refuse(create("bad name", "left")),
        ErrorCode::InvalidRequest
    );
    assert_eq!(h.refuse(create("db", "nowhere")), ErrorCode::UnknownVpc);
    let dup = rule("web", 10, "10.9.0.0/16", "udp", None);
    assert_eq!(h.refuse(Command::AclRuleAdd(dup)), ErrorCode::AlreadyExists);
    assert_eq!(
        h.refuse(Command::AclRuleAdd(rule(
            "nope",
            1,
            "10.0.0.0/8",
            "tcp",
            None
        ))),
        ErrorCode::UnknownAcl
    );
    assert_eq!(
        h.refuse(Command::AclRuleAdd(rule(
            DEFAULT_DENY,
            5,
            "10.0.0.0/8",
            "tcp",
            None
        ))),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        h.refuse(Command::AclRuleAdd(rule(
            "web",
            11,
            "10.1.0.1/22",
            "tcp",
            None
        ))),
        ErrorCode::InvalidCidr
    );
    assert_eq!(
        h.refuse(Command::AclRuleAdd(rule(
            "web",
            11,
            "10.1.0.0/22",
            "gre",
            None
        ))),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        h.refuse(Command::AclRuleAdd(rule(
            "web",
            11,
            "10.1.0.0/22",
            "icmp",
            Some("80")
        ))),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        h.refuse(Command::AclRuleAdd(rule(
            "web",
            0,
            "10.1.0.0/22",
            "tcp",
            None
        ))),
        ErrorCode::InvalidRequest
    );
    let del = |n| {
        Command::AclRuleDelete(AclRuleDelete {
            request_id: "r".into(),
            acl: "web".into(),
            number: n,
        })
    };
    assert_eq!(h.refuse(del(99)), ErrorCode::UnknownAclRule);
    // A list of another VPC cannot serve this VPC's tiers.
    let err = h.s.decide(&set_acl("rt", "other")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownAcl);
    assert!(
        err.to_string().contains("not a list of VPC \"right\""),
        "{err}"
    );
    assert_eq!(h.refuse(set_acl("rt", "other")), ErrorCode::UnknownAcl);
    assert_eq!(
        h.refuse(tier("lt", "left", "10.1.1.1", Some("web"))),
        ErrorCode::UnknownAcl
    );
    assert_eq!(h.refuse(set_acl("nope", "web")), ErrorCode::UnknownTier);
    // In use: neither the list nor its VPC can go.
    let err =
        h.s.decide(&Command::AclDelete(Release {
            request_id: "r".into(),
            name: "web".into(),
        }))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InUse);
    assert!(err.to_string().contains("\"rt\""), "{err}");
    assert_eq!(
        h.refuse(Command::AclDelete(Release {
            request_id: "r".into(),
            name: DEFAULT_DENY.into()
        })),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        h.refuse(Command::VpcRelease(Release {
            request_id: "r".into(),
            name: "left".into()
        })),
        ErrorCode::NotEmpty
    );
}

#[test]
fn events_that_do_not_fit_are_refused_on_replay() {
    let mut h = H::new();
    h.ok(create("web", "right"));
    let before = format!("{:?}", h.s.dump());
    for ev in [
        IpamEvent::AclCreated {
            acl: "web".into(),
            vpc: "right".into(),
        },
        IpamEvent::AclRuleDeleted {
            acl: "web".into(),
            vpc: "right".into(),
            number: 3,
        },
        IpamEvent::AclDeleted {
            acl: "web".into(),
            vpc: "left".into(),
        },
        IpamEvent::TierAclSet {
            tier: "nope".into(),
            vpc: "right".into(),
            acl: "web".into(),
        },
    ] {
        assert!(h.s.apply(&ev).is_err(), "{ev:?}");
        assert_eq!(before, format!("{:?}", h.s.dump()));
    }
}
