//! The planner's central property, held to a real FRR: for any running
//! configuration and any desired one, applying `plan(desired, running)`
//! through vtysh leaves a router on which the planner finds nothing left
//! to do, and whose managed configuration is exactly the desired one.
//!
//! The ten hand-written cases in `plan.rs` check chosen orders; this test
//! draws the pairs. Both sides are rendered models (interfaces, areas,
//! ranges, timers, keys, MD5 rotations and authentication modes drawn from small pools so
//! that the two overlap often), and the running side also carries stale
//! lines a hand edit or an older version could leave (costs, priorities,
//! foreign ranges, a whole stale interface). FRR is real: the lab's
//! `left-vr` (zebra + ospfd in its namespace), driven through router-sync's
//! own long-lived vtysh session. Interface names are ones the namespace
//! does not have, so between cases each is removed whole (`no interface`)
//! and the router starts empty without using the planner under test.
//!
//! `PLAN_PROP_CASES` sets the number of cases (default 24).

use std::net::Ipv4Addr;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use vpcroute_render::{
    render, AreaId, Dialect, Md5Rotation, OspfAuth, OspfSettings, RenderedConfig, RouterModel,
    Secret, SendKey, TierInterface, Uplink,
};
use vpcroute_router_sync::vtysh::Vtysh;
use vpcroute_sync::{plan, FrrConfig};
use vpcroute_tests::lab::{lab_possible, lab_up, LEFT};

/// Tier interface names: never present in the namespace (see above).
const TIERS: &[&str] = &["tp1", "tp2", "tp3", "tp4"];
const UPLINK: &str = "up0";

fn auth() -> impl Strategy<Value = OspfAuth> {
    prop_oneof![
        Just(OspfAuth::None),
        prop::sample::select(vec!["plain-1", "plain-2"]).prop_map(|k| OspfAuth::Plaintext {
            key: Secret::new(k.to_string())
        }),
        (
            1u8..=2,
            prop::sample::select(vec!["md5-key-A", "md5-key-B"])
        )
            .prop_map(|(id, k)| {
                OspfAuth::Md5 {
                    key_id: id,
                    key: Secret::new(k.to_string()),
                }
            }),
    ]
}

fn settings() -> impl Strategy<Value = OspfSettings> {
    (
        prop::sample::select(vec![(10u16, 40u32), (1, 4), (5, 20)]),
        prop::sample::select(vec![5u16, 3]),
        prop::sample::select(vec![1u16, 2]),
        auth(),
    )
        .prop_map(|((hello, dead), rx, td, auth)| OspfSettings {
            backbone: AreaId(0),
            hello_interval: hello,
            dead_interval: dead,
            retransmit_interval: rx,
            transmit_delay: td,
            auth,
        })
}

/// An MD5 key rotation in progress, when the zone uses MD5: the retired
/// key under the other id of the pool, signing or not.
fn rotation(auth: &OspfAuth, send: Option<SendKey>) -> Option<Md5Rotation> {
    match (auth, send) {
        (OspfAuth::Md5 { key_id, .. }, Some(send)) => Some(Md5Rotation {
            old_key_id: 3 - key_id,
            old_key: Secret::new("md5-key-old".to_string()),
            send,
        }),
        _ => None,
    }
}

/// A VR's model: area 1 to 3 with the VPC 10.A.0.0/16, some of the tier
/// interfaces, each a /24 of it.
fn model() -> impl Strategy<Value = RouterModel> {
    (
        1u32..=3,
        prop::sample::subsequence(TIERS.to_vec(), 0..=TIERS.len()),
        prop::sample::select(vec![
            Ipv4Addr::new(10, 255, 0, 1),
            Ipv4Addr::new(10, 255, 0, 9),
        ]),
        settings(),
        prop::option::of(prop::sample::select(vec![SendKey::Old, SendKey::New])),
    )
        .prop_map(|(area, tiers, router_id, ospf, send)| RouterModel {
            md5_rotation: rotation(&ospf.auth, send),
            hostname: "left-vr".into(),
            router_id,
            uplink: Uplink {
                interface: UPLINK.into(),
                address: "192.168.100.2/24".parse().unwrap(),
            },
            ospf,
            area: AreaId(area),
            vpc_cidr: format!("10.{area}.0.0/16").parse().unwrap(),
            tiers: tiers
                .iter()
                .enumerate()
                .map(|(i, iface)| TierInterface {
                    name: format!("tier-{iface}"),
                    interface: iface.to_string(),
                    gateway: Ipv4Addr::new(10, area as u8, i as u8, 1).into(),
                    cidr: format!("10.{area}.{i}.0/24").parse().unwrap(),
                })
                .collect(),
        })
}

/// Lines a hand edit or an older version could have left, each valid FRR.
fn stale_lines() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(
        vec![
            "interface tp1\n ip ospf cost 7\nexit",
            "interface up0\n ip ospf priority 3\nexit",
            "interface tp5\n description vpcroute tier gone\n ip ospf area 0.0.0.9\nexit",
            "router ospf\n area 0.0.0.9 range 10.9.0.0/16\nexit",
            "router ospf\n area 0.0.0.1 range 10.1.128.0/17\nexit",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>(),
        0..=3,
    )
}

fn frr_text(m: &RouterModel) -> String {
    match render(m, Dialect::Frr).expect("generated models render") {
        RenderedConfig::Frr { frr_conf } => frr_conf,
        other => panic!("not FRR: {other:?}"),
    }
}

/// Configuration text as a vtysh script: only the contexts FrrConfig
/// manages (`hostname`, `log`, comments are not ours to apply).
fn as_script(text: &str) -> String {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('!') && !l.starts_with("hostname") && !l.starts_with("log "))
        .map(|l| format!("{l}\n"))
        .collect();
    format!("configure terminal\n{body}end\n")
}

struct Router {
    vtysh: Vtysh,
    rt: tokio::runtime::Runtime,
}

impl Router {
    fn running(&self) -> FrrConfig {
        let text = self
            .rt
            .block_on(self.vtysh.show("show running-config"))
            .expect("show running-config");
        FrrConfig::parse(&text)
    }

    fn configure(&self, script: &str) -> Result<(), String> {
        self.rt
            .block_on(self.vtysh.configure(script))
            .map_err(|e| e.to_string())
    }

    /// Removes everything of ours without the planner: the OSPF instance,
    /// and every interface it knows (none exists in the namespace, so
    /// `no interface` deletes each whole).
    fn clear(&self) {
        let running = self.running();
        let mut script = String::from("configure terminal\nno router ospf\n");
        for name in running.interfaces.keys() {
            script.push_str(&format!("no interface {name}\n"));
        }
        script.push_str("end\n");
        self.configure(&script).expect("clearing the router");
        let left = self.running();
        assert!(
            left.router_ospf.is_none() && left.interfaces.values().all(Vec::is_empty),
            "the router did not clear: {left:?}"
        );
    }
}

/// The managed lines, each context's sorted.
fn sorted(c: &FrrConfig) -> FrrConfig {
    let mut c = c.clone();
    c.interfaces.retain(|_, lines| !lines.is_empty());
    c.interfaces.values_mut().for_each(|l| l.sort());
    if let Some(l) = c.router_ospf.as_mut() {
        l.sort();
    }
    c
}

fn check_case(
    router: &Router,
    running_model: &RouterModel,
    stale: &[String],
    desired_model: &RouterModel,
) -> Result<(), TestCaseError> {
    router.clear();
    router
        .configure(&as_script(&frr_text(running_model)))
        .map_err(|e| TestCaseError::fail(format!("setting up the running side: {e}")))?;
    for block in stale {
        router
            .configure(&format!("configure terminal\n{block}\nend\n"))
            .map_err(|e| TestCaseError::fail(format!("adding stale lines: {e}")))?;
    }
    let running = router.running();
    let desired = FrrConfig::parse(&frr_text(desired_model));
    let p = plan(&desired, &running);
    router
        .configure(&p.script())
        .map_err(|e| TestCaseError::fail(format!("FRR refused the plan: {e}\n{}", p.script())))?;
    let after = router.running();
    let rest = plan(&desired, &after);
    prop_assert!(
        rest.is_empty(),
        "after the plan the planner still wants:\n{}\nplan was:\n{}",
        rest.script(),
        p.script()
    );
    // FRR shows an interface's lines in its own order, not the order they
    // were given in (both are fine to the planner, which compares sets).
    prop_assert_eq!(
        sorted(&after),
        sorted(&desired),
        "plan was:\n{}",
        p.script()
    );
    Ok(())
}

#[test]
fn plan_brings_a_real_frr_to_the_desired_configuration() {
    if !lab_possible() {
        vpcroute_testkit::skip_unless_ci("the FRR lab (root, FRR, ping)");
        return;
    }
    let _lab = lab_up("plan-prop-key");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let command = format!("ip netns exec {LEFT} vtysh -N {LEFT}");
    let vtysh = rt
        .block_on(async { Vtysh::new(&command, Duration::from_secs(15)) })
        .expect("vtysh session");
    let router = Router { vtysh, rt };
    let cases = std::env::var("PLAN_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(
        &(model(), stale_lines(), model()),
        |(running, stale, desired)| check_case(&router, &running, &stale, &desired),
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
