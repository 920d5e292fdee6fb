//! Chaos end to end: many clients at once, services killed with SIGKILL at
//! random moments, NATS stopped under a workload, consumers that missed
//! events, and hand-edited logs of the consumers.
//!
//! 1. `sixteen_clients_with_resent_requests_never_allocate_twice`: 16
//!    clients, > 2,000 mixed creates and deletes, ~20% sent again with the
//!    same request id (half of them concurrently with the original): no two
//!    subnets that were live at the same time overlap, no address is held
//!    twice, every resend gets the original reply byte for byte, and the
//!    zone survives a restart (replay) byte for byte.
//! 2. `random_kills_of_every_service_lose_nothing_and_change_nothing`: a
//!    deterministic workload (VPCs with routers, tiers, VMs, deletes, OSPF
//!    timer changes; 6 clients, VPC creations in one fixed global order)
//!    run twice on fresh stacks, once clean and once while a seeded RNG
//!    kills the four services (>= 20 kills, timed by the workload's
//!    progress so they hit requests in flight): every acknowledged request
//!    is there, nothing more; every service equals a replay of its log;
//!    every request sent again gets its first answer and appends nothing;
//!    allocations, areas and router configurations equal the clean run's.
//! 3. `nats_outage_and_consumers_down_are_caught_up`: NATS stopped and
//!    restarted under a workload, services reconnect by themselves; consumers
//!    killed, changes made, the consumers started again while NATS is down:
//!    they come up, and once NATS is back they catch up without any new
//!    change, agreeing with a renderer built from scratch.
//! 4. `a_consumer_fetches_what_it_missed`: a restarted config-renderer
//!    renders the 5 routers it missed without a new change; one that cannot
//!    poll fetches them when a live event shows a gap in ipam's seqs.
//! 5. `edited_consumer_logs_are_refused_naming_the_event`: area-registry and
//!    config-renderer refuse a hand-edited log, naming the event's seq.
//!
//! Set `CHAOS_SEED` to replay another random schedule (the seed in use is
//! printed).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ipnet::{IpNet, Ipv4Net};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use vpcroute_bus::{subjects, RequestError};
use vpcroute_protocol::areas::{AuthRequest, Secret, ZoneOspfSet, ZoneOspfView};
use vpcroute_protocol::config::{
    ConfigText, DialectName, RouterConfig, RouterConfigGet, RouterList, RouterSummary,
};
use vpcroute_protocol::ipam::*;
use vpcroute_tests::{
    nats_or_skip, service_status, vpcctl, wait_processed, Client, NatsServer, Running, Service,
    ServiceKind,
};

// ================================================================ helpers

/// SplitMix64: a small, seeded, reproducible RNG (no extra dependency).
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn pick<T: Copy>(&mut self, weighted: &[(T, u64)]) -> T {
        let total: u64 = weighted.iter().map(|(_, w)| w).sum();
        let mut x = self.below(total);
        for (item, w) in weighted {
            if x < *w {
                return *item;
            }
            x -= w;
        }
        unreachable!()
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

/// The seed of every random choice here (`CHAOS_SEED` overrides it).
fn seed() -> u64 {
    std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00C4_A05E)
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// One request, raw: the reply's bytes exactly as the service sent them.
async fn raw_request(
    nc: &async_nats::Client,
    subject: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Bytes, String> {
    let fut = nc.request(subject.to_string(), Bytes::copy_from_slice(body));
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(format!("no reply on {subject} within {timeout:?}")),
        Ok(Err(e)) => Err(format!("{subject}: {e}")),
        Ok(Ok(m)) => Ok(m.payload),
    }
}

/// Like [`raw_request`], retried (same body, so same request id) while
/// nothing answers.
async fn raw_until_answered(nc: &async_nats::Client, subject: &str, body: &[u8]) -> Bytes {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        match raw_request(nc, subject, body, Duration::from_secs(10)).await {
            Ok(b) => return b,
            Err(e) => {
                assert!(Instant::now() < end, "never answered: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A typed request, retried while the service is unavailable (restarting);
/// panics on a service error.
async fn ask<Req: Serialize, Resp: DeserializeOwned>(
    nc: &async_nats::Client,
    subject: &str,
    req: &Req,
) -> Resp {
    match try_ask(nc, subject, req).await {
        Ok(r) => r,
        Err(e) => panic!("{subject}: {e}"),
    }
}

async fn try_ask<Req: Serialize, Resp: DeserializeOwned>(
    nc: &async_nats::Client,
    subject: &str,
    req: &Req,
) -> Result<Resp, RequestError> {
    Client::retry(Duration::from_secs(30), || {
        vpcroute_bus::request(nc, subject, req, Duration::from_secs(5))
    })
    .await
}

/// The same bytes as a typed request, retried while unavailable.
async fn ask_raw<Req: Serialize>(nc: &async_nats::Client, subject: &str, req: &Req) -> String {
    let body = serde_json::to_vec(req).expect("json");
    let bytes = raw_until_answered(nc, subject, &body).await;
    String::from_utf8(bytes.to_vec()).expect("replies are UTF-8")
}

/// A workload request: retried with the same request id until answered.
/// Counts the attempts that went unanswered.
async fn until_answered<T, F, Fut>(retries: &AtomicUsize, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    let counted = || {
        let fut = f();
        async move {
            let r = fut.await;
            if matches!(
                r,
                Err(RequestError::Unavailable(_) | RequestError::NoResponders(_))
            ) {
                retries.fetch_add(1, Ordering::Relaxed);
            }
            r
        }
    };
    match Client::retry(Duration::from_secs(90), counted).await {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What differs between two maps, briefly.
fn map_diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> String {
    let mut out = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => out.push(format!("  only left:  {k} = {v}")),
            Some(w) if w != v => {
                out.push(format!("  differs:    {k}\n    left:  {v}\n    right: {w}"))
            }
            _ => {}
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            out.push(format!("  only right: {k} = {v}"));
        }
    }
    let n = out.len();
    out.truncate(12);
    if n > 12 {
        out.push(format!("  ... {} more", n - 12));
    }
    out.join("\n")
}

#[track_caller]
fn assert_maps_eq(what: &str, a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) {
    assert!(a == b, "{what} differ:\n{}", map_diff(a, b));
}

/// A NATS server, one data directory and the services on it.
struct Stack {
    nats: NatsServer,
    dir: tempfile::TempDir,
    ipam: Service,
    areas: Service,
    config: Service,
    sync: Option<Service>,
}

impl Stack {
    async fn start(nats: NatsServer, with_sync: bool) -> Stack {
        let dir = tempfile::Builder::new()
            .prefix("vpcroute-chaos-")
            .tempdir()
            .expect("tempdir");
        let url = nats.url();
        let ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
        let areas =
            Service::start(ServiceKind::AreaRegistry, &url, &dir.path().join("areas")).await;
        let config = Service::start(
            ServiceKind::ConfigRenderer,
            &url,
            &dir.path().join("config"),
        )
        .await;
        let sync = if with_sync {
            Some(
                Service::start_with_args(
                    ServiceKind::RouterSync,
                    &url,
                    &dir.path().join("sync"),
                    &["--router", "r1=/bin/false"],
                )
                .await,
            )
        } else {
            None
        };
        Stack {
            nats,
            dir,
            ipam,
            areas,
            config,
            sync,
        }
    }

    fn url(&self) -> String {
        self.nats.url()
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    async fn nc(&self) -> async_nats::Client {
        Client::connect(&self.url()).await.nats().clone()
    }

    /// Waits until area-registry and config-renderer (and router-sync, if
    /// it runs) have handled everything in their producers' logs
    /// (`wait_processed`); returns the heads of ipam's, the registry's and
    /// the renderer's logs then.
    async fn wait_caught_up(&self, nc: &async_nats::Client) -> BTreeMap<String, u64> {
        let mut running = vec![
            self.ipam.running(),
            self.areas.running(),
            self.config.running(),
        ];
        running.extend(self.sync.as_ref().map(Service::running));
        let mut heads = wait_processed(nc, &running).await;
        heads.retain(|service, _| {
            ["ipam", "area-registry", "config-renderer"].contains(&service.as_str())
        });
        heads
    }

    /// Panics (with its stderr) if a service died on its own.
    fn assert_all_running(&mut self) {
        let mut all: Vec<&mut Service> = vec![&mut self.ipam, &mut self.areas, &mut self.config];
        if let Some(s) = self.sync.as_mut() {
            all.push(s);
        }
        for s in all {
            assert!(s.pid().is_some(), "a service is not running");
            if let Some(status) = s.has_exited() {
                panic!(
                    "a service exited by itself ({status}); stderr:\n{}",
                    tail(&s.stderr(), 30)
                );
            }
        }
    }

    /// No service panicked at any point (their stderr spans restarts).
    fn assert_no_panics(&self) {
        let mut all: Vec<&Service> = vec![&self.ipam, &self.areas, &self.config];
        if let Some(s) = self.sync.as_ref() {
            all.push(s);
        }
        for s in all {
            let err = s.stderr();
            if let Some(i) = err.find("panicked at") {
                let start = i.saturating_sub(200);
                panic!(
                    "{} panicked:\n{}",
                    s.stderr_path().display(),
                    &err[start..(i + 800).min(err.len())]
                );
            }
        }
    }
}

fn vpc_desc(v: &VpcRecord) -> String {
    format!(
        "vpc zone={} cidr={} router={:?}",
        v.zone,
        v.cidr,
        v.router.as_ref().map(|r| &r.name)
    )
}

fn tier_desc(t: &TierRecord) -> String {
    format!(
        "tier vpc={} cidr={} gw={} if={:?}",
        t.vpc, t.cidr, t.gateway, t.interface
    )
}

fn vm_desc(v: &VmRecord) -> String {
    format!("vm tier={} ip={}", v.tier, v.ip)
}

/// name → description of every VPC, tier and VM in the zone views.
fn allocations(views: &[ZoneView]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for z in views {
        for v in &z.vpcs {
            let rec = VpcRecord {
                vpc: v.vpc.clone(),
                zone: v.zone.clone(),
                cidr: v.cidr,
                router: v.router.clone(),
            };
            assert!(out.insert(v.vpc.clone(), vpc_desc(&rec)).is_none());
            for t in &v.tiers {
                let rec = TierRecord {
                    tier: t.tier.clone(),
                    vpc: v.vpc.clone(),
                    cidr: t.cidr,
                    gateway: t.gateway,
                    interface: t.interface.clone(),
                    acl: t.acl.clone(),
                };
                assert!(
                    out.insert(t.tier.clone(), tier_desc(&rec)).is_none(),
                    "name {} twice",
                    t.tier
                );
                for vm in &t.vms {
                    assert!(
                        out.insert(vm.vm.clone(), vm_desc(vm)).is_none(),
                        "name {} twice",
                        vm.vm
                    );
                }
            }
        }
    }
    out
}

/// The invariants of one zone view: VPCs inside the zone and disjoint,
/// tiers inside their VPC and disjoint, VMs inside their tier on usable,
/// distinct addresses.
fn check_zone_invariants(z: &ZoneView) {
    for (i, a) in z.vpcs.iter().enumerate() {
        assert!(
            z.super_cidrs.iter().any(|s| s.contains(&a.cidr)),
            "VPC {} {} outside zone {}",
            a.vpc,
            a.cidr,
            z.zone
        );
        for b in &z.vpcs[i + 1..] {
            assert!(
                !overlaps(&a.cidr, &b.cidr),
                "live VPCs {} {} and {} {} overlap",
                a.vpc,
                a.cidr,
                b.vpc,
                b.cidr
            );
        }
        for (j, t) in a.tiers.iter().enumerate() {
            assert!(
                a.cidr.contains(&t.cidr),
                "tier {} {} outside VPC {} {}",
                t.tier,
                t.cidr,
                a.vpc,
                a.cidr
            );
            for u in &a.tiers[j + 1..] {
                assert!(
                    !overlaps(&t.cidr, &u.cidr),
                    "live tiers {} {} and {} {} overlap",
                    t.tier,
                    t.cidr,
                    u.tier,
                    u.cidr
                );
            }
            let mut ips = BTreeSet::new();
            for vm in &t.vms {
                assert!(
                    ips.insert(vm.ip),
                    "address {} held twice in tier {}",
                    vm.ip,
                    t.tier
                );
                assert!(
                    t.cidr.contains(&vm.ip)
                        && vm.ip != t.gateway
                        && vm.ip != t.cidr.network()
                        && vm.ip != t.cidr.broadcast(),
                    "VM {} has unusable address {} in {} (gateway {})",
                    vm.vm,
                    vm.ip,
                    t.cidr,
                    t.gateway
                );
            }
        }
    }
}

/// Every router's FRR configuration text, from `router.list` + `router.get`.
async fn router_texts(nc: &async_nats::Client) -> BTreeMap<String, String> {
    let list: Vec<RouterSummary> =
        ask(nc, subjects::config::ROUTER_LIST, &RouterList::default()).await;
    let mut out = BTreeMap::new();
    for r in list {
        let c: RouterConfig = ask(
            nc,
            subjects::config::ROUTER_GET,
            &RouterConfigGet {
                router: r.router.clone(),
                dialect: DialectName::Frr,
            },
        )
        .await;
        let ConfigText::Frr(text) = c.config else {
            panic!("router {} has no FRR text", r.router)
        };
        out.insert(r.router, text);
    }
    out
}

/// The replies of every read-only view of ipam, area-registry and
/// config-renderer, byte for byte: compared before and after a restart.
#[derive(Debug, PartialEq)]
struct Views {
    ipam_zones: BTreeMap<String, String>,
    area_zones: BTreeMap<String, String>,
    router_list: String,
    routers: BTreeMap<String, String>,
}

async fn views(nc: &async_nats::Client, zones: &[String]) -> Views {
    let mut ipam_zones = BTreeMap::new();
    let mut area_zones = BTreeMap::new();
    for z in zones {
        let show = Show { name: z.clone() };
        ipam_zones.insert(
            z.clone(),
            ask_raw(nc, subjects::ipam::ZONE_SHOW, &show).await,
        );
        area_zones.insert(
            z.clone(),
            ask_raw(nc, subjects::areas::ZONE_SHOW, &show).await,
        );
    }
    let router_list = ask_raw(nc, subjects::config::ROUTER_LIST, &RouterList::default()).await;
    let list: Vec<RouterSummary> =
        ask(nc, subjects::config::ROUTER_LIST, &RouterList::default()).await;
    let mut routers = BTreeMap::new();
    for r in list {
        let get = RouterConfigGet {
            router: r.router.clone(),
            dialect: DialectName::Frr,
        };
        routers.insert(
            r.router,
            ask_raw(nc, subjects::config::ROUTER_GET, &get).await,
        );
    }
    Views {
        ipam_zones,
        area_zones,
        router_list,
        routers,
    }
}

#[track_caller]
fn assert_views_eq(what: &str, before: &Views, after: &Views) {
    assert_maps_eq(
        &format!("{what}: ipam zone.show replies"),
        &before.ipam_zones,
        &after.ipam_zones,
    );
    assert_maps_eq(
        &format!("{what}: area-registry zone.show replies"),
        &before.area_zones,
        &after.area_zones,
    );
    assert_eq!(
        before.router_list, after.router_list,
        "{what}: config-renderer router.list replies differ"
    );
    assert_maps_eq(
        &format!("{what}: config-renderer router.get replies"),
        &before.routers,
        &after.routers,
    );
}

fn router_spec(name: &str, id: Ipv4Addr, uplink_host: u8) -> RouterSpec {
    RouterSpec {
        name: name.to_string(),
        router_id: id,
        uplink_interface: "eth1".into(),
        uplink_address: Ipv4Net::new(Ipv4Addr::new(192, 168, 200, uplink_host), 24).unwrap(),
    }
}

/// A /24 VPC with router `<vpc>-vr` (router id from `n`).
fn vpc_with_router(vpc: &str, zone: &str, n: u32) -> VpcAllocate {
    VpcAllocate {
        request_id: format!("rid-{vpc}"),
        vpc: vpc.into(),
        zone: zone.into(),
        netmask: None,
        prefix_length: Some(24),
        family: Some(Family::Ipv4),
        router: Some(router_spec(
            &format!("{vpc}-vr"),
            Ipv4Addr::new(10, 254, (n / 250) as u8, (n % 250 + 1) as u8),
            (n % 250 + 2) as u8,
        )),
    }
}

/// A /26 tier on eth2.
fn tier_on_eth2(tier: &str, vpc: &str) -> TierAllocate {
    TierAllocate {
        request_id: format!("rid-{tier}"),
        tier: tier.into(),
        vpc: vpc.into(),
        gateway: None,
        netmask: None,
        prefix_length: Some(26),
        interface: Some("eth2".into()),
        acl: None,
    }
}

fn ospf_set(request_id: &str, zone: &str, hello: u16) -> ZoneOspfSet {
    ZoneOspfSet {
        request_id: request_id.into(),
        zone: zone.into(),
        backbone: None,
        hello_interval: Some(hello),
        dead_interval: Some(4 * u32::from(hello)),
        retransmit_interval: None,
        transmit_delay: None,
        // A fixed key: a generated one would differ from run to run.
        auth: Some(AuthRequest::Md5 {
            key_id: Some(1),
            key: Some(Secret::new(format!("key-{zone}"))),
        }),
    }
}

async fn zone_enable(client: &Client, zone: &str, cidr: &str) {
    let retries = AtomicUsize::new(0);
    let req = ZoneEnable {
        request_id: format!("rid-zone-{zone}"),
        zone: zone.into(),
        super_cidrs: vec![cidr.into()],
    };
    until_answered(&retries, "zone enable", || client.zone_enable(&req)).await;
    let set = ospf_set(&format!("rid-ospf-{zone}"), zone, 10);
    let _: ZoneOspfView = until_answered(&retries, "zone.set", || {
        client.call(subjects::areas::ZONE_SET, &set)
    })
    .await;
}

// ===================================================== 1. concurrency

const CLIENTS: usize = 16;
const OPS_PER_CLIENT: usize = 130;
const SHARED_TIERS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Vpc,
    Tier,
    Vm,
}

/// One acknowledged allocation and when it was live for sure: from its
/// acknowledgement until its delete was sent (if ever).
#[derive(Debug, Clone)]
struct Life {
    kind: Kind,
    name: String,
    /// Zone of a VPC, VPC of a tier, tier of a VM.
    parent: String,
    net: IpNet,
    sent: Instant,
    acked: Instant,
    delete_sent: Option<Instant>,
}

impl Life {
    /// `self` was certainly live during all of `other`'s request.
    fn live_throughout(&self, other: &Life) -> bool {
        self.acked < other.sent && self.delete_sent.is_none_or(|d| d > other.acked)
    }
}

/// A request that must be sent again with the same id later.
struct Resend {
    due: usize,
    subject: &'static str,
    body: Vec<u8>,
    original: Bytes,
}

struct OwnVpc {
    name: String,
    prefix: u8,
    tiers: Vec<OwnTier>,
}

struct OwnTier {
    name: String,
    vms: Vec<String>,
}

#[derive(Default)]
struct ClientReport {
    lives: Vec<Life>,
    requests: usize,
    resent_concurrently: usize,
    resent_later: usize,
    errors: Vec<String>,
    /// Some answered requests, to send again after a restart.
    samples: Vec<Resend>,
}

#[derive(Clone, Copy)]
enum Act {
    Vpc,
    Tier,
    Vm,
    SharedVm,
    DelVm,
    DelSharedVm,
    DelTier,
    DelVpc,
}

async fn concurrent_client(nc: async_nats::Client, c: usize, seed: u64) -> ClientReport {
    let mut rng = Rng::new(seed ^ (c as u64).wrapping_mul(0x1000_0001));
    let mut report = ClientReport::default();
    let mut vpcs: Vec<OwnVpc> = Vec::new();
    let mut shared_vms: Vec<String> = Vec::new();
    let mut lives: HashMap<String, Life> = HashMap::new();
    let mut resends: Vec<Resend> = Vec::new();
    let mut n = 0;
    for i in 0..OPS_PER_CLIENT {
        n += 1;
        let rid = format!("c{c}-r{i}");
        let mut acts = vec![(Act::SharedVm, if shared_vms.len() < 6 { 3 } else { 0 })];
        acts.push((Act::Vpc, if vpcs.len() < 5 { 3 } else { 0 }));
        let tierable = vpcs.iter().any(|v| v.tiers.len() < 2);
        acts.push((Act::Tier, if tierable { 3 } else { 0 }));
        let vmable = vpcs.iter().flat_map(|v| &v.tiers).any(|t| t.vms.len() < 3);
        acts.push((Act::Vm, if vmable { 3 } else { 0 }));
        let has_vm = vpcs
            .iter()
            .flat_map(|v| &v.tiers)
            .any(|t| !t.vms.is_empty());
        acts.push((Act::DelVm, if has_vm { 2 } else { 0 }));
        acts.push((Act::DelSharedVm, if shared_vms.is_empty() { 0 } else { 2 }));
        let empty_tier = vpcs.iter().flat_map(|v| &v.tiers).any(|t| t.vms.is_empty());
        acts.push((Act::DelTier, if empty_tier { 1 } else { 0 }));
        let empty_vpc = vpcs.iter().any(|v| v.tiers.is_empty());
        acts.push((Act::DelVpc, if empty_vpc { 1 } else { 0 }));
        let act = rng.pick(&acts);

        // What to send, and what the reply creates (kind, parent) or deletes.
        type Request = (
            &'static str,
            Vec<u8>,
            Option<(Kind, String)>,
            Option<String>,
        );
        let release = |subject, request_id, name: String| -> Request {
            let req = Release {
                request_id,
                name: name.clone(),
            };
            (subject, serde_json::to_vec(&req).unwrap(), None, Some(name))
        };
        let (subject, body, create, delete): Request = match act {
            Act::Vpc => {
                let name = format!("c{c}-v{n}");
                let prefix = rng.range(22, 26) as u8;
                vpcs.push(OwnVpc {
                    name: name.clone(),
                    prefix,
                    tiers: vec![],
                });
                let req = VpcAllocate {
                    request_id: rid,
                    vpc: name.clone(),
                    zone: "z1".into(),
                    netmask: None,
                    prefix_length: Some(prefix),
                    family: Some(Family::Ipv4),
                    router: None,
                };
                let body = serde_json::to_vec(&req).unwrap();
                (
                    subjects::ipam::VPC_ALLOCATE,
                    body,
                    Some((Kind::Vpc, "z1".to_string())),
                    None,
                )
            }
            Act::Tier => {
                let cands: Vec<usize> = (0..vpcs.len())
                    .filter(|&j| vpcs[j].tiers.len() < 2)
                    .collect();
                let v = &mut vpcs[cands[rng.index(cands.len())]];
                let name = format!("c{c}-t{n}");
                let prefix = v.prefix + rng.range(1, 2) as u8;
                v.tiers.push(OwnTier {
                    name: name.clone(),
                    vms: vec![],
                });
                let req = TierAllocate {
                    request_id: rid,
                    tier: name,
                    vpc: v.name.clone(),
                    gateway: None,
                    netmask: None,
                    prefix_length: Some(prefix),
                    interface: None,
                    acl: None,
                };
                (
                    subjects::ipam::TIER_ALLOCATE,
                    serde_json::to_vec(&req).unwrap(),
                    Some((Kind::Tier, v.name.clone())),
                    None,
                )
            }
            Act::Vm | Act::SharedVm => {
                let name = format!("c{c}-m{n}");
                let tier = if let Act::Vm = act {
                    let mut cands = Vec::new();
                    for (a, v) in vpcs.iter().enumerate() {
                        for (b, t) in v.tiers.iter().enumerate() {
                            if t.vms.len() < 3 {
                                cands.push((a, b));
                            }
                        }
                    }
                    let (a, b) = cands[rng.index(cands.len())];
                    let t = &mut vpcs[a].tiers[b];
                    t.vms.push(name.clone());
                    t.name.clone()
                } else {
                    shared_vms.push(name.clone());
                    format!("shared-t{}", rng.index(SHARED_TIERS))
                };
                let req = VmAllocate {
                    request_id: rid,
                    vm: name,
                    tier: tier.clone(),
                    ip: None,
                };
                (
                    subjects::ipam::VM_ALLOCATE,
                    serde_json::to_vec(&req).unwrap(),
                    Some((Kind::Vm, tier)),
                    None,
                )
            }
            Act::DelVm => {
                let mut cands = Vec::new();
                for (a, v) in vpcs.iter().enumerate() {
                    for (b, t) in v.tiers.iter().enumerate() {
                        for m in 0..t.vms.len() {
                            cands.push((a, b, m));
                        }
                    }
                }
                let (a, b, m) = cands[rng.index(cands.len())];
                let name = vpcs[a].tiers[b].vms.remove(m);
                release(subjects::ipam::VM_RELEASE, rid, name)
            }
            Act::DelSharedVm => {
                let name = shared_vms.remove(rng.index(shared_vms.len()));
                release(subjects::ipam::VM_RELEASE, rid, name)
            }
            Act::DelTier => {
                let mut cands = Vec::new();
                for (a, v) in vpcs.iter().enumerate() {
                    for (b, t) in v.tiers.iter().enumerate() {
                        if t.vms.is_empty() {
                            cands.push((a, b));
                        }
                    }
                }
                let (a, b) = cands[rng.index(cands.len())];
                let name = vpcs[a].tiers.remove(b).name;
                release(subjects::ipam::TIER_RELEASE, rid, name)
            }
            Act::DelVpc => {
                let cands: Vec<usize> = (0..vpcs.len())
                    .filter(|&j| vpcs[j].tiers.is_empty())
                    .collect();
                let name = vpcs.remove(cands[rng.index(cands.len())]).name;
                release(subjects::ipam::VPC_RELEASE, rid, name)
            }
        };

        // Send it: alone, or twice at once (same id), or alone now and
        // again later.
        let mode = match rng.below(10) {
            0 => 1, // 10%: twice at once
            1 => 2, // 10%: again later
            _ => 0,
        };
        let sent = Instant::now();
        let reply = if mode == 1 {
            let (a, b) = tokio::join!(
                raw_until_answered(&nc, subject, &body),
                raw_until_answered(&nc, subject, &body)
            );
            report.resent_concurrently += 1;
            if a != b {
                report.errors.push(format!(
                    "{subject} sent twice at once, different replies:\n  {}\n  {}",
                    String::from_utf8_lossy(&a),
                    String::from_utf8_lossy(&b)
                ));
            }
            a
        } else {
            raw_until_answered(&nc, subject, &body).await
        };
        let acked = Instant::now();
        report.requests += 1;
        if mode == 2 {
            resends.push(Resend {
                due: i + rng.range(1, 25) as usize,
                subject,
                body: body.clone(),
                original: reply.clone(),
            });
        }
        if i % 5 == 0 {
            report.samples.push(Resend {
                due: 0,
                subject,
                body: body.clone(),
                original: reply.clone(),
            });
        }
        let v: Value = serde_json::from_slice(&reply).expect("reply is JSON");
        let Some(ok) = v.get("ok") else {
            report.errors.push(format!(
                "{subject} {} refused: {v}",
                String::from_utf8_lossy(&body)
            ));
            continue;
        };
        if let Some((kind, parent)) = create {
            let (name, net) = match kind {
                Kind::Vpc => {
                    let r: VpcRecord = serde_json::from_value(ok.clone()).unwrap();
                    (r.vpc, r.cidr)
                }
                Kind::Tier => {
                    let r: TierRecord = serde_json::from_value(ok.clone()).unwrap();
                    (r.tier, r.cidr)
                }
                Kind::Vm => {
                    let r: VmRecord = serde_json::from_value(ok.clone()).unwrap();
                    (r.vm, IpNet::from(r.ip))
                }
            };
            lives.insert(
                name.clone(),
                Life {
                    kind,
                    name,
                    parent,
                    net,
                    sent,
                    acked,
                    delete_sent: None,
                },
            );
        }
        if let Some(name) = delete {
            let life = lives
                .get_mut(&name)
                .unwrap_or_else(|| panic!("deleted {name}, never created"));
            life.delete_sent = Some(sent);
        }

        // Resends that are due, byte-compared with the original reply.
        let (due, later): (Vec<Resend>, Vec<Resend>) = resends.drain(..).partition(|r| r.due <= i);
        resends = later;
        for r in due {
            resend(&nc, r, &mut report).await;
        }
    }
    for r in resends.drain(..) {
        resend(&nc, r, &mut report).await;
    }
    report.lives = lives.into_values().collect();
    report
}

async fn resend(nc: &async_nats::Client, r: Resend, report: &mut ClientReport) {
    let again = raw_until_answered(nc, r.subject, &r.body).await;
    report.resent_later += 1;
    if again != r.original {
        report.errors.push(format!(
            "{} resent later, reply differs:\n  original {}\n  resent   {}",
            r.subject,
            String::from_utf8_lossy(&r.original),
            String::from_utf8_lossy(&again)
        ));
    }
}

/// No two allocations of the same kind and parent that were certainly live
/// at the same time overlap.
fn check_lives(lives: &[Life]) -> usize {
    let mut groups: BTreeMap<(Kind, &str), Vec<&Life>> = BTreeMap::new();
    for l in lives {
        groups.entry((l.kind, &l.parent)).or_default().push(l);
    }
    let mut pairs = 0;
    for ((kind, parent), group) in groups {
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                if !overlaps(&a.net, &b.net) {
                    continue;
                }
                pairs += 1;
                assert!(
                    !a.live_throughout(b) && !b.live_throughout(a),
                    "{kind:?}s in {parent} overlap while both live: {} {} (acked {:?} before {} \
                     was sent, delete sent {:?}) and {} {}",
                    a.name,
                    a.net,
                    b.sent.saturating_duration_since(a.acked),
                    b.name,
                    a.delete_sent.map(|d| d.saturating_duration_since(b.acked)),
                    b.name,
                    b.net
                );
            }
        }
    }
    pairs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_with_resent_requests_never_allocate_twice() {
    let nats = nats_or_skip!();
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("vpcroute-chaos-ipam-")
        .tempdir()
        .unwrap();
    let url = nats.url();
    let mut ipam = Service::start(ServiceKind::Ipam, &url, dir.path()).await;
    let client = Client::connect(&url).await;
    let retries = AtomicUsize::new(0);

    // A zone, and a VPC whose tiers every client puts VMs in.
    let z = ZoneEnable {
        request_id: "rid-z1".into(),
        zone: "z1".into(),
        super_cidrs: vec!["10.0.0.0/12".into()],
    };
    until_answered(&retries, "zone", || client.zone_enable(&z)).await;
    let shared = VpcAllocate {
        request_id: "rid-shared".into(),
        vpc: "shared".into(),
        zone: "z1".into(),
        netmask: None,
        prefix_length: Some(20),
        family: Some(Family::Ipv4),
        router: None,
    };
    let shared_rec = until_answered(&retries, "vpc", || client.vpc_allocate(&shared)).await;
    let mut setup = vec![Life {
        kind: Kind::Vpc,
        name: "shared".into(),
        parent: "z1".into(),
        net: shared_rec.cidr,
        sent: started,
        acked: Instant::now(),
        delete_sent: None,
    }];
    for t in 0..SHARED_TIERS {
        let req = TierAllocate {
            request_id: format!("rid-shared-t{t}"),
            tier: format!("shared-t{t}"),
            vpc: "shared".into(),
            gateway: None,
            netmask: None,
            prefix_length: Some(24),
            interface: None,
            acl: None,
        };
        let r = until_answered(&retries, "tier", || client.tier_allocate(&req)).await;
        setup.push(Life {
            kind: Kind::Tier,
            name: r.tier,
            parent: "shared".into(),
            net: r.cidr,
            sent: started,
            acked: Instant::now(),
            delete_sent: None,
        });
    }

    let seed = seed();
    eprintln!("CHAOS_SEED={seed}");
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        // One connection per client, as separate processes would have.
        let nc = Client::connect(&url).await.nats().clone();
        tasks.push(tokio::spawn(concurrent_client(nc, c, seed)));
    }
    let mut lives = setup;
    let mut samples = Vec::new();
    let (mut requests, mut concurrent, mut later) = (0, 0, 0);
    let mut errors = Vec::new();
    for t in tasks {
        let r = t.await.expect("client task");
        requests += r.requests;
        concurrent += r.resent_concurrently;
        later += r.resent_later;
        errors.extend(r.errors);
        lives.extend(r.lives);
        samples.extend(r.samples);
    }
    let took = t0.elapsed();
    eprintln!(
        "{requests} requests by {CLIENTS} clients in {took:?}; resent {concurrent} at once \
         and {later} later"
    );
    assert!(
        errors.is_empty(),
        "{} requests went wrong:\n{}",
        errors.len(),
        errors[..errors.len().min(10)].join("\n")
    );
    assert!(requests >= 2000, "only {requests} requests");
    assert!(
        (concurrent + later) * 100 >= requests * 15,
        "too few resends: {concurrent} + {later} of {requests}"
    );
    assert!(concurrent > 100 && later > 100);

    // Nothing that was live overlapped anything else live, at any time.
    let pairs = check_lives(&lives);
    eprintln!("{pairs} overlapping pairs checked for disjoint lifetimes");

    // The zone holds exactly what was acknowledged and not deleted since.
    let out = vpcctl(&url, &["show", "zone", "z1", "--json"]).await;
    assert!(out.ok(), "show zone: {}\n{}", out.stdout, out.stderr);
    let view: ZoneView = client.zone_show("z1").await.expect("zone.show");
    check_zone_invariants(&view);
    let live: BTreeMap<String, String> = lives
        .iter()
        .filter(|l| l.delete_sent.is_none())
        .map(|l| (l.name.clone(), format!("{} in {}", l.net, l.parent)))
        .collect();
    let mut held = BTreeMap::new();
    for v in &view.vpcs {
        held.insert(v.vpc.clone(), format!("{} in {}", v.cidr, v.zone));
        for t in &v.tiers {
            held.insert(t.tier.clone(), format!("{} in {}", t.cidr, v.vpc));
            for vm in &t.vms {
                held.insert(
                    vm.vm.clone(),
                    format!("{} in {}", IpNet::from(vm.ip), t.tier),
                );
            }
        }
    }
    assert_maps_eq(
        "acknowledged (left) and held (right) allocations",
        &live,
        &held,
    );
    let raw_before = ask_raw(
        client.nats(),
        subjects::ipam::ZONE_SHOW,
        &Show { name: "z1".into() },
    )
    .await;

    // A fresh replay of the log gives the same zone, byte for byte.
    ipam.kill9();
    ipam.restart().await;
    let again = vpcctl(&url, &["show", "zone", "z1", "--json"]).await;
    assert!(again.ok(), "show zone after restart: {}", again.stdout);
    assert!(
        out.stdout == again.stdout,
        "show zone --json differs after a replay of the log"
    );
    let raw_after = ask_raw(
        client.nats(),
        subjects::ipam::ZONE_SHOW,
        &Show { name: "z1".into() },
    )
    .await;
    assert_eq!(raw_before, raw_after, "zone.show differs after a replay");
    // Answers are recorded durably: after the replay, requests sent again
    // get the very same bytes, and append nothing.
    let head = client.events_read(1, 1).await.expect("events.read").head;
    let mut report = ClientReport::default();
    let n = samples.len();
    for r in samples {
        resend(client.nats(), r, &mut report).await;
    }
    assert!(
        report.errors.is_empty(),
        "{} of {n} requests sent again after a restart got another answer:\n{}",
        report.errors.len(),
        report.errors[..report.errors.len().min(5)].join("\n")
    );
    assert_eq!(head, client.events_read(1, 1).await.unwrap().head);
    let raw_again = ask_raw(
        client.nats(),
        subjects::ipam::ZONE_SHOW,
        &Show { name: "z1".into() },
    )
    .await;
    assert_eq!(raw_before, raw_again, "resent requests changed the zone");
    assert!(ipam.has_exited().is_none());
    assert!(!ipam.stderr().contains("panicked at"), "{}", ipam.stderr());
    eprintln!("test 1 took {:?}", started.elapsed());
}

// ================================================ 2. fault injection

/// Clients of the deterministic workload, each in its own zone.
const WORKLOAD_CLIENTS: usize = 6;
const WORKLOAD_OPS: usize = 150;
/// Kills in the faulty run, at least.
const KILLS: usize = 24;

#[derive(Debug, Clone)]
enum Op {
    ZoneEnable { zone: String, cidr: String },
    ZoneSet { zone: String, hello: u16 },
    VpcCreate(VpcAllocate),
    TierCreate(TierAllocate),
    VmCreate(VmAllocate),
    VmDelete(String),
    TierDelete(String),
    VpcDelete(String),
}

#[derive(Debug, Clone)]
enum Acked {
    Zone(ZoneRecord),
    Ospf(ZoneOspfView),
    Vpc(VpcRecord),
    Tier(TierRecord),
    Vm(VmRecord),
    Released(Released),
}

struct Plan {
    ops: Vec<Vec<Op>>,
    /// For each client, the global turn of each of its VPC creations: VPCs
    /// are created in one fixed global order (it decides the OSPF area ids),
    /// everything else runs concurrently.
    turns: Vec<Vec<usize>>,
    /// Each zone's last hello interval.
    hello: BTreeMap<String, u16>,
}

struct SimVpc {
    name: String,
    prefix: u8,
    tiers: Vec<(String, Vec<String>)>,
    next_if: u32,
}

fn plan_client(k: usize, rng: &mut Rng) -> (Vec<Op>, u16) {
    let zone = format!("z{k}");
    let mut ops = vec![
        Op::ZoneEnable {
            zone: zone.clone(),
            cidr: format!("10.{}.0.0/16", 40 + k),
        },
        Op::ZoneSet {
            zone: zone.clone(),
            hello: 10,
        },
    ];
    let mut hello = 10;
    let mut vpcs: Vec<SimVpc> = Vec::new();
    let (mut nv, mut nt, mut nm) = (0u32, 0u32, 0u32);
    let rid = |ops: &Vec<Op>| format!("w{k}-op{}", ops.len());
    while ops.len() < WORKLOAD_OPS {
        let tierable: Vec<usize> = (0..vpcs.len())
            .filter(|&i| vpcs[i].tiers.len() < 2)
            .collect();
        let mut tiers = Vec::new();
        let mut vms = Vec::new();
        for (a, v) in vpcs.iter().enumerate() {
            for (b, (_, m)) in v.tiers.iter().enumerate() {
                tiers.push((a, b));
                for c in 0..m.len() {
                    vms.push((a, b, c));
                }
            }
        }
        let vmable: Vec<(usize, usize)> = tiers
            .iter()
            .copied()
            .filter(|&(a, b)| vpcs[a].tiers[b].1.len() < 3)
            .collect();
        let empty_tiers: Vec<(usize, usize)> = tiers
            .iter()
            .copied()
            .filter(|&(a, b)| vpcs[a].tiers[b].1.is_empty())
            .collect();
        let empty_vpcs: Vec<usize> = (0..vpcs.len())
            .filter(|&i| vpcs[i].tiers.is_empty())
            .collect();
        let w = |ok: bool, w: u64| if ok { w } else { 0 };
        let choice = rng.pick(&[
            (0, w(vpcs.len() < 5, 3)),
            (1, w(!tierable.is_empty(), 3)),
            (2, w(!vmable.is_empty(), 3)),
            (3, w(!vms.is_empty(), 2)),
            (4, w(!empty_tiers.is_empty(), 1)),
            (5, w(!empty_vpcs.is_empty(), 1)),
            (6, 1),
        ]);
        let request_id = rid(&ops);
        let op = match choice {
            0 => {
                nv += 1;
                let name = format!("k{k}-v{nv}");
                let prefix = rng.range(24, 26) as u8;
                vpcs.push(SimVpc {
                    name: name.clone(),
                    prefix,
                    tiers: vec![],
                    next_if: 2,
                });
                Op::VpcCreate(VpcAllocate {
                    request_id,
                    vpc: name.clone(),
                    zone: zone.clone(),
                    netmask: None,
                    prefix_length: Some(prefix),
                    family: Some(Family::Ipv4),
                    router: Some(RouterSpec {
                        name: format!("{name}-vr"),
                        router_id: Ipv4Addr::new(10, 255, k as u8, nv as u8),
                        uplink_interface: "eth1".into(),
                        uplink_address: Ipv4Net::new(
                            Ipv4Addr::new(192, 168, 100 + k as u8, (nv + 1) as u8),
                            24,
                        )
                        .unwrap(),
                    }),
                })
            }
            1 => {
                nt += 1;
                let v = &mut vpcs[tierable[rng.index(tierable.len())]];
                let name = format!("{}-t{nt}", v.name);
                let interface = format!("eth{}", v.next_if);
                v.next_if += 1;
                v.tiers.push((name.clone(), vec![]));
                Op::TierCreate(TierAllocate {
                    request_id,
                    tier: name,
                    vpc: v.name.clone(),
                    gateway: None,
                    netmask: None,
                    prefix_length: Some(v.prefix + rng.range(1, 2) as u8),
                    interface: Some(interface),
                    acl: None,
                })
            }
            2 => {
                nm += 1;
                let (a, b) = vmable[rng.index(vmable.len())];
                let t = &mut vpcs[a].tiers[b];
                let name = format!("{}-m{nm}", t.0);
                t.1.push(name.clone());
                Op::VmCreate(VmAllocate {
                    request_id,
                    vm: name,
                    tier: t.0.clone(),
                    ip: None,
                })
            }
            3 => {
                let (a, b, c) = vms[rng.index(vms.len())];
                Op::VmDelete(vpcs[a].tiers[b].1.remove(c))
            }
            4 => {
                let (a, b) = empty_tiers[rng.index(empty_tiers.len())];
                Op::TierDelete(vpcs[a].tiers.remove(b).0)
            }
            5 => Op::VpcDelete(vpcs.remove(empty_vpcs[rng.index(empty_vpcs.len())]).name),
            _ => {
                hello = rng.range(1, 20) as u16;
                Op::ZoneSet {
                    zone: zone.clone(),
                    hello,
                }
            }
        };
        ops.push(op);
    }
    (ops, hello)
}

fn plan(seed: u64) -> Plan {
    let mut ops = Vec::new();
    let mut hello = BTreeMap::new();
    for k in 0..WORKLOAD_CLIENTS {
        let mut rng = Rng::new(seed.wrapping_add(1000 + k as u64));
        let (o, h) = plan_client(k, &mut rng);
        ops.push(o);
        hello.insert(format!("z{k}"), h);
    }
    // Round-robin turns over the clients' VPC creations.
    let counts: Vec<usize> = ops
        .iter()
        .map(|o| o.iter().filter(|op| matches!(op, Op::VpcCreate(_))).count())
        .collect();
    let mut turns = vec![Vec::new(); WORKLOAD_CLIENTS];
    let mut next = 0;
    for i in 0..counts.iter().copied().max().unwrap_or(0) {
        for k in 0..WORKLOAD_CLIENTS {
            if i < counts[k] {
                turns[k].push(next);
                next += 1;
            }
        }
    }
    Plan { ops, turns, hello }
}

#[allow(clippy::too_many_arguments)]
async fn workload_client(
    client: Client,
    k: usize,
    ops: Vec<Op>,
    turns: Vec<usize>,
    turn: Arc<tokio::sync::watch::Sender<usize>>,
    progress: Arc<AtomicUsize>,
    kills: Option<Arc<AtomicUsize>>,
    retries: Arc<AtomicUsize>,
) -> Vec<(Op, Acked)> {
    let mut out = Vec::new();
    let mut turns = turns.into_iter();
    let n = ops.len();
    for (i, op) in ops.into_iter().enumerate() {
        // With faults, wait only if the kills lag well behind the
        // workload, so that they spread over all of it.
        if let Some(kills) = &kills {
            while kills.load(Ordering::SeqCst) + 2 < i * KILLS / n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let acked = if let Op::VpcCreate(_) = op {
            let my_turn = turns.next().expect("a turn per VPC creation");
            let mut rx = turn.subscribe();
            rx.wait_for(|t| *t == my_turn).await.expect("turns");
            let acked = execute(&client, k, i, &op, &retries).await;
            turn.send_modify(|t| *t += 1);
            acked
        } else {
            execute(&client, k, i, &op, &retries).await
        };
        out.push((op, acked));
        progress.fetch_add(1, Ordering::SeqCst);
    }
    out
}

/// Op `i` of client `k`, with its fixed request id, retried until answered.
async fn execute(client: &Client, k: usize, i: usize, op: &Op, retries: &AtomicUsize) -> Acked {
    let rid = format!("w{k}-op{i}");
    // The workload never asks for anything that must fail: a refusal
    // means an acknowledged request was lost, or a retry acted twice.
    let what = format!("client {k} op {i} {op:?}");
    let r = retries;
    match op {
        Op::ZoneEnable { zone, cidr } => {
            let req = ZoneEnable {
                request_id: rid,
                zone: zone.clone(),
                super_cidrs: vec![cidr.clone()],
            };
            Acked::Zone(until_answered(r, &what, || client.zone_enable(&req)).await)
        }
        Op::ZoneSet { zone, hello } => {
            let req = ospf_set(&rid, zone, *hello);
            Acked::Ospf(
                until_answered(r, &what, || client.call(subjects::areas::ZONE_SET, &req)).await,
            )
        }
        Op::VpcCreate(req) => {
            assert_eq!(req.request_id, rid);
            Acked::Vpc(until_answered(r, &what, || client.vpc_allocate(req)).await)
        }
        Op::TierCreate(req) => {
            Acked::Tier(until_answered(r, &what, || client.tier_allocate(req)).await)
        }
        Op::VmCreate(req) => Acked::Vm(until_answered(r, &what, || client.vm_allocate(req)).await),
        Op::VmDelete(name) | Op::TierDelete(name) | Op::VpcDelete(name) => {
            let req = Release {
                request_id: rid,
                name: name.clone(),
            };
            let rel = match op {
                Op::VmDelete(_) => until_answered(r, &what, || client.vm_release(&req)).await,
                Op::TierDelete(_) => until_answered(r, &what, || client.tier_release(&req)).await,
                _ => until_answered(r, &what, || client.vpc_release(&req)).await,
            };
            Acked::Released(rel)
        }
    }
}

/// The results that must be equal with and without faults.
#[derive(Debug, PartialEq)]
struct Outcome {
    allocations: BTreeMap<String, String>,
    /// VPC → "zone area".
    areas: BTreeMap<String, String>,
    /// Zone → its OSPF settings (revision left out).
    ospf: BTreeMap<String, String>,
    /// Router → FRR configuration text.
    routers: BTreeMap<String, String>,
}

async fn outcome(nc: &async_nats::Client, zones: &[String]) -> (Outcome, Vec<ZoneView>) {
    let mut zone_views = Vec::new();
    let mut areas = BTreeMap::new();
    let mut ospf = BTreeMap::new();
    for z in zones {
        let v: ZoneView = ask(nc, subjects::ipam::ZONE_SHOW, &Show { name: z.clone() }).await;
        zone_views.push(v);
        let o: ZoneOspfView = ask(nc, subjects::areas::ZONE_SHOW, &Show { name: z.clone() }).await;
        for a in &o.areas {
            areas.insert(a.vpc.clone(), format!("{} {}", a.zone, a.area_id));
        }
        ospf.insert(
            z.clone(),
            format!(
                "backbone={} hello={} dead={} retransmit={} delay={} auth={} key_id={:?}",
                o.backbone,
                o.hello_interval,
                o.dead_interval,
                o.retransmit_interval,
                o.transmit_delay,
                o.auth,
                o.key_id
            ),
        );
    }
    let out = Outcome {
        allocations: allocations(&zone_views),
        areas,
        ospf,
        routers: router_texts(nc).await,
    };
    (out, zone_views)
}

struct RunReport {
    outcome: Outcome,
    kills: usize,
    retries: usize,
    requests: usize,
}

/// Runs the plan on a fresh stack (with random kills if `chaos_seed`),
/// checks everything that must hold within one run, and returns what must
/// equal across runs.
async fn run_workload(plan: &Plan, chaos_seed: Option<u64>) -> Option<RunReport> {
    let nats = NatsServer::start()?;
    let mut s = Stack::start(nats, true).await;
    let url = s.url();
    let zones: Vec<String> = (0..WORKLOAD_CLIENTS).map(|k| format!("z{k}")).collect();
    let retries = Arc::new(AtomicUsize::new(0));
    let kills = Arc::new(AtomicUsize::new(0));
    // Acknowledged requests so far: kills are timed by the workload's
    // progress, so they land while requests are in flight.
    let progress = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let turn = Arc::new(tokio::sync::watch::channel(0usize).0);
    let mut tasks = Vec::new();
    for k in 0..WORKLOAD_CLIENTS {
        // Short timeouts: a request to a killed service is retried soon.
        let client = Client::connect(&url)
            .await
            .with_timeout(Duration::from_millis(1500));
        tasks.push(tokio::spawn(workload_client(
            client,
            k,
            plan.ops[k].clone(),
            plan.turns[k].clone(),
            turn.clone(),
            progress.clone(),
            chaos_seed.map(|_| kills.clone()),
            retries.clone(),
        )));
    }
    let workload = async {
        let mut acks = Vec::new();
        for t in tasks {
            acks.push(t.await.expect("workload client"));
        }
        done.store(true, Ordering::SeqCst);
        acks
    };
    let chaos = async {
        let Some(seed) = chaos_seed else {
            return Vec::new();
        };
        let mut rng = Rng::new(seed);
        let mut order: Vec<usize> = Vec::new();
        let mut log = Vec::new();
        let mut trigger = 0;
        while !(done.load(Ordering::SeqCst) && kills.load(Ordering::SeqCst) >= KILLS) {
            if order.is_empty() {
                order = vec![0, 1, 2, 3];
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.index(i + 1));
                }
            }
            let victim = order.pop().unwrap();
            // After a random number of acknowledgements (or, once the
            // workload is done, at once), at a random moment.
            trigger += rng.range(6, 18) as usize;
            let waited = Instant::now();
            while progress.load(Ordering::SeqCst) < trigger
                && !done.load(Ordering::SeqCst)
                && waited.elapsed() < Duration::from_millis(300)
            {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.range(0, 20))).await;
            let down = Duration::from_millis(rng.range(0, 200));
            let during = !done.load(Ordering::SeqCst);
            let svc = match victim {
                0 => &mut s.ipam,
                1 => &mut s.areas,
                2 => &mut s.config,
                _ => s.sync.as_mut().unwrap(),
            };
            svc.kill9();
            kills.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(down).await;
            let t = Instant::now();
            svc.restart().await;
            log.push((
                ["ipam", "area-registry", "config-renderer", "router-sync"][victim],
                during,
                down,
                t.elapsed(),
            ));
        }
        log
    };
    let (acks, chaos_log) = tokio::join!(workload, chaos);
    let requests: usize = acks.iter().map(Vec::len).sum();
    if chaos_seed.is_some() {
        let mut by_service: BTreeMap<&str, usize> = BTreeMap::new();
        for (service, during, ..) in &chaos_log {
            if *during {
                *by_service.entry(service).or_default() += 1;
            }
        }
        let during: usize = by_service.values().sum();
        let slowest = chaos_log.iter().map(|l| l.3).max().unwrap_or_default();
        let down: Duration = chaos_log.iter().map(|l| l.2).sum();
        eprintln!(
            "{} kills, {during} while the workload ran: {by_service:?}; down {down:?} in \
             total, slowest restart {slowest:?}",
            chaos_log.len()
        );
        assert!(during >= 20, "only {during} kills during the workload");
        assert_eq!(by_service.len(), 4, "not every service was killed");
        assert!(
            retries.load(Ordering::Relaxed) > 0,
            "no kill hit a request in flight"
        );
    }

    // Everything up, consumers caught up.
    s.assert_all_running();
    let nc = s.nc().await;
    s.wait_caught_up(&nc).await;
    let (out, zone_views) = outcome(&nc, &zones).await;

    // Every acknowledged create is there as acknowledged, unless an
    // acknowledged delete removed it; nothing else is there.
    let mut expected = BTreeMap::new();
    for client_acks in &acks {
        for (op, ack) in client_acks {
            match ack {
                Acked::Vpc(r) => {
                    assert!(expected.insert(r.vpc.clone(), vpc_desc(r)).is_none());
                }
                Acked::Tier(r) => {
                    assert!(expected.insert(r.tier.clone(), tier_desc(r)).is_none());
                }
                Acked::Vm(r) => {
                    assert!(expected.insert(r.vm.clone(), vm_desc(r)).is_none());
                }
                Acked::Released(r) => {
                    assert!(
                        expected.remove(&r.name).is_some(),
                        "{op:?} released what was not live"
                    );
                }
                Acked::Ospf(v) => {
                    let Op::ZoneSet { zone, hello } = op else {
                        unreachable!()
                    };
                    assert_eq!(
                        (&v.zone, v.hello_interval, v.dead_interval, v.auth.as_str()),
                        (zone, *hello, 4 * u32::from(*hello), "md5"),
                        "zone.set reply"
                    );
                }
                Acked::Zone(z) => {
                    let Op::ZoneEnable { zone, cidr } = op else {
                        unreachable!()
                    };
                    assert_eq!(
                        (
                            &z.zone,
                            z.super_cidrs.iter().map(|c| c.to_string()).collect()
                        ),
                        (zone, vec![cidr.clone()]),
                        "zone enable reply"
                    );
                }
            }
        }
    }
    assert_maps_eq(
        "acknowledged (left) and held (right) allocations",
        &expected,
        &out.allocations,
    );
    for z in &zone_views {
        check_zone_invariants(z);
    }
    // One router per live VPC, each with its zone's last timers; one area
    // per live VPC, never shared.
    let mut live_routers = BTreeMap::new();
    for z in &zone_views {
        for v in &z.vpcs {
            let r = v.router.as_ref().expect("every workload VPC has a router");
            live_routers.insert(r.name.clone(), z.zone.clone());
        }
    }
    assert_eq!(
        out.routers.keys().collect::<Vec<_>>(),
        live_routers.keys().collect::<Vec<_>>(),
        "routers of the config-renderer vs live VPCs"
    );
    for (router, text) in &out.routers {
        let hello = plan.hello[&live_routers[router]];
        assert!(
            text.contains(&format!(" ip ospf hello-interval {hello}\n")),
            "router {router} does not have its zone's last hello-interval {hello}:\n{text}"
        );
        assert!(text.contains("key-z"), "router {router} lacks its key");
    }
    let live_vpcs: BTreeSet<&String> = expected
        .iter()
        .filter(|(_, d)| d.starts_with("vpc "))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        out.areas.keys().collect::<BTreeSet<_>>(),
        live_vpcs,
        "VPCs with an area vs live VPCs"
    );
    let distinct: BTreeSet<&String> = out.areas.values().collect();
    assert_eq!(distinct.len(), out.areas.len(), "two VPCs share an area");

    // Each service's state equals a fresh replay of its log.
    let before = views(&nc, &zones).await;
    for which in ["ipam", "area-registry", "config-renderer"] {
        let svc = match which {
            "ipam" => &mut s.ipam,
            "area-registry" => &mut s.areas,
            _ => &mut s.config,
        };
        svc.kill9();
        svc.restart().await;
        s.wait_caught_up(&nc).await;
        let after = views(&nc, &zones).await;
        assert_views_eq(&format!("after a restart of {which}"), &before, &after);
    }

    // Every acknowledged request, sent again after all the restarts, gets
    // the answer it got the first time, and changes nothing.
    let heads_before = s.wait_caught_up(&nc).await;
    let client = Client::connect(&url).await;
    let mut resends = Vec::new();
    for (k, client_acks) in acks.iter().enumerate() {
        let client = client.clone();
        let client_acks = client_acks.clone();
        let retries = retries.clone();
        resends.push(tokio::spawn(async move {
            let mut differ = Vec::new();
            for (i, (op, ack)) in client_acks.iter().enumerate() {
                let again = execute(&client, k, i, op, &retries).await;
                if format!("{again:?}") != format!("{ack:?}") {
                    differ.push(format!("{op:?}\n  first: {ack:?}\n  again: {again:?}"));
                }
            }
            differ
        }));
    }
    let mut differ = Vec::new();
    for t in resends {
        differ.extend(t.await.expect("resend task"));
    }
    assert!(
        differ.is_empty(),
        "{} acknowledged requests sent again got another answer:\n{}",
        differ.len(),
        differ[..differ.len().min(5)].join("\n")
    );
    // Once the consumers have handled whatever the resends set off, no
    // log has grown.
    assert_eq!(
        heads_before,
        s.wait_caught_up(&nc).await,
        "resent requests appended events"
    );
    assert_views_eq(
        "after resending every request",
        &before,
        &views(&nc, &zones).await,
    );

    s.assert_all_running();
    s.assert_no_panics();
    Some(RunReport {
        outcome: out,
        kills: chaos_log.len(),
        retries: retries.load(Ordering::Relaxed),
        requests,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_kills_of_every_service_lose_nothing_and_change_nothing() {
    drop(nats_or_skip!());
    let seed = seed();
    eprintln!("CHAOS_SEED={seed}");
    let plan = plan(seed);
    let t = Instant::now();
    let Some(clean) = run_workload(&plan, None).await else {
        return;
    };
    eprintln!(
        "clean run: {} requests in {:?}",
        clean.requests,
        t.elapsed()
    );
    let t = Instant::now();
    let Some(faulty) = run_workload(&plan, Some(seed)).await else {
        return;
    };
    eprintln!(
        "faulty run: {} requests, {} kills, {} unanswered attempts retried, in {:?}",
        faulty.requests,
        faulty.kills,
        faulty.retries,
        t.elapsed()
    );
    let (c, f) = (&clean.outcome, &faulty.outcome);
    assert!(c.routers.len() >= 4, "too few routers: {}", c.routers.len());
    assert_maps_eq(
        "allocations without (left) and with (right) faults",
        &c.allocations,
        &f.allocations,
    );
    assert_maps_eq(
        "areas without (left) and with (right) faults",
        &c.areas,
        &f.areas,
    );
    assert_maps_eq(
        "OSPF settings without (left) and with (right) faults",
        &c.ospf,
        &f.ospf,
    );
    assert_maps_eq(
        "router configurations without (left) and with (right) faults",
        &c.routers,
        &f.routers,
    );
}

// ================================================== 3. NATS outage

/// Creates VPC `n<i>` (with a router) and its tier, again and again.
async fn vpc_workload(
    client: Client,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    retries: Arc<AtomicUsize>,
) {
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let vpc = format!("n{i}");
        let req = vpc_with_router(&vpc, "z1", i);
        until_answered(&retries, &vpc, || client.vpc_allocate(&req)).await;
        let tier = tier_on_eth2(&format!("{vpc}-t"), &vpc);
        until_answered(&retries, &vpc, || client.tier_allocate(&tier)).await;
        acked.lock().unwrap().push(vpc);
        i += 1;
    }
}

async fn wait_acked(acked: &Mutex<Vec<String>>, n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "{what}: the workload stalled at {}",
            acked.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits, without changing anything, until the area registry and the
/// renderer reflect `vpcs` of zone z1: an area each, a router each whose
/// text has the area, the VPC range, the tier interface and `hello`.
async fn wait_rendered(
    nc: &async_nats::Client,
    vpcs: &BTreeSet<String>,
    hello: u16,
    within: Duration,
) -> BTreeMap<String, String> {
    let deadline = Instant::now() + within;
    loop {
        let problem = async {
            let ipam: ZoneView =
                ask(nc, subjects::ipam::ZONE_SHOW, &Show { name: "z1".into() }).await;
            let live: BTreeSet<String> = ipam.vpcs.iter().map(|v| v.vpc.clone()).collect();
            if &live != vpcs {
                return Err(format!("ipam holds {live:?}"));
            }
            let areas: ZoneOspfView =
                ask(nc, subjects::areas::ZONE_SHOW, &Show { name: "z1".into() }).await;
            let with_area: BTreeSet<String> = areas.areas.iter().map(|a| a.vpc.clone()).collect();
            if &with_area != vpcs {
                return Err(format!("the area registry has areas for {with_area:?}"));
            }
            let texts = router_texts(nc).await;
            let want: BTreeSet<String> = vpcs.iter().map(|v| format!("{v}-vr")).collect();
            let have: BTreeSet<String> = texts.keys().cloned().collect();
            if have != want {
                return Err(format!(
                    "routers missing {:?}, extra {:?}",
                    want.difference(&have).collect::<Vec<_>>(),
                    have.difference(&want).collect::<Vec<_>>()
                ));
            }
            for v in &ipam.vpcs {
                let text = &texts[&format!("{}-vr", v.vpc)];
                let area = areas.areas.iter().find(|a| a.vpc == v.vpc).unwrap().area_id;
                for needle in [
                    format!(" area {area} range {}\n", v.cidr),
                    format!(" ip ospf hello-interval {hello}\n"),
                    "interface eth2".to_string(),
                ] {
                    if !text.contains(&needle) {
                        return Err(format!("router {}-vr lacks {needle:?}", v.vpc));
                    }
                }
            }
            Ok(texts)
        }
        .await;
        match problem {
            Ok(texts) => return texts,
            Err(p) => assert!(Instant::now() < deadline, "not caught up: {p}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_outage_and_consumers_down_are_caught_up() {
    let nats = nats_or_skip!();
    let started = Instant::now();
    let mut s = Stack::start(nats, false).await;
    let url = s.url();
    let client = Client::connect(&url)
        .await
        .with_timeout(Duration::from_millis(1500));
    zone_enable(&client, "z1", "10.30.0.0/16").await;

    // NATS goes away under a running workload, and comes back.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let retries = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(vpc_workload(
        client.clone(),
        stop.clone(),
        acked.clone(),
        retries.clone(),
    ));
    wait_acked(&acked, 4, "before the outage").await;
    let pids = [s.ipam.pid(), s.areas.pid(), s.config.pid()];
    s.nats.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = acked.lock().unwrap().len();
    s.nats.restart();
    wait_acked(&acked, during + 4, "after the outage").await;
    stop.store(true, Ordering::Relaxed);
    task.await.expect("workload");
    assert!(
        retries.load(Ordering::Relaxed) > 0,
        "the outage hit no request"
    );
    // The same processes, reconnected by themselves.
    assert_eq!(pids, [s.ipam.pid(), s.areas.pid(), s.config.pid()]);
    for svc in [&mut s.ipam, &mut s.areas, &mut s.config] {
        svc.wait_ready().await;
    }
    s.assert_all_running();
    let mut live: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let nc = s.nc().await;
    wait_rendered(&nc, &live, 10, Duration::from_secs(20)).await;

    // The renderer misses changes; then the registry too.
    let r = AtomicUsize::new(0);
    s.config.kill9();
    for (i, vpc) in ["late-1", "late-2"].iter().enumerate() {
        let req = vpc_with_router(vpc, "z1", 100 + i as u32);
        until_answered(&r, vpc, || client.vpc_allocate(&req)).await;
        let tier = tier_on_eth2(&format!("{vpc}-t"), vpc);
        until_answered(&r, vpc, || client.tier_allocate(&tier)).await;
        live.insert(vpc.to_string());
    }
    for (name, sub) in [
        ("n0-t", subjects::ipam::TIER_RELEASE),
        ("n0", subjects::ipam::VPC_RELEASE),
    ] {
        let req = Release {
            request_id: format!("rid-del-{name}"),
            name: name.into(),
        };
        let _: Released = until_answered(&r, name, || client.call(sub, &req)).await;
    }
    live.remove("n0");
    let set = ospf_set("rid-hello-7", "z1", 7);
    let _: ZoneOspfView = until_answered(&r, "zone.set", || {
        client.call(subjects::areas::ZONE_SET, &set)
    })
    .await;
    s.areas.kill9();
    let req = vpc_with_router("late-3", "z1", 102);
    until_answered(&r, "late-3", || client.vpc_allocate(&req)).await;
    let tier = tier_on_eth2("late-3-t", "late-3");
    until_answered(&r, "late-3", || client.tier_allocate(&tier)).await;
    live.insert("late-3".into());

    // Both consumers start while NATS is down, and come up once it is back.
    s.nats.stop();
    s.areas = Service::spawn(ServiceKind::AreaRegistry, &url, &s.path("areas"), &[]);
    s.config = Service::spawn(ServiceKind::ConfigRenderer, &url, &s.path("config"), &[]);
    // Each reaches its event loop without NATS, and has tried to read its
    // producer's log and failed (`wait_for_log` fails if it exits first).
    for (svc, serving) in [
        (&mut s.areas, "area-registry serving"),
        (&mut s.config, "config-renderer serving"),
    ] {
        svc.wait_for_log(serving).await;
        svc.wait_for_log("cannot read the producer's log").await;
    }
    s.nats.restart();
    for svc in [&mut s.ipam, &mut s.areas, &mut s.config] {
        svc.wait_ready().await;
    }
    // Without any new change, they catch up on what they missed.
    let nc = s.nc().await;
    let texts = wait_rendered(&nc, &live, 7, Duration::from_secs(20)).await;
    s.assert_all_running();

    // A renderer built from scratch out of the producers' logs agrees.
    s.config.kill9();
    let fresh_dir = s.path("config-fresh");
    s.config = Service::start(ServiceKind::ConfigRenderer, &url, &fresh_dir).await;
    let fresh = wait_rendered(&nc, &live, 7, Duration::from_secs(20)).await;
    assert_maps_eq(
        "routers of the renderer that lived through it all (left) and of a fresh one (right)",
        &texts,
        &fresh,
    );
    s.assert_no_panics();
    eprintln!("test 3 took {:?}", started.elapsed());
}

// ============================================ 4. gaps in a producer's seqs

async fn router_names(nc: &async_nats::Client) -> BTreeSet<String> {
    let list: Vec<RouterSummary> =
        ask(nc, subjects::config::ROUTER_LIST, &RouterList::default()).await;
    list.into_iter().map(|r| r.router).collect()
}

async fn wait_routers(nc: &async_nats::Client, want: &BTreeSet<String>, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let have = router_names(nc).await;
        if &have == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "routers: missing {:?}, extra {:?}",
            want.difference(&have).collect::<Vec<_>>(),
            have.difference(want).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_fetches_what_it_missed() {
    let nats = nats_or_skip!();
    let started = Instant::now();
    let mut s = Stack::start(nats, false).await;
    let url = s.url();
    let client = Client::connect(&url)
        .await
        .with_timeout(Duration::from_millis(1500));
    let nc = client.nats().clone();
    zone_enable(&client, "z1", "10.40.0.0/16").await;
    let create = |names: Vec<String>, base: u32| {
        let client = client.clone();
        async move {
            let r = AtomicUsize::new(0);
            for (i, vpc) in names.iter().enumerate() {
                let req = vpc_with_router(vpc, "z1", base + i as u32);
                until_answered(&r, vpc, || client.vpc_allocate(&req)).await;
            }
        }
    };

    // (a) Down while 5 VPCs with routers were created: once restarted, it
    // renders all 5 without any further change.
    s.config.kill9();
    let g: Vec<String> = (1..=5).map(|i| format!("g{i}")).collect();
    create(g.clone(), 0).await;
    s.config.restart().await;
    let mut want: BTreeSet<String> = g.iter().map(|v| format!("{v}-vr")).collect();
    wait_routers(&nc, &want, Duration::from_secs(10)).await;

    // (b) No polling (1 h), and ipam down when it starts, so its start-up
    // read fails: it has missed h1..h5 and nothing will tell it...
    s.config.kill9();
    let h: Vec<String> = (1..=5).map(|i| format!("h{i}")).collect();
    create(h.clone(), 10).await;
    let ipam_head = service_status(&nc, &Running::Ipam).await.log.head;
    s.ipam.kill9();
    s.config = Service::start_with_args(
        ServiceKind::ConfigRenderer,
        &url,
        &s.path("config"),
        &["--poll-interval", "1h"],
    )
    .await;
    let line = s
        .config
        .wait_for_log("cannot read the producer's log")
        .await;
    assert!(line.contains(subjects::ipam::EVENTS_READ), "{line}");
    s.ipam.restart().await;
    let handled = service_status(&nc, &Running::ConfigRenderer).await.followed;
    assert!(
        handled
            .iter()
            .any(|f| f.source == "ipam" && f.applied_seq < ipam_head),
        "premise: without polling, nothing has told the renderer of h1..h5 (up to ipam \
         seq {ipam_head}) yet; it reports {handled:?}"
    );
    assert_eq!(
        router_names(&nc).await,
        want,
        "premise, as its routers show"
    );
    // ...until the next live event shows a gap in ipam's seqs: it reads
    // the missing events from ipam's log.
    create(vec!["h6".into()], 20).await;
    want.extend(
        h.iter()
            .chain([&"h6".to_string()])
            .map(|v| format!("{v}-vr")),
    );
    wait_routers(&nc, &want, Duration::from_secs(10)).await;
    // ...and it was the gap that told it, not a poll.
    let gap = s
        .config
        .wait_for_log("missed events on the live feed")
        .await;
    assert!(gap.contains(subjects::ipam::EVENTS_READ), "{gap}");
    s.assert_all_running();
    s.assert_no_panics();
    eprintln!("test 4 took {:?}", started.elapsed());
}

// ==================================================== 5. edited logs

/// Drops the append-only trigger of `db` and rewrites the payload of the
/// first event of `event_type` with `edit`; returns its seq.
fn edit_event(db: &std::path::Path, event_type: &str, edit: impl Fn(&mut Value)) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open log");
    let (seq, payload): (i64, String) = conn
        .query_row(
            "SELECT seq, payload FROM events WHERE event_type = ?1 ORDER BY seq LIMIT 1",
            [event_type],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("no {event_type} event in {}: {e}", db.display()));
    let err = conn
        .execute("UPDATE events SET payload = payload WHERE seq = ?1", [seq])
        .expect_err("the trigger keeps events append-only");
    assert!(err.to_string().contains("append-only"), "{err}");
    conn.execute_batch("DROP TRIGGER events_no_update")
        .expect("drop trigger");
    let mut v: Value = serde_json::from_str(&payload).expect("payload is JSON");
    edit(&mut v);
    let edited = serde_json::to_string(&v).unwrap();
    assert_ne!(edited, payload, "the edit changed nothing");
    let n = conn
        .execute(
            "UPDATE events SET payload = ?1 WHERE seq = ?2",
            rusqlite::params![edited, seq],
        )
        .expect("update");
    assert_eq!(n, 1);
    seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edited_consumer_logs_are_refused_naming_the_event() {
    let nats = nats_or_skip!();
    let mut s = Stack::start(nats, false).await;
    let url = s.url();
    let client = Client::connect(&url).await;
    zone_enable(&client, "z1", "10.50.0.0/16").await;
    let r = AtomicUsize::new(0);
    for (i, vpc) in ["e1", "e2", "e3"].iter().enumerate() {
        let req = vpc_with_router(vpc, "z1", i as u32);
        until_answered(&r, vpc, || client.vpc_allocate(&req)).await;
        let tier = tier_on_eth2(&format!("{vpc}-t"), vpc);
        until_answered(&r, vpc, || client.tier_allocate(&tier)).await;
    }
    let nc = client.nats().clone();
    let want = ["e1-vr", "e2-vr", "e3-vr"].map(String::from).into();
    wait_routers(&nc, &want, Duration::from_secs(15)).await;
    s.areas.kill9();
    s.config.kill9();

    // Another area for the first VPC.
    let areas_seq = edit_event(
        &s.path("areas").join("area-registry.sqlite"),
        "area_assigned",
        |v| v["area_id"] = Value::String("0.0.0.77".into()),
    );
    // A moved VPC in the renderer's copy of ipam's vpc_allocated.
    let config_seq = edit_event(
        &s.path("config").join("config-renderer.sqlite"),
        "ipam_input",
        |v| {
            let ev = &mut v["event"];
            if ev["type"] == "vpc_allocated" {
                ev["cidr"] = Value::String("10.50.99.0/24".into());
            } else {
                ev["super_cidrs"] = serde_json::json!(["10.51.0.0/16"]);
            }
        },
    );
    for (kind, dir, seq) in [
        (ServiceKind::AreaRegistry, "areas", areas_seq),
        (ServiceKind::ConfigRenderer, "config", config_seq),
    ] {
        let report = Service::run_to_exit(kind, &url, &s.path(dir), Duration::from_secs(15));
        assert!(
            !report.status.success(),
            "{} must refuse an edited log",
            kind.binary_name()
        );
        assert!(
            report.stderr.contains(&format!("seq {seq}")),
            "{}: stderr must name event {seq}:\n{}",
            kind.binary_name(),
            report.stderr
        );
    }
    // ipam's own log is untouched and it still serves.
    let z = client.zone_show("z1").await.expect("ipam still answers");
    assert_eq!(z.vpcs.len(), 3);
}

/// The idempotency records (`requests` table) are part of the log: a retry
/// is answered from them. A hand-edited one must be refused at start like
/// an edited event: each record is hashed onto the event chain, so an edit
/// is found by `verify` at start (otherwise the service would serve the
/// forged answer to the retry: a CIDR contradicting its own state).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edited_idempotency_records_are_refused() {
    let nats = nats_or_skip!();
    let mut s = Stack::start(nats, false).await;
    let url = s.url();
    let client = Client::connect(&url).await;
    zone_enable(&client, "z1", "10.60.0.0/16").await;
    let req = vpc_with_router("i1", "z1", 1);
    let r = AtomicUsize::new(0);
    let first = until_answered(&r, "i1", || client.vpc_allocate(&req)).await;
    s.ipam.kill9();
    s.areas.kill9();
    for (db, request_id, from, to) in [
        (
            s.path("ipam").join("ipam.sqlite"),
            req.request_id.clone(),
            first.cidr.to_string(),
            "10.60.77.0/24".to_string(),
        ),
        (
            s.path("areas").join("area-registry.sqlite"),
            "rid-ospf-z1".to_string(),
            "\"hello_interval\":10".to_string(),
            "\"hello_interval\":11".to_string(),
        ),
    ] {
        let conn = rusqlite::Connection::open(&db).expect("open log");
        conn.execute_batch("DROP TRIGGER requests_no_update")
            .expect("drop trigger");
        let n = conn
            .execute(
                "UPDATE requests SET result = replace(result, ?1, ?2) WHERE request_id = ?3",
                rusqlite::params![from, to, request_id],
            )
            .expect("update");
        assert_eq!(n, 1, "no record of {request_id} in {}", db.display());
    }
    for (kind, dir, request_id) in [
        (ServiceKind::Ipam, "ipam", req.request_id.as_str()),
        (ServiceKind::AreaRegistry, "areas", "rid-ospf-z1"),
    ] {
        let report = Service::run_to_exit(kind, &url, &s.path(dir), Duration::from_secs(5));
        assert!(
            !report.status.success() && report.stderr.contains(request_id),
            "{} must refuse a log whose record of {request_id} was edited:\n{}",
            kind.binary_name(),
            report.stderr
        );
    }
}
