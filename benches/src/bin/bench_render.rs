//! Benchmark 5: re-rendering every router of a zone of 10,000 VPCs after an
//! OSPF key rotation, in the config-renderer's state machine.
//!
//! Set-up (not timed as the figure, reported separately): `RendererState`
//! fed like the service feeds it (`on_ipam` / `on_area`, then `apply` of
//! every returned event) with the zone's OSPF settings (MD5 key), the zone,
//! and per VPC: `vpc_allocated` (with its router), `area_assigned`, and two
//! `tier_allocated` with a VR interface. Every router is then rendered at
//! version 3.
//!
//! Timed: one `zone_ospf_set` with a new key: `on_area` (decides the
//! 10,000 `router_versioned` events: renders FRR + Quagga and hashes them
//! per router) + `apply` of every event. Also reported: rendering every
//! router's FRR text with `router_config` (what the syncers then fetch).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};
use serde_json::json;
use vpcroute_benches::{emit, env_or, router_spec, rss_kib, say, secs, ZONE};
use vpcroute_configs::{ConfigEvent, RendererState};
use vpcroute_protocol::areas::{AreaEvent, AreaId, OspfAuth, OspfSettings, Secret};
use vpcroute_protocol::config::DialectName;
use vpcroute_protocol::ipam::IpamEvent;

fn settings(key: &str) -> OspfSettings {
    OspfSettings {
        auth: OspfAuth::Md5 {
            key_id: 1,
            key: Secret::new(key),
        },
        ..OspfSettings::default()
    }
}

fn record(st: &mut RendererState, evs: Vec<ConfigEvent>) -> usize {
    let n = evs.len();
    for e in &evs {
        st.apply(e).expect("applies");
    }
    n
}

/// The zone's state before the rotation: what the renderer holds and its
/// last area sequence number.
struct Zone {
    st: RendererState,
    area_seq: u64,
}

/// Set-up: the zone's OSPF settings, the zone, and per VPC its allocation,
/// area and two tiers, fed like the service feeds them.
fn set_up(vpcs: u32) -> Zone {
    let mut st = RendererState::new();
    let (mut ipam_seq, mut area_seq) = (0u64, 0u64);
    area_seq += 1;
    let ev = AreaEvent::ZoneOspfSet {
        zone: ZONE.into(),
        settings: settings("first-key-0001"),
    };
    let evs = st.on_area(area_seq, &ev);
    record(&mut st, evs);
    ipam_seq += 1;
    let ev = IpamEvent::ZoneEnabled {
        zone: ZONE.into(),
        super_cidrs: vec!["10.0.0.0/8".parse().unwrap()],
    };
    let evs = st.on_ipam(ipam_seq, &ev);
    record(&mut st, evs);
    for i in 0..vpcs {
        let net = Ipv4Net::new(Ipv4Addr::from(0x0a00_0000u32 + (i << 8)), 24).unwrap();
        ipam_seq += 1;
        let ev = IpamEvent::VpcAllocated {
            vpc: format!("vpc-{i}"),
            zone: ZONE.into(),
            cidr: IpNet::V4(net),
            router: Some(router_spec(i)),
        };
        let evs = st.on_ipam(ipam_seq, &ev);
        record(&mut st, evs);
        area_seq += 1;
        let ev = AreaEvent::AreaAssigned {
            vpc: format!("vpc-{i}"),
            zone: ZONE.into(),
            area_id: AreaId(i + 1),
            ipam_seq,
        };
        let evs = st.on_area(area_seq, &ev);
        record(&mut st, evs);
        for j in 0..2u32 {
            let base = u32::from(net.network()) + 64 * j;
            ipam_seq += 1;
            let ev = IpamEvent::TierAllocated {
                tier: format!("tier-{i}-{j}"),
                vpc: format!("vpc-{i}"),
                cidr: IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base), 26).unwrap()),
                gateway: Ipv4Addr::from(base + 1).into(),
                interface: Some(format!("eth{}", j + 2)),
                acl: None,
            };
            let evs = st.on_ipam(ipam_seq, &ev);
            record(&mut st, evs);
        }
    }
    Zone { st, area_seq }
}

/// Figures of the key rotation.
struct Rotation {
    decide: Duration,
    apply: Duration,
    applied: usize,
    hwm0: u64,
    hwm1: u64,
}

/// The timed part: one `zone_ospf_set` with a new key, decided and applied.
fn rotate_key(zone: &mut Zone, vpcs: u32) -> Rotation {
    let st = &mut zone.st;
    let (_, hwm0) = rss_kib(None);
    let rotate = AreaEvent::ZoneOspfSet {
        zone: ZONE.into(),
        settings: settings("rotated-key-0002"),
    };
    zone.area_seq += 1;
    let t = Instant::now();
    let evs = st.on_area(zone.area_seq, &rotate);
    let decide = t.elapsed();
    let versioned = evs
        .iter()
        .filter(|e| matches!(e, ConfigEvent::RouterVersioned { .. }))
        .count();
    let t = Instant::now();
    let applied = record(st, evs);
    let apply = t.elapsed();
    let total = decide + apply;
    let (_, hwm1) = rss_kib(None);
    assert_eq!(versioned, vpcs as usize);
    assert!(st.routers().iter().all(|r| r.version == 4));
    say!(
        "key rotation: on_area {:.3}s + apply {:.3}s = {:.3}s ({versioned} routers versioned)",
        decide.as_secs_f64(),
        apply.as_secs_f64(),
        total.as_secs_f64()
    );
    Rotation {
        decide,
        apply,
        applied,
        hwm0,
        hwm1,
    }
}

/// What the syncers then fetch: every router's FRR text.
fn fetch_all_frr(st: &RendererState) -> Duration {
    let t = Instant::now();
    let mut bytes = 0usize;
    for r in st.routers() {
        let c = st.router_config(&r.router, DialectName::Frr).unwrap();
        bytes += format!("{:?}", c.version).len();
        std::hint::black_box(&c);
    }
    let fetch_all = t.elapsed();
    std::hint::black_box(bytes);
    say!(
        "router_config(frr) for all routers: {:.3}s",
        fetch_all.as_secs_f64()
    );
    fetch_all
}

fn main() {
    let vpcs: u32 = env_or("BENCH_VPCS", 10_000);
    let t = Instant::now();
    let mut zone = set_up(vpcs);
    let setup = t.elapsed();
    let routers = zone.st.routers();
    assert_eq!(routers.len(), vpcs as usize);
    assert!(routers.iter().all(|r| r.version == 3), "every router at v3");
    say!(
        "set-up: {vpcs} routers in {:.2}s ({:.1} µs per input)",
        setup.as_secs_f64(),
        setup.as_secs_f64() * 1e6 / f64::from(vpcs * 4 + 2)
    );

    let rot = rotate_key(&mut zone, vpcs);
    let total = rot.decide + rot.apply;
    let fetch_all = fetch_all_frr(&zone.st);

    emit(json!({
        "bench": "render",
        "routers": vpcs,
        "setup_s": secs(setup),
        "on_area_s": secs(rot.decide),
        "apply_s": secs(rot.apply),
        "rotation_total_s": secs(total),
        "events": rot.applied,
        "per_router_us": (total.as_secs_f64() * 1e6 / f64::from(vpcs) * 10.0).round() / 10.0,
        "router_config_all_frr_s": secs(fetch_all),
        "vmhwm_mib_before": rot.hwm0 / 1024,
        "vmhwm_mib_after": rot.hwm1 / 1024,
    }));
}
