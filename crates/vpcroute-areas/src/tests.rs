use std::cell::Cell;
use std::collections::BTreeSet;

use proptest::prelude::*;
use vpcroute_protocol::areas::{
    AreaEvent, AreaId, AuthRequest, OspfAuth, Secret, ZoneOspfSet, REDACTED,
};
use vpcroute_protocol::ipam::IpamEvent;
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::{zone_set_fingerprint, AreaError, AreaState};

const GEN_KEY: &str = "GeneratedKey0123";

fn set(zone: &str) -> ZoneOspfSet {
    ZoneOspfSet {
        request_id: "r".into(),
        zone: zone.into(),
        backbone: None,
        hello_interval: None,
        dead_interval: None,
        retransmit_interval: None,
        transmit_delay: None,
        auth: None,
    }
}

fn no_key() -> String {
    panic!("no key should be generated here")
}

/// Decides and applies; returns the events.
fn apply_set(state: &mut AreaState, req: &ZoneOspfSet) -> Vec<AreaEvent> {
    let d = state
        .decide_zone_set(req, || GEN_KEY.to_string())
        .expect("valid request");
    for ev in &d.events {
        state.apply(ev).unwrap();
    }
    d.events
}

fn allocated(vpc: &str, zone: &str) -> IpamEvent {
    IpamEvent::VpcAllocated {
        vpc: vpc.into(),
        zone: zone.into(),
        cidr: "10.0.0.0/24".parse().unwrap(),
        router: None,
    }
}

fn released(vpc: &str, zone: &str) -> IpamEvent {
    IpamEvent::VpcReleased {
        vpc: vpc.into(),
        zone: zone.into(),
        cidr: "10.0.0.0/24".parse().unwrap(),
    }
}

fn feed(state: &mut AreaState, seq: u64, ev: &IpamEvent) -> Vec<AreaEvent> {
    let evs = state.on_ipam_event(seq, ev, test_key);
    for e in &evs {
        state.apply(e).unwrap();
    }
    evs
}

#[test]
fn a_new_zone_gets_the_documented_defaults_and_a_generated_md5_key() {
    let st = AreaState::new();
    let calls = Cell::new(0);
    let d = st
        .decide_zone_set(&set("z1"), || {
            calls.set(calls.get() + 1);
            GEN_KEY.to_string()
        })
        .unwrap();
    assert_eq!(calls.get(), 1);
    assert_eq!(d.stream, "zone/z1");
    assert_eq!(d.events.len(), 1);
    let v = &d.reply;
    assert_eq!(v.zone, "z1");
    assert_eq!(v.backbone, AreaId::BACKBONE);
    assert_eq!(
        (
            v.hello_interval,
            v.dead_interval,
            v.retransmit_interval,
            v.transmit_delay
        ),
        (10, 40, 5, 1)
    );
    assert_eq!(v.auth, "md5");
    assert_eq!(v.key_id, Some(1));
    assert_eq!(v.revision, 1);
    assert!(v.areas.is_empty());

    let mut st = st;
    st.apply(&d.events[0]).unwrap();
    assert_eq!(st.zone_view("z1").unwrap(), d.reply);
    assert_eq!(
        st.settings("z1").unwrap().auth,
        OspfAuth::Md5 {
            key_id: 1,
            key: Secret::new(GEN_KEY)
        }
    );
}

#[test]
fn a_new_zone_without_auth_has_no_key_generated() {
    let st = AreaState::new();
    let mut req = set("z1");
    req.auth = Some(AuthRequest::None {});
    let d = st.decide_zone_set(&req, no_key).unwrap();
    assert_eq!(d.reply.auth, "none");
    assert_eq!(d.reply.key_id, None);
}

#[test]
fn a_partial_update_keeps_every_other_field_and_the_key() {
    let mut st = AreaState::new();
    apply_set(&mut st, &set("z1"));
    let mut req = set("z1");
    req.hello_interval = Some(3);
    let d = st.decide_zone_set(&req, no_key).unwrap();
    assert_eq!(d.events.len(), 1);
    for ev in &d.events {
        st.apply(ev).unwrap();
    }
    let s = st.settings("z1").unwrap();
    assert_eq!(s.hello_interval, 3);
    assert_eq!(s.dead_interval, 40);
    assert_eq!(s.retransmit_interval, 5);
    assert_eq!(s.transmit_delay, 1);
    assert_eq!(s.backbone, AreaId::BACKBONE);
    assert_eq!(
        s.auth,
        OspfAuth::Md5 {
            key_id: 1,
            key: Secret::new(GEN_KEY)
        }
    );
    assert_eq!(st.zone_view("z1").unwrap().revision, 2);

    // MD5 asked for again without a key, with another key id: key kept.
    let mut req = set("z1");
    req.auth = Some(AuthRequest::Md5 {
        key_id: Some(7),
        key: None,
    });
    let evs = st.decide_zone_set(&req, no_key).unwrap().events;
    st.apply(&evs[0]).unwrap();
    assert_eq!(
        st.settings("z1").unwrap().auth,
        OspfAuth::Md5 {
            key_id: 7,
            key: Secret::new(GEN_KEY)
        }
    );

    // Switching from no auth to MD5 without a key generates one.
    let mut req = set("z2");
    req.auth = Some(AuthRequest::None {});
    apply_set(&mut st, &req);
    req.auth = Some(AuthRequest::Md5 {
        key_id: Some(1),
        key: None,
    });
    let d = st
        .decide_zone_set(&req, || "Another16CharKey".into())
        .unwrap();
    assert_eq!(
        d.events,
        vec![AreaEvent::ZoneOspfSet {
            zone: "z2".into(),
            settings: vpcroute_protocol::areas::OspfSettings {
                auth: OspfAuth::Md5 {
                    key_id: 1,
                    key: Secret::new("Another16CharKey")
                },
                ..Default::default()
            }
        }]
    );
}

#[test]
fn a_change_that_changes_nothing_decides_no_event() {
    let mut st = AreaState::new();
    apply_set(&mut st, &set("z1"));
    let before = st.zone_view("z1").unwrap();
    let mut req = set("z1");
    req.hello_interval = Some(10);
    req.auth = Some(AuthRequest::Md5 {
        key_id: Some(1),
        key: None,
    });
    let d = st.decide_zone_set(&req, no_key).unwrap();
    assert!(d.events.is_empty());
    assert_eq!(d.reply, before);
    let d = st.decide_zone_set(&set("z1"), no_key).unwrap();
    assert!(d.events.is_empty());
    assert_eq!(d.reply.revision, 1);
}

#[test]
fn every_invalid_setting_is_refused_and_the_state_is_unchanged() {
    let key = "TopSecretKey";
    let mut st = AreaState::new();
    let mut req = set("z1");
    req.auth = Some(AuthRequest::Md5 {
        key_id: Some(1),
        key: Some(Secret::new(key)),
    });
    apply_set(&mut st, &req);
    feed(&mut st, 1, &allocated("v1", "z1")); // area 1
    feed(&mut st, 2, &allocated("v2", "z1")); // area 2
    feed(&mut st, 3, &released("v2", "z1")); // area 2 retired
    let before = st.dump();

    let bad_key_long = "ABCDEFGHIJKLMNOPQ"; // 17
    let bad_plain = "Plain9chr"; // 9
    type Edit = Box<dyn Fn(&mut ZoneOspfSet)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("hello 0", Box::new(|r| r.hello_interval = Some(0))),
        ("dead 0", Box::new(|r| r.dead_interval = Some(0))),
        ("dead 65536", Box::new(|r| r.dead_interval = Some(65536))),
        (
            "retransmit 0",
            Box::new(|r| r.retransmit_interval = Some(0)),
        ),
        ("transmit 0", Box::new(|r| r.transmit_delay = Some(0))),
        ("dead == hello", Box::new(|r| r.hello_interval = Some(40))),
        (
            "dead < hello",
            Box::new(|r| {
                r.hello_interval = Some(20);
                r.dead_interval = Some(19)
            }),
        ),
        (
            "md5 key too long",
            Box::new(move |r| {
                r.auth = Some(AuthRequest::Md5 {
                    key_id: Some(1),
                    key: Some(Secret::new(bad_key_long)),
                })
            }),
        ),
        (
            "md5 key empty",
            Box::new(|r| {
                r.auth = Some(AuthRequest::Md5 {
                    key_id: Some(1),
                    key: Some(Secret::new("")),
                })
            }),
        ),
        (
            "md5 key with a space",
            Box::new(|r| {
                r.auth = Some(AuthRequest::Md5 {
                    key_id: Some(1),
                    key: Some(Secret::new("has space")),
                })
            }),
        ),
        (
            "md5 key id 0",
            Box::new(|r| {
                r.auth = Some(AuthRequest::Md5 {
                    key_id: Some(0),
                    key: None,
                })
            }),
        ),
        (
            "plaintext too long",
            Box::new(move |r| {
                r.auth = Some(AuthRequest::Plaintext {
                    key: Secret::new(bad_plain),
                })
            }),
        ),
        (
            "plaintext empty",
            Box::new(|r| {
                r.auth = Some(AuthRequest::Plaintext {
                    key: Secret::new(""),
                })
            }),
        ),
        (
            "backbone = active area",
            Box::new(|r| r.backbone = Some(AreaId(1))),
        ),
        (
            "backbone = retired area",
            Box::new(|r| r.backbone = Some(AreaId(2))),
        ),
    ];
    for (what, edit) in cases {
        let mut req = set("z1");
        edit(&mut req);
        let err = st
            .decide_zone_set(&req, || GEN_KEY.to_string())
            .expect_err(what);
        assert_eq!(err.code(), ErrorCode::InvalidSettings, "{what}: {err}");
        let body = ErrorBody::from(err.clone());
        assert_eq!(body.code, ErrorCode::InvalidSettings);
        for text in [
            err.to_string(),
            format!("{err:?}"),
            body.message.clone(),
            format!("{body:?}"),
        ] {
            for k in [key, bad_key_long, bad_plain, "has space", GEN_KEY] {
                assert!(!text.contains(k), "{what}: key in {text:?}");
            }
        }
        assert_eq!(st.dump(), before, "{what}");
    }
    // The same values for a new zone are refused too.
    let mut req = set("z9");
    req.dead_interval = Some(5);
    assert_eq!(
        st.decide_zone_set(&req, || GEN_KEY.into())
            .unwrap_err()
            .code(),
        ErrorCode::InvalidSettings
    );
}

#[test]
fn bad_zone_names_are_refused() {
    let st = AreaState::new();
    for name in ["", "a b", "a/b", &"x".repeat(256)] {
        let err = st.decide_zone_set(&set(name), no_key).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
    }
}

#[test]
fn the_key_is_never_in_debug_views_errors_or_fingerprints() {
    let key = "Sup3rS3cretK3y$%";
    let mut st = AreaState::new();
    let mut req = set("z1");
    req.auth = Some(AuthRequest::Md5 {
        key_id: Some(3),
        key: Some(Secret::new(key)),
    });
    let d = st.decide_zone_set(&req, no_key).unwrap();
    let reply_json = serde_json::to_string(&d.reply).unwrap();
    for ev in &d.events {
        st.apply(ev).unwrap();
    }
    feed(&mut st, 1, &allocated("v1", "z1"));
    let fp = zone_set_fingerprint(&req);
    let texts = [
        format!("{st:?}"),
        format!("{:?}", st.dump()),
        format!("{d:?}"),
        format!("{req:?}"),
        reply_json,
        serde_json::to_string(&st.zone_view("z1").unwrap()).unwrap(),
        format!("{:?}", st.zone_view("z1").unwrap()),
        format!("{:?}", st.settings("z1").unwrap()),
        serde_json::to_string(&d.events[0].redacted()).unwrap(),
        fp.clone(),
        st.zone_view("nope").unwrap_err().to_string(),
    ];
    for t in &texts {
        assert!(!t.contains(key), "key in {t}");
    }
    assert!(serde_json::to_string(&d.events[0].redacted())
        .unwrap()
        .contains(REDACTED));
    // The key is there for the renderer, though.
    assert_eq!(
        st.settings("z1").unwrap().auth,
        OspfAuth::Md5 {
            key_id: 3,
            key: Secret::new(key)
        }
    );
}

#[test]
fn fingerprints_ignore_the_request_id_and_tell_keys_apart() {
    let mut a = set("z1");
    a.auth = Some(AuthRequest::Plaintext {
        key: Secret::new("k1"),
    });
    let mut b = a.clone();
    b.request_id = "other".into();
    assert_eq!(zone_set_fingerprint(&a), zone_set_fingerprint(&b));
    b.auth = Some(AuthRequest::Plaintext {
        key: Secret::new("k2"),
    });
    assert_ne!(zone_set_fingerprint(&a), zone_set_fingerprint(&b));
    assert!(!zone_set_fingerprint(&a).contains("request_id"));
    // Same key, another zone: another digest (salted with the zone).
    let mut c = a.clone();
    c.zone = "z2".into();
    assert_ne!(
        zone_set_fingerprint(&a).replace("z1", ""),
        zone_set_fingerprint(&c).replace("z2", "")
    );
    // Without a key, the fingerprint is the plain request.
    let mut d = set("z1");
    d.hello_interval = Some(3);
    assert_eq!(
        zone_set_fingerprint(&d),
        r#"{"hello_interval":3,"zone":"z1"}"#
    );
}

#[test]
fn areas_start_at_one_skip_backbones_and_are_never_reused() {
    // A backbone other than 0 is refused at the request now (issue 11), but
    // a log written before may hold one: replay still never issues it.
    let mut st = AreaState::new();
    st.apply(&AreaEvent::ZoneOspfSet {
        zone: "z1".into(),
        settings: vpcroute_protocol::areas::OspfSettings {
            backbone: AreaId(2),
            ..Default::default()
        },
    })
    .unwrap();
    let a = feed(&mut st, 1, &allocated("v1", "z1"));
    assert_eq!(st.vpc_area("v1").unwrap().area_id, AreaId(1));
    assert!(matches!(
        &a[..],
        [AreaEvent::AreaAssigned { ipam_seq: 1, .. }]
    ));
    feed(&mut st, 2, &allocated("v2", "z1"));
    assert_eq!(st.vpc_area("v2").unwrap().area_id, AreaId(3));
    feed(&mut st, 3, &released("v1", "z1"));
    assert_eq!(st.vpc_area("v1").unwrap_err().code(), ErrorCode::UnknownVpc);
    feed(&mut st, 4, &allocated("v1", "z2")); // same name again, new id
    assert_eq!(st.vpc_area("v1").unwrap().area_id, AreaId(4));
    assert_eq!(st.ipam_cursor(), 4);
    let view = st.zone_view("z1").unwrap();
    assert_eq!(view.areas.len(), 1);
    assert_eq!(view.areas[0].vpc, "v2");
    // z2 has an area but no settings.
    assert_eq!(
        st.zone_view("z2").unwrap_err().code(),
        ErrorCode::UnknownZone
    );
}

#[test]
fn on_ipam_event_is_idempotent() {
    let mut st = AreaState::new();
    assert_eq!(feed(&mut st, 1, &allocated("v1", "z1")).len(), 1);
    // The same event again, or any older one: nothing.
    assert!(st
        .on_ipam_event(1, &allocated("v1", "z1"), test_key)
        .is_empty());
    assert!(st
        .on_ipam_event(1, &allocated("v9", "z1"), test_key)
        .is_empty());
    assert!(st
        .on_ipam_event(0, &released("v1", "z1"), test_key)
        .is_empty());
    // A later allocation of a VPC that has an area: nothing.
    assert!(st
        .on_ipam_event(2, &allocated("v1", "z1"), test_key)
        .is_empty());
    // Releasing a VPC without an area: nothing.
    assert!(st
        .on_ipam_event(3, &released("v7", "z1"), test_key)
        .is_empty());
    // Other events: nothing.
    let others = [
        IpamEvent::TierReleased {
            tier: "t".into(),
            vpc: "v1".into(),
            cidr: "10.0.0.0/26".parse().unwrap(),
        },
        IpamEvent::VmAddressAllocated {
            vm: "m".into(),
            tier: "t".into(),
            ip: "10.0.0.5".parse().unwrap(),
        },
    ];
    for ev in &others {
        assert!(st.on_ipam_event(5, ev, test_key).is_empty());
    }
    // Events that caused nothing are not recorded: the cursor stays.
    assert_eq!(st.ipam_cursor(), 1);
    let retire = feed(&mut st, 6, &released("v1", "z1"));
    assert_eq!(retire.len(), 1);
    assert!(st
        .on_ipam_event(6, &released("v1", "z1"), test_key)
        .is_empty());
    assert!(st
        .on_ipam_event(7, &released("v1", "z1"), test_key)
        .is_empty());
}

#[test]
fn apply_refuses_events_that_contradict_the_state() {
    let mut st = AreaState::new();
    feed(&mut st, 5, &allocated("v1", "z1"));
    let before = st.dump();
    let bad = [
        AreaEvent::AreaAssigned {
            vpc: "v2".into(),
            zone: "z1".into(),
            area_id: AreaId(9),
            ipam_seq: 5, // not after the cursor
        },
        AreaEvent::AreaAssigned {
            vpc: "v1".into(),
            zone: "z1".into(),
            area_id: AreaId(9),
            ipam_seq: 6,
        },
        AreaEvent::AreaAssigned {
            vpc: "v2".into(),
            zone: "z1".into(),
            area_id: AreaId(1), // taken
            ipam_seq: 6,
        },
        AreaEvent::AreaAssigned {
            vpc: "v2".into(),
            zone: "z1".into(),
            area_id: AreaId(0),
            ipam_seq: 6,
        },
        AreaEvent::AreaRetired {
            vpc: "v2".into(),
            zone: "z1".into(),
            area_id: AreaId(1),
            ipam_seq: 6,
        },
        AreaEvent::AreaRetired {
            vpc: "v1".into(),
            zone: "z1".into(),
            area_id: AreaId(2),
            ipam_seq: 6,
        },
    ];
    for ev in &bad {
        let err = st.apply(ev).expect_err("inconsistent");
        assert!(matches!(err, AreaError::Inconsistent(_)));
        assert_eq!(err.code(), ErrorCode::Internal);
        assert_eq!(st.dump(), before);
    }
}

// ------------------------------------------------------------- proptest

#[derive(Debug, Clone)]
enum Op {
    Allocate {
        vpc: u8,
        zone: u8,
    },
    Release {
        vpc: u8,
    },
    Unrelated,
    /// Re-deliver an earlier ipam event (the follower's catch-up).
    Redeliver(usize),
    SetBackbone {
        zone: u8,
        backbone: u32,
    },
    /// Restart: rebuild from the area log, then re-read ipam from the
    /// cursor (the events that caused nothing come again).
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..8, 0u8..3).prop_map(|(vpc, zone)| Op::Allocate { vpc, zone }),
        3 => (0u8..8).prop_map(|vpc| Op::Release { vpc }),
        1 => Just(Op::Unrelated),
        2 => any::<usize>().prop_map(Op::Redeliver),
        2 => (0u8..3, 0u32..12).prop_map(|(zone, backbone)| Op::SetBackbone { zone, backbone }),
        1 => Just(Op::Restart),
    ]
}

fn rebuild(log: &[AreaEvent]) -> AreaState {
    let mut st = AreaState::new();
    for ev in log {
        st.apply(ev).expect("the log replays");
    }
    st
}

fn check_invariants(st: &AreaState, issued_in_order: &[AreaId]) {
    let d = st.dump();
    let backbones: BTreeSet<AreaId> = d.zones.values().map(|z| z.settings.backbone).collect();
    let mut active = BTreeSet::new();
    for a in d.areas.values() {
        assert!(active.insert(a.area_id), "area {} twice", a.area_id);
        assert!(!a.area_id.is_backbone());
        assert!(
            !backbones.contains(&a.area_id),
            "area {} is a backbone",
            a.area_id
        );
    }
    // Never reused: ids were handed out strictly increasing.
    assert!(issued_in_order.windows(2).all(|w| w[0] < w[1]));
    for id in issued_in_order {
        assert!(!backbones.contains(id), "issued {id} is now a backbone");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn areas_stay_unique_and_replay_gives_the_same_state(ops in proptest::collection::vec(op(), 1..80)) {
        let mut st = AreaState::new();
        let mut ipam: Vec<IpamEvent> = Vec::new(); // seq = index + 1
        let mut log: Vec<AreaEvent> = Vec::new();
        let mut issued: Vec<AreaId> = Vec::new();
        for op in ops {
            let record = |st: &mut AreaState, evs: Vec<AreaEvent>, log: &mut Vec<AreaEvent>, issued: &mut Vec<AreaId>| {
                for ev in evs {
                    st.apply(&ev).expect("decided events apply");
                    if let AreaEvent::AreaAssigned { area_id, .. } = &ev {
                        issued.push(*area_id);
                    }
                    log.push(ev);
                }
            };
            match op {
                Op::Allocate { vpc, zone } => {
                    ipam.push(allocated(&format!("v{vpc}"), &format!("z{zone}")));
                    let seq = ipam.len() as u64;
                    let evs = st.on_ipam_event(seq, &ipam[seq as usize - 1], test_key);
                    let had = st.vpc_area(&format!("v{vpc}")).is_ok();
                    prop_assert_eq!(evs.len(), usize::from(!had));
                    record(&mut st, evs, &mut log, &mut issued);
                }
                Op::Release { vpc } => {
                    ipam.push(released(&format!("v{vpc}"), "z0"));
                    let seq = ipam.len() as u64;
                    let evs = st.on_ipam_event(seq, &ipam[seq as usize - 1], test_key);
                    record(&mut st, evs, &mut log, &mut issued);
                    let gone = st.vpc_area(&format!("v{vpc}")).is_err();
                    prop_assert!(gone);
                }
                Op::Unrelated => {
                    ipam.push(IpamEvent::VmAddressAllocated { vm: "m".into(), tier: "t".into(), ip: "10.0.0.5".parse().unwrap() });
                    let seq = ipam.len() as u64;
                    prop_assert!(st.on_ipam_event(seq, &ipam[seq as usize - 1], test_key).is_empty());
                }
                Op::Redeliver(i) => {
                    if !ipam.is_empty() {
                        let i = i % ipam.len();
                        let seq = i as u64 + 1;
                        if seq <= st.ipam_cursor() {
                            prop_assert!(st.on_ipam_event(seq, &ipam[i], test_key).is_empty());
                        }
                    }
                }
                Op::SetBackbone { zone, backbone } => {
                    let mut req = set(&format!("z{zone}"));
                    req.backbone = Some(AreaId(backbone));
                    match st.decide_zone_set(&req, || GEN_KEY.to_string()) {
                        Ok(d) => record(&mut st, d.events, &mut log, &mut issued),
                        Err(e) => {
                            // The backbone is area 0 by definition.
                            prop_assert_eq!(e.code(), ErrorCode::InvalidSettings);
                            prop_assert!(backbone != 0);
                        }
                    }
                }
                Op::Restart => {
                    let again = rebuild(&log);
                    prop_assert_eq!(again.dump(), st.dump());
                    // The follower re-reads ipam after the cursor: events
                    // that caused nothing cause nothing again.
                    for seq in again.ipam_cursor() + 1..=ipam.len() as u64 {
                        let evs = again.on_ipam_event(seq, &ipam[seq as usize - 1], test_key);
                        prop_assert!(evs.is_empty(), "seq {} caused {:?} again", seq, evs);
                    }
                    st = again;
                }
            }
            check_invariants(&st, &issued);
        }
        prop_assert_eq!(rebuild(&log).dump(), st.dump());
    }
}

fn test_key() -> String {
    "generatedKey0001".to_string()
}

#[test]
fn a_zone_enabled_in_ipam_gets_default_settings_once() {
    let mut st = AreaState::new();
    let enabled = IpamEvent::ZoneEnabled {
        zone: "zd".into(),
        super_cidrs: vec!["10.0.0.0/8".parse().unwrap()],
    };
    let evs = st.on_ipam_event(1, &enabled, test_key);
    assert_eq!(evs.len(), 1);
    for e in &evs {
        st.apply(e).unwrap();
    }
    let view = st.zone_view("zd").unwrap();
    assert_eq!(
        (view.hello_interval, view.dead_interval, view.auth.as_str()),
        (10, 40, "md5")
    );
    assert_eq!(
        st.settings("zd").unwrap().auth,
        OspfAuth::Md5 {
            key_id: 1,
            key: Secret::new("generatedKey0001")
        }
    );
    // Seen again (a replayed or re-read ipam event): nothing new.
    assert!(st.on_ipam_event(2, &enabled, || unreachable!()).is_empty());
}

/// Issue 11 item 5: OSPF's backbone is area 0 by definition; any other
/// backbone is refused with a clear message, at enable and at update, and
/// changes nothing.
#[test]
fn a_backbone_other_than_area_0_is_refused_at_enable_and_update() {
    let mut st = AreaState::new();
    for zone in ["new-zone", "z1"] {
        if zone == "z1" {
            apply_set(&mut st, &set("z1"));
        }
        let before = st.dump();
        let mut req = set(zone);
        req.backbone = Some(AreaId(5));
        let err = st
            .decide_zone_set(&req, || GEN_KEY.to_string())
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidSettings, "{zone}");
        assert!(
            err.to_string().contains("backbone area 0.0.0.5")
                && err.to_string().contains("area 0 (0.0.0.0) by definition"),
            "{err}"
        );
        assert_eq!(st.dump(), before, "{zone}");
        // Positive control: the backbone written out as 0.0.0.0 is fine.
        req.backbone = Some(AreaId::BACKBONE);
        st.decide_zone_set(&req, || GEN_KEY.to_string()).unwrap();
    }
}

/// Issue 11 item 9: a key holding a character vtysh reads specially on
/// stdin (`?`), a comment character (`!`, `#`) or surrounding spaces is
/// refused at enable and at update, for MD5 and plaintext, with a message
/// that names the rule (not the key), and changes nothing.
#[test]
fn keys_with_characters_vtysh_reads_specially_are_refused() {
    let mut st = AreaState::new();
    apply_set(&mut st, &set("z1"));
    let before = st.dump();
    for key in ["ab?cd", "ab!cd", "ab#cd", "?", " abcd", "abcd ", "ab\tcd"] {
        for zone in ["new-zone", "z1"] {
            for auth in [
                AuthRequest::Md5 {
                    key_id: Some(2),
                    key: Some(Secret::new(key)),
                },
                AuthRequest::Plaintext {
                    key: Secret::new(key),
                },
            ] {
                let mut req = set(zone);
                req.auth = Some(auth);
                let err = st.decide_zone_set(&req, no_key).unwrap_err();
                assert_eq!(err.code(), ErrorCode::InvalidSettings, "{key:?} {zone}");
                let msg = err.to_string();
                assert!(msg.contains("other than '?', '!' and '#'"), "{msg}");
                // ("?" alone is in the rule itself.)
                assert!(
                    key.len() < 3 || !msg.contains(key.trim()),
                    "the key leaked: {msg}"
                );
                assert_eq!(st.dump(), before);
            }
        }
    }
    // Positive control: every other printable character is accepted.
    let mut req = set("z1");
    req.auth = Some(AuthRequest::Md5 {
        key_id: Some(2),
        key: Some(Secret::new("\"$%&'()*+,-./:;<")),
    });
    st.decide_zone_set(&req, no_key).unwrap();
    req.auth = Some(AuthRequest::Md5 {
        key_id: Some(2),
        key: Some(Secret::new("=>@[\\]^_`{|}~aZ9")),
    });
    st.decide_zone_set(&req, no_key).unwrap();
}

/// Issue 11 item 8: a new key takes a new key id; the same id with another
/// key is refused, changing nothing.
#[test]
fn a_new_key_takes_the_next_key_id_and_never_the_one_in_use() {
    let mut st = AreaState::new();
    let md5 = |key_id: Option<u8>, key: &str| {
        let mut r = set("z1");
        r.auth = Some(AuthRequest::Md5 {
            key_id,
            key: Some(Secret::new(key)),
        });
        r
    };
    let auth = |st: &AreaState| st.settings("z1").unwrap().auth;
    apply_set(&mut st, &md5(Some(254), "first-Key"));
    // Routers may hold the key once the zone has a VPC.
    feed(&mut st, 1, &allocated("v1", "z1"));
    apply_set(&mut st, &md5(None, "second-Key"));
    assert_eq!(
        auth(&st),
        OspfAuth::Md5 {
            key_id: 255,
            key: Secret::new("second-Key")
        }
    );
    // Wraps within 1..=255.
    apply_set(&mut st, &md5(None, "third-Key"));
    assert_eq!(
        auth(&st),
        OspfAuth::Md5 {
            key_id: 1,
            key: Secret::new("third-Key")
        }
    );
    // The same key again keeps its id; no event.
    assert!(st
        .decide_zone_set(&md5(None, "third-Key"), no_key)
        .unwrap()
        .events
        .is_empty());
    // Another key under the id of a key routers may hold: refused,
    // nothing changes.
    let before = st.dump();
    let err = st
        .decide_zone_set(&md5(Some(1), "fourth-Key"), no_key)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSettings);
    assert!(
        err.to_string()
            .contains("key id 1 already holds another key"),
        "{err}"
    );
    assert!(!err.to_string().contains("fourth-Key"));
    assert_eq!(st.dump(), before);
    // Before any VPC, nothing holds the key: replacing it under its id is
    // how `zone enable --auth-key-id 1` replaces the generated one.
    let mut fresh = AreaState::new();
    apply_set(&mut fresh, &md5(None, "generated-Key"));
    for (id, key) in [(Some(1), "operator-Key"), (None, "other-Key")] {
        apply_set(&mut fresh, &md5(id, key));
        assert_eq!(
            fresh.settings("z1").unwrap().auth,
            OspfAuth::Md5 {
                key_id: 1,
                key: Secret::new(key)
            }
        );
    }
    // An explicit new id is taken as given.
    apply_set(&mut st, &md5(Some(9), "fourth-Key"));
    assert_eq!(
        auth(&st),
        OspfAuth::Md5 {
            key_id: 9,
            key: Secret::new("fourth-Key")
        }
    );
}
