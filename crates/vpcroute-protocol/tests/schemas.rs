//! The JSON Schemas in `schemas/` against the Rust types they describe.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};
use vpcroute_bus::subjects;
use vpcroute_protocol::acl::{
    self, AclAction, AclCreate, AclProtocol, AclRule, AclRuleAdd, AclRuleDelete, AclView,
    PortRange, TierAclRecord, TierSetAcl, Traffic,
};
use vpcroute_protocol::cloudstack::{CloudStackEvent, EventTaken};
use vpcroute_protocol::ipam::*;
use vpcroute_protocol::service::{
    Durability, JournalMode, LogStatus, ServiceStatus, ServiceStatusGet, Synchronous,
};
use vpcroute_protocol::{BusEvent, ErrorBody, ErrorCode, Page, PagedShow, Reply};
use vpcroute_service::LogEvent;
use vpcroute_testkit::schemas::{resolve_ref, Schemas};

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

fn schemas() -> Schemas {
    Schemas::load()
}

/// A message as it is on the wire: written as bytes, parsed back. (Going
/// through bytes rather than `to_value` keeps u128 counts above 2^64, which
/// `serde_json::Value` cannot hold as integers.)
fn wire<T: Serialize>(v: &T) -> Value {
    serde_json::from_slice(&serde_json::to_vec(v).expect("serialises")).expect("parses")
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A canonical CIDR, as ipam parses the CIDRs of rule requests.
fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let n: IpNet = s.parse().map_err(|_| format!("{s:?} is not a CIDR"))?;
    if n.trunc() == n {
        Ok(n)
    } else {
        Err(format!("{s:?} has host bits set"))
    }
}

#[track_caller]
fn assert_valid(s: &Schemas, uri: &str, instance: &Value) {
    if let Err(errors) = s.check(uri, instance) {
        panic!(
            "{instance} should be valid against {uri}:\n  {}",
            errors.join("\n  ")
        );
    }
}

#[track_caller]
fn assert_invalid(s: &Schemas, uri: &str, instance: &Value) {
    assert!(
        s.check(uri, instance).is_err(),
        "{instance} should be rejected by {uri}"
    );
}

/// Every `$ref` string anywhere in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push(x.as_str().expect("$ref is a string").to_string());
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

// ------------------------------------------------------------------- 1

#[test]
fn every_schema_is_a_valid_draft_2020_12_schema_with_its_id() {
    let s = schemas();
    assert!(s.docs.len() >= 25, "only {} schema files", s.docs.len());
    for (rel, doc) in &s.docs {
        assert_eq!(doc["$schema"], DRAFT_2020_12, "{rel}: $schema");
        assert_eq!(
            doc["$id"].as_str(),
            Some(Schemas::id_of(rel).as_str()),
            "{rel}: $id must mirror the path"
        );
        if let Err(e) = jsonschema::meta::validate(doc) {
            panic!("{rel} is not a valid schema: {e}");
        }
        s.try_validator(rel)
            .unwrap_or_else(|e| panic!("{rel} does not compile: {e}"));
    }
}

#[test]
fn every_ref_resolves() {
    let s = schemas();
    let mut checked = 0;
    for (rel, doc) in &s.docs {
        let mut found = Vec::new();
        refs(doc, &mut found);
        for r in found {
            let (target, pointer) = resolve_ref(rel, &r);
            let target_doc = s
                .docs
                .get(&target)
                .unwrap_or_else(|| panic!("{rel}: $ref {r:?} names a missing file {target}"));
            assert!(
                target_doc.pointer(&pointer).is_some(),
                "{rel}: $ref {r:?}: {target} has nothing at {pointer:?}"
            );
            // And the validator resolves it the same way.
            let abs = format!("{}#{pointer}", Schemas::id_of(&target));
            s.try_validator(&abs)
                .unwrap_or_else(|e| panic!("{rel}: $ref {r:?}: {e}"));
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} $refs checked");
}

#[test]
fn a_dangling_ref_is_caught() {
    // The loader must not silently accept a reference to nothing.
    let s = schemas();
    for bad in [
        json!({"$ref": "https://vpcroute.dev/schemas/common.json#/$defs/no_such_def"}),
        json!({"$ref": "https://vpcroute.dev/schemas/no_such_file.json"}),
    ] {
        assert!(s.options().build(&bad).is_err(), "{bad} compiled");
    }
}

// ------------------------------------------------------------------- 2

/// Validates each `examples` entry of the schema at `uri` and returns them.
fn check_examples(s: &Schemas, uri: &str, node: &Value) -> Vec<Value> {
    let examples = node["examples"]
        .as_array()
        .unwrap_or_else(|| panic!("{uri}: no examples array"))
        .clone();
    assert!(!examples.is_empty(), "{uri}: empty examples");
    for ex in &examples {
        assert_valid(s, uri, ex);
    }
    examples
}

#[test]
fn every_example_is_valid() {
    let s = schemas();
    for (rel, doc) in &s.docs {
        if rel != "common.json" {
            let examples = check_examples(&s, rel, doc);
            if rel.ends_with(".reply.json") {
                assert!(
                    examples.iter().any(|e| e.get("ok").is_some()),
                    "{rel}: no ok example"
                );
                assert!(
                    examples.iter().any(|e| e.get("error").is_some()),
                    "{rel}: no error example"
                );
            }
        }
        if let Some(defs) = doc.get("$defs").and_then(Value::as_object) {
            for (name, def) in defs {
                let uri = format!("{rel}#/$defs/{name}");
                if rel == "common.json" || def.get("examples").is_some() {
                    check_examples(&s, &uri, def);
                }
            }
        }
    }
}

/// Deserialises every example of `rel` into `T`: the examples are not only
/// valid against the schema but real messages. Read from the file's text,
/// as a client reads a message: u128 counts above 2^64 do not survive a
/// detour through `serde_json::Value` (they become floats).
fn examples_as<T: DeserializeOwned>(s: &Schemas, rel: &str) -> Vec<T> {
    #[derive(serde::Deserialize)]
    struct Doc<T> {
        examples: Vec<T>,
    }
    let text = std::fs::read_to_string(s.dir.join(rel)).unwrap();
    let doc: Doc<T> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{rel}: an example does not deserialise: {e}"));
    assert_eq!(
        doc.examples.len(),
        s.docs[rel]["examples"].as_array().unwrap().len()
    );
    doc.examples
}

#[test]
fn examples_deserialise_into_the_rust_types() {
    let s = schemas();
    examples_as::<ZoneEnable>(&s, "ipam/zone.enable.request.json");
    examples_as::<ZoneUpdate>(&s, "ipam/zone.update.request.json");
    examples_as::<Show>(&s, "ipam/zone.show.request.json");
    examples_as::<VpcAllocate>(&s, "ipam/vpc.allocate.request.json");
    examples_as::<Release>(&s, "ipam/vpc.release.request.json");
    examples_as::<Show>(&s, "ipam/vpc.show.request.json");
    examples_as::<TierAllocate>(&s, "ipam/tier.allocate.request.json");
    examples_as::<Release>(&s, "ipam/tier.release.request.json");
    examples_as::<VmAllocate>(&s, "ipam/vm.allocate.request.json");
    examples_as::<Release>(&s, "ipam/vm.release.request.json");
    examples_as::<VmShow>(&s, "ipam/vm.show.request.json");
    examples_as::<AclCreate>(&s, "ipam/acl.create.request.json");
    examples_as::<Release>(&s, "ipam/acl.delete.request.json");
    examples_as::<Show>(&s, "ipam/acl.show.request.json");
    examples_as::<AclRuleDelete>(&s, "ipam/acl.rule.delete.request.json");
    examples_as::<TierSetAcl>(&s, "ipam/tier.set_acl.request.json");
    // Rule requests are strings: each example is one ipam accepts.
    for r in examples_as::<AclRuleAdd>(&s, "ipam/acl.rule.add.request.json") {
        r.to_rule(parse_cidr)
            .unwrap_or_else(|e| panic!("{r:?} is refused: {e:?}"));
    }
    examples_as::<EventsRead>(&s, "ipam/events.read.request.json");

    examples_as::<Reply<ZoneRecord>>(&s, "ipam/zone.enable.reply.json");
    examples_as::<Reply<ZoneRecord>>(&s, "ipam/zone.update.reply.json");
    examples_as::<Reply<ZoneView>>(&s, "ipam/zone.show.reply.json");
    examples_as::<Reply<VpcRecord>>(&s, "ipam/vpc.allocate.reply.json");
    examples_as::<Reply<Released>>(&s, "ipam/vpc.release.reply.json");
    examples_as::<Reply<VpcView>>(&s, "ipam/vpc.show.reply.json");
    examples_as::<Reply<TierRecord>>(&s, "ipam/tier.allocate.reply.json");
    examples_as::<Reply<Released>>(&s, "ipam/tier.release.reply.json");
    examples_as::<Reply<VmRecord>>(&s, "ipam/vm.allocate.reply.json");
    examples_as::<Reply<Released>>(&s, "ipam/vm.release.reply.json");
    examples_as::<Reply<VmView>>(&s, "ipam/vm.show.reply.json");
    examples_as::<Reply<AclView>>(&s, "ipam/acl.create.reply.json");
    examples_as::<Reply<AclView>>(&s, "ipam/acl.delete.reply.json");
    examples_as::<Reply<AclView>>(&s, "ipam/acl.show.reply.json");
    examples_as::<Reply<AclView>>(&s, "ipam/acl.rule.add.reply.json");
    examples_as::<Reply<AclView>>(&s, "ipam/acl.rule.delete.reply.json");
    examples_as::<Reply<TierAclRecord>>(&s, "ipam/tier.set_acl.reply.json");
    examples_as::<Reply<EventsPage>>(&s, "ipam/events.read.reply.json");
    for service in ["ipam", "areas", "config", "sync"] {
        examples_as::<ServiceStatusGet>(&s, &format!("{service}/service.status.request.json"));
        examples_as::<Reply<ServiceStatus>>(&s, &format!("{service}/service.status.reply.json"));
    }
    examples_as::<Reply<ZoneSummary>>(&s, "ipam/zone.summary.reply.json");
    examples_as::<Reply<Page<ExportRow>>>(&s, "ipam/zone.export.reply.json");
    examples_as::<Reply<Page<ExportRow>>>(&s, "ipam/vpc.export.reply.json");
    examples_as::<Reply<Page<AclView>>>(&s, "ipam/acl.list.reply.json");

    let errors: Vec<Value> = s.docs["error.json"]["examples"]
        .as_array()
        .unwrap()
        .to_vec();
    for e in errors {
        serde_json::from_value::<Reply<()>>(e).expect("error example is a Reply");
    }
    for ev in examples_as::<BusEvent>(&s, "events/cloudstack.event.json") {
        let payload: CloudStackEvent = serde_json::from_value(ev.payload).expect("payload");
        assert_eq!(payload.event_type(), ev.event_type);
    }
    examples_as::<Reply<EventTaken>>(&s, "cloudstack/event.reply.json");
    for ev in examples_as::<BusEvent>(&s, "events/ipam.event.json") {
        let payload: IpamEvent = serde_json::from_value(ev.payload).expect("payload");
        assert_eq!(payload.event_type(), ev.event_type);
    }
}

// ------------------------------------------------------------------- 3

const REQ: &str = "ipam/";

fn router() -> RouterSpec {
    RouterSpec {
        name: "r-vpc-blue".into(),
        router_id: Ipv4Addr::new(10, 255, 0, 7),
        uplink_interface: "eth1".into(),
        uplink_address: "192.168.100.2/24".parse::<Ipv4Net>().unwrap(),
    }
}

fn requests() -> Vec<(&'static str, Value)> {
    vec![
        (
            subjects::ipam::ZONE_ENABLE,
            wire(&ZoneEnable {
                request_id: "r1".into(),
                zone: "zone-1".into(),
                super_cidrs: vec!["10.0.0.0/8".into(), "fd00::/32".into()],
            }),
        ),
        (
            subjects::ipam::ZONE_UPDATE,
            wire(&ZoneUpdate {
                request_id: "r2".into(),
                zone: "zone-1".into(),
                super_cidrs: vec!["10.0.0.0/8".into(), "2001:db8::/32".into()],
            }),
        ),
        (
            subjects::ipam::ZONE_SHOW,
            wire(&Show {
                name: "zone-1".into(),
            }),
        ),
        (
            subjects::ipam::VM_SHOW,
            wire(&VmShow {
                vm: "vm-0001".into(),
            }),
        ),
        (
            subjects::ipam::VPC_ALLOCATE,
            wire(&VpcAllocate {
                request_id: "r3".into(),
                vpc: "vpc-blue".into(),
                zone: "zone-1".into(),
                netmask: Some("255.255.0.0".into()),
                prefix_length: None,
                family: Some(Family::Ipv4),
                router: Some(router()),
            }),
        ),
        (
            subjects::ipam::VPC_ALLOCATE,
            wire(&VpcAllocate {
                request_id: "r4".into(),
                vpc: "vpc-v6".into(),
                zone: "zone-1".into(),
                netmask: None,
                prefix_length: Some(48),
                family: Some(Family::Ipv6),
                router: None,
            }),
        ),
        (
            subjects::ipam::VPC_RELEASE,
            wire(&Release {
                request_id: "r5".into(),
                name: "vpc-blue".into(),
            }),
        ),
        (
            subjects::ipam::VPC_SHOW,
            wire(&Show {
                name: "vpc-blue".into(),
            }),
        ),
        (
            subjects::ipam::TIER_ALLOCATE,
            wire(&TierAllocate {
                request_id: "r6".into(),
                tier: "tier-web".into(),
                vpc: "vpc-blue".into(),
                gateway: Some("10.1.0.1".into()),
                netmask: Some("255.255.255.0".into()),
                prefix_length: None,
                interface: Some("eth2".into()),
                acl: Some("web-acl".into()),
            }),
        ),
        (
            subjects::ipam::TIER_ALLOCATE,
            wire(&TierAllocate {
                request_id: "r7".into(),
                tier: "tier-v6".into(),
                vpc: "vpc-v6".into(),
                gateway: Some("fd00:0:1:2::1".into()),
                netmask: None,
                prefix_length: Some(64),
                interface: None,
                acl: None,
            }),
        ),
        (
            subjects::ipam::TIER_RELEASE,
            wire(&Release {
                request_id: "r8".into(),
                name: "tier-web".into(),
            }),
        ),
        (
            subjects::ipam::VM_ALLOCATE,
            wire(&VmAllocate {
                request_id: "r9".into(),
                vm: "vm-1".into(),
                tier: "tier-web".into(),
                ip: None,
            }),
        ),
        (
            subjects::ipam::VM_ALLOCATE,
            wire(&VmAllocate {
                request_id: "r10".into(),
                vm: "vm-2".into(),
                tier: "tier-v6".into(),
                ip: Some("fd00:0:1:2::a".into()),
            }),
        ),
        (
            subjects::ipam::VM_RELEASE,
            wire(&Release {
                request_id: "r11".into(),
                name: "vm-1".into(),
            }),
        ),
        (
            subjects::ipam::ACL_CREATE,
            wire(&AclCreate {
                request_id: "r12".into(),
                acl: "web-acl".into(),
                vpc: "vpc-blue".into(),
            }),
        ),
        (
            subjects::ipam::ACL_DELETE,
            wire(&Release {
                request_id: "r13".into(),
                name: "web-acl".into(),
            }),
        ),
        (
            subjects::ipam::ACL_SHOW,
            wire(&Show {
                name: "web-acl".into(),
            }),
        ),
        (
            subjects::ipam::ACL_SHOW,
            wire(&Show {
                name: acl::DEFAULT_ALLOW.into(),
            }),
        ),
        (subjects::ipam::ACL_RULE_ADD, wire(&rule_add("tcp"))),
        (
            subjects::ipam::ACL_RULE_ADD,
            wire(&AclRuleAdd {
                number: 65_535,
                cidrs: vec!["0.0.0.0/0".into(), "::/0".into()],
                icmp_type: Some(8),
                icmp_code: Some(0),
                traffic: Traffic::Egress,
                action: AclAction::Deny,
                ..rule_add("icmp")
            }),
        ),
        (
            subjects::ipam::ACL_RULE_ADD,
            wire(&AclRuleAdd {
                number: 1,
                ports: None,
                icmp_type: Some(-1),
                icmp_code: Some(-1),
                ..rule_add("47")
            }),
        ),
        (
            subjects::ipam::ACL_RULE_DELETE,
            wire(&AclRuleDelete {
                request_id: "r15".into(),
                acl: "web-acl".into(),
                number: 10,
            }),
        ),
        (
            subjects::ipam::TIER_SET_ACL,
            wire(&TierSetAcl {
                request_id: "r16".into(),
                tier: "tier-web".into(),
                acl: acl::DEFAULT_DENY.into(),
            }),
        ),
        (
            subjects::ipam::EVENTS_READ,
            wire(&EventsRead {
                from_seq: 1,
                limit: 1000,
            }),
        ),
        (
            subjects::ipam::ZONE_SUMMARY,
            wire(&Show {
                name: "zone-1".into(),
            }),
        ),
        (
            subjects::ipam::ZONE_EXPORT,
            wire(&PagedShow::first("zone-1")),
        ),
        (
            subjects::ipam::ZONE_EXPORT,
            wire(&PagedShow {
                after: Some("vpc-blue/tier-web/vm-1".into()),
                limit: Some(100_000),
                ..PagedShow::first("zone-1")
            }),
        ),
        (
            subjects::ipam::VPC_EXPORT,
            wire(&PagedShow::first("vpc-blue")),
        ),
        (
            subjects::ipam::ACL_LIST,
            wire(&PagedShow {
                after: Some("web-acl".into()),
                limit: Some(1),
                ..PagedShow::first("zone-1")
            }),
        ),
    ]
}

/// A rule request ipam accepts: 10.1.0.0/22 may reach ports 8000-8090.
fn rule_add(protocol: &str) -> AclRuleAdd {
    AclRuleAdd {
        request_id: "r14".into(),
        acl: "web-acl".into(),
        number: 10,
        cidrs: vec!["10.1.0.0/22".into(), "fd00:0:1::/48".into()],
        protocol: protocol.into(),
        ports: matches!(protocol, "tcp" | "udp").then(|| "8000-8090".into()),
        icmp_type: None,
        icmp_code: None,
        traffic: Traffic::Ingress,
        action: AclAction::Allow,
    }
}

#[test]
fn real_requests_are_valid() {
    let s = schemas();
    let mut seen = BTreeSet::new();
    for (subject, msg) in requests() {
        let schema = s.request_schema(subject).expect("indexed");
        assert!(schema.starts_with(REQ));
        assert_valid(&s, schema, &msg);
        seen.insert(subject);
    }
    assert_eq!(seen.len(), 22, "a request subject is not exercised");
    // Defaults may be left out, as serde allows.
    assert_valid(&s, "ipam/events.read.request.json", &json!({"from_seq": 7}));
}

fn usage(total: u128, used: u128, largest_free: Option<&str>) -> Usage {
    Usage {
        total,
        used,
        free: total - used,
        largest_free: largest_free.map(net),
    }
}

fn ipam_events() -> Vec<IpamEvent> {
    let all = vec![
        IpamEvent::ZoneEnabled {
            zone: "zone-1".into(),
            super_cidrs: vec![net("10.0.0.0/8"), net("fd00::/32")],
        },
        IpamEvent::ZoneSuperCidrsChanged {
            zone: "zone-1".into(),
            super_cidrs: vec![net("10.0.0.0/8")],
        },
        IpamEvent::VpcAllocated {
            vpc: "vpc-blue".into(),
            zone: "zone-1".into(),
            cidr: net("10.1.0.0/16"),
            router: Some(router()),
        },
        IpamEvent::VpcAllocated {
            vpc: "vpc-v6".into(),
            zone: "zone-1".into(),
            cidr: net("fd00:0:1::/48"),
            router: None,
        },
        IpamEvent::VpcReleased {
            vpc: "vpc-blue".into(),
            zone: "zone-1".into(),
            cidr: net("10.1.0.0/16"),
        },
        IpamEvent::TierAllocated {
            tier: "tier-web".into(),
            vpc: "vpc-blue".into(),
            cidr: net("10.1.0.0/24"),
            gateway: ip("10.1.0.1"),
            interface: Some("eth2".into()),
            acl: Some("web-acl".into()),
        },
        IpamEvent::TierAllocated {
            tier: "tier-db".into(),
            vpc: "vpc-blue".into(),
            cidr: net("10.1.1.0/24"),
            gateway: ip("10.1.1.1"),
            interface: None,
            acl: None,
        },
        IpamEvent::TierReleased {
            tier: "tier-web".into(),
            vpc: "vpc-blue".into(),
            cidr: net("10.1.0.0/24"),
        },
        IpamEvent::VmAddressAllocated {
            vm: "vm-1".into(),
            tier: "tier-v6".into(),
            ip: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 1, 2, 0, 0, 0, 0xa)),
        },
        IpamEvent::VmAddressReleased {
            vm: "vm-1".into(),
            tier: "tier-web".into(),
            ip: ip("10.1.0.10"),
        },
        IpamEvent::AclCreated {
            acl: "web-acl".into(),
            vpc: "vpc-blue".into(),
        },
        IpamEvent::AclDeleted {
            acl: "web-acl".into(),
            vpc: "vpc-blue".into(),
        },
        IpamEvent::AclRuleDeleted {
            acl: "web-acl".into(),
            vpc: "vpc-blue".into(),
            number: 65_535,
        },
        IpamEvent::TierAclSet {
            tier: "tier-web".into(),
            vpc: "vpc-blue".into(),
            acl: acl::DEFAULT_ALLOW.into(),
        },
    ]
    .into_iter()
    .chain(acl_rules().into_iter().map(|rule| IpamEvent::AclRuleAdded {
        acl: "web-acl".into(),
        vpc: "vpc-blue".into(),
        rule,
    }))
    .collect::<Vec<_>>();
    // Adding a variant breaks this match: give it a schema ($defs/<type> in
    // events/ipam.event.json) and an instance above.
    for ev in &all {
        match ev {
            IpamEvent::ZoneEnabled { .. }
            | IpamEvent::ZoneSuperCidrsChanged { .. }
            | IpamEvent::VpcAllocated { .. }
            | IpamEvent::VpcReleased { .. }
            | IpamEvent::TierAllocated { .. }
            | IpamEvent::TierReleased { .. }
            | IpamEvent::VmAddressAllocated { .. }
            | IpamEvent::VmAddressReleased { .. }
            | IpamEvent::AclCreated { .. }
            | IpamEvent::AclDeleted { .. }
            | IpamEvent::AclRuleAdded { .. }
            | IpamEvent::AclRuleDeleted { .. }
            | IpamEvent::TierAclSet { .. } => {}
        }
    }
    all
}

/// Typed rules of every shape, as ipam records them: the built-in lists'
/// rules and what it makes of requests of each protocol.
fn acl_rules() -> Vec<AclRule> {
    let mut rules = acl::builtin_rules(acl::DEFAULT_ALLOW).unwrap();
    rules.extend(acl::builtin_rules(acl::DEFAULT_DENY).unwrap());
    let requests = [
        rule_add("tcp"),
        AclRuleAdd {
            ports: Some("65535".into()),
            ..rule_add("udp")
        },
        rule_add("all"),
        AclRuleAdd {
            icmp_type: Some(255),
            icmp_code: Some(255),
            cidrs: vec!["10.1.0.0/22".into()],
            ..rule_add("icmp")
        },
        AclRuleAdd {
            icmp_type: Some(3),
            cidrs: vec!["10.1.0.0/22".into()],
            ..rule_add("1")
        },
        AclRuleAdd {
            number: 65_535,
            traffic: Traffic::Egress,
            action: AclAction::Deny,
            ..rule_add("0")
        },
        rule_add("255"),
    ];
    for r in &requests {
        rules.push(r.to_rule(parse_cidr).expect("a valid rule"));
    }
    rules.push(AclRule {
        number: 7,
        cidrs: vec![net("192.168.0.0/16")],
        protocol: AclProtocol::Number(47),
        ports: None,
        icmp_type: None,
        icmp_code: None,
        traffic: Traffic::Egress,
        action: AclAction::Allow,
    });
    let tcp = rules[4].clone();
    assert_eq!(tcp.protocol, AclProtocol::Tcp);
    rules.push(AclRule {
        ports: Some(PortRange {
            start: 1,
            end: 65_535,
        }),
        ..tcp
    });
    rules
}

fn bus_event(seq: u64, ev: &IpamEvent) -> BusEvent {
    BusEvent {
        source: "ipam".into(),
        seq,
        stream: "zone/zone-1".into(),
        stream_version: seq,
        event_type: ev.event_type(),
        schema_version: IpamEvent::SCHEMA_VERSION,
        recorded_at_ms: 1_718_000_000_000,
        payload: serde_json::to_value(ev).unwrap(),
    }
}

fn err(code: ErrorCode) -> ErrorBody {
    ErrorBody::new(code, format!("something is {code}"))
}

/// A VPC view as `zone.export` and `vpc.export` send it: flat rows.
fn export_rows(v: &VpcView) -> Vec<ExportRow> {
    let mut rows = vec![ExportRow::Vpc(VpcRow {
        vpc: v.vpc.clone(),
        zone: v.zone.clone(),
        cidr: v.cidr,
        router: v.router.clone(),
        usage: v.usage.clone(),
        acls: v.acls.clone(),
    })];
    for t in &v.tiers {
        rows.push(ExportRow::Tier(TierRow {
            tier: t.tier.clone(),
            vpc: v.vpc.clone(),
            cidr: t.cidr,
            gateway: t.gateway,
            interface: t.interface.clone(),
            acl: t.acl.clone(),
            usage: t.usage.clone(),
        }));
        rows.extend(t.vms.iter().map(|m| {
            ExportRow::Vm(VmRow {
                vm: m.vm.clone(),
                tier: m.tier.clone(),
                vpc: v.vpc.clone(),
                ip: m.ip,
            })
        }));
    }
    rows
}

#[test]
fn real_replies_are_valid() {
    let s = schemas();
    let zone = ZoneRecord {
        zone: "zone-1".into(),
        super_cidrs: vec![net("10.0.0.0/8"), net("fd00::/32")],
    };
    let vpc = VpcRecord {
        vpc: "vpc-blue".into(),
        zone: "zone-1".into(),
        cidr: net("10.1.0.0/16"),
        router: Some(router()),
    };
    let vpc6 = VpcRecord {
        vpc: "vpc-v6".into(),
        zone: "zone-1".into(),
        cidr: net("fd00:0:1::/48"),
        router: None,
    };
    let tier = TierRecord {
        tier: "tier-web".into(),
        vpc: "vpc-blue".into(),
        cidr: net("10.1.0.0/24"),
        gateway: ip("10.1.0.1"),
        interface: Some("eth2".into()),
        acl: Some("web-acl".into()),
    };
    let tier6 = TierRecord {
        tier: "tier-v6".into(),
        vpc: "vpc-v6".into(),
        cidr: net("fd00:0:1:2::/64"),
        gateway: ip("fd00:0:1:2::1"),
        interface: None,
        acl: None,
    };
    let vm = VmRecord {
        vm: "vm-1".into(),
        tier: "tier-web".into(),
        ip: ip("10.1.0.10"),
    };
    let vm6 = VmRecord {
        vm: "vm-2".into(),
        tier: "tier-v6".into(),
        ip: ip("fd00:0:1:2::a"),
    };
    let tier_view = TierView {
        tier: "tier-web".into(),
        cidr: net("10.1.0.0/24"),
        gateway: ip("10.1.0.1"),
        interface: None,
        acl: Some(acl::DEFAULT_ALLOW.into()),
        usage: usage(256, 256, None),
        vms: vec![vm.clone()],
    };
    let tier6_view = TierView {
        tier: "tier-v6".into(),
        cidr: net("fd00:0:1:2::/64"),
        gateway: ip("fd00:0:1:2::1"),
        interface: Some("eth3".into()),
        acl: None,
        usage: usage(1 << 64, 3, Some("fd00:0:1:2:8000::/65")),
        vms: vec![vm6.clone()],
    };
    let vpc_view = VpcView {
        vpc: "vpc-blue".into(),
        zone: "zone-1".into(),
        cidr: net("10.1.0.0/16"),
        router: Some(router()),
        usage: usage(65536, 256, Some("10.1.128.0/17")),
        tiers: vec![tier_view],
        acls: vec!["app-acl".into(), "web-acl".into()],
    };
    let vpc6_view = VpcView {
        vpc: "vpc-v6".into(),
        zone: "zone-1".into(),
        cidr: net("fd00:0:1::/48"),
        router: None,
        usage: usage(1 << 80, 1 << 64, Some("fd00:0:1:8000::/49")),
        tiers: vec![tier6_view],
        acls: vec![],
    };
    let zone_view = ZoneView {
        zone: "zone-1".into(),
        super_cidrs: vec![net("10.0.0.0/8"), net("fd00::/32")],
        usage_ipv4: usage(1 << 24, 65536, Some("10.128.0.0/9")),
        usage_ipv6: usage(1 << 96, 1 << 80, Some("fd00:8000::/33")),
        vpcs: vec![vpc_view.clone(), vpc6_view.clone()],
    };
    let empty_zone = ZoneView {
        zone: "zone-2".into(),
        super_cidrs: vec![],
        usage_ipv4: Usage::default(),
        usage_ipv6: Usage::default(),
        vpcs: vec![],
    };
    let released = |name: &str, a: &str| Released {
        name: name.into(),
        address: net(a),
    };
    let page = EventsPage {
        events: ipam_events()
            .iter()
            .enumerate()
            .map(|(i, ev)| bus_event(i as u64 + 1, ev))
            .collect(),
        head: 9,
    };
    let acl_view = AclView {
        acl: "web-acl".into(),
        vpc: "vpc-blue".into(),
        rules: acl_rules(),
        tiers: vec!["tier-web".into(), "tier-db".into()],
    };
    let empty_acl = AclView {
        acl: "app-acl".into(),
        vpc: "vpc-blue".into(),
        rules: vec![],
        tiers: vec![],
    };
    // A built-in list belongs to no VPC.
    let builtin = AclView {
        acl: acl::DEFAULT_DENY.into(),
        vpc: "*".into(),
        rules: acl::builtin_rules(acl::DEFAULT_DENY).unwrap(),
        tiers: vec![],
    };
    let tier_acl = TierAclRecord {
        tier: "tier-web".into(),
        vpc: "vpc-blue".into(),
        acl: "web-acl".into(),
        previous: Some(acl::DEFAULT_DENY.into()),
    };
    // The tier had no list.
    let first_acl = TierAclRecord {
        tier: "tier-db".into(),
        acl: acl::DEFAULT_ALLOW.into(),
        previous: None,
        ..tier_acl.clone()
    };

    let rows = export_rows(&vpc_view);
    let mut nest = VpcAssembler::default();
    for row in rows.clone() {
        assert_eq!(nest.push(row), Ok(None), "one VPC's rows");
    }
    assert_eq!(nest.finish().as_ref(), Some(&vpc_view), "rows nest back");
    let summary = ZoneSummary {
        zone: zone_view.zone.clone(),
        super_cidrs: zone_view.super_cidrs.clone(),
        usage_ipv4: zone_view.usage_ipv4.clone(),
        usage_ipv6: zone_view.usage_ipv6.clone(),
        vpcs: 2,
        tiers: 2,
        vms: 2,
        acls: 1,
    };
    let paged: Vec<(&str, Value)> = vec![
        (subjects::ipam::ZONE_SUMMARY, wire(&Reply::Ok(summary))),
        (
            subjects::ipam::ZONE_EXPORT,
            wire(&Reply::Ok(Page {
                next: Some(rows[rows.len() - 1].position()),
                items: rows.clone(),
            })),
        ),
        (
            subjects::ipam::ZONE_EXPORT,
            wire(&Reply::Ok(Page::<ExportRow> {
                items: vec![],
                next: None,
            })),
        ),
        (
            subjects::ipam::VPC_EXPORT,
            wire(&Reply::Ok(Page {
                items: rows,
                next: None,
            })),
        ),
        (
            subjects::ipam::ACL_LIST,
            wire(&Reply::Ok(Page {
                items: vec![acl_view.clone()],
                next: Some(acl_view.acl.clone()),
            })),
        ),
    ];
    let ok: Vec<(&str, Value)> = paged
        .into_iter()
        .chain(vec![
            (subjects::ipam::ZONE_ENABLE, wire(&Reply::Ok(zone.clone()))),
            (subjects::ipam::ZONE_UPDATE, wire(&Reply::Ok(zone))),
            (subjects::ipam::ZONE_SHOW, wire(&Reply::Ok(zone_view))),
            (subjects::ipam::ZONE_SHOW, wire(&Reply::Ok(empty_zone))),
            (subjects::ipam::VPC_ALLOCATE, wire(&Reply::Ok(vpc))),
            (subjects::ipam::VPC_ALLOCATE, wire(&Reply::Ok(vpc6))),
            (
                subjects::ipam::VPC_RELEASE,
                wire(&Reply::Ok(released("vpc-blue", "10.1.0.0/16"))),
            ),
            (subjects::ipam::VPC_SHOW, wire(&Reply::Ok(vpc_view))),
            (subjects::ipam::VPC_SHOW, wire(&Reply::Ok(vpc6_view))),
            (subjects::ipam::TIER_ALLOCATE, wire(&Reply::Ok(tier))),
            (subjects::ipam::TIER_ALLOCATE, wire(&Reply::Ok(tier6))),
            (
                subjects::ipam::TIER_RELEASE,
                wire(&Reply::Ok(released("tier-web", "10.1.0.0/24"))),
            ),
            (subjects::ipam::VM_ALLOCATE, wire(&Reply::Ok(vm))),
            (subjects::ipam::VM_ALLOCATE, wire(&Reply::Ok(vm6))),
            (
                subjects::ipam::VM_RELEASE,
                wire(&Reply::Ok(released("vm-2", "fd00:0:1:2::a/128"))),
            ),
            (
                subjects::ipam::VM_SHOW,
                wire(&Reply::Ok(VmView {
                    vm: "vm-1".into(),
                    tier: "tier-web".into(),
                    ip: ip("10.1.0.10"),
                    vpc: "vpc-blue".into(),
                    zone: "zone-1".into(),
                })),
            ),
            (
                subjects::ipam::VM_SHOW,
                wire(&Reply::Ok(VmView {
                    vm: "vm-2".into(),
                    tier: "tier-v6".into(),
                    ip: ip("fd00:0:1:2::a"),
                    vpc: "vpc-v6".into(),
                    zone: "zone-1".into(),
                })),
            ),
            (
                subjects::ipam::ACL_CREATE,
                wire(&Reply::Ok(empty_acl.clone())),
            ),
            (
                subjects::ipam::ACL_DELETE,
                wire(&Reply::Ok(empty_acl.clone())),
            ),
            (subjects::ipam::ACL_SHOW, wire(&Reply::Ok(acl_view.clone()))),
            (subjects::ipam::ACL_SHOW, wire(&Reply::Ok(builtin))),
            (
                subjects::ipam::ACL_RULE_ADD,
                wire(&Reply::Ok(acl_view.clone())),
            ),
            (subjects::ipam::ACL_RULE_DELETE, wire(&Reply::Ok(acl_view))),
            (subjects::ipam::ACL_RULE_DELETE, wire(&Reply::Ok(empty_acl))),
            (subjects::ipam::TIER_SET_ACL, wire(&Reply::Ok(tier_acl))),
            (subjects::ipam::TIER_SET_ACL, wire(&Reply::Ok(first_acl))),
            (subjects::ipam::EVENTS_READ, wire(&Reply::Ok(page))),
            (
                subjects::ipam::EVENTS_READ,
                wire(&Reply::Ok(EventsPage {
                    events: vec![],
                    head: 0,
                })),
            ),
            (
                subjects::ipam::SERVICE_STATUS,
                wire(&Reply::Ok(ServiceStatus {
                    service: "ipam".into(),
                    instance: None,
                    log: LogStatus {
                        head: 7,
                        journal_mode: JournalMode::Wal,
                        synchronous: Synchronous::Full,
                        durability: Durability::Full,
                    },
                    followed: vec![],
                    routers: vec![],
                })),
            ),
        ])
        .collect();
    for (subject, msg) in &ok {
        s.check_reply(subject, msg)
            .unwrap_or_else(|e| panic!("{subject}: {msg}\n  {}", e.join("\n  ")));
    }
    let exercised: BTreeSet<&str> = ok.iter().map(|(subject, _)| *subject).collect();
    let ipam: BTreeSet<&str> = service_subjects()
        .into_iter()
        .filter(|(svc, _)| *svc == "ipam")
        .flat_map(|(_, c)| c)
        .collect();
    assert_eq!(exercised, ipam, "an ipam reply is not exercised");
    // Every reply schema takes every error.
    for entry in s.index["subjects"].as_array().unwrap() {
        let subject = entry["subject"].as_str().unwrap();
        for code in all_error_codes() {
            let msg = wire(&Reply::<()>::Error(err(code)));
            s.check_reply(subject, &msg)
                .unwrap_or_else(|e| panic!("{subject}: {msg}\n  {}", e.join("\n  ")));
        }
    }
}

#[test]
fn malformed_replies_are_rejected() {
    let s = schemas();
    let uri = "ipam/vm.allocate.reply.json";
    let vm = json!({"vm": "vm-1", "tier": "t", "ip": "10.1.0.10"});
    let e = json!({"code": "unknown_vm", "message": "no"});
    assert_valid(&s, uri, &json!({ "ok": vm }));
    for bad in [
        json!({ "ok": vm, "error": e }),
        json!({}),
        json!({ "ok": {"vm": "vm-1", "tier": "t"} }),
        json!({ "ok": {"vm": "vm-1", "tier": "t", "ip": "10.1.0.300"} }),
        json!({ "error": {"code": "no_such_code", "message": "x"} }),
        json!({ "error": {"code": "unknown_vm"} }),
        json!({ "error": {"code": "unknown_vm", "message": "x", "detail": 1} }),
        json!({ "result": vm }),
    ] {
        assert_invalid(&s, uri, &bad);
    }
    // A u128 count is an integer, never negative or fractional.
    let uri = "common.json#/$defs/usage";
    assert_valid(&s, uri, &wire(&usage(u128::MAX, 0, Some("::/0"))));
    for bad in [
        json!({"total": -1, "used": 0, "free": 0, "largest_free": null}),
        json!({"total": 1.5, "used": 0, "free": 0, "largest_free": null}),
        json!({"total": "1", "used": 0, "free": 0, "largest_free": null}),
        json!({"total": 1, "used": 0, "free": 1}),
    ] {
        assert_invalid(&s, uri, &bad);
    }
}

#[test]
fn real_events_are_valid() {
    let s = schemas();
    let defs = s.docs["events/ipam.event.json"]["$defs"]
        .as_object()
        .unwrap();
    for (i, ev) in ipam_events().iter().enumerate() {
        let subject = subjects::event_subject(subjects::ipam::EVENTS_PREFIX, &ev.event_type());
        assert_eq!(
            s.event_schema(&subject),
            Some("events/ipam.event.json"),
            "{subject}"
        );
        assert!(
            defs.contains_key(&ev.event_type()),
            "no $defs/{}",
            ev.event_type()
        );
        let msg = wire(&bus_event(i as u64 + 1, ev));
        s.check_event(&subject, &msg)
            .unwrap_or_else(|e| panic!("{subject}: {msg}\n  {}", e.join("\n  ")));
        assert_valid(&s, "events/ipam.event.json#/$defs/payload", &msg["payload"]);
    }
}

#[test]
fn malformed_events_are_rejected() {
    let s = schemas();
    let uri = "events/ipam.event.json";
    let ev = IpamEvent::VpcReleased {
        vpc: "vpc-blue".into(),
        zone: "zone-1".into(),
        cidr: net("10.1.0.0/16"),
    };
    let good = wire(&bus_event(5, &ev));
    assert_valid(&s, uri, &good);
    // The envelope mutations (event type, extra and missing fields, seq,
    // source) are tests/examples.rs's, on every event example; these are
    // the payload's own fields.
    let mut bad = Vec::new();
    let mut v = good.clone();
    v["payload"].as_object_mut().unwrap().remove("cidr");
    bad.push(v);
    let mut v = good.clone();
    v["payload"]["router"] = json!(null);
    bad.push(v);
    let mut v = good.clone();
    v["payload"]["cidr"] = json!("10.1.0.0");
    bad.push(v);
    for v in bad {
        assert_invalid(&s, uri, &v);
    }

    // A recorded rule is a validated one (AclRule, closed).
    let added = |rule: &AclRule| {
        wire(&bus_event(
            6,
            &IpamEvent::AclRuleAdded {
                acl: "web-acl".into(),
                vpc: "vpc-blue".into(),
                rule: rule.clone(),
            },
        ))
    };
    let rules = acl_rules();
    let tcp = rules
        .iter()
        .find(|r| r.protocol == AclProtocol::Tcp && r.ports.is_some())
        .unwrap();
    let icmp = rules
        .iter()
        .find(|r| r.protocol == AclProtocol::Icmp && r.icmp_code.is_some())
        .unwrap();
    assert_valid(&s, uri, &added(tcp));
    assert_valid(&s, uri, &added(icmp));
    let mut bad = Vec::new();
    for (rule, key, x) in [
        (tcp, "number", json!(0)),
        (tcp, "number", json!(65_536)),
        (tcp, "cidrs", json!([])),
        (tcp, "cidrs", json!(["10.1.0.0/33"])),
        (
            tcp,
            "cidrs",
            json!((0..65)
                .map(|i| format!("10.{i}.0.0/16"))
                .collect::<Vec<_>>()),
        ),
        (tcp, "protocol", json!("gre")),
        (tcp, "protocol", json!("TCP")),
        (tcp, "protocol", json!("256")),
        (tcp, "protocol", json!(6)),
        (tcp, "ports", json!("8080")),
        (tcp, "ports", json!({"start": 0, "end": 80})),
        (tcp, "ports", json!({"start": 80, "end": 65_536})),
        (tcp, "ports", json!({"start": 80, "end": 90, "step": 1})),
        (tcp, "icmp_type", json!(8)),
        (tcp, "traffic", json!("both")),
        (tcp, "action", json!("reject")),
        (tcp, "comment", json!("x")),
        (icmp, "ports", json!({"start": 80, "end": 80})),
        (icmp, "icmp_type", json!(-1)),
        (icmp, "icmp_type", json!(256)),
        (icmp, "icmp_code", json!(null)),
    ] {
        let mut v = added(rule);
        v["payload"]["rule"][key] = x;
        bad.push(v);
    }
    // A code without a type.
    let mut v = added(icmp);
    v["payload"]["rule"]
        .as_object_mut()
        .unwrap()
        .remove("icmp_type");
    bad.push(v);
    let mut v = added(tcp);
    v["payload"].as_object_mut().unwrap().remove("vpc");
    bad.push(v);
    let deleted = IpamEvent::AclRuleDeleted {
        acl: "web-acl".into(),
        vpc: "vpc-blue".into(),
        number: 10,
    };
    let mut v = wire(&bus_event(7, &deleted));
    assert_valid(&s, uri, &v);
    v["payload"]["number"] = json!(0);
    bad.push(v);
    let set = IpamEvent::TierAclSet {
        tier: "tier-web".into(),
        vpc: "vpc-blue".into(),
        acl: "web-acl".into(),
    };
    let mut v = wire(&bus_event(8, &set));
    assert_valid(&s, uri, &v);
    v["payload"].as_object_mut().unwrap().remove("acl");
    bad.push(v);
    let mut v = wire(&bus_event(8, &set));
    v["event_type"] = json!("acl_created");
    bad.push(v);
    // serde takes some of them (a number out of range, a code without a
    // type): ipam never writes them.
    for v in bad {
        assert_invalid(&s, uri, &v);
    }
}

/// IPv6 prefixes beyond /32 are fine when the family says so (the
/// invalid examples of `ipam/vpc.allocate.request.invalid.jsonl` refuse
/// them for IPv4), up to /128.
#[test]
fn ipv6_prefixes_beyond_32_are_valid() {
    let s = schemas();
    let mut v6 = requests()
        .into_iter()
        .filter(|(sub, _)| *sub == subjects::ipam::VPC_ALLOCATE)
        .nth(1)
        .unwrap()
        .1;
    assert_valid(&s, "ipam/vpc.allocate.request.json", &v6);
    v6["prefix_length"] = json!(129);
    assert_invalid(&s, "ipam/vpc.allocate.request.json", &v6);
}

/// Rule requests are strings that ipam parses (`AclRuleAdd::to_rule`):
/// the typed rule it makes of a valid example is valid as replies and
/// events carry it (that ipam accepts the valid examples and refuses the
/// invalid ones is `tests/examples.rs`, on the same files); the few rules
/// the schema does not express are refused by ipam alone.
#[test]
fn rule_requests_agree_with_ipam() {
    let s = schemas();
    let uri = "ipam/acl.rule.add.request.json";
    // IPv4 only: an ICMP type is refused on IPv6 CIDRs (see below).
    let base = wire(&AclRuleAdd {
        cidrs: vec!["10.1.0.0/22".into()],
        ..rule_add("tcp")
    });
    // Each case changes some fields of `base`; `None` removes one.
    let case = |changes: &[(&str, Option<Value>)]| {
        let mut v = base.clone();
        for (key, x) in changes {
            match x {
                Some(x) => v[*key] = x.clone(),
                None => {
                    v.as_object_mut().unwrap().remove(*key);
                }
            }
        }
        v
    };
    let parse = |msg: &Value| -> AclRuleAdd {
        serde_json::from_value(msg.clone()).unwrap_or_else(|e| panic!("serde: {msg}: {e}"))
    };
    let no_ports = || ("ports", None::<Value>);
    let proto = |p: &str| ("protocol", Some(json!(p)));
    let ports = |p: &str| ("ports", Some(json!(p)));
    let icmp_type = |n: i32| ("icmp_type", Some(json!(n)));

    // The valid rule examples (the schema's and acl.rule.add.request.valid.jsonl)
    // make typed rules that replies and events may carry. (ipam accepting
    // them, and refusing the invalid ones, is checked in tests/examples.rs.)
    for msg in &s.valid_examples(uri) {
        let rule = parse(msg)
            .to_rule(parse_cidr)
            .unwrap_or_else(|e| panic!("ipam refuses {msg}: {e:?}"));
        let typed = wire(&rule);
        assert_valid(&s, "common.json#/$defs/acl_rule", &typed);
        assert_eq!(serde_json::from_value::<AclRule>(typed).unwrap(), rule);
        if let Some(p) = rule.ports {
            assert_valid(&s, "common.json#/$defs/port_range", &wire(&p));
        }
    }

    // Not expressed in the schema: a range's order, host bits, an ICMP
    // type on an IPv6 CIDR.
    for msg in [
        case(&[ports("90-80")]),
        case(&[("cidrs", Some(json!(["10.1.0.1/22"])))]),
        case(&[
            proto("icmp"),
            no_ports(),
            icmp_type(8),
            ("cidrs", Some(json!(["10.1.0.0/22", "2001:db8::/32"]))),
        ]),
    ] {
        assert_valid(&s, uri, &msg);
        assert!(parse(&msg).to_rule(parse_cidr).is_err(), "{msg}");
    }
    // Every protocol, as replies and events write it.
    let protocol_uri = "common.json#/$defs/acl_protocol";
    for n in 0..=255u8 {
        let p: AclProtocol = n.to_string().parse().unwrap();
        assert_valid(&s, protocol_uri, &wire(&p));
        assert_valid(&s, protocol_uri, &json!(n.to_string()));
    }
    for name in ["all", "tcp", "udp", "icmp"] {
        let p: AclProtocol = name.parse().unwrap();
        assert_eq!(wire(&p), json!(name));
        assert_valid(&s, protocol_uri, &json!(name));
    }
    for bad in ["gre", "256", "01", "", "Tcp", " all"] {
        assert_invalid(&s, protocol_uri, &json!(bad));
        assert!(bad.parse::<AclProtocol>().is_err(), "{bad:?} parses");
    }
}

#[test]
fn address_patterns_agree_with_rust() {
    let s = schemas();
    let v4: Vec<IpAddr> = ["0.0.0.0", "10.1.0.10", "255.255.255.255", "192.168.100.2"]
        .iter()
        .map(|a| ip(a))
        .collect();
    let v6: Vec<IpAddr> = [
        "::",
        "::1",
        "fd00::",
        "fd00:0:1:2::a",
        "2001:db8:85a3::8a2e:370:7334",
        "1:2:3:4:5:6:7:8",
        "fe80::1:2:3:4:5",
        "::ffff:10.1.2.3",
        "64:ff9b::10.1.2.3",
    ]
    .iter()
    .map(|a| ip(a))
    .collect();
    for a in v4.iter().chain(&v6) {
        // As Rust writes them, which is what replies and events carry.
        let text = json!(a.to_string());
        assert_valid(&s, "common.json#/$defs/ip_address", &text);
        for p in [0u8, 1, 24, 32] {
            let n = IpNet::new(*a, p).unwrap();
            assert_valid(&s, "common.json#/$defs/cidr", &json!(n.to_string()));
            assert_valid(&s, "common.json#/$defs/cidr", &json!(n.trunc().to_string()));
        }
    }
    for a in &v6 {
        let n = IpNet::new(*a, 128).unwrap();
        assert_valid(&s, "common.json#/$defs/ipv6_cidr", &json!(n.to_string()));
        assert_invalid(&s, "common.json#/$defs/ipv4_cidr", &json!(n.to_string()));
    }
    for bad in [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "1:2",
        ":::",
        "1::2::3",
        "g::1",
        "1.2.3.4 ",
    ] {
        assert!(bad.parse::<IpAddr>().is_err(), "Rust parses {bad:?}");
        assert_invalid(&s, "common.json#/$defs/ip_address", &json!(bad));
    }
}

// ------------------------------------------------------------------- 4

#[test]
fn index_covers_every_ipam_subject_and_names_existing_files() {
    let s = schemas();
    let consts = [
        subjects::ipam::ZONE_ENABLE,
        subjects::ipam::ZONE_UPDATE,
        subjects::ipam::ZONE_SHOW,
        subjects::ipam::VPC_ALLOCATE,
        subjects::ipam::VPC_RELEASE,
        subjects::ipam::VPC_SHOW,
        subjects::ipam::TIER_ALLOCATE,
        subjects::ipam::TIER_RELEASE,
        subjects::ipam::VM_ALLOCATE,
        subjects::ipam::VM_RELEASE,
        subjects::ipam::VM_SHOW,
        subjects::ipam::ACL_CREATE,
        subjects::ipam::ACL_DELETE,
        subjects::ipam::ACL_SHOW,
        subjects::ipam::ACL_RULE_ADD,
        subjects::ipam::ACL_RULE_DELETE,
        subjects::ipam::TIER_SET_ACL,
        subjects::ipam::EVENTS_READ,
        subjects::ipam::SERVICE_STATUS,
        subjects::ipam::ZONE_SUMMARY,
        subjects::ipam::ZONE_EXPORT,
        subjects::ipam::VPC_EXPORT,
        subjects::ipam::ACL_LIST,
    ];
    // Subjects added to `subjects::ipam` later are caught from the source.
    let source = include_str!("../../vpcroute-bus/src/subjects.rs");
    let block = source
        .split("pub mod ipam {")
        .nth(1)
        .expect("subjects.rs has `pub mod ipam {`")
        .split("\n}")
        .next()
        .unwrap();
    let in_source: BTreeSet<&str> = block
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|lit| lit.starts_with("vpcroute.ipam."))
        .collect();
    let consts: BTreeSet<&str> = consts.into_iter().collect();
    assert_eq!(
        consts, in_source,
        "subjects::ipam changed: update this test and schemas/"
    );

    let entries = s.index["subjects"].as_array().expect("index.subjects");
    let indexed: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["subject"].as_str().expect("subject"))
        .collect();
    assert_eq!(indexed.len(), entries.len(), "a subject is listed twice");
    let ipam_indexed: BTreeSet<&str> = indexed
        .iter()
        .copied()
        .filter(|x| x.starts_with("vpcroute.ipam."))
        .collect();
    assert_eq!(ipam_indexed, consts);

    let mut named = BTreeSet::new();
    for e in entries {
        let subject = e["subject"].as_str().unwrap();
        for key in ["request", "reply"] {
            let file = e[key]
                .as_str()
                .unwrap_or_else(|| panic!("{subject}: no {key}"));
            assert!(s.dir.join(file).is_file(), "{subject}: {file} missing");
            assert!(s.docs.contains_key(file), "{subject}: {file} not loaded");
            named.insert(file.to_string());
        }
        // Naming convention: vpcroute.<service>.<object>.<verb>
        if let Some(rest) = subject.strip_prefix("vpcroute.ipam.") {
            assert_eq!(e["request"], format!("ipam/{rest}.request.json"));
            assert_eq!(e["reply"], format!("ipam/{rest}.reply.json"));
        }
    }
    let events = s.index["events"].as_array().expect("index.events");
    let ipam_events = subjects::all_events(subjects::ipam::EVENTS_PREFIX);
    assert!(
        events.iter().any(|e| e["subject"] == ipam_events.as_str()),
        "index.json has no {ipam_events}"
    );
    for e in events {
        let file = e["schema"].as_str().expect("schema");
        assert!(s.dir.join(file).is_file(), "{file} missing");
        named.insert(file.to_string());
    }
    // No schema of ipam/ or events/ is left out of the index.
    for rel in s.docs.keys() {
        if rel.starts_with("ipam/") || rel.starts_with("events/") {
            assert!(named.contains(rel), "{rel} is not in index.json");
        }
    }
    // Lookups by subject, as the end-to-end tests do them.
    assert_eq!(
        s.request_schema(subjects::ipam::VPC_ALLOCATE),
        Some("ipam/vpc.allocate.request.json")
    );
    assert_eq!(s.request_schema("vpcroute.ipam.vpc.allocate.x"), None);
    assert_eq!(
        s.event_schema("vpcroute.events.ipam.tier_released"),
        Some("events/ipam.event.json")
    );
    assert_eq!(s.event_schema("vpcroute.events.ipam"), None);
}

// ------------------------------------------------------------------- 5

/// Every ErrorCode. Adding a variant breaks the match below: add it here
/// and to the enum in schemas/error.json.
fn all_error_codes() -> Vec<ErrorCode> {
    use ErrorCode::*;
    let all = vec![
        InvalidRequest,
        InvalidCidr,
        InvalidNetmask,
        UnknownZone,
        UnknownVpc,
        UnknownTier,
        UnknownVm,
        UnknownAcl,
        UnknownAclRule,
        AlreadyExists,
        NoSpace,
        OutsideParent,
        Overlap,
        NotEmpty,
        InUse,
        RequestIdConflict,
        VersionConflict,
        ReservedAddress,
        SubnetTooSmall,
        InvalidSettings,
        UnknownRouter,
        NotReady,
        RenderFailed,
        CorruptLog,
        Unavailable,
        ReplyTooLarge,
        Internal,
    ];
    for c in &all {
        match c {
            InvalidRequest | InvalidCidr | InvalidNetmask | UnknownZone | UnknownVpc
            | UnknownTier | UnknownVm | UnknownAcl | UnknownAclRule | AlreadyExists | NoSpace
            | OutsideParent | Overlap | NotEmpty | InUse | RequestIdConflict | VersionConflict
            | ReservedAddress | SubnetTooSmall | InvalidSettings | UnknownRouter | NotReady
            | RenderFailed | CorruptLog | Unavailable | ReplyTooLarge | Internal => {}
        }
    }
    all
}

#[test]
fn error_schema_lists_every_error_code() {
    let s = schemas();
    let enum_values: Vec<&str> = s.docs["error.json"]["properties"]["error"]["properties"]["code"]
        ["enum"]
        .as_array()
        .expect("error.json: properties.error.properties.code.enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let codes = all_error_codes();
    for code in &codes {
        let wire = serde_json::to_value(code).unwrap();
        assert_eq!(wire, code.as_str(), "as_str and serde disagree");
        assert!(
            enum_values.contains(&wire.as_str().unwrap()),
            "{wire} is not in error.json"
        );
        let body = serde_json::to_value(err(*code)).unwrap();
        assert_valid(&s, "error.json", &json!({ "error": body }));
        assert_valid(&s, "common.json#/$defs/error_body", &body);
        assert_valid(&s, "common.json#/$defs/error_code", &wire);
    }
    // And nothing else: every value in the enum is a real code.
    assert_eq!(enum_values.len(), codes.len(), "error.json has extra codes");
    for v in &enum_values {
        serde_json::from_value::<ErrorCode>(json!(v))
            .unwrap_or_else(|e| panic!("error.json lists {v}, not an ErrorCode: {e}"));
    }
    assert_invalid(
        &s,
        "error.json",
        &json!({"error": {"code": "nope", "message": "x"}}),
    );
    assert_invalid(&s, "error.json", &json!({"error": {"code": "internal"}}));
    assert_invalid(&s, "error.json", &json!({"ok": 1}));
}

// ------------------------------------------------------------------- 6
//
// area-registry, config-renderer and router-sync: the same checks as for
// ipam above. ConfigEvent lives in a crate this one cannot depend on
// (vpcroute-configs): its JSON is written by hand here, as that type
// serialises it. SyncEvent is serialised from its type.

use vpcroute_protocol::areas::{
    AreaEvent, AreaId, AuthRequest, OspfAuth, OspfSettings, Secret, VpcArea, ZoneOspfPage,
    ZoneOspfSet, ZoneOspfView,
};
use vpcroute_protocol::config::{
    ConfigText, DialectName, FirewallRuleset, KeyRotationPhase, KeyRotationView, RouterConfig,
    RouterConfigGet, RouterConfigUpdated, RouterList, RouterPage, RouterSummary,
};
use vpcroute_protocol::sync::{OspfNeighbor, RouterState, RouterStatus, RouterStatusGet};

/// The request subjects of each service, as the test knows them.
fn service_subjects() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "ipam",
            vec![
                subjects::ipam::ZONE_ENABLE,
                subjects::ipam::ZONE_UPDATE,
                subjects::ipam::ZONE_SHOW,
                subjects::ipam::VPC_ALLOCATE,
                subjects::ipam::VPC_RELEASE,
                subjects::ipam::VPC_SHOW,
                subjects::ipam::TIER_ALLOCATE,
                subjects::ipam::TIER_RELEASE,
                subjects::ipam::VM_ALLOCATE,
                subjects::ipam::VM_RELEASE,
                subjects::ipam::VM_SHOW,
                subjects::ipam::ACL_CREATE,
                subjects::ipam::ACL_DELETE,
                subjects::ipam::ACL_SHOW,
                subjects::ipam::ACL_RULE_ADD,
                subjects::ipam::ACL_RULE_DELETE,
                subjects::ipam::TIER_SET_ACL,
                subjects::ipam::EVENTS_READ,
                subjects::ipam::SERVICE_STATUS,
                subjects::ipam::ZONE_SUMMARY,
                subjects::ipam::ZONE_EXPORT,
                subjects::ipam::VPC_EXPORT,
                subjects::ipam::ACL_LIST,
            ],
        ),
        (
            "areas",
            vec![
                subjects::areas::ZONE_SET,
                subjects::areas::ZONE_SHOW,
                subjects::areas::VPC_SHOW,
                subjects::areas::EVENTS_READ,
                subjects::areas::SERVICE_STATUS,
                subjects::areas::ZONE_AREAS,
            ],
        ),
        (
            "config",
            vec![
                subjects::config::ROUTER_GET,
                subjects::config::ROUTER_LIST,
                subjects::config::EVENTS_READ,
                subjects::config::SERVICE_STATUS,
                subjects::config::ROUTER_PAGE,
            ],
        ),
        (
            "sync",
            vec![
                subjects::sync::ROUTER_STATUS_PREFIX,
                subjects::sync::EVENTS_READ_PREFIX,
                subjects::sync::SERVICE_STATUS_PREFIX,
            ],
        ),
    ]
}

/// Prefixes of published (non-request) subjects that sit under a
/// service's request namespace.
const PUBLISHED_PREFIXES: [&str; 2] = [
    subjects::config::UPDATED_PREFIX,
    subjects::sync::STATUS_PREFIX,
];

/// A router's status subject and an instance's log subject, as constants
/// for the tables below (checked against `subjects::sync`).
const SYNC_STATUS: &str = "vpcroute.sync.router.status.r-vpc-blue";
const SYNC_EVENTS_READ: &str = "vpcroute.sync.events.read.left-vr";
const SYNC_SERVICE_STATUS: &str = "vpcroute.sync.service.status.left-vr";

#[test]
fn sync_subjects_are_per_router_and_per_instance() {
    assert_eq!(SYNC_STATUS, subjects::sync::router_status("r-vpc-blue"));
    assert_eq!(SYNC_EVENTS_READ, subjects::sync::events_read("left-vr"));
    assert_eq!(
        SYNC_SERVICE_STATUS,
        subjects::sync::service_status("left-vr")
    );
    assert_eq!(
        subjects::event_subject(&subjects::sync::events_prefix("left-vr"), "applied"),
        "vpcroute.events.sync.left-vr.applied"
    );
    assert!(subjects::sync::check_instance("left-vr").is_ok());
    for bad in ["", "a.b", "a*", "a>", "a b"] {
        assert!(subjects::sync::check_instance(bad).is_err(), "{bad:?}");
    }
}

/// `vpcroute.sync.router.status.>` → `vpcroute.sync.router.status`.
fn strip_wildcard(subject: &str) -> &str {
    subject
        .strip_suffix(".>")
        .or_else(|| subject.strip_suffix(".*"))
        .unwrap_or(subject)
}

#[test]
fn index_covers_every_subject_of_every_service() {
    let s = schemas();
    let source = include_str!("../../vpcroute-bus/src/subjects.rs");
    let entries = s.index["subjects"].as_array().expect("index.subjects");
    let indexed: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["subject"].as_str().expect("subject"))
        .collect();
    assert_eq!(indexed.len(), entries.len(), "a subject is listed twice");
    let mut all_consts = BTreeSet::new();
    for (service, consts) in service_subjects() {
        // Subjects added to `subjects::<service>` later are caught from the
        // source.
        let block = source
            .split(&format!("pub mod {service} {{"))
            .nth(1)
            .unwrap_or_else(|| panic!("subjects.rs has no `pub mod {service} {{`"))
            .split("\n}")
            .next()
            .unwrap();
        let prefix = format!("vpcroute.{service}.");
        let in_source: BTreeSet<&str> = block
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|lit| lit.starts_with(&prefix) && !PUBLISHED_PREFIXES.contains(lit))
            .collect();
        let consts: BTreeSet<&str> = consts.into_iter().collect();
        assert_eq!(
            consts, in_source,
            "subjects::{service} changed: update this test and schemas/"
        );
        // A subject per router or instance is indexed as its prefix with a
        // wildcard token.
        let svc_indexed: BTreeSet<&str> = indexed
            .iter()
            .map(|x| strip_wildcard(x))
            .filter(|x| x.starts_with(&prefix))
            .collect();
        assert_eq!(svc_indexed, consts, "index.json and subjects::{service}");
        all_consts.extend(consts);
    }
    // Nothing in the index that is no subject constant.
    let indexed_prefixes: BTreeSet<&str> = indexed.iter().map(|x| strip_wildcard(x)).collect();
    assert_eq!(
        indexed_prefixes, all_consts,
        "index.json lists unknown subjects"
    );

    let mut named = BTreeSet::new();
    for e in entries {
        let subject = e["subject"].as_str().unwrap();
        // Naming convention: vpcroute.<service>.<object>.<verb> ->
        // <service>/<object>.<verb>.{request,reply}.json
        let rest = strip_wildcard(subject).strip_prefix("vpcroute.").unwrap();
        let (service, object_verb) = rest.split_once('.').unwrap();
        for key in ["request", "reply"] {
            let file = e[key]
                .as_str()
                .unwrap_or_else(|| panic!("{subject}: no {key}"));
            assert_eq!(file, format!("{service}/{object_verb}.{key}.json"));
            assert!(s.dir.join(file).is_file(), "{subject}: {file} missing");
            assert!(s.docs.contains_key(file), "{subject}: {file} not loaded");
            assert_eq!(
                s.docs[file]["title"],
                format!("{subject} {key}"),
                "{file}: title"
            );
            named.insert(file.to_string());
        }
    }

    let events = s.index["events"].as_array().expect("index.events");
    let expected_events = [
        (
            subjects::all_events(subjects::ipam::EVENTS_PREFIX),
            "events/ipam.event.json",
        ),
        (
            subjects::all_events(subjects::areas::EVENTS_PREFIX),
            "events/areas.event.json",
        ),
        (
            subjects::all_events(subjects::config::EVENTS_PREFIX),
            "events/config.event.json",
        ),
        (
            subjects::all_events(subjects::sync::EVENTS_PREFIX),
            "events/sync.event.json",
        ),
        (
            subjects::all_events(subjects::config::UPDATED_PREFIX),
            "config/updated.json",
        ),
        (
            subjects::all_events(subjects::sync::STATUS_PREFIX),
            "sync/status.json",
        ),
        (
            subjects::cloudstack::all_cs_events(),
            "cloudstack/event.json",
        ),
        (
            subjects::all_events(subjects::cloudstack::EVENTS_PREFIX),
            "events/cloudstack.event.json",
        ),
    ];
    assert_eq!(events.len(), expected_events.len(), "index.events");
    for (subject, file) in &expected_events {
        assert!(
            events
                .iter()
                .any(|e| e["subject"] == subject.as_str() && e["schema"] == *file),
            "index.json has no {subject} -> {file}"
        );
    }
    for e in events {
        let file = e["schema"].as_str().expect("schema");
        assert!(s.dir.join(file).is_file(), "{file} missing");
        named.insert(file.to_string());
        // The intake's answer to an event sent as a request.
        if let Some(reply) = e["reply"].as_str() {
            assert!(s.dir.join(reply).is_file(), "{reply} missing");
            named.insert(reply.to_string());
        }
    }
    // No schema outside common.json and error.json is left out of the index.
    for rel in s.docs.keys() {
        if rel != "common.json" && rel != "error.json" {
            assert!(named.contains(rel), "{rel} is not in index.json");
        }
    }
    // Lookups by subject, as the end-to-end tests do them.
    assert_eq!(
        s.request_schema(subjects::areas::ZONE_SET),
        Some("areas/zone.set.request.json")
    );
    assert_eq!(
        s.reply_schema(subjects::config::ROUTER_LIST),
        Some("config/router.list.reply.json")
    );
    assert_eq!(
        s.request_schema(&subjects::sync::router_status("r-vpc.blue")),
        Some("sync/router.status.request.json")
    );
    assert_eq!(
        s.event_schema("vpcroute.events.areas.area_assigned"),
        Some("events/areas.event.json")
    );
    assert_eq!(
        s.event_schema("vpcroute.events.config.router_versioned"),
        Some("events/config.event.json")
    );
    assert_eq!(
        s.event_schema(&subjects::event_subject(
            &subjects::sync::events_prefix("left-vr"),
            "applied"
        )),
        Some("events/sync.event.json")
    );
    assert_eq!(
        s.event_schema(&subjects::config::updated("r-vpc-blue")),
        Some("config/updated.json")
    );
    assert_eq!(
        s.event_schema(&subjects::sync::status("r-vpc-blue")),
        Some("sync/status.json")
    );
    assert_eq!(s.event_schema(subjects::config::UPDATED_PREFIX), None);
    assert_eq!(s.request_schema(&subjects::sync::status("r")), None);
}

#[test]
fn examples_of_the_other_services_deserialise_into_the_rust_types() {
    let s = schemas();
    examples_as::<ZoneOspfSet>(&s, "areas/zone.set.request.json");
    examples_as::<Show>(&s, "areas/zone.show.request.json");
    examples_as::<Show>(&s, "areas/vpc.show.request.json");
    examples_as::<EventsRead>(&s, "areas/events.read.request.json");
    examples_as::<Reply<ZoneOspfView>>(&s, "areas/zone.set.reply.json");
    examples_as::<Reply<ZoneOspfView>>(&s, "areas/zone.show.reply.json");
    examples_as::<Reply<VpcArea>>(&s, "areas/vpc.show.reply.json");
    for page in examples_as::<Reply<EventsPage>>(&s, "areas/events.read.reply.json") {
        if let Reply::Ok(page) = page {
            for ev in page.events {
                let payload: AreaEvent = serde_json::from_value(ev.payload).expect("payload");
                assert_eq!(payload.event_type(), ev.event_type);
            }
        }
    }
    for ev in examples_as::<BusEvent>(&s, "events/areas.event.json") {
        let payload: AreaEvent = serde_json::from_value(ev.payload).expect("payload");
        assert_eq!(payload.event_type(), ev.event_type);
        assert_eq!(
            payload,
            payload.redacted(),
            "a published example holds a key"
        );
    }

    examples_as::<RouterConfigGet>(&s, "config/router.get.request.json");
    examples_as::<RouterList>(&s, "config/router.list.request.json");
    examples_as::<EventsRead>(&s, "config/events.read.request.json");
    examples_as::<Reply<RouterConfig>>(&s, "config/router.get.reply.json");
    examples_as::<Reply<Vec<RouterSummary>>>(&s, "config/router.list.reply.json");
    examples_as::<Reply<Page<RouterSummary>>>(&s, "config/router.page.reply.json");
    examples_as::<Reply<ZoneOspfPage>>(&s, "areas/zone.areas.reply.json");
    examples_as::<Reply<EventsPage>>(&s, "config/events.read.reply.json");
    examples_as::<RouterConfigUpdated>(&s, "config/updated.json");
    for ev in examples_as::<BusEvent>(&s, "events/config.event.json") {
        assert_eq!(ev.payload["type"], ev.event_type.as_str());
        // The inputs are the other services' events.
        match ev.event_type.as_str() {
            "ipam_input" => {
                serde_json::from_value::<IpamEvent>(ev.payload["event"].clone()).expect("ipam");
            }
            "area_input" => {
                serde_json::from_value::<AreaEvent>(ev.payload["event"].clone()).expect("area");
            }
            _ => {}
        }
    }

    examples_as::<RouterStatusGet>(&s, "sync/router.status.request.json");
    examples_as::<EventsRead>(&s, "sync/events.read.request.json");
    examples_as::<Reply<RouterStatus>>(&s, "sync/router.status.reply.json");
    examples_as::<Reply<EventsPage>>(&s, "sync/events.read.reply.json");
    examples_as::<RouterStatus>(&s, "sync/status.json");
    for ev in examples_as::<BusEvent>(&s, "events/sync.event.json") {
        assert_eq!(ev.payload["type"], ev.event_type.as_str());
    }
}

fn md5_settings(key: &str) -> OspfSettings {
    OspfSettings {
        backbone: AreaId::BACKBONE,
        hello_interval: 10,
        dead_interval: 40,
        retransmit_interval: 5,
        transmit_delay: 1,
        auth: OspfAuth::Md5 {
            key_id: 1,
            key: Secret::new(key),
        },
    }
}

/// Every AreaEvent variant (and every auth), with keys.
fn area_events() -> Vec<AreaEvent> {
    let all = vec![
        AreaEvent::ZoneOspfSet {
            zone: "zone-1".into(),
            settings: md5_settings("Xk3v9QpL2mN8rT5w"),
        },
        AreaEvent::ZoneOspfSet {
            zone: "zone-2".into(),
            settings: OspfSettings {
                backbone: AreaId(7),
                hello_interval: 65535,
                dead_interval: 65535,
                auth: OspfAuth::Plaintext {
                    key: Secret::new("s3cret!~"),
                },
                ..OspfSettings::default()
            },
        },
        AreaEvent::ZoneOspfSet {
            zone: "zone-3".into(),
            settings: OspfSettings::default(),
        },
        AreaEvent::AreaAssigned {
            vpc: "vpc-blue".into(),
            zone: "zone-1".into(),
            area_id: AreaId(1),
            ipam_seq: 2,
        },
        AreaEvent::AreaRetired {
            vpc: "vpc-blue".into(),
            zone: "zone-1".into(),
            area_id: AreaId(u32::MAX),
            ipam_seq: 9,
        },
    ];
    // Adding a variant breaks this match: give it a schema ($defs/<type> in
    // events/areas.event.json) and an instance above.
    for ev in &all {
        match ev {
            AreaEvent::ZoneOspfSet { .. }
            | AreaEvent::AreaAssigned { .. }
            | AreaEvent::AreaRetired { .. } => {}
        }
    }
    all
}

fn envelope(source: &str, seq: u64, stream: &str, payload: Value) -> BusEvent {
    BusEvent {
        source: source.into(),
        seq,
        stream: stream.into(),
        stream_version: seq,
        event_type: payload["type"].as_str().unwrap().into(),
        schema_version: 1,
        recorded_at_ms: 1_718_000_000_000,
        payload,
    }
}

fn area_bus_event(seq: u64, ev: &AreaEvent) -> BusEvent {
    let zone = match ev {
        AreaEvent::ZoneOspfSet { zone, .. }
        | AreaEvent::AreaAssigned { zone, .. }
        | AreaEvent::AreaRetired { zone, .. } => zone,
    };
    envelope(
        "area-registry",
        seq,
        &format!("zone/{zone}"),
        serde_json::to_value(ev).unwrap(),
    )
}

/// ConfigEvents of every kind, redacted as published and read, in their
/// wire form (the type lives in this crate: `config::ConfigEvent`).
fn config_events() -> Vec<Value> {
    use vpcroute_protocol::config::{ConfigEvent, RotationStep};
    let mut out = Vec::new();
    for (i, ev) in ipam_events().into_iter().enumerate() {
        out.push(ConfigEvent::IpamInput {
            seq: i as u64 + 1,
            event: ev,
        });
    }
    for (i, ev) in area_events().into_iter().enumerate() {
        out.push(ConfigEvent::AreaInput {
            seq: i as u64 + 1,
            event: ev,
        });
    }
    let router = || "r-vpc-blue".to_string();
    out.push(ConfigEvent::RouterVersioned {
        router: router(),
        version: 1,
        fingerprint: format!("sha256:{}", "0".repeat(64)),
    });
    out.push(ConfigEvent::RouterKeysApplied {
        router: router(),
        version: 4,
    });
    for step in [RotationStep::SendNew, RotationStep::Done] {
        out.push(ConfigEvent::KeyRotationAdvanced {
            zone: "zone-1".into(),
            step,
            at_ms: 1_718_000_000_000,
        });
    }
    out.push(ConfigEvent::RouterRemoved { router: router() });
    out.push(ConfigEvent::RenderFailed {
        router: router(),
        reason: "interface name \"eth3@1\" is invalid".into(),
    });
    out.push(ConfigEvent::RenderRecovered { router: router() });
    out.iter()
        .map(|ev| {
            let shown = LogEvent::redacted(ev);
            let wire = serde_json::to_value(&shown).unwrap();
            assert_eq!(wire["type"], ev.event_type());
            // The wire form decodes back to the same event.
            assert_eq!(
                serde_json::from_value::<ConfigEvent>(wire.clone()).unwrap(),
                shown
            );
            wire
        })
        .collect()
}

/// SyncEvents, serialised from the type router-sync records (every
/// variant, `version: None` of apply_failed written as null), and the same
/// without the optional version, as an older log may hold it.
fn sync_events() -> Vec<Value> {
    use vpcroute_protocol::sync::SyncEvent;
    let router = || "r-vpc-blue".to_string();
    let typed = [
        SyncEvent::Applied {
            router: router(),
            version: 3,
            commands: 12,
        },
        SyncEvent::DriftRepaired {
            router: router(),
            version: 3,
            commands: 1,
        },
        SyncEvent::ApplyFailed {
            router: router(),
            version: Some(4),
            error: "vtysh exited 1".into(),
        },
        SyncEvent::ApplyFailed {
            router: router(),
            version: None,
            error: "no config".into(),
        },
        SyncEvent::Cleared {
            router: router(),
            commands: 0,
        },
        SyncEvent::RangeKicked {
            router: router(),
            area: "0.0.0.1".into(),
            cidr: "10.1.0.0/16".into(),
        },
        SyncEvent::FirewallApplied {
            router: router(),
            version: 3,
        },
        SyncEvent::FirewallRepaired {
            router: router(),
            version: 3,
        },
    ];
    let mut out: Vec<Value> = typed
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    for (e, v) in typed.iter().zip(&out) {
        assert_eq!(v["type"], e.event_type(), "the tag is the event type");
    }
    assert_eq!(out[3]["version"], Value::Null);
    out.insert(
        4,
        json!({"type": "apply_failed", "router": "r-vpc-blue", "error": "no config"}),
    );
    out
}

fn zone_ospf_set(auth: Option<AuthRequest>) -> ZoneOspfSet {
    ZoneOspfSet {
        request_id: "r-ospf".into(),
        zone: "zone-1".into(),
        backbone: None,
        hello_interval: None,
        dead_interval: None,
        retransmit_interval: None,
        transmit_delay: None,
        auth,
    }
}

fn other_requests() -> Vec<(&'static str, Value)> {
    vec![
        (
            subjects::areas::ZONE_AREAS,
            wire(&PagedShow::first("zone-1")),
        ),
        (
            subjects::areas::ZONE_AREAS,
            wire(&PagedShow {
                after: Some("vpc-blue".into()),
                limit: Some(10),
                ..PagedShow::first("zone-1")
            }),
        ),
        (subjects::config::ROUTER_PAGE, wire(&RouterPage::default())),
        (
            subjects::config::ROUTER_PAGE,
            wire(&RouterPage {
                zone: Some("zone-1".into()),
                after: Some("r-vpc-blue".into()),
                limit: Some(1),
            }),
        ),
        (subjects::areas::ZONE_SET, wire(&zone_ospf_set(None))),
        (
            subjects::areas::ZONE_SET,
            wire(&ZoneOspfSet {
                backbone: Some(AreaId(0)),
                hello_interval: Some(1),
                dead_interval: Some(65535),
                retransmit_interval: Some(65535),
                transmit_delay: Some(1),
                ..zone_ospf_set(Some(AuthRequest::Md5 {
                    key_id: Some(255),
                    key: Some(Secret::new("0123456789abcdef")),
                }))
            }),
        ),
        (
            subjects::areas::ZONE_SET,
            wire(&ZoneOspfSet {
                backbone: Some(AreaId(u32::MAX)),
                ..zone_ospf_set(Some(AuthRequest::Md5 {
                    key_id: Some(1),
                    key: None,
                }))
            }),
        ),
        (
            subjects::areas::ZONE_SET,
            wire(&zone_ospf_set(Some(AuthRequest::Plaintext {
                key: Secret::new("!pass~~8"),
            }))),
        ),
        (
            subjects::areas::ZONE_SET,
            wire(&zone_ospf_set(Some(AuthRequest::None {}))),
        ),
        (
            subjects::areas::ZONE_SHOW,
            wire(&Show {
                name: "zone-1".into(),
            }),
        ),
        (
            subjects::areas::VPC_SHOW,
            wire(&Show {
                name: "vpc-blue".into(),
            }),
        ),
        (
            subjects::areas::EVENTS_READ,
            wire(&EventsRead {
                from_seq: 1,
                limit: 1000,
            }),
        ),
        (
            subjects::config::ROUTER_GET,
            wire(&RouterConfigGet {
                router: "r-vpc-blue".into(),
                dialect: DialectName::Frr,
            }),
        ),
        (
            subjects::config::ROUTER_GET,
            wire(&RouterConfigGet {
                router: "r-vpc-blue".into(),
                dialect: DialectName::Quagga,
            }),
        ),
        (subjects::config::ROUTER_LIST, wire(&RouterList::default())),
        (
            subjects::config::ROUTER_LIST,
            wire(&RouterList {
                zone: Some("zone-1".into()),
            }),
        ),
        (
            subjects::config::EVENTS_READ,
            wire(&EventsRead {
                from_seq: 0,
                limit: u32::MAX,
            }),
        ),
        (
            SYNC_STATUS,
            wire(&RouterStatusGet {
                router: "r-vpc-blue".into(),
            }),
        ),
        (
            SYNC_EVENTS_READ,
            wire(&EventsRead {
                from_seq: u64::MAX,
                limit: 1,
            }),
        ),
        (subjects::areas::SERVICE_STATUS, wire(&ServiceStatusGet {})),
        (subjects::config::SERVICE_STATUS, wire(&ServiceStatusGet {})),
        (SYNC_SERVICE_STATUS, wire(&ServiceStatusGet {})),
    ]
}

#[test]
fn real_requests_of_the_other_services_are_valid() {
    let s = schemas();
    let mut seen = BTreeSet::new();
    for (subject, msg) in other_requests() {
        s.check_request(subject, &msg)
            .unwrap_or_else(|e| panic!("{subject}: {msg}\n  {}", e.join("\n  ")));
        // A per-router or per-instance subject counts for its prefix.
        seen.insert(
            [
                subjects::sync::ROUTER_STATUS_PREFIX,
                subjects::sync::EVENTS_READ_PREFIX,
                subjects::sync::SERVICE_STATUS_PREFIX,
            ]
            .into_iter()
            .find(|p| subject.starts_with(&format!("{p}.")))
            .unwrap_or(subject),
        );
    }
    let all: BTreeSet<&str> = service_subjects()
        .into_iter()
        .filter(|(svc, _)| *svc != "ipam")
        .flat_map(|(_, c)| c)
        .collect();
    assert_eq!(seen, all, "a request subject is not exercised");
    // An area id may be given as a dotted string, a decimal string or a
    // number, as AreaId deserialises; defaults may be left out.
    for backbone in [
        json!("0.0.0.5"),
        json!("5"),
        json!(5),
        json!("4294967295"),
        json!(0),
    ] {
        let msg = json!({"request_id": "r", "zone": "z", "backbone": backbone});
        let parsed: ZoneOspfSet = serde_json::from_value(msg.clone()).expect("serde");
        // Whatever the input form, replies and events carry the dotted one.
        let dotted = wire(&parsed.backbone.expect("backbone"));
        assert!(dotted.as_str().unwrap().split('.').count() == 4, "{dotted}");
        assert_valid(&s, "common.json#/$defs/area_id", &dotted);
        s.check_request(subjects::areas::ZONE_SET, &msg)
            .unwrap_or_else(|e| panic!("{msg}\n  {}", e.join("\n  ")));
    }
    let md5 = json!({"request_id": "r", "zone": "z", "auth": {"type": "md5"}});
    let parsed: ZoneOspfSet = serde_json::from_value(md5.clone()).unwrap();
    assert_eq!(
        parsed.auth,
        Some(AuthRequest::Md5 {
            key_id: None,
            key: None
        })
    );
    assert_valid(&s, "areas/zone.set.request.json", &md5);
    assert_valid(
        &s,
        "config/router.get.request.json",
        &json!({"router": "r"}),
    );
    assert_valid(&s, "sync/events.read.request.json", &json!({"from_seq": 7}));
}

#[test]
fn real_replies_of_the_other_services_are_valid() {
    let s = schemas();
    let area = VpcArea {
        vpc: "vpc-blue".into(),
        zone: "zone-1".into(),
        area_id: AreaId(1),
    };
    let view = ZoneOspfView {
        zone: "zone-1".into(),
        backbone: AreaId::BACKBONE,
        hello_interval: 10,
        dead_interval: 40,
        retransmit_interval: 5,
        transmit_delay: 1,
        auth: "md5".into(),
        key_id: Some(1),
        revision: 1,
        areas: vec![area.clone()],
    };
    let plain_view = ZoneOspfView {
        zone: "zone-2".into(),
        backbone: AreaId(0x0a00_0001),
        auth: "plaintext".into(),
        key_id: None,
        areas: vec![],
        ..view.clone()
    };
    let none_view = ZoneOspfView {
        auth: "none".into(),
        ..plain_view.clone()
    };
    let area_page = EventsPage {
        events: area_events()
            .iter()
            .enumerate()
            .map(|(i, ev)| area_bus_event(i as u64 + 1, ev))
            .collect(),
        head: 5,
    };
    let config = |dialect, config| RouterConfig {
        router: "r-vpc-blue".into(),
        version: 3,
        dialect,
        vpc: "vpc-blue".into(),
        zone: "zone-1".into(),
        config,
        firewall: FirewallRuleset {
            file: format!("table inet vpcroute\ndelete table inet vpcroute\n{LISTING}"),
            listing: LISTING.into(),
        },
    };
    let frr = config(
        DialectName::Frr,
        ConfigText::Frr("hostname r-vpc-blue\n!\nrouter ospf\n!\n".into()),
    );
    let quagga = config(
        DialectName::Quagga,
        ConfigText::Quagga {
            zebra: "hostname r-vpc-blue\n".into(),
            ospfd: "router ospf\n".into(),
        },
    );
    let summaries = vec![
        RouterSummary {
            router: "r-vpc-blue".into(),
            version: 3,
            vpc: "vpc-blue".into(),
            zone: "zone-1".into(),
            key_rotation: Some(KeyRotationView {
                phase: KeyRotationPhase::AddNew,
                old_key_id: 255,
                new_key_id: 1,
                sending_key_id: 255,
                waiting_for: vec!["r-vpc-red".into()],
                old_key_kept_until_ms: None,
            }),
        },
        RouterSummary {
            router: "r-vpc-red".into(),
            version: u64::MAX,
            vpc: "vpc-red".into(),
            zone: "zone-2".into(),
            key_rotation: None,
        },
    ];
    let config_page = EventsPage {
        events: config_events()
            .into_iter()
            .enumerate()
            .map(|(i, p)| envelope("config-renderer", i as u64 + 1, "routers", p))
            .collect(),
        head: 99,
    };
    let sync_page = EventsPage {
        events: sync_events()
            .into_iter()
            .enumerate()
            .map(|(i, p)| envelope("router-sync", i as u64 + 1, "router/r-vpc-blue", p))
            .collect(),
        head: 6,
    };
    let ok: Vec<(&str, Value)> = vec![
        (
            subjects::areas::ZONE_AREAS,
            wire(&Reply::Ok(ZoneOspfPage {
                view: view.clone(),
                next: Some("vpc-blue".into()),
            })),
        ),
        (
            subjects::config::ROUTER_PAGE,
            wire(&Reply::Ok(Page {
                items: summaries.clone(),
                next: None,
            })),
        ),
        (subjects::areas::ZONE_SET, wire(&Reply::Ok(view.clone()))),
        (subjects::areas::ZONE_SET, wire(&Reply::Ok(plain_view))),
        (subjects::areas::ZONE_SHOW, wire(&Reply::Ok(view))),
        (subjects::areas::ZONE_SHOW, wire(&Reply::Ok(none_view))),
        (subjects::areas::VPC_SHOW, wire(&Reply::Ok(area))),
        (subjects::areas::EVENTS_READ, wire(&Reply::Ok(area_page))),
        (subjects::config::ROUTER_GET, wire(&Reply::Ok(frr.clone()))),
        (
            subjects::config::ROUTER_GET,
            wire(&Reply::Ok(quagga.clone())),
        ),
        (subjects::config::ROUTER_LIST, wire(&Reply::Ok(summaries))),
        (
            subjects::config::ROUTER_LIST,
            wire(&Reply::Ok(Vec::<RouterSummary>::new())),
        ),
        (subjects::config::EVENTS_READ, wire(&Reply::Ok(config_page))),
        (SYNC_STATUS, wire(&Reply::Ok(status(true)))),
        (SYNC_STATUS, wire(&Reply::Ok(status(false)))),
        (SYNC_EVENTS_READ, wire(&Reply::Ok(sync_page))),
        (
            SYNC_EVENTS_READ,
            wire(&Reply::Ok(EventsPage {
                events: vec![],
                head: 0,
            })),
        ),
    ];
    for (subject, msg) in &ok {
        s.check_reply(subject, msg)
            .unwrap_or_else(|e| panic!("{subject}: {msg}\n  {}", e.join("\n  ")));
    }

    // The firewall ruleset is part of every configuration.
    let uri = "config/router.get.reply.json";
    let mut bad = wire(&Reply::Ok(frr.clone()));
    bad["ok"].as_object_mut().unwrap().remove("firewall");
    assert_invalid(&s, uri, &bad);
    let mut bad = wire(&Reply::Ok(frr.clone()));
    bad["ok"]["firewall"]
        .as_object_mut()
        .unwrap()
        .remove("listing");
    assert_invalid(&s, uri, &bad);
    let mut bad = wire(&Reply::Ok(frr.clone()));
    bad["ok"]["firewall"] = json!(LISTING);
    assert_invalid(&s, uri, &bad);
    // The dialect and the shape of the text go together.
    let mut bad = wire(&Reply::Ok(frr));
    bad["ok"]["dialect"] = json!("quagga");
    assert_invalid(&s, "config/router.get.reply.json", &bad);
    let mut bad = wire(&Reply::Ok(quagga));
    bad["ok"]["dialect"] = json!("frr");
    assert_invalid(&s, "config/router.get.reply.json", &bad);
    bad["ok"]["dialect"] = json!("quagga");
    bad["ok"]["config"].as_object_mut().unwrap().remove("ospfd");
    assert_invalid(&s, "config/router.get.reply.json", &bad);
    // key_id is there exactly for md5; area ids are dotted.
    let uri = "common.json#/$defs/zone_ospf_view";
    let good = s.docs["common.json"]["$defs"]["zone_ospf_view"]["examples"][0].clone();
    assert_valid(&s, uri, &good);
    for (key, v) in [
        ("auth", json!("none")),
        ("auth", json!("sha256")),
        ("backbone", json!(0)),
        ("backbone", json!("5")),
        ("hello_interval", json!(0)),
        ("key_id", json!(0)),
    ] {
        let mut bad = good.clone();
        bad[key] = v;
        assert_invalid(&s, uri, &bad);
    }
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("key_id");
    assert_invalid(&s, uri, &bad);
    // A status is in one of the known states.
    let mut bad = wire(&Reply::Ok(status(true)));
    bad["ok"]["state"] = json!("confused");
    assert_invalid(&s, "sync/router.status.reply.json", &bad);
}

/// An nftables table with no tier behind the router.
const LISTING: &str = "table inet vpcroute {
\tchain forward {
\t\ttype filter hook forward priority 0; policy accept;
\t\tct state 0x2,0x4 accept
\t}
}
";

fn status(full: bool) -> RouterStatus {
    RouterStatus {
        router: "r-vpc-blue".into(),
        state: if full {
            RouterState::InSync
        } else {
            RouterState::Starting
        },
        error_code: None,
        desired_version: full.then_some(3),
        applied_version: full.then_some(3),
        firewall_version: full.then_some(3),
        waiting_for: vec![],
        last_error: full.then(|| "vtysh timed out".into()),
        neighbors: if full {
            vec![
                OspfNeighbor {
                    router_id: "10.255.0.254".into(),
                    state: "Full/DR".into(),
                    address: Some("192.168.100.254".into()),
                    interface: Some("eth1:192.168.100.2".into()),
                },
                OspfNeighbor {
                    router_id: "10.255.0.2".into(),
                    state: String::new(),
                    address: None,
                    interface: None,
                },
            ]
        } else {
            vec![]
        },
        ospf_routes: 4,
        applies: 1,
        failures: 0,
        repairs: 0,
        updated_at_ms: if full { 1_718_000_000_000 } else { -1 },
    }
}

#[test]
fn real_events_of_the_other_services_are_valid() {
    let s = schemas();
    let area_defs = s.docs["events/areas.event.json"]["$defs"]
        .as_object()
        .unwrap();
    for (i, ev) in area_events().iter().enumerate() {
        let subject = subjects::event_subject(subjects::areas::EVENTS_PREFIX, &ev.event_type());
        assert_eq!(
            s.event_schema(&subject),
            Some("events/areas.event.json"),
            "{subject}"
        );
        assert!(area_defs.contains_key(&ev.event_type()));
        // Published: redacted.
        let published = wire(&area_bus_event(i as u64 + 1, &ev.redacted()));
        s.check_event(&subject, &published)
            .unwrap_or_else(|e| panic!("{subject}: {published}\n  {}", e.join("\n  ")));
        assert_valid(
            &s,
            "events/areas.event.json#/$defs/payload",
            &published["payload"],
        );
        // With the key: only in events.read, never published.
        let keyed = wire(&area_bus_event(i as u64 + 1, ev));
        assert_valid(&s, "events/areas.event.json#/$defs/event_with_keys", &keyed);
        if let AreaEvent::ZoneOspfSet {
            settings:
                OspfSettings {
                    auth: OspfAuth::Md5 { .. } | OspfAuth::Plaintext { .. },
                    ..
                },
            ..
        } = ev
        {
            assert!(
                s.check_event(&subject, &keyed).is_err(),
                "{keyed} holds a key, yet passes as a published event"
            );
        } else {
            assert_eq!(keyed, published);
        }
    }

    let config_defs = s.docs["events/config.event.json"]["$defs"]
        .as_object()
        .unwrap();
    for (i, payload) in config_events().into_iter().enumerate() {
        let t = payload["type"].as_str().unwrap().to_string();
        let subject = subjects::event_subject(subjects::config::EVENTS_PREFIX, &t);
        assert!(config_defs.contains_key(&t));
        let msg = wire(&envelope(
            "config-renderer",
            i as u64 + 1,
            "routers",
            payload,
        ));
        s.check_event(&subject, &msg)
            .unwrap_or_else(|e| panic!("{subject}: {msg}\n  {}", e.join("\n  ")));
    }
    // Unredacted: a fingerprint, a key.
    let versioned = wire(&envelope(
        "config-renderer",
        1,
        "routers",
        json!({"type": "router_versioned", "router": "r", "version": 1,
               "fingerprint": format!("sha256:{}", "0".repeat(64))}),
    ));
    assert_invalid(&s, "events/config.event.json", &versioned);
    let keyed = wire(&envelope(
        "config-renderer",
        1,
        "routers",
        json!({"type": "area_input", "seq": 1, "event": area_events()[0]}),
    ));
    assert_invalid(&s, "events/config.event.json", &keyed);

    let sync_defs = s.docs["events/sync.event.json"]["$defs"]
        .as_object()
        .unwrap();
    for (i, payload) in sync_events().into_iter().enumerate() {
        let t = payload["type"].as_str().unwrap().to_string();
        let subject = subjects::event_subject(subjects::sync::EVENTS_PREFIX, &t);
        assert!(sync_defs.contains_key(&t));
        let msg = wire(&envelope(
            "router-sync",
            i as u64 + 1,
            "router/r-vpc-blue",
            payload,
        ));
        s.check_event(&subject, &msg)
            .unwrap_or_else(|e| panic!("{subject}: {msg}\n  {}", e.join("\n  ")));
    }

    // The two non-event publications.
    let updated = RouterConfigUpdated {
        router: "r-vpc-blue".into(),
        version: 4,
        vpc: "vpc-blue".into(),
        zone: "zone-1".into(),
    };
    let subject = subjects::config::updated(&updated.router);
    s.check_event(&subject, &wire(&updated))
        .unwrap_or_else(|e| panic!("{subject}: {}", e.join("\n  ")));
    let mut bad = wire(&updated);
    bad["config"] = json!("frr text");
    assert!(s.check_event(&subject, &bad).is_err(), "text in {subject}");
    for full in [true, false] {
        let subject = subjects::sync::status("r-vpc-blue");
        let msg = wire(&status(full));
        s.check_event(&subject, &msg)
            .unwrap_or_else(|e| panic!("{subject}: {msg}\n  {}", e.join("\n  ")));
    }
}

#[test]
fn malformed_events_of_the_other_services_are_rejected() {
    let s = schemas();
    // The envelope mutations of every event schema's examples are
    // tests/examples.rs's (`event_envelope_mutations_are_refused`).
    // Area ids are dotted; settings are complete and in range.
    let uri = "events/areas.event.json#/$defs/event_with_keys";
    let good = wire(&area_bus_event(1, &area_events()[0]));
    assert_valid(&s, uri, &good);
    for (ptr, v) in [
        ("/payload/settings/backbone", json!(0)),
        ("/payload/settings/hello_interval", json!(0)),
        ("/payload/settings/dead_interval", json!(65536)),
        ("/payload/settings/auth/key_id", json!(0)),
        ("/payload/settings/auth/key", json!("x".repeat(17))),
        ("/payload/settings/auth/type", json!("sha1")),
    ] {
        let mut bad = good.clone();
        *bad.pointer_mut(ptr).unwrap() = v;
        assert_invalid(&s, uri, &bad);
    }
    let mut bad = good.clone();
    bad["payload"]["settings"]
        .as_object_mut()
        .unwrap()
        .remove("transmit_delay");
    assert_invalid(&s, uri, &bad);
    // apply_failed: version is a number or null.
    let mut v = wire(&envelope(
        "router-sync",
        1,
        "router/r",
        sync_events()[2].clone(),
    ));
    v["payload"]["version"] = json!("4");
    assert_invalid(&s, "events/sync.event.json", &v);
}

/// The limits of OSPF authentication are themselves valid (the invalid
/// examples of `areas/zone.set.request.invalid.jsonl` are one step past).
#[test]
fn ospf_auth_limits_are_valid() {
    let s = schemas();
    let auth = |a: Value| {
        let mut v = wire(&zone_ospf_set(None));
        v["auth"] = a;
        v
    };
    // The limits themselves are fine.
    for a in [
        json!({"type": "md5", "key_id": 1, "key": "x".repeat(16)}),
        json!({"type": "md5", "key_id": 255}),
        json!({"type": "plaintext", "key": "~".repeat(8)}),
    ] {
        let msg = auth(a);
        serde_json::from_value::<ZoneOspfSet>(msg.clone()).expect("serde");
        assert_valid(&s, "areas/zone.set.request.json", &msg);
    }
}
