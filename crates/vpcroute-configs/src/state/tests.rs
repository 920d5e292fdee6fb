use super::*;
use crate::rotation::{RotationPhase, RotationStep};
use serde_json::json;
use vpcroute_protocol::{ErrorBody, ErrorCode};
use vpcroute_render::Secret;

const KEY: &str = "Zq7-unit-KEY$x";
const KEY2: &str = "rotated-KEY-9";

fn ipam(v: serde_json::Value) -> IpamEvent {
    serde_json::from_value(v).unwrap()
}

fn area(v: serde_json::Value) -> AreaEvent {
    serde_json::from_value(v).unwrap()
}

fn settings(key: &str, hello: u16) -> OspfSettings {
    OspfSettings {
        hello_interval: hello,
        dead_interval: u32::from(hello) * 4,
        auth: OspfAuth::Md5 {
            key_id: 1,
            key: Secret::new(key),
        },
        ..OspfSettings::default()
    }
}

fn zone_ospf(zone: &str, s: OspfSettings) -> AreaEvent {
    AreaEvent::ZoneOspfSet {
        zone: zone.into(),
        settings: s,
    }
}

/// Feeds inputs like the service does and keeps everything recorded.
#[derive(Default)]
struct Harness {
    st: RendererState,
    ipam_seq: u64,
    area_seq: u64,
    log: Vec<ConfigEvent>,
}

impl Harness {
    fn ipam(&mut self, v: serde_json::Value) -> Vec<ConfigEvent> {
        self.ipam_seq += 1;
        let ev = ipam(v);
        let evs = self.st.on_ipam(self.ipam_seq, &ev);
        if !evs.is_empty() {
            let mut post = self.st.inputs.clone();
            post.apply_ipam(self.ipam_seq, &ev);
            assert_eq!(
                evs[1..],
                full_decision(&self.st, &post)[..],
                "subset vs full"
            );
        }
        self.record(evs)
    }

    fn area(&mut self, ev: AreaEvent) -> Vec<ConfigEvent> {
        self.area_seq += 1;
        let evs = self.st.on_area(self.area_seq, &ev);
        let mut post = self.st.inputs.clone();
        post.apply_area(&ev);
        assert_eq!(
            evs[1..],
            full_decision(&self.st, &post)[..],
            "subset vs full"
        );
        self.record(evs)
    }

    fn record(&mut self, evs: Vec<ConfigEvent>) -> Vec<ConfigEvent> {
        for e in &evs {
            self.st.apply(e).unwrap();
        }
        self.log.extend(evs.iter().cloned());
        evs
    }

    fn vpc(&mut self, vpc: &str, zone: &str, cidr: &str, n: u8) -> Vec<ConfigEvent> {
        self.ipam(json!({"type": "vpc_allocated", "vpc": vpc, "zone": zone, "cidr": cidr,
            "router": {"name": format!("{vpc}-vr"), "router_id": format!("10.255.0.{n}"),
                       "uplink_interface": "eth1", "uplink_address": format!("192.168.100.{}/24", n + 1)}}))
    }

    fn assign(&mut self, vpc: &str, zone: &str, id: u32) -> Vec<ConfigEvent> {
        let ipam_seq = self.ipam_seq;
        self.area(area(
            json!({"type": "area_assigned", "vpc": vpc, "zone": zone,
            "area_id": id, "ipam_seq": ipam_seq}),
        ))
    }

    fn tier(
        &mut self,
        tier: &str,
        vpc: &str,
        cidr: &str,
        gw: &str,
        iface: Option<&str>,
    ) -> Vec<ConfigEvent> {
        let mut v = json!({"type": "tier_allocated", "tier": tier, "vpc": vpc, "cidr": cidr, "gateway": gw});
        if let Some(i) = iface {
            v["interface"] = json!(i);
        }
        self.ipam(v)
    }

    fn version(&self, router: &str) -> Option<u64> {
        self.st.summary(router).map(|s| s.version)
    }

    fn frr(&self, router: &str) -> String {
        match self
            .st
            .router_config(router, DialectName::Frr)
            .unwrap()
            .config
        {
            ConfigText::Frr(t) => t,
            other => panic!("{other:?}"),
        }
    }
}

/// What an input decides when every VPC is re-evaluated on a full copy of
/// the inputs: the decision on a subset must be the same.
fn full_decision(st: &RendererState, post: &Inputs) -> Vec<ConfigEvent> {
    let all: BTreeSet<String> = st
        .inputs
        .vpcs
        .keys()
        .chain(post.vpcs.keys())
        .cloned()
        .collect();
    let versioned: Vec<String> = st.routers.keys().cloned().collect();
    st.router_events(post, &all, &versioned)
}

/// Two zones: z1 with VPCs left and right (one tier each), z2 with far.
fn region() -> Harness {
    let mut h = Harness::default();
    h.ipam(json!({"type": "zone_enabled", "zone": "z1", "super_cidrs": ["10.1.0.0/16"]}));
    h.ipam(json!({"type": "zone_enabled", "zone": "z2", "super_cidrs": ["10.2.0.0/16"]}));
    h.area(zone_ospf("z1", settings(KEY, 10)));
    h.area(zone_ospf("z2", settings(KEY, 10)));
    h.vpc("left", "z1", "10.1.0.0/22", 1);
    h.assign("left", "z1", 1);
    h.tier("web", "left", "10.1.1.0/24", "10.1.1.1", Some("eth2"));
    h.vpc("right", "z1", "10.1.4.0/22", 2);
    h.assign("right", "z1", 2);
    h.tier("db", "right", "10.1.5.0/24", "10.1.5.1", Some("eth2"));
    h.vpc("far", "z2", "10.2.0.0/22", 3);
    h.assign("far", "z2", 3);
    h.tier("app", "far", "10.2.1.0/24", "10.2.1.1", Some("eth2"));
    for r in ["left-vr", "right-vr", "far-vr"] {
        assert!(h.version(r).is_some(), "{r} rendered");
    }
    h
}

fn versioned(evs: &[ConfigEvent]) -> Vec<(String, u64)> {
    evs.iter()
        .filter_map(|e| match e {
            ConfigEvent::RouterVersioned {
                router, version, ..
            } => Some((router.clone(), *version)),
            _ => None,
        })
        .collect()
}

fn pairs(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(r, n)| (r.to_string(), *n)).collect()
}

#[test]
fn zone_key_change_versions_every_router_of_the_zone_and_no_other() {
    let mut h = region();
    let before = [
        h.version("left-vr"),
        h.version("right-vr"),
        h.version("far-vr"),
    ];
    let far_text = h.frr("far-vr");
    let evs = h.area(zone_ospf("z1", settings(KEY2, 10)));
    assert!(matches!(evs[0], ConfigEvent::AreaInput { .. }));
    assert_eq!(
        versioned(&evs),
        pairs(&[
            ("left-vr", before[0].unwrap() + 1),
            ("right-vr", before[1].unwrap() + 1)
        ])
    );
    assert_eq!(evs.len(), 3, "nothing else: {evs:?}");
    assert_eq!(h.version("far-vr"), before[2]);
    assert_eq!(h.frr("far-vr"), far_text);
    assert!(h.frr("left-vr").contains(&format!("md5 {KEY2}\n")));
    assert!(h.frr("right-vr").contains(&format!("md5 {KEY2}\n")));
    assert!(!h.frr("far-vr").contains(KEY2));
}

#[test]
fn zone_timer_change_versions_every_router_of_the_zone_and_no_other() {
    let mut h = region();
    let evs = h.area(zone_ospf("z2", settings(KEY, 5)));
    assert_eq!(versioned(&evs), pairs(&[("far-vr", 3)]));
    assert_eq!(h.version("left-vr"), Some(2));
    assert_eq!(h.version("right-vr"), Some(2));
    assert!(h.frr("far-vr").contains(" ip ospf hello-interval 5\n"));
    assert!(h.frr("left-vr").contains(" ip ospf hello-interval 10\n"));
}

#[test]
fn unchanged_settings_record_the_input_but_no_version() {
    let mut h = region();
    let evs = h.area(zone_ospf("z1", settings(KEY, 10)));
    assert_eq!(evs.len(), 1);
    assert!(versioned(&evs).is_empty());
    // Super-CIDR changes and VM addresses do not touch router text.
    let evs =
        h.ipam(json!({"type": "zone_super_cidrs_changed", "zone": "z1", "super_cidrs": ["10.1.0.0/16", "10.9.0.0/16"]}));
    assert_eq!(evs.len(), 1);
    let evs = h.ipam(
        json!({"type": "vm_address_allocated", "vm": "vm1", "tier": "web", "ip": "10.1.1.10"}),
    );
    assert!(evs.is_empty(), "VM events are not recorded: {evs:?}");
}

#[test]
fn tier_change_versions_only_its_vpcs_router() {
    let mut h = region();
    let evs = h.tier("api", "left", "10.1.2.0/24", "10.1.2.1", Some("eth3"));
    assert_eq!(versioned(&evs), pairs(&[("left-vr", 3)]));
    assert!(h.frr("left-vr").contains("interface eth3\n"));
    assert_eq!(h.version("right-vr"), Some(2));
    assert_eq!(h.version("far-vr"), Some(2));
    let evs = h.ipam(
        json!({"type": "tier_released", "tier": "api", "vpc": "left", "cidr": "10.1.2.0/24"}),
    );
    assert_eq!(versioned(&evs), pairs(&[("left-vr", 4)]));
    assert!(!h.frr("left-vr").contains("interface eth3\n"));
    assert_eq!(h.version("right-vr"), Some(2));
}

#[test]
fn tier_without_interface_is_not_on_the_router() {
    let mut h = region();
    let text = h.frr("left-vr");
    let evs = h.tier("dark", "left", "10.1.3.0/24", "10.1.3.1", None);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(h.frr("left-vr"), text);
    assert_eq!(h.version("left-vr"), Some(2));
}

#[test]
fn resending_an_event_changes_nothing() {
    let mut h = region();
    let dump = h.st.dump();
    let seq = h.ipam_seq;
    let ev = ipam(
        json!({"type": "tier_allocated", "tier": "x", "vpc": "left", "cidr": "10.1.3.0/24", "gateway": "10.1.3.1", "interface": "eth4"}),
    );
    for s in 1..=seq {
        assert!(h.st.on_ipam(s, &ev).is_empty(), "ipam seq {s}");
    }
    let key_change = zone_ospf("z1", settings(KEY2, 10));
    for s in 1..=h.area_seq {
        assert!(h.st.on_area(s, &key_change).is_empty(), "area seq {s}");
    }
    assert_eq!(h.st.dump(), dump);
    // The same seq twice, as a follower might deliver it after a restart.
    let evs = h.tier("x", "left", "10.1.3.0/24", "10.1.3.1", Some("eth4"));
    assert_eq!(versioned(&evs), pairs(&[("left-vr", 3)]));
    assert!(h.st.on_ipam(h.ipam_seq, &ev).is_empty());
    assert_eq!(h.version("left-vr"), Some(3));
    // Applying a recorded input again is refused as a damaged log.
    let err = h.st.apply(&evs[0]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
}

#[test]
fn replaying_the_recorded_events_gives_the_identical_state() {
    let mut h = region();
    h.area(zone_ospf("z1", settings(KEY2, 7)));
    h.tier("api", "left", "10.1.2.0/24", "10.1.2.1", Some("eth3"));
    h.ipam(json!({"type": "tier_released", "tier": "db", "vpc": "right", "cidr": "10.1.5.0/24"}));
    h.ipam(json!({"type": "vpc_released", "vpc": "right", "zone": "z1", "cidr": "10.1.4.0/22"}));
    let mut fresh = RendererState::new();
    for e in &h.log {
        // Through JSON, as the log stores them.
        let stored: ConfigEvent = serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
        fresh.apply(&stored).unwrap();
    }
    assert_eq!(fresh.dump(), h.st.dump());
    assert_eq!(fresh.routers(), h.st.routers());
    for r in h.st.routers() {
        assert_eq!(
            fresh.router_config(&r.router, DialectName::Quagga),
            h.st.router_config(&r.router, DialectName::Quagga)
        );
    }
    assert!(fresh.reconcile().is_empty());
    assert!(h.st.reconcile().is_empty());
}

#[test]
fn vpc_release_removes_its_router_and_a_new_one_continues_its_versions() {
    let mut h = region();
    h.ipam(json!({"type": "tier_released", "tier": "db", "vpc": "right", "cidr": "10.1.5.0/24"}));
    assert_eq!(h.version("right-vr"), Some(3));
    let evs = h
        .ipam(json!({"type": "vpc_released", "vpc": "right", "zone": "z1", "cidr": "10.1.4.0/22"}));
    assert_eq!(
        evs[1..],
        [ConfigEvent::RouterRemoved {
            router: "right-vr".into()
        }]
    );
    assert_eq!(
        h.st.router_config("right-vr", DialectName::Frr)
            .unwrap_err()
            .code(),
        ErrorCode::UnknownRouter
    );
    // Re-created: the old area (assigned before this incarnation) is not used.
    let evs = h.vpc("right", "z1", "10.1.4.0/22", 2);
    assert_eq!(evs.len(), 1, "{evs:?}");
    let err =
        h.st.router_config("right-vr", DialectName::Frr)
            .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotReady);
    assert!(err.to_string().contains("no OSPF area"), "{err}");
    let evs = h.assign("right", "z1", 9);
    assert_eq!(versioned(&evs), pairs(&[("right-vr", 4)]));
    assert!(h
        .frr("right-vr")
        .contains(" area 0.0.0.9 range 10.1.4.0/22\n"));
}

#[test]
fn retired_area_keeps_the_last_configuration_until_the_vpc_goes() {
    let mut h = region();
    let text = h.frr("left-vr");
    let evs = h.area(area(
        json!({"type": "area_retired", "vpc": "left", "zone": "z1", "area_id": 1, "ipam_seq": 99}),
    ));
    assert_eq!(evs.len(), 1);
    assert_eq!(h.frr("left-vr"), text);
    assert!(h.st.problem("left-vr").unwrap().contains("no OSPF area"));
}

#[test]
fn not_ready_says_what_is_missing() {
    let mut h = Harness::default();
    h.ipam(
        json!({"type": "zone_enabled", "zone": "z9", "super_cidrs": ["10.9.0.0/16", "fd00::/48"]}),
    );
    h.vpc("a", "z9", "10.9.0.0/22", 1);
    let e = h.st.router_config("a-vr", DialectName::Frr).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotReady);
    assert!(e.to_string().contains("no OSPF area"), "{e}");
    h.assign("a", "z9", 4);
    let e = h.st.router_config("a-vr", DialectName::Frr).unwrap_err();
    assert!(
        e.to_string().contains("zone \"z9\" has no OSPF settings"),
        "{e}"
    );
    let evs = h.area(zone_ospf("z9", settings(KEY, 10)));
    assert_eq!(versioned(&evs), pairs(&[("a-vr", 1)]));

    h.ipam(json!({"type": "vpc_allocated", "vpc": "six", "zone": "z9", "cidr": "fd00::/56",
        "router": {"name": "six-vr", "router_id": "10.255.0.6", "uplink_interface": "eth1", "uplink_address": "192.168.100.6/24"}}));
    let evs = h.assign("six", "z9", 6);
    assert_eq!(evs.len(), 1, "IPv6 VPC is never rendered: {evs:?}");
    let e = h.st.router_config("six-vr", DialectName::Frr).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotReady);
    assert!(e.to_string().contains("IPv6"), "{e}");
    assert!(h.st.routers().iter().all(|r| r.router != "six-vr"));

    let e = h.st.router_config("nope", DialectName::Frr).unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnknownRouter);
    let body: ErrorBody = e.into();
    assert_eq!(body.code, ErrorCode::UnknownRouter);
}

#[test]
fn quagga_limits_do_not_block_frr() {
    let mut h = region();
    let mut s = settings(KEY, 10);
    s.retransmit_interval = 1;
    let evs = h.area(zone_ospf("z2", s));
    assert_eq!(versioned(&evs), pairs(&[("far-vr", 3)]));
    assert!(h.frr("far-vr").contains(" ip ospf retransmit-interval 1\n"));
    let e =
        h.st.router_config("far-vr", DialectName::Quagga)
            .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidSettings);
}

#[test]
fn version_depends_on_both_dialects_and_the_firewall_only() {
    let h = region();
    let r = &h.st.dump().routers["left-vr"];
    let fw = &r.firewall;
    assert_eq!(fingerprint(&r.model, fw).unwrap(), r.fingerprint);
    let mut m = r.model.clone();
    m.tiers.reverse();
    let mut fw_reordered = fw.clone();
    fw_reordered.tiers.reverse();
    assert_eq!(
        fingerprint(&m, &fw_reordered).unwrap(),
        r.fingerprint,
        "tier order is not text"
    );
    m.tiers[0].cidr = "10.1.1.0/25".parse().unwrap();
    // Quagga's network statement changes while FRR's text does not.
    assert_eq!(
        render(&m, Dialect::Frr).unwrap(),
        render(&r.model, Dialect::Frr).unwrap()
    );
    assert_ne!(fingerprint(&m, fw).unwrap(), r.fingerprint);
    // A changed ACL alone changes the version.
    let mut fw2 = fw.clone();
    fw2.tiers[0].rules =
        vpcroute_protocol::acl::builtin_rules(vpcroute_protocol::acl::DEFAULT_ALLOW).unwrap();
    assert_ne!(
        fingerprint(&r.model, &fw2).unwrap(),
        fingerprint(&r.model, fw).unwrap()
    );
}

#[test]
fn keys_never_appear_in_debug_errors_or_redacted_events() {
    let mut h = region();
    h.area(zone_ospf("z1", settings(KEY2, 10)));
    h.vpc("late", "z1", "10.1.8.0/22", 8);
    let mut shown = vec![format!("{:?}", h.st), format!("{:?}", h.st.dump())];
    for e in &h.log {
        shown.push(format!("{e:?}"));
        shown.push(serde_json::to_string(&e.redacted()).unwrap());
    }
    for (r, why) in h.st.problems() {
        shown.push(format!("{r}: {why}"));
    }
    for r in ["left-vr", "late-vr", "nope"] {
        for d in [DialectName::Frr, DialectName::Quagga] {
            match h.st.router_config(r, d) {
                Ok(c) => shown.push(format!("{:?}", c.version)),
                Err(e) => {
                    shown.push(e.to_string());
                    shown.push(format!("{e:?}"));
                    shown.push(serde_json::to_string(&ErrorBody::from(e)).unwrap());
                }
            }
        }
    }
    let mut bad = settings(KEY, 10);
    bad.dead_interval = 1;
    let mut h2 = region();
    h2.area(zone_ospf("z1", bad));
    shown.push(h2.st.problem("left-vr").unwrap());
    let all = shown.join("\n");
    assert!(all.contains("not rendered") || all.contains("no OSPF area"));
    for key in [KEY, KEY2] {
        assert!(!all.contains(key), "a key leaked:\n{all}");
    }
    // ... while the recorded (private) events do keep it.
    assert!(serde_json::to_string(&h.log).unwrap().contains(KEY2));
    assert!(h.frr("left-vr").contains(KEY2));
}

#[test]
fn redacted_settings_are_recognised() {
    let ev = zone_ospf("z1", settings(KEY, 10));
    assert!(!is_redacted(&ev));
    assert!(is_redacted(&ev.redacted()));
}

#[test]
fn bad_settings_keep_the_last_configuration_and_say_render_failed() {
    // Settings the registry refuses today but an older log may hold. The
    // routers keep their last version, and say so: before issue 11 the
    // renderer went on serving it as if all were well.
    let mut h = region();
    let text = h.frr("left-vr");
    let version = h.version("left-vr").unwrap();
    let mut bad = settings(KEY, 10);
    bad.dead_interval = 5; // not above hello
    let evs = h.area(zone_ospf("z1", bad.clone()));
    let failed: Vec<&str> = evs
        .iter()
        .filter_map(|e| match e {
            ConfigEvent::RenderFailed { router, reason } => {
                assert!(reason.contains("dead-interval"), "{reason}");
                Some(router.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(failed, ["left-vr", "right-vr"]);
    let err = h.st.router_config("left-vr", DialectName::Frr).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RenderFailed);
    assert!(err.to_string().contains("dead-interval"), "{err}");
    assert_eq!(h.version("left-vr"), Some(version));
    // The other zone's router is unaffected.
    assert!(h.st.router_config("far-vr", DialectName::Frr).is_ok());
    // The same failure again records nothing new.
    let evs = h.area(zone_ospf("z1", bad));
    assert_eq!(evs.len(), 1, "{evs:?}");
    // Good settings again: the same text as before, so no new version, but
    // the failure ends.
    let evs = h.area(zone_ospf("z1", settings(KEY, 10)));
    assert!(evs.contains(&ConfigEvent::RenderRecovered {
        router: "left-vr".into()
    }));
    assert_eq!(h.frr("left-vr"), text);
    assert_eq!(h.version("left-vr"), Some(version));
    // Replaying the log gives the same state.
    let mut again = RendererState::new();
    for e in &h.log {
        again.apply(e).unwrap();
    }
    assert_eq!(again.dump(), h.st.dump());
}

#[test]
fn a_tier_written_by_an_older_ipam_fails_its_router_only() {
    // ipam refuses `eth3@1` now; a log written before may hold it.
    let mut h = region();
    let evs = h.tier("bad", "left", "10.1.2.0/26", "10.1.2.1", Some("eth3@1"));
    assert!(
        matches!(&evs[1..], [ConfigEvent::RenderFailed { router, reason }]
            if router == "left-vr" && reason.contains("eth3@1")),
        "{evs:?}"
    );
    let body = ErrorBody::from(h.st.router_config("left-vr", DialectName::Frr).unwrap_err());
    assert_eq!(body.code, ErrorCode::RenderFailed);
    assert!(
        body.message.contains("interface name \"eth3@1\""),
        "{}",
        body.message
    );
    // Positive control: the zone's other router still renders and versions.
    assert!(h.st.router_config("right-vr", DialectName::Frr).is_ok());
    let right = h.version("right-vr").unwrap();
    let evs = h.tier("db2", "right", "10.1.6.0/24", "10.1.6.1", Some("eth3"));
    assert_eq!(versioned(&evs), vec![("right-vr".to_string(), right + 1)]);
    // A later change to the failing router's VPC records no second failure
    // while the reason stays the same.
    let evs = h.tier("web2", "left", "10.1.3.0/24", "10.1.3.1", Some("eth4"));
    assert_eq!(evs.len(), 1, "{evs:?}");
    // Releasing the bad tier renders again: a new version (new tier web2).
    let left = h.version("left-vr").unwrap();
    let evs = h.ipam(
        json!({"type": "tier_released", "tier": "bad", "vpc": "left", "cidr": "10.1.2.0/26"}),
    );
    assert_eq!(versioned(&evs), vec![("left-vr".to_string(), left + 1)]);
    assert!(h.st.router_config("left-vr", DialectName::Frr).is_ok());
}

#[test]
fn areas_may_arrive_before_their_vpc() {
    let mut h = Harness::default();
    h.area(zone_ospf("z1", settings(KEY, 10)));
    h.area(area(
        json!({"type": "area_assigned", "vpc": "left", "zone": "z1", "area_id": 1, "ipam_seq": 1}),
    ));
    let evs = h.vpc("left", "z1", "10.1.0.0/22", 1);
    assert_eq!(versioned(&evs), pairs(&[("left-vr", 1)]));
}

/// The clock and overlap hold of the rotation tests: the hold is checked
/// on its own in `the_old_key_stays_for_the_hold`.
const NOW: i64 = 1_000_000;
const HOLD: i64 = 0;

fn md5(key_id: u8, key: &str) -> OspfSettings {
    OspfSettings {
        auth: OspfAuth::Md5 {
            key_id,
            key: Secret::new(key),
        },
        ..settings(KEY, 10)
    }
}

/// The MD5 key lines of a router's text, in order (the last one signs).
fn key_lines(h: &Harness, router: &str) -> Vec<String> {
    h.frr(router)
        .lines()
        .filter(|l| l.contains("message-digest-key"))
        .map(|l| l.trim().to_string())
        .collect()
}

impl Harness {
    /// router-sync reports `router` at its current version, then whatever
    /// rotation can advance does.
    fn report(&mut self, router: &str) -> Vec<ConfigEvent> {
        let v = self.version(router);
        let mut evs = self.st.on_router_status(router, v);
        self.record(evs.clone());
        loop {
            let more = self.st.advance_rotations(NOW, HOLD);
            if more.is_empty() {
                return evs;
            }
            evs.extend(self.record(more));
        }
    }
}

/// Issue 11 item 8: a new key (new key id) goes out in three steps, each
/// waiting until every router of the zone reported the one before.
#[test]
fn key_rotation_keeps_both_keys_until_every_router_has_the_new_one() {
    let mut h = region();
    let old = format!("ip ospf message-digest-key 1 md5 {KEY}");
    let new = format!("ip ospf message-digest-key 2 md5 {KEY2}");
    let far_before = h.version("far-vr");
    let evs = h.area(zone_ospf("z1", md5(2, KEY2)));
    assert_eq!(versioned(&evs).len(), 2, "{evs:?}");
    // Step 1: both keys, signing with the old one (last).
    for r in ["left-vr", "right-vr"] {
        assert_eq!(key_lines(&h, r), vec![new.clone(), old.clone()], "{r}");
    }
    let view = h.st.key_rotation("z1", HOLD).unwrap();
    assert_eq!(view.phase, RotationPhase::AddNew);
    assert_eq!(
        (view.old_key_id, view.new_key_id, view.sending_key_id),
        (1, 2, 1)
    );
    assert_eq!(view.waiting_for, vec!["left-vr", "right-vr"]);
    assert_eq!(h.st.summary("left-vr").unwrap().key_rotation, Some(view));
    assert!(h.st.key_rotation("z2", HOLD).is_none());

    // A report of an older version, or of another zone's router: nothing.
    assert!(h.st.on_router_status("left-vr", Some(1)).is_empty());
    assert!(h.report("far-vr").is_empty());
    // left-vr reports; right-vr never has: the old key stays everywhere.
    let evs = h.report("left-vr");
    assert!(
        matches!(&evs[..], [ConfigEvent::RouterKeysApplied { .. }]),
        "{evs:?}"
    );
    assert!(h.report("left-vr").is_empty(), "recorded once");
    assert_eq!(
        h.st.key_rotation("z1", HOLD).unwrap().waiting_for,
        vec!["right-vr"]
    );
    assert_eq!(key_lines(&h, "left-vr"), vec![new.clone(), old.clone()]);

    // Step 2 once right-vr reported too: sign with the new key.
    let evs = h.report("right-vr");
    assert!(evs.contains(&ConfigEvent::KeyRotationAdvanced {
        zone: "z1".into(),
        step: RotationStep::SendNew,
        at_ms: NOW
    }));
    assert_eq!(versioned(&evs).len(), 2, "{evs:?}");
    for r in ["left-vr", "right-vr"] {
        assert_eq!(key_lines(&h, r), vec![old.clone(), new.clone()], "{r}");
    }
    assert_eq!(h.st.key_rotation("z1", HOLD).unwrap().sending_key_id, 2);
    // Step 3 once both reported that: the new key only.
    h.report("left-vr");
    assert_eq!(key_lines(&h, "right-vr"), vec![old.clone(), new.clone()]);
    let evs = h.report("right-vr");
    assert!(evs.contains(&ConfigEvent::KeyRotationAdvanced {
        zone: "z1".into(),
        step: RotationStep::Done,
        at_ms: NOW
    }));
    for r in ["left-vr", "right-vr"] {
        assert_eq!(key_lines(&h, r), vec![new.clone()], "{r}");
    }
    assert!(h.st.key_rotation("z1", HOLD).is_none());
    assert_eq!(h.version("far-vr"), far_before);

    // Replaying the log rebuilds the same state.
    let mut replayed = RendererState::new();
    for e in &h.log {
        replayed.apply(e).unwrap();
    }
    assert_eq!(replayed.dump(), h.st.dump());
}

/// A key change during a rotation waits for it; a zone with no router goes
/// through the steps at once.
#[test]
fn a_key_change_during_a_rotation_follows_it() {
    let mut h = region();
    h.area(zone_ospf("z1", md5(2, KEY2)));
    h.area(zone_ospf("z1", md5(3, "third-KEY")));
    let view = h.st.key_rotation("z1", HOLD).unwrap();
    assert_eq!((view.old_key_id, view.new_key_id), (1, 2));
    for _ in 0..2 {
        h.report("left-vr");
        h.report("right-vr");
    }
    let view = h.st.key_rotation("z1", HOLD).unwrap();
    assert_eq!(
        (view.phase, view.old_key_id, view.new_key_id),
        (RotationPhase::AddNew, 2, 3)
    );
    // z2 has far-vr only; its key changes while far-vr is away, then
    // far-vr's VPC goes: nothing is left to wait for.
    h.area(zone_ospf("z2", md5(2, KEY2)));
    assert_eq!(
        h.st.key_rotation("z2", HOLD).unwrap().waiting_for,
        vec!["far-vr"]
    );
    h.ipam(json!({"type": "vpc_released", "vpc": "far", "zone": "z2", "cidr": "10.2.0.0/22"}));
    let evs = h.st.advance_rotations(NOW, HOLD);
    h.record(evs);
    let evs = h.st.advance_rotations(NOW, HOLD);
    h.record(evs);
    assert!(h.st.key_rotation("z2", HOLD).is_none());
    assert!(h.st.advance_rotations(NOW, HOLD).is_empty());
}

/// A zone without a router holds no key anywhere: its rotation (a key set
/// before the first VPC, as `zone enable --auth-key-id 3 --auth-key-file F`
/// does after ipam enabled the zone with a generated key 1) completes at
/// once, whatever the hold, so it does not hold the zone's next key back.
#[test]
fn a_zone_without_routers_does_not_hold_the_old_key() {
    let mut h = region();
    let hold = 600_000;
    h.area(zone_ospf("z9", md5(1, KEY2)));
    h.area(zone_ospf("z9", md5(3, "third-KEY")));
    assert!(h.st.key_rotation("z9", hold).is_some());
    for _ in 0..2 {
        let evs = h.st.advance_rotations(NOW, hold);
        assert!(!evs.is_empty(), "the rotation did not advance");
        h.record(evs);
    }
    assert!(h.st.key_rotation("z9", hold).is_none());
    // Positive control: with a router the hold still applies (the test
    // below shows it in full).
}

/// The old key stays `hold` after the routers began signing with the new
/// one (the window for unmanaged routers), however fast they report.
#[test]
fn the_old_key_stays_for_the_hold() {
    let mut h = region();
    h.area(zone_ospf("z1", md5(2, KEY2)));
    h.report("left-vr");
    h.report("right-vr");
    let hold = 60_000;
    let view = h.st.key_rotation("z1", hold).unwrap();
    assert_eq!(view.phase, RotationPhase::SendNew);
    assert_eq!(view.old_key_kept_until_ms, Some(NOW + hold));
    for r in ["left-vr", "right-vr"] {
        let v = h.version(r);
        let evs = h.st.on_router_status(r, v);
        h.record(evs);
    }
    assert!(h.st.advance_rotations(NOW + hold - 1, hold).is_empty());
    let evs = h.st.advance_rotations(NOW + hold, hold);
    assert!(matches!(
        evs[0],
        ConfigEvent::KeyRotationAdvanced {
            step: RotationStep::Done,
            ..
        }
    ));
}
