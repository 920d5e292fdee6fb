//! Fuzzing every request subject of every service against the real,
//! running services (ipam, area-registry, config-renderer, router-sync).
//!
//! A small valid world is seeded first (two zones, three VPCs, a tier and a
//! VM in each, OSPF settings for one zone, network ACL lists with rules
//! attached to tiers), then well over 100,000 fuzz cases are sent, 32 in
//! flight, spread evenly over the 33 request subjects: malformed JSON
//! (truncated, random bytes, non-UTF-8, trailing garbage, duplicate keys,
//! ...), wrong JSON types for every field, missing
//! required fields, unknown extra fields, huge payloads (> 64 KiB, ~1 MiB),
//! deeply nested JSON (10,000+ levels), invalid or non-canonical CIDRs,
//! bad netmasks, out-of-range timers, bad keys, unknown ids, over-long
//! names and request ids, bad ACL rules (rule numbers, protocols, ports,
//! ICMP types and codes, traffic types, actions), and valid-shaped
//! requests with random values.
//!
//! First, every line of `schemas/*.request.invalid.jsonl` (each indexed
//! subject's invalid examples) is sent as it is: `invalid_request` where
//! the line says serde refuses it, an error in any case. The random cases'
//! wrong JSON types, missing required fields (nested ones too), integer
//! values out of range and near misses of enum values come from the request
//! schemas (`FieldShape`); the values only the services refuse (names,
//! CIDRs, ports, keys, ...) are generated here.
//!
//! Every case that could change state is built to fail: each carries a
//! "poison" (an existing name where a new one is needed, an unknown parent,
//! an invalid setting, a bad request id, ...) that no other mutation of the
//! case touches. Read-only subjects may answer `ok`. The only requests
//! expected to succeed on a writing subject are exact replays of the seed
//! requests, which must be answered from the record with the original
//! reply and change nothing.
//!
//! Asserted: every request is answered within the timeout; every reply is
//! the `{"ok":..}|{"error":{"code","message"}}` envelope with a known
//! code (never `internal`); decoding failures are `invalid_request`; no
//! error message echoes more than ~200 characters of the request (nor an
//! OSPF key of it); no service exits or panics; and afterwards every
//! service's event-log head, the `vpcctl show zone --json` snapshots, the
//! `ipam.vpc.show` and `ipam.acl.show` replies (every ACL list with its
//! rules and tiers) and the router version list are exactly as before.
//!
//! Reproducible: the seed is printed; `VPCROUTE_FUZZ_SEED=<n>` reruns it,
//! `VPCROUTE_FUZZ_CASES=<n>` changes the number of cases. Case `i` depends
//! only on the seed and `i`, whatever the concurrency.
//!
//! Problems are grouped by category (`stall`, `envelope`, `internal`,
//! `echo`, `secret`, `decode`, `accepted`, `array_body`,
//! `unit_variant_extra`, `replay`) and all fail the test.
//! `VPCROUTE_FUZZ_TOLERATE=echo,array_body` (a comma list) reports the
//! named categories as tolerated bugs instead of failing, for use while a
//! known bug is being fixed; state changes, stalls and crashes always fail.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use vpcroute_bus::subjects;
use vpcroute_protocol::{ErrorBody, ErrorCode};
use vpcroute_testkit::schemas::{resolve_ref, RefusedBy};
use vpcroute_testkit::Schemas;
use vpcroute_tests::{nats_or_skip, vpcctl, wait_processed, Running, Service, ServiceKind};

const DEFAULT_SEED: u64 = 0x5eed_f022_0000_0001;
/// 5,100 cases for each of the 33 subjects.
const DEFAULT_CASES: usize = 168_300;
const IN_FLIGHT: usize = 32;
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// The most characters of a request an error message may repeat.
const MAX_ECHO: usize = 200;
/// The services' own decoding limit (`vpcroute_bus::request::MAX_REQUEST_BYTES`).
const DECODE_LIMIT: usize = vpcroute_bus::request::MAX_REQUEST_BYTES;
/// Just under NATS's default max_payload (1 MiB), leaving room for headers.
const ABOUT_ONE_MIB: usize = 1024 * 1024 - 8 * 1024;

// ------------------------------------------------------------------- rng

/// SplitMix64: small, fast in debug builds, and fully determined by its seed.
#[derive(Clone)]
struct Rng(u64);

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    fn for_case(seed: u64, case: usize) -> Rng {
        Rng(mix64(seed ^ mix64(case as u64 + 0x1234_5678)))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if lo == 0 && hi == u64::MAX {
            return self.next();
        }
        lo + self.next() % (hi - lo + 1)
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn alnum(&mut self, len: usize) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len).map(|_| A[self.below(A.len())] as char).collect()
    }
    /// A long string that is easy to find again in an error message: a
    /// random prefix, then a cheap repeated pattern.
    fn long(&mut self, len: usize) -> String {
        let mut s = format!("fzLONG{}", self.alnum(10));
        let unit = self.alnum(23);
        while s.len() < len {
            s.push_str(&unit);
        }
        s.truncate(len);
        s
    }
    fn long_in(&mut self, lo: u64, hi: u64) -> String {
        let n = self.range(lo, hi) as usize;
        self.long(n)
    }
    fn alnum_in(&mut self, lo: u64, hi: u64) -> String {
        let n = self.range(lo, hi) as usize;
        self.alnum(n)
    }
    fn ipv4(&mut self) -> Ipv4Addr {
        Ipv4Addr::from(self.next() as u32)
    }
    fn ipv6(&mut self) -> Ipv6Addr {
        Ipv6Addr::from(((self.next() as u128) << 64) | self.next() as u128)
    }
}

// ----------------------------------------------------------------- world

/// What the seed created, and what the fuzz cases aim at.
#[derive(Debug, Clone)]
struct World {
    zones: Vec<String>,
    vpcs: Vec<String>,
    tiers: Vec<String>,
    vms: Vec<String>,
    routers: Vec<String>,
    router_ids: Vec<String>,
    /// Area ids issued to the VPCs (a backbone may never reuse one).
    area_ids: Vec<String>,
    /// Tier name → (cidr, gateway, prefix length, VM addresses).
    tier_info: BTreeMap<String, TierInfo>,
    /// The VPCs' own ACL lists (each attached to a tier, so none can be
    /// deleted), with their VPC and rule numbers.
    acls: Vec<String>,
    acl_info: BTreeMap<String, AclInfo>,
    /// Seed requests: (subject, body, recorded reply).
    seeds: Vec<(&'static str, Value, Value)>,
    /// Each subject's request shape, from its schema.
    shapes: BTreeMap<&'static str, ObjectShape>,
}

#[derive(Debug, Clone)]
struct AclInfo {
    vpc: String,
    rules: Vec<u32>,
}

#[derive(Debug, Clone)]
struct TierInfo {
    cidr: ipnet::IpNet,
    gateway: String,
    vm_ips: Vec<String>,
}

// ------------------------------------------------------------- subjects

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fk {
    ReqId,
    Zone,
    Vpc,
    Tier,
    Vm,
    Router,
    Cidrs,
    Netmask,
    Prefix,
    Family,
    RouterSpec,
    Gateway,
    Ip,
    Iface,
    Hello,
    Dead,
    Retrans,
    Transmit,
    Backbone,
    Auth,
    FromSeq,
    Limit,
    Dialect,
    /// An ACL list name (own lists, built-in ones, unknown ones).
    Acl,
    /// An ACL rule number (u32; 1-65535 valid).
    RuleNo,
    /// The CIDR list of an ACL rule (1-64, may overlap).
    RuleCidrs,
    Protocol,
    Ports,
    /// ICMP type or code (i32; -1 or 0-255 valid).
    Icmp,
    Traffic,
    Action,
}

/// A field of a request: its name, and what plausible values it takes.
/// Its JSON type and whether it is required are the schema's
/// ([`FieldShape`]).
struct F {
    name: &'static str,
    fk: Fk,
}

const fn f(name: &'static str, fk: Fk) -> F {
    F { name, fk }
}

struct Spec {
    subject: &'static str,
    /// Whether a success would change state (then every case must fail).
    writes: bool,
    fields: &'static [F],
}

const EVENTS_READ_FIELDS: &[F] = &[f("from_seq", Fk::FromSeq), f("limit", Fk::Limit)];

/// The one router-sync instance manages r1 only, and is named after it
/// (its default): `subjects::sync::router_status("r1")`,
/// `subjects::sync::events_read("r1")` and
/// `subjects::sync::service_status("r1")`, spelled out for `Spec`'s
/// `&'static str`.
const R1_STATUS: &str = "vpcroute.sync.router.status.r1";
const SYNC_EVENTS_READ: &str = "vpcroute.sync.events.read.r1";
const SYNC_SERVICE_STATUS: &str = "vpcroute.sync.service.status.r1";

const SPECS: &[Spec] = &[
    Spec {
        subject: subjects::ipam::ZONE_ENABLE,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("zone", Fk::Zone),
            f("super_cidrs", Fk::Cidrs),
        ],
    },
    Spec {
        subject: subjects::ipam::ZONE_UPDATE,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("zone", Fk::Zone),
            f("super_cidrs", Fk::Cidrs),
        ],
    },
    Spec {
        subject: subjects::ipam::ZONE_SHOW,
        writes: false,
        fields: &[f("name", Fk::Zone)],
    },
    Spec {
        subject: subjects::ipam::VPC_ALLOCATE,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("vpc", Fk::Vpc),
            f("zone", Fk::Zone),
            f("netmask", Fk::Netmask),
            f("prefix_length", Fk::Prefix),
            f("family", Fk::Family),
            f("router", Fk::RouterSpec),
        ],
    },
    Spec {
        subject: subjects::ipam::VPC_RELEASE,
        writes: true,
        fields: &[f("request_id", Fk::ReqId), f("name", Fk::Vpc)],
    },
    Spec {
        subject: subjects::ipam::VPC_SHOW,
        writes: false,
        fields: &[f("name", Fk::Vpc)],
    },
    Spec {
        subject: subjects::ipam::VM_SHOW,
        writes: false,
        fields: &[f("vm", Fk::Vm)],
    },
    Spec {
        subject: subjects::ipam::TIER_ALLOCATE,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("tier", Fk::Tier),
            f("vpc", Fk::Vpc),
            f("gateway", Fk::Gateway),
            f("netmask", Fk::Netmask),
            f("prefix_length", Fk::Prefix),
            f("interface", Fk::Iface),
            f("acl", Fk::Acl),
        ],
    },
    Spec {
        subject: subjects::ipam::TIER_RELEASE,
        writes: true,
        fields: &[f("request_id", Fk::ReqId), f("name", Fk::Tier)],
    },
    Spec {
        subject: subjects::ipam::VM_ALLOCATE,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("vm", Fk::Vm),
            f("tier", Fk::Tier),
            f("ip", Fk::Ip),
        ],
    },
    Spec {
        subject: subjects::ipam::VM_RELEASE,
        writes: true,
        fields: &[f("request_id", Fk::ReqId), f("name", Fk::Vm)],
    },
    Spec {
        subject: subjects::ipam::ACL_CREATE,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("acl", Fk::Acl),
            f("vpc", Fk::Vpc),
        ],
    },
    Spec {
        subject: subjects::ipam::ACL_DELETE,
        writes: true,
        fields: &[f("request_id", Fk::ReqId), f("name", Fk::Acl)],
    },
    Spec {
        subject: subjects::ipam::ACL_SHOW,
        writes: false,
        fields: &[f("name", Fk::Acl)],
    },
    Spec {
        subject: subjects::ipam::ACL_RULE_ADD,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("acl", Fk::Acl),
            f("number", Fk::RuleNo),
            f("cidrs", Fk::RuleCidrs),
            f("protocol", Fk::Protocol),
            f("ports", Fk::Ports),
            f("icmp_type", Fk::Icmp),
            f("icmp_code", Fk::Icmp),
            f("traffic", Fk::Traffic),
            f("action", Fk::Action),
        ],
    },
    Spec {
        subject: subjects::ipam::ACL_RULE_DELETE,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("acl", Fk::Acl),
            f("number", Fk::RuleNo),
        ],
    },
    Spec {
        subject: subjects::ipam::TIER_SET_ACL,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("tier", Fk::Tier),
            f("acl", Fk::Acl),
        ],
    },
    Spec {
        subject: subjects::ipam::EVENTS_READ,
        writes: false,
        fields: EVENTS_READ_FIELDS,
    },
    Spec {
        subject: subjects::areas::ZONE_SET,
        writes: true,
        fields: &[
            f("request_id", Fk::ReqId),
            f("zone", Fk::Zone),
            f("backbone", Fk::Backbone),
            f("hello_interval", Fk::Hello),
            f("dead_interval", Fk::Dead),
            f("retransmit_interval", Fk::Retrans),
            f("transmit_delay", Fk::Transmit),
            f("auth", Fk::Auth),
        ],
    },
    Spec {
        subject: subjects::areas::ZONE_SHOW,
        writes: false,
        fields: &[f("name", Fk::Zone)],
    },
    Spec {
        subject: subjects::areas::VPC_SHOW,
        writes: false,
        fields: &[f("name", Fk::Vpc)],
    },
    Spec {
        subject: subjects::areas::EVENTS_READ,
        writes: false,
        fields: EVENTS_READ_FIELDS,
    },
    Spec {
        subject: subjects::config::ROUTER_GET,
        writes: false,
        fields: &[f("router", Fk::Router), f("dialect", Fk::Dialect)],
    },
    Spec {
        subject: subjects::config::ROUTER_LIST,
        writes: false,
        fields: &[f("zone", Fk::Zone)],
    },
    Spec {
        subject: subjects::config::EVENTS_READ,
        writes: false,
        fields: EVENTS_READ_FIELDS,
    },
    // The paged reads (issue 14).
    Spec {
        subject: subjects::ipam::ZONE_SUMMARY,
        writes: false,
        fields: &[f("name", Fk::Zone)],
    },
    Spec {
        subject: subjects::ipam::ZONE_EXPORT,
        writes: false,
        fields: &[
            f("name", Fk::Zone),
            f("after", Fk::Vpc),
            f("limit", Fk::Limit),
        ],
    },
    Spec {
        subject: subjects::ipam::VPC_EXPORT,
        writes: false,
        fields: &[
            f("name", Fk::Vpc),
            f("after", Fk::Vpc),
            f("limit", Fk::Limit),
        ],
    },
    Spec {
        subject: subjects::ipam::ACL_LIST,
        writes: false,
        fields: &[
            f("name", Fk::Zone),
            f("after", Fk::Acl),
            f("limit", Fk::Limit),
        ],
    },
    Spec {
        subject: subjects::areas::ZONE_AREAS,
        writes: false,
        fields: &[
            f("name", Fk::Zone),
            f("after", Fk::Vpc),
            f("limit", Fk::Limit),
        ],
    },
    Spec {
        subject: subjects::config::ROUTER_PAGE,
        writes: false,
        fields: &[
            f("zone", Fk::Zone),
            f("after", Fk::Router),
            f("limit", Fk::Limit),
        ],
    },
    Spec {
        subject: R1_STATUS,
        writes: false,
        fields: &[f("router", Fk::Router)],
    },
    Spec {
        subject: SYNC_EVENTS_READ,
        writes: false,
        fields: EVENTS_READ_FIELDS,
    },
    // `service.status` takes `{}`: every field is an unknown one.
    Spec {
        subject: subjects::ipam::SERVICE_STATUS,
        writes: false,
        fields: &[],
    },
    Spec {
        subject: subjects::areas::SERVICE_STATUS,
        writes: false,
        fields: &[],
    },
    Spec {
        subject: subjects::config::SERVICE_STATUS,
        writes: false,
        fields: &[],
    },
    Spec {
        subject: SYNC_SERVICE_STATUS,
        writes: false,
        fields: &[],
    },
];

/// A paged request's `after`: the position of the last item of the page
/// before, which need not exist any more (the read goes on after where it
/// was), so a well-formed one naming nothing is answered `ok`; a malformed
/// one is refused (`vpcroute_bus::page`, its tests and the schemas').
const PAGE_TOKEN: &str = "after";

/// `router.list` and its paged form `router.page`: every field optional,
/// `zone` only a filter (a zone of no router lists none).
fn is_router_list(subject: &str) -> bool {
    subject == subjects::config::ROUTER_LIST || subject == subjects::config::ROUTER_PAGE
}

// ---------------------------------------------------------- schema shapes

/// What a request schema (`schemas/`) says about one field: the JSON
/// types it takes, its `enum`, its integer bounds, and for an object the
/// same about its own fields (one [`ObjectShape`] per `oneOf` variant,
/// keyed by the variant's `type` const, `""` for a plain object). The
/// wrong types, missing fields and out-of-range values of the fuzz cases
/// are derived from these, not written again here.
#[derive(Debug, Clone, Default)]
struct FieldShape {
    types: BTreeSet<String>,
    enumeration: Vec<String>,
    bounds: Option<(i128, i128)>,
    objects: Vec<(String, ObjectShape)>,
}

#[derive(Debug, Clone, Default)]
struct ObjectShape {
    fields: BTreeMap<String, FieldShape>,
    required: BTreeSet<String>,
}

/// The request shape of every subject of [`SPECS`], from its schema; the
/// field names must be the schema's (a field added to one and not the
/// other fails here).
fn request_shapes(schemas: &Schemas) -> BTreeMap<&'static str, ObjectShape> {
    let mut out = BTreeMap::new();
    for spec in SPECS {
        let rel = schemas
            .request_schema(spec.subject)
            .unwrap_or_else(|| panic!("no request schema for {}", spec.subject));
        let shape = object_shape(schemas, rel, &schemas.docs[rel]);
        let named: BTreeSet<&str> = spec.fields.iter().map(|f| f.name).collect();
        let in_schema: BTreeSet<&str> = shape.fields.keys().map(String::as_str).collect();
        assert_eq!(
            named, in_schema,
            "SPECS and schemas/{rel} name other fields"
        );
        out.insert(spec.subject, shape);
    }
    out
}

/// Follows `$ref`s from `node` (in the schema file `doc`); the file and the
/// node it ends at.
fn resolve<'a>(schemas: &'a Schemas, doc: &str, node: &'a Value) -> (String, &'a Value) {
    let Some(r) = node.get("$ref").and_then(Value::as_str) else {
        return (doc.to_string(), node);
    };
    let (file, pointer) = resolve_ref(doc, r);
    let target = schemas.docs[&file]
        .pointer(&pointer)
        .unwrap_or_else(|| panic!("{doc}: $ref {r} points at nothing"));
    resolve(schemas, &file, target)
}

fn object_shape(schemas: &Schemas, doc: &str, node: &Value) -> ObjectShape {
    let (doc, node) = resolve(schemas, doc, node);
    let mut shape = ObjectShape::default();
    for (name, sub) in node["properties"].as_object().into_iter().flatten() {
        shape
            .fields
            .insert(name.clone(), field_shape(schemas, &doc, sub));
    }
    for r in node["required"].as_array().into_iter().flatten() {
        shape
            .required
            .insert(r.as_str().expect("required names").to_string());
    }
    shape
}

/// A field's shape: `$ref`, `anyOf` and `oneOf` branches merged.
fn field_shape(schemas: &Schemas, doc: &str, node: &Value) -> FieldShape {
    let mut shape = FieldShape::default();
    let add = |doc: &str, node: &Value, shape: &mut FieldShape| {
        match &node["type"] {
            Value::String(t) => {
                shape.types.insert(t.clone());
            }
            Value::Array(ts) => shape
                .types
                .extend(ts.iter().filter_map(Value::as_str).map(str::to_string)),
            _ => {}
        }
        for e in node["enum"].as_array().into_iter().flatten() {
            shape.enumeration.extend(e.as_str().map(str::to_string));
        }
        let int = |k: &str| {
            let v = &node[k];
            v.as_i64()
                .map(i128::from)
                .or_else(|| v.as_u64().map(i128::from))
        };
        if let (Some(lo), Some(hi)) = (int("minimum"), int("maximum")) {
            let (l, h) = shape.bounds.unwrap_or((lo, hi));
            shape.bounds = Some((l.min(lo), h.max(hi)));
        }
        if node.get("properties").is_some() {
            let variant = node["properties"]["type"]["const"].as_str().unwrap_or("");
            let object = object_shape(schemas, doc, node);
            shape.objects.push((variant.to_string(), object));
        }
    };
    let (file, target) = resolve(schemas, doc, node);
    if node.get("$ref").is_some() {
        // Beside a `$ref`: the field's own keywords.
        add(doc, node, &mut shape);
    }
    add(&file, target, &mut shape);
    for key in ["anyOf", "oneOf"] {
        for branch in target[key].as_array().into_iter().flatten() {
            let (bfile, b) = resolve(schemas, &file, branch);
            let inner = field_shape(schemas, &bfile, b);
            shape.types.extend(inner.types);
            shape.enumeration.extend(inner.enumeration);
            if let Some((lo, hi)) = inner.bounds {
                let (l, h) = shape.bounds.unwrap_or((lo, hi));
                shape.bounds = Some((l.min(lo), h.max(hi)));
            }
            shape.objects.extend(inner.objects);
        }
    }
    shape
}

impl FieldShape {
    /// Whether the schema takes `v`'s JSON type here (an integer is a
    /// number too).
    fn takes_type_of(&self, v: &Value) -> bool {
        let t = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "number",
            Value::Number(_) => {
                if self.types.contains("number") {
                    return true;
                }
                "integer"
            }
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        self.types.contains(t)
    }

    /// The fields of the object `v` holds here: the `oneOf` variant whose
    /// `type` `v` names, or the only one.
    fn object_for(&self, v: &Value) -> Option<&ObjectShape> {
        let named = v.get("type").and_then(Value::as_str).unwrap_or("");
        self.objects
            .iter()
            .find(|(variant, _)| variant == named)
            .or_else(|| self.objects.iter().find(|(variant, _)| variant.is_empty()))
            .map(|(_, o)| o)
    }

    /// A value of the field's type the schema refuses: an integer out of
    /// its bounds (just out or far out, or not an integer at all), or a
    /// near miss of one of its `enum` strings. None for other fields.
    fn out_of_range(&self, rng: &mut Rng) -> Option<Value> {
        if let Some((lo, hi)) = self.bounds.filter(|_| self.types.contains("integer")) {
            let far = rng.range(2, 1 << 40) as i128;
            let n = match rng.below(6) {
                0 => lo - 1,
                1 => hi + 1,
                2 => lo - far,
                3 => hi + far,
                4 => return Some(json!(1e99)),
                _ => return Some(json!(lo as f64 + 0.5)),
            };
            return Some(match (i64::try_from(n), u64::try_from(n)) {
                (Ok(i), _) => json!(i),
                (_, Ok(u)) => json!(u),
                _ => json!(n as f64),
            });
        }
        if self.enumeration.is_empty() {
            return None;
        }
        let good = rng.pick(&self.enumeration).clone();
        loop {
            let bad = match rng.below(6) {
                0 => format!("{good} "),
                1 => format!(" {good}"),
                2 => format!("{good}\u{0}"),
                3 => good.to_uppercase(),
                4 => good[..good.len() - 1].to_string(),
                _ => format!("{good}{}", rng.alnum(2)),
            };
            if !self.enumeration.contains(&bad) {
                return Some(json!(bad));
            }
        }
    }
}

// ------------------------------------------------------------ values

/// A name that exists in the world, or a fresh valid one that does not.
fn some_name(rng: &mut Rng, known: &[String]) -> String {
    if rng.chance(50) {
        rng.pick(known).clone()
    } else {
        unknown_name(rng)
    }
}

/// A valid name that names nothing in the world.
fn unknown_name(rng: &mut Rng) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_.:ABCXYZ";
    let len = if rng.chance(5) {
        rng.range(129, 255) as usize
    } else {
        rng.range(1, 30) as usize
    };
    let mut s = String::from("fz");
    while s.len() < len.max(3) {
        s.push(CHARS[rng.below(CHARS.len())] as char);
    }
    s
}

/// A name the services must refuse (or, for lookups, never find).
fn bad_name(rng: &mut Rng) -> String {
    match rng.below(16) {
        0 => String::new(),
        1 => " z1".into(),
        2 => "z1 ".into(),
        3 => "a b".into(),
        4 => "a\nb".into(),
        5 => "a\u{0}b".into(),
        6 => "zöne-ünïcode".into(),
        7 => "\u{0663}\u{0664}".into(),
        8 => "../../etc/passwd".into(),
        9 => "a/b*c>d".into(),
        10 => "vpc1\u{202e}".into(),
        11 => rng.long_in(256, 2000),
        12 => rng.long_in(10_000, 60_000),
        13 => format!("{}{}", rng.long(300), "\u{0}"),
        14 => "\u{feff}z1".into(),
        _ => "z1\t".into(),
    }
}

fn request_id(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => " ".into(),
        1 => "\u{0}".into(),
        2 => "id with spaces\nand newline".into(),
        3 => "ünïcödé-id".into(),
        4 => format!("fz-{}", rng.alnum(124)),
        _ => format!("fz-{:016x}", rng.next()),
    }
}

fn bad_request_id(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => String::new(),
        1 => format!("fz-{}", rng.alnum(126)),
        2 => rng.long_in(129, 5000),
        _ => rng.long_in(10_000, 60_000),
    }
}

fn canonical_cidr(rng: &mut Rng) -> String {
    if rng.chance(70) {
        let p = rng.range(8, 30) as u8;
        ipnet::Ipv4Net::new(rng.ipv4(), p)
            .unwrap()
            .trunc()
            .to_string()
    } else {
        let p = rng.range(16, 120) as u8;
        ipnet::Ipv6Net::new(rng.ipv6(), p)
            .unwrap()
            .trunc()
            .to_string()
    }
}

/// CIDRs that may or may not be accepted (whitespace is trimmed, mixed
/// families are allowed in a zone).
fn odd_cidr(rng: &mut Rng) -> String {
    rng.pick(&[
        "10.0.0.0/8 ",
        " 10.0.0.0/8",
        "\t10.0.0.0/8\n",
        "::ffff:10.0.0.0/104",
        "fd00::/8",
        "0.0.0.0/0",
        "::/0",
        "255.255.255.255/32",
        "10.20.0.0/16",
        "10.20.0.0/24",
        "10.0.0.0/8",
    ])
    .to_string()
}

/// CIDR text every parser must refuse.
fn bad_cidr(rng: &mut Rng) -> String {
    match rng.below(36) {
        0 => "10.0.0.1/8".into(),
        1 => "10.0.0.0/33".into(),
        2 => "10.0.0.0/-1".into(),
        3 => "10.0.0.0/".into(),
        4 => "10.0.0.0".into(),
        5 => "/8".into(),
        6 => String::new(),
        7 => "10.0.0.0/08".into(),
        8 => "10.0.0.0/+8".into(),
        9 => "10.0.0.0/8/8".into(),
        10 => "\u{ff11}\u{ff10}.0.0.0/8".into(),
        11 => "10.0.0.0/\u{0668}".into(),
        12 => "10.0.0.0/\u{ff18}".into(),
        13 => "10.0.0/8".into(),
        14 => "10.0.0.0.0/8".into(),
        15 => "256.0.0.0/8".into(),
        16 => "fd00::1/8".into(),
        17 => "fd00::/129".into(),
        18 => "fe80::/10%eth0".into(),
        19 => "10.0.0.0 /8".into(),
        20 => "10.0.0.0/ 8".into(),
        21 => "10.0.0.0\n/8".into(),
        22 => "10.0.0.0/8\u{0}".into(),
        23 => "0x0a000000/8".into(),
        24 => "10.0.0.0/1000".into(),
        25 => "10.0.0.0/4294967304".into(),
        26 => "010.0.0.0/8".into(),
        27 => "10.0.0.0/8,10.1.0.0/16".into(),
        28 => "-10.0.0.0/8".into(),
        29 => "10.0.0.0/255.0.0.0".into(),
        30 => rng.long_in(300, 3000),
        31 => format!("{}/8", rng.long_in(10_000, 50_000)),
        32 => format!("10.0.0.0/{}", rng.long_in(5_000, 50_000)),
        _ => {
            // Host bits set, random.
            let p = rng.range(1, 30) as u8;
            let net = ipnet::Ipv4Net::new(rng.ipv4(), p).unwrap();
            let addr = u32::from(net.network()) | 1;
            format!("{}/{p}", Ipv4Addr::from(addr))
        }
    }
}

/// A super-CIDR list that is refused whatever zone it is for.
fn bad_cidr_list(rng: &mut Rng) -> Vec<Value> {
    match rng.below(5) {
        0 => vec![],
        1 => vec![json!("10.0.0.0/8"), json!("10.1.0.0/16")],
        _ => {
            let n = rng.range(1, 4) as usize;
            let mut v: Vec<Value> = (0..n).map(|_| json!(canonical_cidr(rng))).collect();
            let at = rng.below(n + 1);
            v.insert(at, json!(bad_cidr(rng)));
            v
        }
    }
}

fn netmask(rng: &mut Rng) -> String {
    let p = rng.range(0, 32) as u32;
    let m = if p == 0 { 0 } else { u32::MAX << (32 - p) };
    Ipv4Addr::from(m).to_string()
}

fn bad_netmask(rng: &mut Rng) -> String {
    match rng.below(14) {
        0 => "255.0.255.0".into(),
        1 => "255.255.255.1".into(),
        2 => "0.255.255.255".into(),
        3 => "255.255.255".into(),
        4 => "255.255.255.256".into(),
        5 => String::new(),
        6 => "/24".into(),
        7 => "24".into(),
        8 => "255.255.255.0 ".into(),
        9 => "ffff:ff00::".into(),
        10 => "255.255.255.0/24".into(),
        11 => "\u{ff12}55.255.255.0".into(),
        12 => rng.long_in(300, 40_000),
        _ => {
            let m = rng.next() as u32 | 1;
            if m == u32::MAX {
                "255.254.255.255".into()
            } else {
                Ipv4Addr::from(m | 0x8000_0000 & !0x4000_0000).to_string()
            }
        }
    }
}

fn iface(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!("eth{}", rng.range(0, 9)),
        1 => "eth2".into(),
        2 => format!("bond0.{}", rng.range(1, 4094)),
        _ => format!("v{}", rng.alnum_in(1, 14)),
    }
}

fn bad_iface(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => String::new(),
        1 => "eth0/1".into(),
        2 => "eth 0".into(),
        3 => "a234567890123456".into(),
        4 => "eth0\n".into(),
        5 => "ëth0".into(),
        6 => "eth0\u{0}".into(),
        _ => rng.long_in(16, 40_000),
    }
}

fn ip_text(rng: &mut Rng) -> String {
    if rng.chance(75) {
        rng.ipv4().to_string()
    } else {
        rng.ipv6().to_string()
    }
}

fn bad_ip(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => String::new(),
        1 => "999.1.1.1".into(),
        2 => "10.0.0".into(),
        3 => "10.0.0.1/24".into(),
        4 => "::g".into(),
        5 => " 10.0.0.1".into(),
        6 => "10.0.0.1 ".into(),
        7 => "010.000.000.001".into(),
        8 => "\u{ff11}0.0.0.1".into(),
        9 => "fe80::1%eth0".into(),
        10 => "localhost".into(),
        _ => rng.long_in(300, 50_000),
    }
}

fn router_spec(rng: &mut Rng, world: &World) -> Value {
    let name = if rng.chance(20) {
        rng.pick(&world.routers).clone()
    } else {
        format!("fzvr-{}", rng.alnum_in(1, 20))
    };
    let rid = if rng.chance(15) {
        rng.pick(&world.router_ids).clone()
    } else {
        rng.ipv4().to_string()
    };
    json!({
        "name": name,
        "router_id": rid,
        "uplink_interface": iface(rng),
        "uplink_address": format!("{}/{}", rng.ipv4(), rng.range(0, 32)),
    })
}

/// A router spec that `check_router` (or decoding) refuses.
fn bad_router_spec(rng: &mut Rng, world: &World) -> Value {
    let mut r = router_spec(rng, world);
    match rng.below(9) {
        0 => r["name"] = json!(""),
        1 => r["name"] = json!(format!("bad name {}", rng.alnum(3))),
        2 => r["name"] = json!(rng.long_in(64, 40_000)),
        3 => r["name"] = json!("vr.with.dots"),
        4 => r["router_id"] = json!("0.0.0.0"),
        5 => r["router_id"] = json!("255.255.255.255"),
        6 => r["uplink_interface"] = json!(bad_iface(rng)),
        7 => r["router_id"] = json!(bad_ip(rng)),
        _ => r["uplink_address"] = json!(bad_cidr(rng)),
    }
    r
}

fn secret_key(rng: &mut Rng, max: usize) -> String {
    const P: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&()*+,-./:;<=>?@[]^_{|}~";
    let len = rng.range(1, max as u64) as usize;
    (0..len).map(|_| P[rng.below(P.len())] as char).collect()
}

fn auth(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => json!({"type": "none"}),
        1 => json!({"type": "plaintext", "key": secret_key(rng, 8)}),
        2 => json!({"type": "md5", "key_id": rng.range(1, 255), "key": secret_key(rng, 16)}),
        _ => json!({"type": "md5", "key": secret_key(rng, 16)}),
    }
}

/// An `auth` object that is refused, and the key it carries (which no
/// error message may repeat).
fn bad_auth(rng: &mut Rng) -> (Value, Option<String>) {
    let bad_key = |rng: &mut Rng, max: usize| -> String {
        match rng.below(9) {
            0 => String::new(),
            1 => format!("{}{}", secret_key(rng, max), rng.alnum(max + 1)),
            2 => format!("sp ace{}", rng.alnum(2)),
            3 => format!("new\nline{}", rng.alnum(2)),
            4 => format!("nul\u{0}{}", rng.alnum(2)),
            5 => format!("ünï{}", rng.alnum(2)),
            6 => format!("tab\t{}", rng.alnum(2)),
            7 => format!("{}\u{7f}", rng.alnum(6)),
            _ => format!("SECRET{}", rng.long_in(100, 40_000)),
        }
    };
    match rng.below(6) {
        0 | 1 => {
            let k = bad_key(rng, 8);
            (json!({"type": "plaintext", "key": k}), Some(k))
        }
        2 | 3 => {
            let k = bad_key(rng, 16);
            let v = if rng.chance(50) {
                json!({"type": "md5", "key_id": rng.range(1, 255), "key": k})
            } else {
                json!({"type": "md5", "key": k})
            };
            (v, Some(k))
        }
        4 => {
            let k = secret_key(rng, 16);
            (json!({"type": "md5", "key_id": 0, "key": k}), Some(k))
        }
        _ => {
            let k = secret_key(rng, 16);
            let ty = rng
                .pick(&["MD5", "sha256", "", "Plaintext", "md5 ", "none\u{0}"])
                .to_string();
            (json!({"type": ty, "key": k}), Some(k))
        }
    }
}

fn backbone(rng: &mut Rng, world: &World) -> Value {
    match rng.below(5) {
        0 => json!("0.0.0.0"),
        1 => json!(Ipv4Addr::from(rng.range(0, 1000) as u32).to_string()),
        2 => json!(rng.range(0, u32::MAX as u64)),
        3 => json!(rng.range(0, 100).to_string()),
        _ => json!(rng.pick(&world.area_ids)),
    }
}

fn bad_backbone(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => json!("1.2.3"),
        1 => json!("-1"),
        2 => json!("4294967296"),
        3 => json!(4_294_967_296u64),
        4 => json!(-1),
        5 => json!(1.5),
        6 => json!("0x10"),
        7 => json!(""),
        8 => json!(" 0.0.0.1"),
        _ => json!(rng.long_in(300, 50_000)),
    }
}

// ------------------------------------------------------------ ACL values

const BUILTIN_ACLS: [&str; 2] = ["default_allow", "default_deny"];

/// An ACL list name: an own list, a built-in one, `none` (how a tier with
/// no list is shown) or a valid name of no list.
fn acl_name(rng: &mut Rng, world: &World) -> String {
    match rng.below(20) {
        0..=7 => rng.pick(&world.acls).clone(),
        8..=10 => rng.pick(&BUILTIN_ACLS).to_string(),
        11 => "none".into(),
        _ => unknown_name(rng),
    }
}

/// A name that is no list (nor valid for a new one, mostly): look-alikes
/// of the built-in lists, `*` (the built-ins' VPC in `acl.show`), bad names.
fn bad_acl(rng: &mut Rng) -> String {
    if rng.chance(25) {
        rng.pick(&[
            "DEFAULT_ALLOW",
            "default_allow ",
            " default_deny",
            "Default_Deny",
            "default-allow",
            "*",
            "default_allow\u{0}",
            "web-acl\n",
        ])
        .to_string()
    } else {
        bad_name(rng)
    }
}

/// A rule number ACL requests decode (not necessarily 1-65535).
fn rule_number(rng: &mut Rng, world: &World) -> u64 {
    match rng.below(10) {
        0..=2 => {
            let a = rng.pick(&world.acls).clone();
            *rng.pick(&world.acl_info[&a].rules) as u64
        }
        3 => rng.range(1, 65_535),
        4 => *rng.pick(&[1u64, 65_535, 65_534, 2]),
        _ => rng.range(1, 200),
    }
}

/// A rule's CIDR list that ipam accepts (overlaps are folded, white space
/// trimmed, families mixed).
fn rule_cidrs(rng: &mut Rng) -> Vec<Value> {
    let n = if rng.chance(3) {
        64
    } else {
        rng.range(1, 4) as usize
    };
    (0..n)
        .map(|_| match rng.below(20) {
            0 => json!("0.0.0.0/0"),
            1 => json!("::/0"),
            2 | 3 => json!(odd_cidr(rng)),
            _ => json!(canonical_cidr(rng)),
        })
        .collect()
}

/// A rule's CIDR list that ipam refuses: empty, too long, or with a CIDR
/// that does not parse or has host bits set.
fn bad_rule_cidrs(rng: &mut Rng) -> Vec<Value> {
    match rng.below(6) {
        0 => vec![],
        1 => {
            let n = rng.range(65, 300) as usize;
            (0..n).map(|_| json!(canonical_cidr(rng))).collect()
        }
        _ => {
            let mut v = rule_cidrs(rng);
            v.truncate(63);
            let at = rng.below(v.len() + 1);
            v.insert(at, json!(bad_cidr(rng)));
            v
        }
    }
}

/// Protocols ipam accepts (lower-case names, numbers 0-255 without leading
/// zeros, as the schema writes them).
fn protocol(rng: &mut Rng) -> String {
    if rng.chance(15) {
        rng.range(0, 255).to_string()
    } else {
        rng.pick(&[
            "all", "tcp", "udp", "icmp", "6", "17", "1", "47", "0", "255", "50",
        ])
        .to_string()
    }
}

/// Protocols that carry no ports.
const PORTLESS: [&str; 7] = ["all", "icmp", "1", "47", "0", "255", "2"];
/// Protocols an ICMP type or code (other than -1) does not apply to.
const NOT_ICMP: [&str; 8] = ["all", "tcp", "udp", "6", "17", "50", "47", "132"];
/// Protocols with ports.
const PORTED: [&str; 4] = ["tcp", "udp", "6", "17"];

fn bad_protocol(rng: &mut Rng) -> String {
    match rng.below(17) {
        0 => String::new(),
        1 => "tcpp".into(),
        2 => "256".into(),
        3 => "-1".into(),
        4 => " tcp".into(),
        5 => "tcp ".into(),
        6 => "tcp/udp".into(),
        7 => "ip".into(),
        8 => "0x06".into(),
        9 => "1e1".into(),
        10 => "\u{0666}".into(),
        11 => "icmpv6".into(),
        12 => "99999999999999999999".into(),
        13 => "t\u{0}cp".into(),
        14 => format!("tcp{}", rng.alnum(3)),
        // Spellings ipam took before issue 12; the schema never did.
        15 => rng
            .pick(&["TCP", "Udp", "ICMP", "ALL", "006", "017"])
            .to_string(),
        _ => rng.long_in(100, 40_000),
    }
}

/// Port ranges ipam accepts.
fn ports(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => "80".into(),
        1 => "443".into(),
        2 => "8000-8090".into(),
        3 => "1-65535".into(),
        4 => "22-22".into(),
        5 => rng.range(1, 65_535).to_string(),
        _ => {
            let a = rng.range(1, 65_535);
            format!("{a}-{}", rng.range(a, 65_535))
        }
    }
}

fn bad_ports(rng: &mut Rng) -> String {
    match rng.below(16) {
        0 => "0".into(),
        1 => "90-80".into(),
        2 => "65536".into(),
        3 => String::new(),
        4 => "http".into(),
        5 => "80-".into(),
        6 => "-80".into(),
        7 => "1-2-3".into(),
        8 => "80,443".into(),
        9 => "0-10".into(),
        10 => "80-65536".into(),
        11 => "8\u{0}0".into(),
        12 => "\u{ff18}\u{ff10}".into(),
        13 => rng
            .pick(&["80 90", " 22 - 22 ", "080", "08000-8090"])
            .to_string(),
        14 => {
            let b = rng.range(1, 65_534);
            format!("{}-{b}", rng.range(b + 1, 65_535))
        }
        _ => rng.long_in(100, 40_000),
    }
}

/// An ICMP type or code ipam accepts for protocol icmp (-1 is "any").
fn icmp_value(rng: &mut Rng) -> i64 {
    match rng.below(5) {
        0 => -1,
        1 => *rng.pick(&[0i64, 3, 8, 11, 255]),
        _ => rng.range(0, 255) as i64,
    }
}

/// A field value of the right JSON type, from the plausible range.
fn good_value(fk: Fk, rng: &mut Rng, world: &World) -> Value {
    match fk {
        Fk::ReqId => json!(request_id(rng)),
        Fk::Zone => json!(some_name(rng, &world.zones)),
        Fk::Vpc => json!(some_name(rng, &world.vpcs)),
        Fk::Tier => json!(some_name(rng, &world.tiers)),
        Fk::Vm => json!(some_name(rng, &world.vms)),
        Fk::Router => json!(some_name(rng, &world.routers)),
        Fk::Cidrs => {
            let n = rng.range(1, 4) as usize;
            Value::Array(
                (0..n)
                    .map(|_| {
                        if rng.chance(15) {
                            json!(odd_cidr(rng))
                        } else {
                            json!(canonical_cidr(rng))
                        }
                    })
                    .collect(),
            )
        }
        Fk::Netmask => json!(netmask(rng)),
        Fk::Prefix => json!(rng.range(0, 32)),
        Fk::Family => json!(rng.pick(&["ipv4", "ipv6"])),
        Fk::RouterSpec => router_spec(rng, world),
        Fk::Gateway | Fk::Ip => {
            if rng.chance(50) {
                let t = rng.pick(&world.tiers).clone();
                let info = &world.tier_info[&t];
                let mut c = vec![info.gateway.clone(), info.cidr.network().to_string()];
                c.extend(info.vm_ips.iter().cloned());
                if let ipnet::IpNet::V4(n) = info.cidr {
                    c.push(n.broadcast().to_string());
                    c.push(Ipv4Addr::from(u32::from(n.network()) + 7).to_string());
                }
                json!(rng.pick(&c))
            } else {
                json!(ip_text(rng))
            }
        }
        Fk::Iface => json!(iface(rng)),
        Fk::Hello | Fk::Retrans | Fk::Transmit => json!(if rng.chance(70) {
            rng.range(1, 60)
        } else {
            rng.range(1, 65535)
        }),
        Fk::Dead => json!(if rng.chance(70) {
            rng.range(2, 240)
        } else {
            rng.range(1, 65535)
        }),
        Fk::Backbone => backbone(rng, world),
        Fk::Auth => auth(rng),
        Fk::FromSeq => json!(match rng.below(5) {
            0 => u64::MAX,
            1 => 1u64 << 63,
            2 => rng.next(),
            _ => rng.range(0, 40),
        }),
        Fk::Limit => json!(match rng.below(4) {
            0 => u32::MAX as u64,
            1 => 0,
            _ => rng.range(1, 2000),
        }),
        Fk::Dialect => json!(rng.pick(&["frr", "quagga"])),
        Fk::Acl => json!(acl_name(rng, world)),
        Fk::RuleNo => json!(rule_number(rng, world)),
        Fk::RuleCidrs => Value::Array(rule_cidrs(rng)),
        Fk::Protocol => json!(protocol(rng)),
        Fk::Ports => json!(ports(rng)),
        Fk::Icmp => json!(icmp_value(rng)),
        Fk::Traffic => json!(rng.pick(&["ingress", "egress"])),
        Fk::Action => json!(rng.pick(&["allow", "deny"])),
    }
}

/// A value of the right JSON type that the field must not accept (or, for
/// lookups, that names nothing). Second: a key no message may repeat.
fn bad_value(spec: &Spec, fd: &F, rng: &mut Rng, world: &World) -> (Value, Option<String>) {
    if bad_from_schema(fd.fk) {
        let shape = field(world, spec, fd.name);
        let v = shape.out_of_range(rng);
        return (
            v.expect("the schema bounds the field or lists its values"),
            None,
        );
    }
    let v = match fd.fk {
        Fk::ReqId => json!(bad_request_id(rng)),
        Fk::Zone | Fk::Vpc | Fk::Tier | Fk::Vm | Fk::Router => json!(bad_name(rng)),
        Fk::Cidrs => Value::Array(bad_cidr_list(rng)),
        Fk::Netmask => json!(bad_netmask(rng)),
        Fk::RouterSpec => bad_router_spec(rng, world),
        Fk::Gateway | Fk::Ip => json!(bad_ip(rng)),
        Fk::Iface => json!(bad_iface(rng)),
        Fk::Backbone => bad_backbone(rng),
        Fk::Auth => return bad_auth(rng),
        Fk::Acl => json!(bad_acl(rng)),
        Fk::RuleCidrs => Value::Array(bad_rule_cidrs(rng)),
        Fk::Protocol => json!(bad_protocol(rng)),
        Fk::Ports => json!(bad_ports(rng)),
        _ => unreachable!("{:?}: its bad values are the schema's", fd.fk),
    };
    (v, None)
}

/// Fields whose refused values follow from their schema alone (integer
/// bounds, an `enum`): [`FieldShape::out_of_range`] makes them.
fn bad_from_schema(fk: Fk) -> bool {
    matches!(
        fk,
        Fk::Prefix
            | Fk::Family
            | Fk::Hello
            | Fk::Retrans
            | Fk::Transmit
            | Fk::Dead
            | Fk::FromSeq
            | Fk::Limit
            | Fk::Dialect
            | Fk::RuleNo
            | Fk::Icmp
            | Fk::Traffic
            | Fk::Action
    )
}

/// The schema's shape of one field of a subject's request.
fn field<'a>(world: &'a World, spec: &Spec, name: &str) -> &'a FieldShape {
    &world.shapes[spec.subject].fields[name]
}

/// A value of a JSON type the field does not take (any type for `None`:
/// a field the schema does not have). `null` only for required fields (an
/// absent optional field is valid).
fn wrong_type_for(shape: Option<&FieldShape>, required: bool, rng: &mut Rng) -> Value {
    loop {
        let v = match rng.below(13) {
            0 => json!(null),
            1 => json!(true),
            2 => json!(false),
            3 => json!(7),
            4 => json!(-3),
            5 => json!(2.5),
            6 => json!("text"),
            7 => json!(""),
            8 => json!([]),
            9 => json!(["10.0.0.0/8"]),
            10 => json!({}),
            11 => json!({"name": "z1"}),
            _ => json!([[1, 2], {"a": null}]),
        };
        let ok = match (&v, shape) {
            (Value::Null, _) => required,
            (_, None) => true,
            (v, Some(shape)) => !shape.takes_type_of(v),
        };
        if ok {
            return v;
        }
    }
}

// --------------------------------------------------------------- cases

#[derive(Debug, Clone)]
enum Expect {
    /// The body as a JSON array of its field values: the schemas want an
    /// object, so `invalid_request` (the poison keeps it from succeeding).
    ArrayBody,
    /// Refused while decoding: `invalid_request`.
    DecodeFail,
    /// Refused, any known code.
    Fail,
    /// Read-only request: an answer either way.
    MayOk,
    /// An exact replay of a seed request: the recorded reply.
    Replay(Value),
    /// A seed request id with another body.
    Conflict,
}

#[derive(Clone)]
struct Case {
    subject: &'static str,
    kind: &'static str,
    payload: Vec<u8>,
    expect: Expect,
    secret: Option<String>,
}

/// A valid-shaped body: every required field, each optional one half the
/// time, plausible values.
fn random_body(spec: &Spec, rng: &mut Rng, world: &World) -> Map<String, Value> {
    let required = &world.shapes[spec.subject].required;
    let mut m = Map::new();
    for fd in spec.fields {
        if required.contains(fd.name) || rng.chance(50) {
            m.insert(fd.name.into(), good_value(fd.fk, rng, world));
        }
    }
    m
}

/// Makes a body for a writing subject certain to fail, whatever else is
/// done to its other fields; returns the fields that carry the failure
/// (no later mutation may give them a plausible value) and any key.
fn poison(
    spec: &Spec,
    m: &mut Map<String, Value>,
    rng: &mut Rng,
    world: &World,
) -> (Vec<&'static str>, Option<String>) {
    // Any writing request with a bad request id fails before it is decided.
    if rng.chance(8) {
        m.insert("request_id".into(), json!(bad_request_id(rng)));
        return (vec!["request_id"], None);
    }
    let s = spec.subject;
    let unknown = |rng: &mut Rng| json!(unknown_name(rng));
    if s == subjects::ipam::ZONE_ENABLE {
        match rng.below(3) {
            0 => {
                m.insert("zone".into(), json!(rng.pick(&world.zones)));
                (vec!["zone"], None)
            }
            1 => {
                m.insert("zone".into(), json!(bad_name(rng)));
                (vec!["zone"], None)
            }
            _ => {
                m.insert("super_cidrs".into(), Value::Array(bad_cidr_list(rng)));
                (vec!["super_cidrs"], None)
            }
        }
    } else if s == subjects::ipam::ZONE_UPDATE {
        if rng.chance(50) {
            m.insert("zone".into(), unknown(rng));
            (vec!["zone"], None)
        } else {
            m.insert("super_cidrs".into(), Value::Array(bad_cidr_list(rng)));
            (vec!["super_cidrs"], None)
        }
    } else if s == subjects::ipam::VPC_ALLOCATE {
        match rng.below(9) {
            0 => {
                m.insert("vpc".into(), json!(rng.pick(&world.vpcs)));
                (vec!["vpc"], None)
            }
            1 => {
                m.insert("vpc".into(), json!(bad_name(rng)));
                (vec!["vpc"], None)
            }
            2 => {
                m.insert("zone".into(), unknown(rng));
                (vec!["zone"], None)
            }
            3 => {
                m.insert("netmask".into(), json!(netmask(rng)));
                m.insert("prefix_length".into(), json!(rng.range(0, 32)));
                (vec!["netmask", "prefix_length"], None)
            }
            4 => {
                m.remove("netmask");
                m.remove("prefix_length");
                (vec!["netmask", "prefix_length"], None)
            }
            5 => {
                m.insert("netmask".into(), json!(bad_netmask(rng)));
                m.remove("prefix_length");
                (vec!["netmask", "prefix_length"], None)
            }
            6 => {
                let bad = field(world, spec, "prefix_length").out_of_range(rng);
                m.insert("prefix_length".into(), bad.expect("bounded"));
                (vec!["prefix_length"], None)
            }
            7 => {
                // z1 is a /16: no IPv4 block shorter than that fits.
                m.insert("zone".into(), json!("z1"));
                m.insert("family".into(), json!("ipv4"));
                m.remove("netmask");
                m.insert("prefix_length".into(), json!(rng.range(0, 15)));
                (vec!["zone", "family", "netmask", "prefix_length"], None)
            }
            _ => {
                let r = if rng.chance(50) {
                    bad_router_spec(rng, world)
                } else {
                    // A valid spec with the name of a router in use.
                    let mut r = router_spec(rng, world);
                    r["name"] = json!(rng.pick(&world.routers));
                    r["router_id"] = json!(format!(
                        "10.254.{}.{}",
                        rng.range(0, 255),
                        rng.range(1, 254)
                    ));
                    r["uplink_interface"] = json!("eth1");
                    r
                };
                m.insert("router".into(), r);
                (vec!["router"], None)
            }
        }
    } else if s == subjects::ipam::VPC_RELEASE || s == subjects::ipam::TIER_RELEASE {
        // Every seeded VPC has a tier and every tier a VM: any name fails.
        (vec![], None)
    } else if s == subjects::ipam::VM_RELEASE {
        m.insert("name".into(), unknown(rng));
        (vec!["name"], None)
    } else if s == subjects::ipam::TIER_ALLOCATE {
        match rng.below(9) {
            0 => {
                m.insert("tier".into(), json!(rng.pick(&world.tiers)));
                (vec!["tier"], None)
            }
            1 => {
                m.insert("tier".into(), json!(bad_name(rng)));
                (vec!["tier"], None)
            }
            2 => {
                m.insert("vpc".into(), unknown(rng));
                (vec!["vpc"], None)
            }
            3 => {
                m.insert("netmask".into(), json!(netmask(rng)));
                m.insert("prefix_length".into(), json!(rng.range(0, 32)));
                (vec!["netmask", "prefix_length"], None)
            }
            4 => {
                m.remove("netmask");
                m.remove("prefix_length");
                (vec!["netmask", "prefix_length"], None)
            }
            5 => {
                m.insert("gateway".into(), json!(bad_ip(rng)));
                (vec!["gateway"], None)
            }
            6 => {
                m.insert("interface".into(), json!(bad_iface(rng)));
                (vec!["interface"], None)
            }
            7 => {
                // No list, or a list of another VPC (or of none).
                let i = rng.below(world.vpcs.len());
                m.insert("vpc".into(), json!(world.vpcs[i]));
                m.insert("acl".into(), json!(foreign_acl(rng, world, &world.vpcs[i])));
                (vec!["vpc", "acl"], None)
            }
            _ => {
                // The gateway and size of an existing tier, in its VPC.
                let i = rng.below(world.tiers.len());
                let info = &world.tier_info[&world.tiers[i]];
                m.insert("vpc".into(), json!(world.vpcs[i]));
                m.insert("gateway".into(), json!(info.gateway));
                m.insert("prefix_length".into(), json!(info.cidr.prefix_len()));
                m.remove("netmask");
                (vec!["vpc", "gateway", "prefix_length", "netmask"], None)
            }
        }
    } else if s == subjects::ipam::VM_ALLOCATE {
        match rng.below(6) {
            0 => {
                m.insert("vm".into(), json!(rng.pick(&world.vms)));
                (vec!["vm"], None)
            }
            1 => {
                m.insert("vm".into(), json!(bad_name(rng)));
                (vec!["vm"], None)
            }
            2 => {
                m.insert("tier".into(), unknown(rng));
                (vec!["tier"], None)
            }
            3 => {
                m.insert("ip".into(), json!(bad_ip(rng)));
                (vec!["ip"], None)
            }
            _ => {
                // An address of an existing tier no VM may get.
                let t = rng.pick(&world.tiers).clone();
                let info = &world.tier_info[&t];
                let mut c = vec![info.gateway.clone(), info.cidr.network().to_string()];
                c.extend(info.vm_ips.iter().cloned());
                if let ipnet::IpNet::V4(n) = info.cidr {
                    c.push(n.broadcast().to_string());
                    c.push("192.0.2.1".into());
                } else {
                    c.push("2001:db8::1".into());
                    c.push("10.20.0.9".into());
                }
                m.insert("tier".into(), json!(t));
                m.insert("ip".into(), json!(rng.pick(&c)));
                (vec!["tier", "ip"], None)
            }
        }
    } else if s == subjects::ipam::ACL_CREATE {
        match rng.below(5) {
            0 => {
                let a = if rng.chance(70) {
                    rng.pick(&world.acls).clone()
                } else {
                    rng.pick(&BUILTIN_ACLS).to_string()
                };
                m.insert("acl".into(), json!(a));
                (vec!["acl"], None)
            }
            1 => {
                m.insert("acl".into(), json!(bad_name(rng)));
                (vec!["acl"], None)
            }
            2 => {
                m.insert("acl".into(), json!("none"));
                (vec!["acl"], None)
            }
            _ => {
                m.insert("vpc".into(), unknown(rng));
                (vec!["vpc"], None)
            }
        }
    } else if s == subjects::ipam::ACL_DELETE {
        // Every own list is attached to a tier, the built-in ones cannot
        // be deleted, and any other name is no list: any name fails.
        (vec![], None)
    } else if s == subjects::ipam::ACL_RULE_ADD {
        // Each refusal below holds whatever the other fields are.
        match rng.below(11) {
            0 => {
                let a = match rng.below(4) {
                    0 => rng.pick(&BUILTIN_ACLS).to_string(),
                    1 => bad_acl(rng),
                    2 => "none".into(),
                    _ => unknown_name(rng),
                };
                m.insert("acl".into(), json!(a));
                (vec!["acl"], None)
            }
            1 | 2 => {
                // A number the list already has.
                let a = rng.pick(&world.acls).clone();
                let n = *rng.pick(&world.acl_info[&a].rules);
                m.insert("acl".into(), json!(a));
                m.insert("number".into(), json!(n));
                (vec!["acl", "number"], None)
            }
            3 => {
                let bad = field(world, spec, "number").out_of_range(rng);
                m.insert("number".into(), bad.expect("bounded"));
                (vec!["number"], None)
            }
            4 => {
                m.insert("cidrs".into(), Value::Array(bad_rule_cidrs(rng)));
                (vec!["cidrs"], None)
            }
            5 => {
                m.insert("protocol".into(), json!(bad_protocol(rng)));
                (vec!["protocol"], None)
            }
            6 => {
                // Ports for a protocol without ports.
                m.insert("protocol".into(), json!(rng.pick(&PORTLESS)));
                m.insert("ports".into(), json!(ports(rng)));
                (vec!["protocol", "ports"], None)
            }
            7 => {
                // Ports that are no port range, for tcp or udp.
                m.insert("protocol".into(), json!(rng.pick(&PORTED)));
                m.insert("ports".into(), json!(bad_ports(rng)));
                (vec!["protocol", "ports"], None)
            }
            8 => {
                // An ICMP type or code for another protocol.
                let f = *rng.pick(&["icmp_type", "icmp_code"]);
                m.insert("protocol".into(), json!(rng.pick(&NOT_ICMP)));
                m.insert(f.into(), json!(rng.range(0, 255)));
                (vec!["protocol", f], None)
            }
            9 => {
                // An ICMP code without a type.
                m.insert("protocol".into(), json!(rng.pick(&["icmp", "1"])));
                if rng.chance(50) {
                    m.remove("icmp_type");
                } else {
                    m.insert("icmp_type".into(), json!(-1));
                }
                m.insert("icmp_code".into(), json!(rng.range(0, 255)));
                (vec!["protocol", "icmp_type", "icmp_code"], None)
            }
            _ => {
                // An ICMP type or code out of range, for any protocol.
                let f = *rng.pick(&["icmp_type", "icmp_code"]);
                let bad = field(world, spec, f).out_of_range(rng);
                m.insert(f.into(), bad.expect("bounded"));
                (vec![f], None)
            }
        }
    } else if s == subjects::ipam::ACL_RULE_DELETE {
        if rng.chance(40) {
            let a = match rng.below(4) {
                0 => rng.pick(&BUILTIN_ACLS).to_string(),
                1 => bad_acl(rng),
                2 => "none".into(),
                _ => unknown_name(rng),
            };
            m.insert("acl".into(), json!(a));
            (vec!["acl"], None)
        } else {
            // An own list and a number it does not have.
            let a = rng.pick(&world.acls).clone();
            let have = &world.acl_info[&a].rules;
            let n = if rng.chance(20) {
                field(world, spec, "number")
                    .out_of_range(rng)
                    .expect("bounded")
            } else {
                loop {
                    let n = rule_number(rng, world);
                    if !have.contains(&(n as u32)) {
                        break json!(n);
                    }
                }
            };
            m.insert("acl".into(), json!(a));
            m.insert("number".into(), json!(n));
            (vec!["acl", "number"], None)
        }
    } else if s == subjects::ipam::TIER_SET_ACL {
        match rng.below(4) {
            0 => {
                m.insert("tier".into(), unknown(rng));
                (vec!["tier"], None)
            }
            1 => {
                m.insert("tier".into(), json!(bad_name(rng)));
                (vec!["tier"], None)
            }
            2 => {
                m.insert("acl".into(), json!(bad_acl(rng)));
                (vec!["acl"], None)
            }
            _ => {
                // A tier and a list it may not have (another VPC's, none).
                let i = rng.below(world.tiers.len());
                m.insert("tier".into(), json!(world.tiers[i]));
                m.insert("acl".into(), json!(foreign_acl(rng, world, &world.vpcs[i])));
                (vec!["tier", "acl"], None)
            }
        }
    } else if s == subjects::areas::ZONE_SET {
        match rng.below(9) {
            0 | 1 | 3 | 4 => {
                // A timer out of the schema's range.
                let timers = [
                    "hello_interval",
                    "dead_interval",
                    "retransmit_interval",
                    "transmit_delay",
                ];
                let t = *rng.pick(&timers);
                let bad = field(world, spec, t).out_of_range(rng);
                m.insert(t.into(), bad.expect("bounded"));
                (vec![t], None)
            }
            2 => {
                let hello = rng.range(1, 65535);
                m.insert("hello_interval".into(), json!(hello));
                m.insert("dead_interval".into(), json!(rng.range(1, hello)));
                (vec!["hello_interval", "dead_interval"], None)
            }
            5 => {
                let (a, key) = bad_auth(rng);
                m.insert("auth".into(), a);
                (vec!["auth"], key)
            }
            6 => {
                m.insert("zone".into(), json!(bad_name(rng)));
                (vec!["zone"], None)
            }
            7 => {
                m.insert(
                    "request_id".into(),
                    json!(format!("ipam:{}", rng.range(0, 99))),
                );
                (vec!["request_id"], None)
            }
            _ => {
                m.insert("backbone".into(), json!(rng.pick(&world.area_ids)));
                (vec!["backbone"], None)
            }
        }
    } else {
        unreachable!("{s} does not write")
    }
}

/// A list no tier of `vpc` may have: another VPC's own list, `none`, or a
/// valid name of no list.
fn foreign_acl(rng: &mut Rng, world: &World, vpc: &str) -> String {
    let others: Vec<&String> = world
        .acls
        .iter()
        .filter(|a| world.acl_info[*a].vpc != vpc)
        .collect();
    match rng.below(5) {
        0 => "none".into(),
        1 => unknown_name(rng),
        _ => (*rng.pick(&others)).clone(),
    }
}

/// Fields (top-level, or nested in an object the body holds: `router.x`,
/// `auth.x`) that may be given a wrong type or removed, with their schema
/// shape and whether the schema requires them.
fn paths<'a>(
    spec: &Spec,
    m: &Map<String, Value>,
    world: &'a World,
) -> Vec<(String, Option<String>, &'a FieldShape, bool)> {
    let shape = &world.shapes[spec.subject];
    let mut out = Vec::new();
    for (name, fs) in &shape.fields {
        out.push((name.clone(), None, fs, shape.required.contains(name)));
        let value = m.get(name).filter(|v| v.is_object());
        if let Some(inner) = value.and_then(|v| fs.object_for(v)) {
            for (sub, sub_shape) in &inner.fields {
                let required = inner.required.contains(sub);
                out.push((name.clone(), Some(sub.clone()), sub_shape, required));
            }
        }
    }
    out
}

fn set_path(m: &mut Map<String, Value>, top: &str, sub: &Option<String>, v: Option<Value>) {
    match sub {
        None => match v {
            Some(v) => {
                m.insert(top.into(), v);
            }
            None => {
                m.remove(top);
            }
        },
        Some(sub) => {
            if let Some(Value::Object(inner)) = m.get_mut(top) {
                match v {
                    Some(v) => {
                        inner.insert(sub.clone(), v);
                    }
                    None => {
                        inner.remove(sub);
                    }
                }
            }
        }
    }
}

fn nested(depth: usize, rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        1 => "[".repeat(depth),
        2 => format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)),
        _ => format!("{}{}", "[{\"a\":".repeat(depth / 2), "}]".repeat(depth / 2)),
    }
}

/// A case for a request without fields (`service.status`, `{}`): the
/// empty object, which it answers, or a body it must refuse.
fn fieldless_case(spec: &Spec, rng: &mut Rng) -> Case {
    let (kind, payload, expect): (_, &[u8], _) = match rng.below(5) {
        0 => ("valid_shaped", b"{}", Expect::MayOk),
        1 => ("unknown_field", br#"{"verbose":true}"#, Expect::DecodeFail),
        2 => ("not_an_object", br#""status""#, Expect::DecodeFail),
        3 => ("truncated", b"{", Expect::DecodeFail),
        _ => ("array_body", b"[]", Expect::ArrayBody),
    };
    Case {
        subject: spec.subject,
        kind,
        payload: payload.to_vec(),
        expect,
        secret: None,
    }
}

fn to_bytes(m: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(m).expect("json")
}

/// Replaces one field's JSON with `raw` (e.g. deep nesting) in the text.
fn with_raw_field(m: &Map<String, Value>, field: &str, raw: &str) -> Vec<u8> {
    let mut m = m.clone();
    m.insert(field.into(), json!("@@RAW@@"));
    let text = serde_json::to_string(&m).unwrap();
    text.replacen("\"@@RAW@@\"", raw, 1).into_bytes()
}

/// Whether a writing subject's service decodes `payload` into its request
/// type (then a reused request id is noticed before anything else).
fn decodes(subject: &str, payload: &[u8]) -> bool {
    use vpcroute_bus::decode_request as d;
    use vpcroute_protocol::{acl, areas, ipam};
    match subject {
        subjects::ipam::ZONE_ENABLE => d::<ipam::ZoneEnable>(payload).is_ok(),
        subjects::ipam::ZONE_UPDATE => d::<ipam::ZoneUpdate>(payload).is_ok(),
        subjects::ipam::VPC_ALLOCATE => d::<ipam::VpcAllocate>(payload).is_ok(),
        subjects::ipam::TIER_ALLOCATE => d::<ipam::TierAllocate>(payload).is_ok(),
        subjects::ipam::VM_ALLOCATE => d::<ipam::VmAllocate>(payload).is_ok(),
        subjects::ipam::VPC_RELEASE
        | subjects::ipam::TIER_RELEASE
        | subjects::ipam::VM_RELEASE
        | subjects::ipam::ACL_DELETE => d::<ipam::Release>(payload).is_ok(),
        subjects::ipam::ACL_CREATE => d::<acl::AclCreate>(payload).is_ok(),
        subjects::ipam::ACL_RULE_ADD => d::<acl::AclRuleAdd>(payload).is_ok(),
        subjects::ipam::ACL_RULE_DELETE => d::<acl::AclRuleDelete>(payload).is_ok(),
        subjects::ipam::TIER_SET_ACL => d::<acl::TierSetAcl>(payload).is_ok(),
        subjects::areas::ZONE_SET => d::<areas::ZoneOspfSet>(payload).is_ok(),
        other => unreachable!("{other} does not write"),
    }
}

/// Every invalid example of `schemas/` (each request subject's
/// `*.request.invalid.jsonl`), as a case: each must be refused with a
/// structured error (`invalid_request` when serde refuses it, as the
/// line's `refused_by` says) and change nothing. Every subject of the
/// index must be one of [`SPECS`] (router-sync's are indexed as patterns).
fn schema_invalid_cases(schemas: &Schemas) -> Vec<Case> {
    let mut out = Vec::new();
    for (pattern, request, _) in schemas.subjects() {
        let subject = SPECS
            .iter()
            .map(|spec| spec.subject)
            .find(|s| subjects::subject_matches(pattern, s))
            .unwrap_or_else(|| {
                panic!("{pattern} (schemas/index.json) is not fuzzed: add it to SPECS")
            });
        for ex in schemas.invalid_examples(request) {
            let expect = match (&ex.example, ex.refused_by) {
                (Value::Array(_), _) => Expect::ArrayBody,
                (_, RefusedBy::Serde) => Expect::DecodeFail,
                (_, RefusedBy::Parser | RefusedBy::Service) => Expect::Fail,
            };
            let key = ex.example.pointer("/auth/key").and_then(Value::as_str);
            out.push(Case {
                subject,
                kind: "schema_invalid",
                payload: serde_json::to_vec(&ex.example).expect("json"),
                expect,
                secret: key.filter(|k| k.len() >= 6).map(str::to_string),
            });
        }
    }
    out
}

fn make_case(seed: u64, i: usize, world: &World) -> Case {
    let mut rng = Rng::for_case(seed, i);
    let spec = &SPECS[i % SPECS.len()];
    if spec.fields.is_empty() {
        return fieldless_case(spec, &mut rng);
    }
    let mut m = random_body(spec, &mut rng, world);
    let (poisoned, mut secret) = if spec.writes {
        poison(spec, &mut m, &mut rng, world)
    } else {
        (vec![], None)
    };
    let semantic_expect = if spec.writes {
        Expect::Fail
    } else {
        Expect::MayOk
    };
    let fields_free: Vec<&F> = spec
        .fields
        .iter()
        .filter(|fd| !poisoned.contains(&fd.name))
        .collect();
    let roll = rng.below(1000);
    let (kind, payload, expect) = match roll {
        // Valid-shaped, random values.
        0..=219 => ("valid_shaped", to_bytes(&m), semantic_expect),
        // One field given an invalid value of the right type.
        220..=449 => {
            if fields_free.is_empty() {
                ("valid_shaped", to_bytes(&m), semantic_expect)
            } else {
                let fd = *rng.pick(&fields_free);
                let (v, key) = bad_value(spec, fd, &mut rng, world);
                if key.is_some() {
                    secret = key;
                }
                m.insert(fd.name.into(), v);
                let e = if spec.writes || is_router_list(spec.subject) {
                    semantic_expect
                } else if fd.name == PAGE_TOKEN {
                    Expect::MayOk
                } else {
                    Expect::Fail
                };
                ("bad_value", to_bytes(&m), e)
            }
        }
        // A wrong JSON type (top-level or nested field).
        450..=589 => {
            let ps = paths(spec, &m, world);
            let (top, sub, shape, req) = rng.pick(&ps).clone();
            let v = wrong_type_for(Some(shape), req, &mut rng);
            set_path(&mut m, &top, &sub, Some(v));
            ("wrong_type", to_bytes(&m), Expect::DecodeFail)
        }
        // A required field missing.
        590..=659 => {
            let ps: Vec<_> = paths(spec, &m, world)
                .into_iter()
                .filter(|(top, sub, _, req)| {
                    *req && (sub.is_none()
                        || m.get(top.as_str())
                            .is_some_and(|v| v.get(sub.as_ref().unwrap()).is_some()))
                })
                .collect();
            if ps.is_empty() {
                m.insert("x_fz_extra".into(), json!(1));
            } else {
                let (top, sub, _, _) = rng.pick(&ps).clone();
                set_path(&mut m, &top, &sub, None);
            }
            ("missing_field", to_bytes(&m), Expect::DecodeFail)
        }
        // An unknown field, maybe with a huge name.
        660..=739 => {
            let name = match rng.below(6) {
                0 => rng.long_in(1000, 60_000),
                1 => "Request_Id".to_string(),
                2 => "".to_string(),
                3 => "x_fz\u{0}nul".to_string(),
                _ => format!("x_fz_{}", rng.alnum(8)),
            };
            let v = wrong_type_for(None, true, &mut rng);
            let nested_in = spec.fields.iter().find(|fd| {
                matches!(fd.fk, Fk::RouterSpec | Fk::Auth)
                    && m.get(fd.name).is_some_and(Value::is_object)
            });
            match nested_in {
                Some(fd) if rng.chance(40) => {
                    m[fd.name].as_object_mut().unwrap().insert(name, v);
                }
                _ => {
                    m.insert(name, v);
                }
            }
            ("extra_field", to_bytes(&m), Expect::DecodeFail)
        }
        // Malformed JSON.
        740..=869 => {
            let text = to_bytes(&m);
            let (p, e): (Vec<u8>, Expect) = match rng.below(14) {
                0 => {
                    let cut = rng.below(text.len());
                    (text[..cut].to_vec(), Expect::DecodeFail)
                }
                1 => {
                    let n = rng.range(1, 400) as usize;
                    let b: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    (b, Expect::DecodeFail)
                }
                2 => {
                    // Invalid UTF-8 inside a string.
                    let mut t = text.clone();
                    let pos = t.iter().position(|&b| b == b'"').unwrap_or(0) + 1;
                    let bad: &[u8] = rng.pick::<&[u8]>(&[
                        &b"\xff"[..],
                        b"\xc3\x28",
                        b"\xed\xa0\x80",
                        b"\xf0\x28\x8c",
                    ]);
                    t.splice(pos..pos, bad.iter().copied());
                    (t, Expect::DecodeFail)
                }
                3 => {
                    let mut t = text.clone();
                    t.extend_from_slice(rng.pick::<&[u8]>(&[
                        &b" x"[..],
                        b"{}",
                        b",",
                        b"\x00",
                        b"]",
                    ]));
                    (t, Expect::DecodeFail)
                }
                4 => {
                    let mut t = b"\xef\xbb\xbf".to_vec();
                    t.extend_from_slice(&text);
                    (t, Expect::DecodeFail)
                }
                5 => {
                    // A duplicate key.
                    let first = spec.fields[0].name;
                    let mut t = text.clone();
                    t.pop();
                    if t.len() > 1 {
                        t.push(b',');
                    }
                    t.extend_from_slice(format!("\"{first}\":\"dup\"}}").as_bytes());
                    (t, Expect::DecodeFail)
                }
                6 => {
                    let p = rng
                        .pick(&[
                            "null",
                            "[]",
                            "42",
                            "\"str\"",
                            "true",
                            "[{}]",
                            "{}}",
                            "{,}",
                            "{'name':'z1'}",
                            "{\"a\":NaN}",
                            "{\"a\":Infinity}",
                            "/* c */ {}",
                            "{\"a\":1,}",
                            "\u{0}",
                            "{\"\\ud800\":1}",
                        ])
                        .to_string();
                    // `{}` and friends may be a valid router.list request.
                    let e = if spec.subject == subjects::config::ROUTER_LIST && p == "[]" {
                        Expect::MayOk
                    } else {
                        Expect::DecodeFail
                    };
                    (p.into_bytes(), e)
                }
                7 => {
                    // The body as an array of its values (serde accepts
                    // that form for structs; the schemas do not).
                    // In field order, so the poison stays where it was.
                    let last = spec.fields.iter().rposition(|fd| m.contains_key(fd.name));
                    let arr: Vec<Value> = spec.fields[..last.map_or(0, |l| l + 1)]
                        .iter()
                        .map(|fd| m.get(fd.name).cloned().unwrap_or(Value::Null))
                        .collect();
                    (serde_json::to_vec(&arr).unwrap(), Expect::ArrayBody)
                }
                8 => {
                    // A string escape that is not valid.
                    let mut t = text.clone();
                    let pos = t.iter().position(|&b| b == b'"').unwrap_or(0) + 1;
                    let bad: &[u8] =
                        rng.pick::<&[u8]>(&[&b"\\x41"[..], b"\\u12", b"\\uDC00", b"\\"]);
                    t.splice(pos..pos, bad.iter().copied());
                    (t, Expect::DecodeFail)
                }
                9 => (Vec::new(), Expect::DecodeFail),
                10 => (b"   \n\t ".to_vec(), Expect::DecodeFail),
                11 => {
                    // A raw control character inside a string.
                    let mut t = text.clone();
                    let pos = t.iter().position(|&b| b == b'"').unwrap_or(0) + 1;
                    t.insert(pos, rng.range(0, 31) as u8);
                    (t, Expect::DecodeFail)
                }
                12 => {
                    // Number forms JSON does not have.
                    let p = rng.pick(&["+1", "01", ".5", "1.", "0x10", "1e", "-"]);
                    let f = spec
                        .fields
                        .iter()
                        .find(|fd| field(world, spec, fd.name).types.contains("integer"))
                        .map_or(spec.fields[0].name, |fd| fd.name);
                    (with_raw_field(&m, f, p), Expect::DecodeFail)
                }
                _ => {
                    let mut t = text.clone();
                    for _ in 0..rng.range(1, 4) {
                        let at = rng.below(t.len());
                        t[at] = rng.next() as u8;
                    }
                    match serde_json::from_slice::<Value>(&t) {
                        // Still JSON: the flip may have removed the poison
                        // (turned an existing name into a new one).
                        Ok(_) if spec.writes => {
                            let cut = rng.below(text.len());
                            (text[..cut].to_vec(), Expect::DecodeFail)
                        }
                        Ok(_) => (t, Expect::MayOk),
                        Err(_) => (t, Expect::DecodeFail),
                    }
                }
            };
            // An empty or blank router.list request is valid (no filter),
            // and so is any JSON that is not an array.
            let e = if is_router_list(spec.subject)
                && (p.iter().all(u8::is_ascii_whitespace)
                    || (!matches!(e, Expect::ArrayBody)
                        && serde_json::from_slice::<Value>(&p).is_ok()))
            {
                Expect::MayOk
            } else {
                e
            };
            let kind = if matches!(e, Expect::ArrayBody) {
                "array_body"
            } else {
                "malformed"
            };
            (kind, p, e)
        }
        // Deep nesting, in a field or as the whole body.
        870..=904 => {
            let depth = *rng.pick(&[127usize, 128, 129, 1000, 10_000, 20_000]);
            let raw = nested(depth, &mut rng);
            let p = if rng.chance(30) {
                raw.into_bytes()
            } else {
                let fd = rng.pick(spec.fields);
                if matches!(fd.fk, Fk::RouterSpec | Fk::Auth) && rng.chance(50) {
                    // Inside the nested object.
                    let inner_key = if fd.fk == Fk::Auth { "key" } else { "name" };
                    let mut inner = match m.get(fd.name) {
                        Some(Value::Object(o)) => o.clone(),
                        _ => Map::new(),
                    };
                    inner.insert(inner_key.into(), json!("@@RAW@@"));
                    let mut m2 = m.clone();
                    m2.insert(fd.name.into(), Value::Object(inner));
                    serde_json::to_string(&m2)
                        .unwrap()
                        .replacen("\"@@RAW@@\"", &raw, 1)
                        .into_bytes()
                } else {
                    with_raw_field(&m, fd.name, &raw)
                }
            };
            ("deep_nesting", p, Expect::DecodeFail)
        }
        // Over-long strings that still fit under the decode limit.
        905..=949 => {
            let text_fields: Vec<&F> = fields_free
                .iter()
                .copied()
                .filter(|fd| field(world, spec, fd.name).types.contains("string"))
                .collect();
            if text_fields.is_empty() {
                let name = rng.long_in(20_000, 60_000);
                m.insert(name, json!(1));
                ("long_string", to_bytes(&m), Expect::DecodeFail)
            } else {
                let fd = *rng.pick(&text_fields);
                let len = *rng.pick(&[129usize, 256, 1000, 30_000, 60_000]);
                m.insert(fd.name.into(), json!(rng.long(len)));
                let e = if spec.writes {
                    Expect::Fail
                } else if is_router_list(spec.subject) || fd.name == PAGE_TOKEN {
                    Expect::MayOk
                } else {
                    Expect::Fail
                };
                ("long_string", to_bytes(&m), e)
            }
        }
        // Payloads over the 64 KiB decode limit, some near 1 MiB.
        950..=989 => {
            let size = if rng.chance(15) {
                ABOUT_ONE_MIB - rng.below(4096)
            } else {
                DECODE_LIMIT + 1 + rng.below(200_000)
            };
            let p = match rng.below(4) {
                0 => {
                    // Valid-shaped, padded with white space.
                    let mut t = to_bytes(&m);
                    let pad = size.saturating_sub(t.len());
                    t.splice(0..0, std::iter::repeat_n(b' ', pad));
                    t
                }
                1 => {
                    let fd = rng.pick(spec.fields);
                    let mut m2 = m.clone();
                    let room = size.saturating_sub(to_bytes(&m).len() + 64);
                    m2.insert(fd.name.into(), json!(rng.long(room)));
                    // The field's old value, replaced, may leave it just
                    // under the limit (seen: 65,514 bytes): pad it over.
                    let mut t = to_bytes(&m2);
                    let short = (DECODE_LIMIT + 1).saturating_sub(t.len());
                    t.splice(0..0, std::iter::repeat_n(b' ', short));
                    t
                }
                2 => {
                    // A huge array of small values.
                    let n = size / 14;
                    let mut t = String::with_capacity(size + 64);
                    t.push_str("{\"super_cidrs\":[");
                    for k in 0..n {
                        if k > 0 {
                            t.push(',');
                        }
                        t.push_str("\"10.0.0.0/8\"");
                    }
                    t.push_str("]}");
                    t.into_bytes()
                }
                _ => {
                    let mut b = vec![0u8; size];
                    let mut x = rng.next();
                    for c in b.chunks_mut(8) {
                        x = mix64(x);
                        let bytes = x.to_le_bytes();
                        c.copy_from_slice(&bytes[..c.len()]);
                    }
                    b
                }
            };
            ("huge", p, Expect::DecodeFail)
        }
        // Seed request ids: an exact replay, or reuse with another body.
        _ => {
            let same: Vec<&(&str, Value, Value)> = world
                .seeds
                .iter()
                .filter(|(s, _, _)| *s == spec.subject)
                .collect();
            let ipam_seeds: Vec<&(&str, Value, Value)> = world
                .seeds
                .iter()
                .filter(|(s, _, _)| s.starts_with("vpcroute.ipam."))
                .collect();
            let areas_seeds: Vec<&(&str, Value, Value)> = world
                .seeds
                .iter()
                .filter(|(s, _, _)| s.starts_with("vpcroute.areas."))
                .collect();
            if !spec.writes {
                ("valid_shaped", to_bytes(&m), Expect::MayOk)
            } else if !same.is_empty() && rng.chance(50) {
                let (_, body, reply) = *rng.pick(&same);
                (
                    "seed_replay",
                    serde_json::to_vec(body).unwrap(),
                    Expect::Replay(reply.clone()),
                )
            } else {
                let pool = if spec.subject.starts_with("vpcroute.areas.") {
                    &areas_seeds
                } else {
                    &ipam_seeds
                };
                let (_, body, reply) = *rng.pick(pool);
                if poisoned.contains(&"request_id") {
                    m.insert("request_id".into(), json!(format!("fz-{:x}", rng.next())));
                    if spec.subject == subjects::areas::ZONE_SET {
                        m.insert("hello_interval".into(), json!(0));
                    } else {
                        m.insert("x_fz_extra".into(), json!(1));
                    }
                }
                let ok_before = !m.contains_key("x_fz_extra");
                m.insert("request_id".into(), body["request_id"].clone());
                // The request id is looked at only once the body decodes;
                // a poison may be one it does not (a router id that is no
                // IPv4 address).
                let e = if Value::Object(m.clone()) == *body {
                    // The poison happened to give the seed's own body back
                    // (seed 0x5eedf02200000001, case #44455: acl.create
                    // with the seed's acl name): an exact replay.
                    Expect::Replay(reply.clone())
                } else if ok_before && decodes(spec.subject, &to_bytes(&m)) {
                    Expect::Conflict
                } else {
                    Expect::DecodeFail
                };
                ("seed_id_reuse", to_bytes(&m), e)
            }
        }
    };
    Case {
        subject: spec.subject,
        kind,
        payload,
        expect,
        secret: secret.filter(|k| k.len() >= 6),
    }
}

// -------------------------------------------------------------- checking

#[derive(Default)]
struct Stats {
    per_subject: BTreeMap<&'static str, SubjectStats>,
    /// (category, what) → (count, first example).
    violations: BTreeMap<(&'static str, String), (usize, String)>,
    max_latency: Duration,
}

#[derive(Default)]
struct SubjectStats {
    cases: usize,
    ok: usize,
    codes: BTreeMap<String, usize>,
    kinds: BTreeMap<&'static str, usize>,
}

fn clip(b: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned();
    if b.len() > n {
        format!("{s}...({} bytes)", b.len())
    } else {
        s
    }
}

/// Whether `message` repeats more than [`MAX_ECHO`] consecutive
/// characters of the request (checked with windows every 25 characters,
/// so any echo of ~225+ characters is found).
fn echoes(message: &str, payload: &[u8]) -> bool {
    if message.len() <= MAX_ECHO {
        return false;
    }
    let hay = String::from_utf8_lossy(payload);
    let m = message.as_bytes();
    let mut start = 0;
    while start + MAX_ECHO <= m.len() {
        if let Ok(w) = std::str::from_utf8(&m[start..start + MAX_ECHO]) {
            if hay.contains(w) {
                return true;
            }
        }
        start += 25;
    }
    false
}

/// A problem with a reply: its category (see `VPCROUTE_FUZZ_TOLERATE`)
/// and what is wrong.
type Problem = (&'static str, String);

/// Checks one reply; returns the problems found and the error code.
fn check(case: &Case, reply: &[u8]) -> (Vec<Problem>, Option<String>) {
    let mut problems: Vec<Problem> = Vec::new();
    let v: Value = match serde_json::from_slice(reply) {
        Ok(v) => v,
        Err(e) => return (vec![("envelope", format!("reply is not JSON: {e}"))], None),
    };
    let obj = match v.as_object() {
        Some(o) if o.len() == 1 => o,
        _ => {
            return (
                vec![("envelope", "reply is not a one-key envelope".into())],
                None,
            )
        }
    };
    let (key, inner) = obj.iter().next().unwrap();
    let code = match key.as_str() {
        "ok" => None,
        "error" => match serde_json::from_value::<ErrorBody>(inner.clone()) {
            Ok(body) => {
                if body.code == ErrorCode::Internal {
                    problems.push(("internal", "`internal` error for a client mistake".into()));
                }
                if echoes(&body.message, &case.payload) {
                    problems.push((
                        "echo",
                        format!("error message echoes > {MAX_ECHO} characters of the request"),
                    ));
                }
                if let Some(k) = &case.secret {
                    if body.message.contains(k.as_str()) {
                        problems.push((
                            "secret",
                            "error message contains the request's OSPF key".into(),
                        ));
                    }
                }
                Some(body.code)
            }
            Err(e) => {
                return (
                    vec![(
                        "envelope",
                        format!("error object is not {{code,message}} with a known code: {e}"),
                    )],
                    None,
                )
            }
        },
        other => return (vec![("envelope", format!("envelope key {other:?}"))], None),
    };
    match (&case.expect, code) {
        (Expect::ArrayBody, Some(ErrorCode::InvalidRequest)) => {}
        (Expect::ArrayBody, c) => problems.push((
            "array_body",
            format!("a JSON array body was decoded as the request (answered {c:?})"),
        )),
        (Expect::MayOk, _) => {}
        (Expect::DecodeFail, Some(ErrorCode::InvalidRequest)) => {}
        (Expect::DecodeFail, Some(c)) => problems.push((
            if case.kind == "extra_field" && case.subject == subjects::areas::ZONE_SET {
                "unit_variant_extra"
            } else {
                "decode"
            },
            format!("undecodable request answered {c}, not invalid_request"),
        )),
        (Expect::DecodeFail | Expect::Fail, None) => {
            problems.push(("accepted", "invalid request accepted (ok)".into()))
        }
        (Expect::Fail, Some(_)) => {}
        (Expect::Replay(want), None) => {
            if inner != want {
                problems.push(("replay", "seed replay answered with another result".into()));
            }
        }
        (Expect::Replay(_), Some(c)) => {
            problems.push(("replay", format!("seed replay refused: {c}")))
        }
        (Expect::Conflict, Some(ErrorCode::RequestIdConflict)) => {}
        (Expect::Conflict, other) => problems.push((
            "replay",
            format!("reused seed request id answered {other:?}, not request_id_conflict"),
        )),
    }
    (problems, code.map(|c| c.as_str().to_string()))
}

// ----------------------------------------------------------------- stack

async fn call(nc: &async_nats::Client, subject: &str, body: &Value) -> Value {
    let msg = tokio::time::timeout(
        Duration::from_secs(10),
        nc.request(
            subject.to_string(),
            serde_json::to_vec(body).unwrap().into(),
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("no reply on {subject}"))
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    serde_json::from_slice(&msg.payload).expect("reply is JSON")
}

async fn ok(nc: &async_nats::Client, subject: &str, body: Value) -> Value {
    let v = call(nc, subject, &body).await;
    assert!(v.get("ok").is_some(), "{subject} {body}: {v}");
    v["ok"].clone()
}

/// Waits until `f` holds for the reply of `subject`.
async fn wait_for(
    nc: &async_nats::Client,
    subject: &str,
    body: Value,
    f: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = call(nc, subject, &body).await;
        if f(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{subject} {body} never got there: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const EVENT_SUBJECTS: [(&str, &str); 4] = [
    ("ipam", subjects::ipam::EVENTS_READ),
    ("area-registry", subjects::areas::EVENTS_READ),
    ("config-renderer", subjects::config::EVENTS_READ),
    ("router-sync", SYNC_EVENTS_READ),
];

async fn heads(nc: &async_nats::Client) -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    for (name, subject) in EVENT_SUBJECTS {
        let v = ok(nc, subject, json!({"from_seq": 1, "limit": 1})).await;
        out.insert(name, v["head"].as_u64().expect("head"));
    }
    out
}

/// Everything that must not change: `vpcctl show zone --json` of each zone,
/// each VPC (its lists, its tiers' lists), each ACL list (rules and tiers,
/// built-in ones too) and the routers' versions.
async fn snapshot(url: &str, nc: &async_nats::Client, world: &World) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for v in &world.vpcs {
        let r = call(nc, subjects::ipam::VPC_SHOW, &json!({"name": v})).await;
        out.insert(format!("ipam.vpc.show {v}"), r.to_string());
    }
    for a in world.acls.iter().map(String::as_str).chain(BUILTIN_ACLS) {
        let r = call(nc, subjects::ipam::ACL_SHOW, &json!({"name": a})).await;
        out.insert(format!("ipam.acl.show {a}"), r.to_string());
    }
    for z in &world.zones {
        let o = vpcctl(url, &["show", "zone", z, "--json"]).await;
        assert!(o.ok(), "vpcctl show zone {z}: {} {}", o.stdout, o.stderr);
        out.insert(format!("vpcctl show zone {z}"), o.stdout);
    }
    let list = ok(nc, subjects::config::ROUTER_LIST, json!({})).await;
    out.insert("config.router.list".into(), list.to_string());
    out
}

/// Creates the world the fuzz cases aim at.
async fn seed_world(nc: &async_nats::Client) -> World {
    let mut seeds = Vec::new();
    let mut rec = |subject: &'static str, body: Value, reply: Value| {
        seeds.push((subject, body, reply));
    };
    macro_rules! seed_req {
        ($subject:expr, $body:expr) => {{
            let body = $body;
            let reply = ok(nc, $subject, body.clone()).await;
            rec($subject, body, reply.clone());
            reply
        }};
    }
    seed_req!(
        subjects::ipam::ZONE_ENABLE,
        json!({"request_id": "seed-z1", "zone": "z1", "super_cidrs": ["10.20.0.0/16"]})
    );
    seed_req!(
        subjects::ipam::ZONE_ENABLE,
        json!({"request_id": "seed-z2", "zone": "z2", "super_cidrs": ["10.30.0.0/16", "fd00:30::/48"]})
    );
    // The registry creates a zone's settings from ipam's zone_enabled.
    for z in ["z1", "z2"] {
        wait_for(nc, subjects::areas::ZONE_SHOW, json!({"name": z}), |v| {
            v.get("ok").is_some()
        })
        .await;
    }
    seed_req!(
        subjects::areas::ZONE_SET,
        json!({"request_id": "seed-ospf-z1", "zone": "z1", "hello_interval": 5, "dead_interval": 20,
               "auth": {"type": "md5", "key": "s33dK3y-z1"}})
    );
    let vpc1 = seed_req!(
        subjects::ipam::VPC_ALLOCATE,
        json!({"request_id": "seed-vpc1", "vpc": "vpc1", "zone": "z1", "prefix_length": 24,
               "router": {"name": "r1", "router_id": "10.255.0.1", "uplink_interface": "eth1",
                          "uplink_address": "192.168.100.2/24"}})
    );
    let vpc2 = seed_req!(
        subjects::ipam::VPC_ALLOCATE,
        json!({"request_id": "seed-vpc2", "vpc": "vpc2", "zone": "z1", "netmask": "255.255.252.0",
               "router": {"name": "vr2", "router_id": "10.255.0.2", "uplink_interface": "eth1",
                          "uplink_address": "192.168.100.3/24"}})
    );
    seed_req!(
        subjects::ipam::VPC_ALLOCATE,
        json!({"request_id": "seed-vpc3", "vpc": "vpc3", "zone": "z2", "family": "ipv6", "prefix_length": 56})
    );
    let _ = (vpc1, vpc2);
    let web1 = seed_req!(
        subjects::ipam::TIER_ALLOCATE,
        json!({"request_id": "seed-web1", "tier": "web1", "vpc": "vpc1", "prefix_length": 26, "interface": "eth2"})
    );
    let web2 = seed_req!(
        subjects::ipam::TIER_ALLOCATE,
        json!({"request_id": "seed-web2", "tier": "web2", "vpc": "vpc2", "netmask": "255.255.255.0", "interface": "eth2",
               "acl": "default_allow"})
    );
    let t3 = seed_req!(
        subjects::ipam::TIER_ALLOCATE,
        json!({"request_id": "seed-t3", "tier": "t3", "vpc": "vpc3", "prefix_length": 64})
    );
    let vm1 = seed_req!(
        subjects::ipam::VM_ALLOCATE,
        json!({"request_id": "seed-vm1", "vm": "vm1", "tier": "web1"})
    );
    let web2_net: ipnet::IpNet = web2["cidr"].as_str().unwrap().parse().unwrap();
    let vm2_ip = match web2_net {
        ipnet::IpNet::V4(n) => Ipv4Addr::from(u32::from(n.network()) + 10).to_string(),
        _ => unreachable!(),
    };
    let vm2 = seed_req!(
        subjects::ipam::VM_ALLOCATE,
        json!({"request_id": "seed-vm2", "vm": "vm2", "tier": "web2", "ip": vm2_ip})
    );
    let vm3 = seed_req!(
        subjects::ipam::VM_ALLOCATE,
        json!({"request_id": "seed-vm3", "vm": "vm3", "tier": "t3"})
    );
    // ACL lists: one in vpc1 with rules of every kind, attached to web1;
    // one in vpc3 (IPv6), attached to t3. web2 has the built-in
    // default_allow. Every own list is in use, so none can be deleted.
    seed_req!(
        subjects::ipam::ACL_CREATE,
        json!({"request_id": "seed-acl-web", "acl": "web-acl", "vpc": "vpc1"})
    );
    seed_req!(
        subjects::ipam::ACL_RULE_ADD,
        json!({"request_id": "seed-acl-web-10", "acl": "web-acl", "number": 10,
               "cidrs": ["10.20.128.0/20", "192.0.2.0/24"], "protocol": "tcp", "ports": "80-443",
               "traffic": "ingress", "action": "allow"})
    );
    seed_req!(
        subjects::ipam::ACL_RULE_ADD,
        json!({"request_id": "seed-acl-web-20", "acl": "web-acl", "number": 20,
               "cidrs": ["198.51.100.0/24"], "protocol": "icmp", "icmp_type": 8, "icmp_code": 0,
               "traffic": "ingress", "action": "allow"})
    );
    seed_req!(
        subjects::ipam::ACL_RULE_ADD,
        json!({"request_id": "seed-acl-web-900", "acl": "web-acl", "number": 900,
               "cidrs": ["203.0.113.0/24", "2001:db8:99::/48"], "protocol": "all",
               "traffic": "egress", "action": "deny"})
    );
    seed_req!(
        subjects::ipam::TIER_SET_ACL,
        json!({"request_id": "seed-acl-web1", "tier": "web1", "acl": "web-acl"})
    );
    seed_req!(
        subjects::ipam::ACL_CREATE,
        json!({"request_id": "seed-acl-v3", "acl": "v3-acl", "vpc": "vpc3"})
    );
    seed_req!(
        subjects::ipam::ACL_RULE_ADD,
        json!({"request_id": "seed-acl-v3-5", "acl": "v3-acl", "number": 5,
               "cidrs": ["fd00:30:0:ff00::/56"], "protocol": "udp", "ports": "53",
               "traffic": "ingress", "action": "deny"})
    );
    seed_req!(
        subjects::ipam::TIER_SET_ACL,
        json!({"request_id": "seed-acl-t3", "tier": "t3", "acl": "v3-acl"})
    );
    let mut acl_info = BTreeMap::new();
    for (acl, vpc, rules) in [
        ("web-acl", "vpc1", vec![10, 20, 900]),
        ("v3-acl", "vpc3", vec![5]),
    ] {
        let v = ok(nc, subjects::ipam::ACL_SHOW, json!({"name": acl})).await;
        let numbers: Vec<u64> = v["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(|r| r["number"].as_u64().expect("number"))
            .collect();
        assert_eq!(
            numbers,
            rules.iter().map(|&n| n as u64).collect::<Vec<_>>(),
            "{v}"
        );
        assert_eq!(v["tiers"].as_array().map(Vec::len), Some(1), "{v}");
        acl_info.insert(
            acl.to_string(),
            AclInfo {
                vpc: vpc.to_string(),
                rules,
            },
        );
    }

    let mut tier_info = BTreeMap::new();
    for (name, t, vm) in [
        ("web1", &web1, &vm1),
        ("web2", &web2, &vm2),
        ("t3", &t3, &vm3),
    ] {
        tier_info.insert(
            name.to_string(),
            TierInfo {
                cidr: t["cidr"].as_str().unwrap().parse().unwrap(),
                gateway: t["gateway"].as_str().unwrap().to_string(),
                vm_ips: vec![vm["ip"].as_str().unwrap().to_string()],
            },
        );
    }

    // Converged: every VPC has its area, both routers are rendered, and
    // router-sync knows r1's desired version.
    let mut area_ids = Vec::new();
    for (zone, n) in [("z1", 2), ("z2", 1)] {
        let v = wait_for(nc, subjects::areas::ZONE_SHOW, json!({"name": zone}), |v| {
            v["ok"]["areas"].as_array().is_some_and(|a| a.len() == n)
        })
        .await;
        for a in v["ok"]["areas"].as_array().unwrap() {
            area_ids.push(a["area_id"].as_str().unwrap().to_string());
        }
    }
    wait_for(nc, subjects::config::ROUTER_LIST, json!({}), |v| {
        v["ok"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    wait_for(nc, R1_STATUS, json!({"router": "r1"}), |v| {
        v["ok"]["desired_version"].is_u64() || v["ok"]["state"] == "unreachable"
    })
    .await;

    World {
        zones: vec!["z1".into(), "z2".into()],
        vpcs: vec!["vpc1".into(), "vpc2".into(), "vpc3".into()],
        tiers: vec!["web1".into(), "web2".into(), "t3".into()],
        vms: vec!["vm1".into(), "vm2".into(), "vm3".into()],
        routers: vec!["r1".into(), "vr2".into()],
        router_ids: vec!["10.255.0.1".into(), "10.255.0.2".into()],
        area_ids,
        tier_info,
        acls: acl_info.keys().cloned().collect(),
        acl_info,
        seeds,
        shapes: request_shapes(&Schemas::load()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subject_survives_fuzzing_without_a_state_change() {
    let nats = nats_or_skip!();
    let seed: u64 = std::env::var("VPCROUTE_FUZZ_SEED")
        .ok()
        .map(|s| {
            let s = s.trim();
            s.strip_prefix("0x")
                .map(|h| u64::from_str_radix(h, 16))
                .unwrap_or_else(|| s.parse())
                .expect("VPCROUTE_FUZZ_SEED is a number")
        })
        .unwrap_or(DEFAULT_SEED);
    let random_cases: usize = std::env::var("VPCROUTE_FUZZ_CASES")
        .ok()
        .map(|s| s.parse().expect("VPCROUTE_FUZZ_CASES is a number"))
        .unwrap_or(DEFAULT_CASES);
    // The schemas' invalid examples first, then the random cases.
    let examples = Arc::new(schema_invalid_cases(&Schemas::load()));
    let cases = examples.len() + random_cases;
    eprintln!(
        "fuzz seed: {seed:#x} ({} schema examples, {random_cases} random cases; \
         rerun with VPCROUTE_FUZZ_SEED={seed:#x})",
        examples.len()
    );

    let test_started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("vpcroute-fuzz-")
        .tempdir()
        .unwrap();
    let url = nats.url();
    let mut services = vec![
        Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await,
        Service::start(ServiceKind::AreaRegistry, &url, &dir.path().join("areas")).await,
        Service::start(
            ServiceKind::ConfigRenderer,
            &url,
            &dir.path().join("config"),
        )
        .await,
        Service::start_with_args(
            ServiceKind::RouterSync,
            &url,
            &dir.path().join("sync"),
            &["--router", "r1=/bin/false"],
        )
        .await,
    ];
    let nc = async_nats::connect(&url).await.expect("connect");
    let world = Arc::new(seed_world(&nc).await);
    // The seeding's effects all handled: the heads to compare with.
    let running: Vec<Running> = services.iter().map(Service::running).collect();
    wait_processed(&nc, &running).await;
    let heads_before = heads(&nc).await;
    let snap_before = snapshot(&url, &nc, &world).await;
    eprintln!(
        "seeded in {:.1?}; event-log heads {heads_before:?}",
        test_started.elapsed()
    );

    let next = Arc::new(AtomicUsize::new(0));
    let stats = Arc::new(Mutex::new(Stats::default()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (nc, next, stats, world) = (nc.clone(), next.clone(), stats.clone(), world.clone());
        let examples = examples.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cases {
                    return;
                }
                let case = match i.checked_sub(examples.len()) {
                    None => examples[i].clone(),
                    Some(j) => make_case(seed, j, &world),
                };
                let t0 = Instant::now();
                let res = tokio::time::timeout(
                    REPLY_TIMEOUT,
                    nc.request(case.subject.to_string(), case.payload.clone().into()),
                )
                .await;
                let latency = t0.elapsed();
                let reply_text = match &res {
                    Ok(Ok(msg)) => clip(&msg.payload, 300),
                    _ => String::new(),
                };
                let replied = matches!(res, Ok(Ok(_)));
                let (problems, code) = match res {
                    Err(_) => (
                        vec![("stall", format!("no reply within {REPLY_TIMEOUT:?}"))],
                        None,
                    ),
                    Ok(Err(e)) => (vec![("stall", format!("request failed: {e}"))], None),
                    Ok(Ok(msg)) => check(&case, &msg.payload),
                };
                let mut st = stats.lock().unwrap();
                st.max_latency = st.max_latency.max(latency);
                let ss = st.per_subject.entry(case.subject).or_default();
                ss.cases += 1;
                *ss.kinds.entry(case.kind).or_default() += 1;
                match &code {
                    Some(c) => *ss.codes.entry(c.clone()).or_default() += 1,
                    None if replied && !problems.iter().any(|p| p.0 == "envelope") => ss.ok += 1,
                    None => {}
                }
                for (category, what) in problems {
                    let key = (
                        category,
                        format!("{} [{}]: {what}", case.subject, case.kind),
                    );
                    let e = st.violations.entry(key).or_insert_with(|| {
                        (
                            0,
                            format!(
                                "case #{i}, payload {}\n             reply {}",
                                clip(&case.payload, 200).escape_debug(),
                                reply_text
                            ),
                        )
                    });
                    e.0 += 1;
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("fuzz worker");
    }
    let elapsed = started.elapsed();

    let mut exited = Vec::new();
    for s in &mut services {
        if let Some(status) = s.has_exited() {
            exited.push(format!(
                "{} exited: {status}\n{}",
                s.data_dir().display(),
                s.stderr()
            ));
        }
    }
    // Whatever a fuzz case set off has been handled by every consumer
    // before the logs and the state are compared.
    if exited.is_empty() {
        wait_processed(&nc, &running).await;
    }
    let panics: Vec<String> = services
        .iter()
        .filter(|s| s.stderr().contains("panicked"))
        .map(|s| format!("{}:\n{}", s.data_dir().display(), s.stderr()))
        .collect();
    let heads_after = if exited.is_empty() {
        heads(&nc).await
    } else {
        BTreeMap::new()
    };
    let snap_after = if exited.is_empty() {
        snapshot(&url, &nc, &world).await
    } else {
        BTreeMap::new()
    };

    eprintln!("checked state after {:.1?}", test_started.elapsed());
    let st = stats.lock().unwrap();
    let total: usize = st.per_subject.values().map(|s| s.cases).sum();
    eprintln!(
        "fuzz seed {seed:#x}: {total} cases in {elapsed:.1?} ({:.0}/s), slowest reply {:.1?}",
        total as f64 / elapsed.as_secs_f64(),
        st.max_latency
    );
    for (subject, s) in &st.per_subject {
        eprintln!(
            "  {subject:<30} {:>6} cases, {:>5} ok, errors {:?}",
            s.cases, s.ok, s.codes
        );
    }
    let kinds: BTreeMap<&str, usize> = st.per_subject.values().flat_map(|s| s.kinds.iter()).fold(
        BTreeMap::new(),
        |mut acc, (k, n)| {
            *acc.entry(*k).or_default() += n;
            acc
        },
    );
    eprintln!("  by kind: {kinds:?}");
    let tolerate: Vec<String> = std::env::var("VPCROUTE_FUZZ_TOLERATE")
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let mut report = String::new();
    let mut tolerated = String::new();
    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    for ((category, what), (n, example)) in &st.violations {
        *by_category.entry(category).or_default() += n;
        let line = format!("\n  {n:>6} x ({category}) {what}\n           e.g. {example}");
        if tolerate.iter().any(|t| t == category) {
            tolerated.push_str(&line);
        } else {
            report.push_str(&line);
        }
    }
    if !by_category.is_empty() {
        eprintln!("problems by category: {by_category:?}");
    }
    if !tolerated.is_empty() {
        eprintln!(
            "TOLERATED (VPCROUTE_FUZZ_TOLERATE={}), still bugs:{tolerated}",
            tolerate.join(",")
        );
    }
    if !report.is_empty() {
        eprintln!("violations:{report}");
    }

    // Every failed invariant at once, state first.
    let mut failures = Vec::new();
    if !exited.is_empty() {
        failures.push(format!("services exited:\n{}", exited.join("\n")));
    }
    if !panics.is_empty() {
        failures.push(format!("services panicked:\n{}", panics.join("\n")));
    }
    if total != cases {
        failures.push(format!("only {total} of {cases} cases were sent"));
    }
    if exited.is_empty() && heads_before != heads_after {
        failures.push(format!(
            "an event log changed: heads {heads_before:?} before, {heads_after:?} after"
        ));
    }
    for (k, before) in &snap_before {
        if exited.is_empty() && Some(before) != snap_after.get(k) {
            failures.push(format!(
                "{k} changed:\n--- before\n{before}\n--- after\n{}",
                snap_after.get(k).map_or("(none)", |s| s.as_str())
            ));
        }
    }
    if !report.is_empty() {
        failures.push(format!("problems in replies:{report}"));
    }
    eprintln!(
        "state: heads {heads_after:?} (before {heads_before:?}); snapshots {}",
        if snap_before == snap_after {
            "identical"
        } else {
            "DIFFER"
        }
    );
    assert!(
        failures.is_empty(),
        "fuzz seed {seed:#x} (rerun with VPCROUTE_FUZZ_SEED={seed:#x}):\n{}",
        failures.join("\n")
    );
}
