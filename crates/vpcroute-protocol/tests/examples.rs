//! Every request of `schemas/index.json`, checked both ways on its example
//! files: the JSON Schema and the Rust type must agree.
//!
//! * valid examples — the `examples` array of `<message>.request.json`, and
//!   the lines of `<message>.request.valid.jsonl` if there is one — are
//!   accepted by the schema, by the Rust type and by the message's own
//!   parser if it has one, and round-trip: what the type writes back is
//!   valid and reads back the same;
//! * invalid examples — `<message>.request.invalid.jsonl`, one
//!   `{"example", "why", "refused_by"}` a line — are refused by the schema,
//!   and by whoever `refused_by` names: `serde` (the Rust type), `parser`
//!   (serde takes it, the message's parser refuses it) or `service` (serde
//!   takes it, the service's own checks or the contract refuse it). A label
//!   that no longer holds fails here.
//!
//! A new message needs no code here but one line of [`rust_type`] (the test
//! fails, naming the file, until it has one); its examples are data.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use vpcroute_protocol::acl::{AclCreate, AclRuleAdd, AclRuleDelete, TierSetAcl};
use vpcroute_protocol::areas::ZoneOspfSet;
use vpcroute_protocol::config::{RouterConfigGet, RouterList, RouterPage};
use vpcroute_protocol::ipam::*;
use vpcroute_protocol::service::ServiceStatusGet;
use vpcroute_protocol::sync::RouterStatusGet;
use vpcroute_protocol::PagedShow;
use vpcroute_testkit::schemas::{examples_file, RefusedBy, Schemas};

/// Reads a message as its Rust type and writes it back.
type ReadBack = fn(&str) -> Result<Value, String>;

fn read_back<T: DeserializeOwned + Serialize>(text: &str) -> Result<Value, String> {
    let typed: T = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let bytes = serde_json::to_vec(&typed).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// A message's own parser, beyond its `Deserialize`: what the service runs
/// on a request serde took.
type Parser = fn(&str) -> Result<(), String>;

/// ipam's rule parser, with ipam's canonical CIDR parser.
fn parse_rule(text: &str) -> Result<(), String> {
    let request: AclRuleAdd = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let parse_cidr =
        |c: &str| vpcroute_allocator::parse_canonical_cidr(c).map_err(|e| e.to_string());
    request
        .to_rule(parse_cidr)
        .map(drop)
        .map_err(|e| format!("{e:?}"))
}

/// The parser of each request schema that has one.
fn parser(request_schema: &str) -> Option<Parser> {
    match request_schema {
        "ipam/acl.rule.add.request.json" => Some(parse_rule),
        _ => None,
    }
}

/// The Rust type of each request schema: the one place a message's type is
/// named for these tests.
fn rust_type(request_schema: &str) -> Option<ReadBack> {
    let f: ReadBack = match request_schema {
        "ipam/zone.enable.request.json" => read_back::<ZoneEnable>,
        "ipam/zone.update.request.json" => read_back::<ZoneUpdate>,
        "ipam/vpc.allocate.request.json" => read_back::<VpcAllocate>,
        "ipam/tier.allocate.request.json" => read_back::<TierAllocate>,
        "ipam/vm.allocate.request.json" => read_back::<VmAllocate>,
        "ipam/vm.show.request.json" => read_back::<VmShow>,
        "ipam/acl.create.request.json" => read_back::<AclCreate>,
        "ipam/acl.rule.add.request.json" => read_back::<AclRuleAdd>,
        "ipam/acl.rule.delete.request.json" => read_back::<AclRuleDelete>,
        "ipam/tier.set_acl.request.json" => read_back::<TierSetAcl>,
        "ipam/vpc.release.request.json"
        | "ipam/tier.release.request.json"
        | "ipam/vm.release.request.json"
        | "ipam/acl.delete.request.json" => read_back::<Release>,
        "ipam/zone.show.request.json"
        | "ipam/vpc.show.request.json"
        | "ipam/acl.show.request.json"
        | "areas/zone.show.request.json"
        | "areas/vpc.show.request.json" => read_back::<Show>,
        "ipam/events.read.request.json"
        | "areas/events.read.request.json"
        | "config/events.read.request.json"
        | "sync/events.read.request.json" => read_back::<EventsRead>,
        "areas/zone.set.request.json" => read_back::<ZoneOspfSet>,
        "config/router.get.request.json" => read_back::<RouterConfigGet>,
        "config/router.list.request.json" => read_back::<RouterList>,
        "config/router.page.request.json" => read_back::<RouterPage>,
        "ipam/zone.summary.request.json" => read_back::<Show>,
        "ipam/zone.export.request.json"
        | "ipam/vpc.export.request.json"
        | "ipam/acl.list.request.json"
        | "areas/zone.areas.request.json" => read_back::<PagedShow>,
        "sync/router.status.request.json" => read_back::<RouterStatusGet>,
        "ipam/service.status.request.json"
        | "areas/service.status.request.json"
        | "config/service.status.request.json"
        | "sync/service.status.request.json" => read_back::<ServiceStatusGet>,
        _ => return None,
    };
    Some(f)
}

/// Every request schema the index names, with its Rust type.
fn requests(s: &Schemas) -> Vec<(String, ReadBack)> {
    let mut out: Vec<(String, ReadBack)> = Vec::new();
    for (subject, request, _) in s.subjects() {
        let read = rust_type(request).unwrap_or_else(|| {
            panic!("{subject}: no Rust type for schemas/{request}: add it to rust_type")
        });
        if !out.iter().any(|(r, _)| r == request) {
            out.push((request.to_string(), read));
        }
    }
    assert!(!out.is_empty(), "index.json names no request");
    out
}

#[test]
fn valid_request_examples_are_accepted_by_both_and_round_trip() {
    let s = Schemas::load();
    let mut checked = 0;
    for (rel, read) in requests(&s) {
        let examples = s.valid_examples(&rel);
        assert!(!examples.is_empty(), "{rel}: no examples");
        for value in examples {
            let text = value.to_string();
            if let Err(e) = s.check(&rel, &value) {
                panic!("{rel}: example {text} refused by the schema: {e:?}");
            }
            let written = read(&text)
                .unwrap_or_else(|e| panic!("{rel}: example {text} refused by the Rust type: {e}"));
            if let Err(e) = s.check(&rel, &written) {
                panic!("{rel}: {text} written back as {written} is refused by the schema: {e:?}");
            }
            let again = read(&written.to_string()).expect("reads back");
            assert_eq!(again, written, "{rel}: {text} does not round-trip");
            if let Some(parse) = parser(&rel) {
                if let Err(e) = parse(&text) {
                    panic!("{rel}: example {text} refused by its parser: {e}");
                }
            }
            checked += 1;
        }
    }
    // The data is there: a file moved or renamed would make this vacuous.
    assert!(checked >= 75, "{checked} valid examples");
    eprintln!("{checked} valid request examples");
}

#[test]
fn invalid_request_examples_are_refused_by_both() {
    let s = Schemas::load();
    let (mut checked, mut files) = (0, 0);
    for (rel, read) in requests(&s) {
        let invalid = s.invalid_examples(&rel);
        files += usize::from(!invalid.is_empty());
        for case in invalid {
            let file = examples_file(&rel, "invalid");
            let (example, why) = (&case.example, &case.why);
            assert!(
                s.check(&rel, example).is_err(),
                "{file}: {example} ({why}) is accepted by the schema"
            );
            let text = example.to_string();
            let by_serde = read(&text);
            if case.refused_by == RefusedBy::Serde {
                assert!(
                    by_serde.is_err(),
                    "{file}: {example} ({why}) is accepted by the Rust type: {by_serde:?}"
                );
            } else {
                assert!(
                    by_serde.is_ok(),
                    "{file}: {example} ({why}) is marked refused_by {:?} but serde refuses it \
                     ({by_serde:?}): mark it serde",
                    case.refused_by
                );
            }
            let by_parser = parser(&rel).map(|parse| parse(&text));
            match (case.refused_by, by_parser) {
                (RefusedBy::Parser, None) => panic!("{file}: {example}: {rel} has no parser"),
                (RefusedBy::Parser, Some(r)) => assert!(
                    r.is_err(),
                    "{file}: {example} ({why}) is accepted by its parser"
                ),
                (RefusedBy::Service, Some(Err(e))) => panic!(
                    "{file}: {example} ({why}) is refused by its parser ({e}): mark it parser"
                ),
                _ => {}
            }
            checked += 1;
        }
    }
    // The data is there: a file moved or renamed would make this vacuous.
    assert!(
        files >= 20 && checked >= 117,
        "{files} files, {checked} cases"
    );
    eprintln!("{checked} invalid request examples in {files} files");
}

/// The envelope mutations every published event must be refused with,
/// applied to every `BusEvent` example of every event schema the index
/// names: an event type the payload disagrees with (another example's), an
/// unknown type, an extra or a missing payload field, a missing, extra or
/// negative envelope field, another service's `source`, no payload.
fn envelope_mutations(good: &Value, others: &[Value]) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let mut add = |why, edit: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        edit(&mut v);
        out.push((why, v));
    };
    let ty = good["event_type"].clone();
    if let Some(other) = others.iter().find(|o| o["event_type"] != ty) {
        let other_ty = other["event_type"].clone();
        add("event_type disagrees with the payload's type", &|v| {
            v["event_type"] = other_ty.clone()
        });
    }
    add("an unknown event type", &|v| {
        v["event_type"] = "exploded".into();
        v["payload"]["type"] = "exploded".into();
    });
    add("an unknown payload field", &|v| {
        v["payload"]["extra"] = 1.into()
    });
    if good["payload"].as_object().is_some_and(|p| p.len() > 1) {
        add("the payload holds nothing but its type", &|v| {
            v["payload"]
                .as_object_mut()
                .unwrap()
                .retain(|k, _| k == "type")
        });
    }
    add("no seq", &|v| {
        drop(v.as_object_mut().unwrap().remove("seq"))
    });
    add("an unknown envelope field", &|v| v["subject"] = "x".into());
    add("a negative seq", &|v| v["seq"] = (-1).into());
    add("no payload", &|v| v["payload"] = Value::Null);
    let source = good["source"].clone();
    let other_source = if source == "ipam" {
        "router-sync"
    } else {
        "ipam"
    };
    add("another service's source", &|v| {
        v["source"] = other_source.into()
    });
    out
}

#[test]
fn event_envelope_mutations_are_refused() {
    let s = Schemas::load();
    let mut checked = 0;
    for (subject, rel) in s.events() {
        let examples = s.valid_examples(rel);
        // Only the BusEvent streams have an envelope (config/updated.json and
        // sync/status.json are bare messages).
        let events: Vec<&Value> = examples
            .iter()
            .filter(|e| e.get("event_type").is_some())
            .collect();
        for good in &events {
            if let Err(e) = s.check(rel, good) {
                panic!("{rel}: example {good} is refused: {e:?}");
            }
            for (why, bad) in envelope_mutations(good, &examples) {
                assert!(
                    s.check(rel, &bad).is_err(),
                    "{subject} ({rel}): {why}: {bad} is accepted"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 100, "{checked} mutations");
    eprintln!("{checked} event mutations refused");
}
