//! Validate once (issue 11): whatever ipam and the area registry accept,
//! the config-renderer renders. The three pure state machines are driven
//! in process, as the services drive them (ipam decides and applies; each
//! ipam event goes to the registry and the renderer; each registry event to
//! the renderer), by commands that include every shape the renderer
//! refuses: interface names with `@`, ` `, `/`, too long; uplinks inside
//! the zone's space; unusable router ids; backbones other than 0; keys
//! holding `?`, `!`, `#` or spaces. If ipam or the registry accepted one of
//! them, a router would fail to render and the property would fail (before
//! the fix, `eth3@1` and an uplink inside the VPC block did).

use proptest::prelude::*;
use serde_json::{json, Value};
use vpcroute_areas::AreaState;
use vpcroute_configs::{ConfigEvent, RendererState};
use vpcroute_ipam::{Command, IpamState};
use vpcroute_protocol::areas::{AreaEvent, ZoneOspfSet};
use vpcroute_protocol::config::DialectName;

const INTERFACES: &[&str] = &[
    "eth1",
    "eth2",
    "eth3",
    "eth4",
    "eth3@1",
    "eth 3",
    "eth/3",
    "",
    "eth1234567890abcd",
    "eth3.10",
    "eth3:1",
];
const UPLINKS: &[&str] = &[
    "192.168.100.2/24",
    "192.168.100.3/24",
    "10.0.0.2/24",
    "10.0.0.0/16",
    "10.0.4.9/30",
    "172.16.0.1/12",
];
const ROUTER_NAMES: &[&str] = &["vr-a", "vr-b", "vr-c", "vr.d", "vr@e", "", "vr_f"];
const ROUTER_IDS: &[&str] = &[
    "10.255.0.1",
    "10.255.0.2",
    "0.0.0.0",
    "255.255.255.255",
    "10.255.0.3",
];
const KEYS: &[&str] = &[
    "goodKey1",
    "k?ey",
    "k!ey",
    "k#ey",
    " key",
    "key ",
    "a$%&'()*+",
];

#[derive(Debug, Clone)]
enum Op {
    Ipam(Value),
    Ospf(Value),
}

fn pick<'a>(list: &'a [&'a str]) -> impl Strategy<Value = &'a str> {
    (0..list.len()).prop_map(move |i| list[i])
}

fn router() -> impl Strategy<Value = Option<Value>> {
    proptest::option::weighted(
        0.9,
        (pick(ROUTER_NAMES), pick(ROUTER_IDS), pick(INTERFACES), pick(UPLINKS)).prop_map(
            |(name, id, iface, up)| {
                json!({"name": name, "router_id": id, "uplink_interface": iface, "uplink_address": up})
            },
        ),
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0u8..2).prop_map(|z| Op::Ipam(json!({"command": "zone_enable", "zone": format!("z{z}"),
            "super_cidrs": [format!("10.{z}.0.0/16"), "192.168.100.0/24"]}))),
        4 => (0u8..4, 0u8..2, 20u8..27, router()).prop_map(|(v, z, p, r)| {
            let mut c = json!({"command": "vpc_allocate", "vpc": format!("v{v}"), "zone": format!("z{z}"), "prefix_length": p});
            if let Some(r) = r { c["router"] = r; }
            Op::Ipam(c)
        }),
        1 => (0u8..4).prop_map(|v| Op::Ipam(json!({"command": "vpc_release", "name": format!("v{v}")}))),
        5 => (0u8..6, 0u8..4, 24u8..33, proptest::option::weighted(0.9, pick(INTERFACES))).prop_map(|(t, v, p, i)| {
            let mut c = json!({"command": "tier_allocate", "tier": format!("t{t}"), "vpc": format!("v{v}"), "prefix_length": p});
            if let Some(i) = i { c["interface"] = json!(i); }
            Op::Ipam(c)
        }),
        1 => (0u8..6).prop_map(|t| Op::Ipam(json!({"command": "tier_release", "name": format!("t{t}")}))),
        2 => (0u8..2, prop_oneof![Just(0u32), Just(5u32)], 1u16..12, pick(KEYS), any::<bool>()).prop_map(
            |(z, backbone, hello, key, md5)| {
                let auth = if md5 { json!({"type": "md5", "key_id": 2, "key": key}) }
                           else { json!({"type": "plaintext", "key": &key[..key.len().min(8)]}) };
                Op::Ospf(json!({"zone": format!("z{z}"), "backbone": backbone.to_string(),
                    "hello_interval": hello, "dead_interval": u32::from(hello) * 3, "auth": auth}))
            }),
    ]
}

/// The three state machines, fed like the services feed them.
#[derive(Default)]
struct Region {
    ipam: IpamState,
    areas: AreaState,
    renderer: RendererState,
    ipam_seq: u64,
    area_seq: u64,
    recorded: Vec<ConfigEvent>,
}

fn key() -> String {
    "generatedKey0001".into()
}

impl Region {
    fn area_events(&mut self, evs: Vec<AreaEvent>) {
        for ev in evs {
            self.areas.apply(&ev).expect("decided area events apply");
            self.area_seq += 1;
            let out = self.renderer.on_area(self.area_seq, &ev);
            self.record(out);
        }
    }

    fn record(&mut self, evs: Vec<ConfigEvent>) {
        for e in &evs {
            self.renderer.apply(e).expect("decided config events apply");
        }
        self.recorded.extend(evs);
    }

    fn run(&mut self, op: Op, n: usize) {
        match op {
            Op::Ipam(mut c) => {
                c["request_id"] = json!(format!("r{n}"));
                let cmd: Command = serde_json::from_value(c).expect("well-formed command");
                let Ok(d) = self.ipam.decide(&cmd) else {
                    return;
                };
                for ev in d.events {
                    self.ipam.apply(&ev).expect("decided ipam events apply");
                    self.ipam_seq += 1;
                    let area = self.areas.on_ipam_event(self.ipam_seq, &ev, key);
                    let out = self.renderer.on_ipam(self.ipam_seq, &ev);
                    self.record(out);
                    self.area_events(area);
                }
            }
            Op::Ospf(mut c) => {
                c["request_id"] = json!(format!("r{n}"));
                let req: ZoneOspfSet = serde_json::from_value(c).expect("well-formed request");
                if let Ok(d) = self.areas.decide_zone_set(&req, key) {
                    self.area_events(d.events);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn every_router_of_accepted_commands_renders(ops in proptest::collection::vec(op(), 1..60)) {
        let mut r = Region::default();
        for (n, op) in ops.into_iter().enumerate() {
            r.run(op, n);
            let failed: Vec<&ConfigEvent> = r.recorded.iter()
                .filter(|e| matches!(e, ConfigEvent::RenderFailed { .. })).collect();
            prop_assert!(failed.is_empty(), "accepted commands do not render: {:?}", failed);
            // Every router of a VPC is rendered (all VPCs are IPv4, every
            // zone gets settings and every VPC an area at once).
            prop_assert_eq!(r.renderer.problems(), vec![]);
            for s in r.renderer.routers() {
                prop_assert!(r.renderer.router_config(&s.router, DialectName::Frr).is_ok());
            }
        }
    }
}
