//! A zone at full size through NATS (issue 14): 12,000 VPCs, 12,000 tiers
//! and 30,000 VMs created by a pipelined client (many requests in flight,
//! each idempotent by its request id), then every paged query read to the
//! end while allocations continue: nothing that exists throughout the read
//! is lost or returned twice, and no page exceeds the server's
//! `max_payload`. A second test gives NATS a small `max_payload` and shows
//! a reply too large for it answered `reply_too_large`, not left to time
//! out, while the paged reads of the same zone still work. `vpcctl show
//! zone` prints a zone of that size, the first VPC before the last page.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{de::DeserializeOwned, Serialize};
use vpcroute_bus::subjects;
use vpcroute_protocol::acl::AclCreate;
use vpcroute_protocol::areas::ZoneOspfPage;
use vpcroute_protocol::config::{RouterPage, RouterSummary};
use vpcroute_protocol::ipam::*;
use vpcroute_protocol::page::PagedRequest;
use vpcroute_protocol::{ErrorCode, Page, PagedShow, Reply};
use vpcroute_tests::wiretap::Direction;
use vpcroute_tests::{nats_or_skip, vpcctl, Client, NatsServer, Service, ServiceKind, Wiretap};

const VPCS: usize = 12_000;
const VMS_PER_TIER: usize = 3;
/// Tiers (one per VPC) that get VMs: 10,000 x 3 = 30,000 VMs.
const TIERS_WITH_VMS: usize = 10_000;
const ROUTERS: usize = 50;
const ACLS: usize = 30;
/// Requests in flight at once while creating.
const IN_FLIGHT: usize = 256;

fn vpc(i: usize) -> String {
    format!("vpc-{i:05}")
}
fn tier(i: usize) -> String {
    format!("tier-{i:05}")
}
fn vm(i: usize, j: usize) -> String {
    format!("vm-{i:05}-{j}")
}

/// Sends every request with `IN_FLIGHT` outstanding; each must succeed.
async fn pipelined<Req, Resp>(client: &Client, subject: &str, reqs: Vec<Req>)
where
    Req: Serialize,
    Resp: DeserializeOwned,
{
    let n = reqs.len();
    let failures: Vec<String> = futures::stream::iter(reqs)
        .map(|r| async move { client.call::<Req, Resp>(subject, &r).await })
        .buffer_unordered(IN_FLIGHT)
        .filter_map(|r| async move { r.err().map(|e| e.to_string()) })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{subject}: {} of {n} failed, e.g. {}",
        failures.len(),
        failures[0]
    );
}

fn vpc_request(i: usize) -> VpcAllocate {
    let router = (i < ROUTERS).then(|| RouterSpec {
        name: format!("r-{}", vpc(i)),
        router_id: format!("10.255.0.{}", i + 1).parse().unwrap(),
        uplink_interface: "eth1".into(),
        uplink_address: format!("192.168.100.{}/24", i + 2).parse().unwrap(),
    });
    VpcAllocate {
        request_id: format!("create-{}", vpc(i)),
        vpc: vpc(i),
        zone: "z1".into(),
        netmask: None,
        prefix_length: Some(24),
        family: None,
        router,
    }
}

fn tier_request(i: usize) -> TierAllocate {
    TierAllocate {
        request_id: format!("create-{}", tier(i)),
        tier: tier(i),
        vpc: vpc(i),
        gateway: None,
        netmask: None,
        prefix_length: Some(25),
        interface: Some("eth2".into()),
        acl: None,
    }
}

fn vm_request(i: usize, j: usize) -> VmAllocate {
    VmAllocate {
        request_id: format!("create-{}", vm(i, j)),
        vm: vm(i, j),
        tier: tier(i),
        ip: None,
    }
}

/// Zone `z1` on 10.0.0.0/8.
async fn enable_zone(client: &Client) {
    client
        .zone_enable(&ZoneEnable {
            request_id: "enable-z1".into(),
            zone: "z1".into(),
            super_cidrs: vec!["10.0.0.0/8".into()],
        })
        .await
        .expect("zone enable");
}

/// Creates the zone: VPCs, then tiers, then VMs, each kind pipelined.
async fn create_zone(client: &Client) -> Duration {
    let start = Instant::now();
    enable_zone(client).await;
    let vpcs = (0..VPCS).map(vpc_request).collect();
    pipelined::<_, VpcRecord>(client, subjects::ipam::VPC_ALLOCATE, vpcs).await;
    let tiers = (0..VPCS).map(tier_request).collect();
    pipelined::<_, TierRecord>(client, subjects::ipam::TIER_ALLOCATE, tiers).await;
    let vms = (0..TIERS_WITH_VMS)
        .flat_map(|i| (0..VMS_PER_TIER).map(move |j| vm_request(i, j)))
        .collect();
    pipelined::<_, VmRecord>(client, subjects::ipam::VM_ALLOCATE, vms).await;
    let acls = (0..ACLS)
        .map(|i| AclCreate {
            request_id: format!("create-acl-{i:02}"),
            acl: format!("acl-{i:02}"),
            vpc: vpc(i),
        })
        .collect();
    pipelined::<_, vpcroute_protocol::acl::AclView>(client, subjects::ipam::ACL_CREATE, acls).await;
    start.elapsed()
}

/// Every position the zone's export must hold.
fn expected_positions() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for i in 0..VPCS {
        all.insert(vpc(i));
        all.insert(format!("{}/{}", vpc(i), tier(i)));
        if i < TIERS_WITH_VMS {
            for j in 0..VMS_PER_TIER {
                all.insert(format!("{}/{}/{}", vpc(i), tier(i), vm(i, j)));
            }
        }
    }
    all
}

/// One paged read to the end, raw: every page's bytes are checked against
/// `max_payload`. Returns the items, pages and bytes on the wire.
async fn read_pages<Req, T>(
    nats: &async_nats::Client,
    subject: &str,
    mut req: Req,
    items_of: impl Fn(serde_json::Value) -> Vec<T>,
) -> (Vec<T>, usize, usize)
where
    Req: Serialize + PagedRequest,
{
    let max_payload = nats.max_payload();
    let (mut items, mut pages, mut bytes) = (Vec::new(), 0, 0);
    loop {
        let payload = serde_json::to_vec(&req).unwrap();
        let msg = tokio::time::timeout(
            Duration::from_secs(30),
            nats.request(subject.to_string(), payload.into()),
        )
        .await
        .unwrap_or_else(|_| panic!("{subject}: no page within 30 s"))
        .unwrap_or_else(|e| panic!("{subject}: {e}"));
        assert!(
            msg.payload.len() <= max_payload,
            "{subject}: a page of {} bytes, over max_payload {max_payload}",
            msg.payload.len()
        );
        pages += 1;
        bytes += msg.payload.len();
        let reply: Reply<serde_json::Value> = serde_json::from_slice(&msg.payload).unwrap();
        let page = reply
            .into_result()
            .unwrap_or_else(|e| panic!("{subject}: {e}"));
        let next = page.get("next").and_then(|n| n.as_str()).map(String::from);
        items.extend(items_of(page));
        match next {
            Some(n) => req.set_after(Some(n)),
            None => return (items, pages, bytes),
        }
    }
}

fn export_items(page: serde_json::Value) -> Vec<ExportRow> {
    let text = page["items"].to_string();
    serde_json::from_str(&text).expect("export rows")
}

/// Asserts `positions` strictly increase in tree order (compared name by
/// name), so none is returned twice, and hold every one of `expected`.
fn assert_complete_once(what: &str, positions: &[String], expected: &BTreeSet<String>) {
    let names = |p: &String| p.split('/').map(String::from).collect::<Vec<_>>();
    for w in positions.windows(2) {
        assert!(
            names(&w[0]) < names(&w[1]),
            "{what}: {} then {}: out of order or twice",
            w[0],
            w[1]
        );
    }
    let got: BTreeSet<&String> = positions.iter().collect();
    let missing: Vec<&String> = expected.iter().filter(|p| !got.contains(p)).collect();
    assert!(
        missing.is_empty(),
        "{what}: {} of {} lost, e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(5)]
    );
}

/// Allocates "late" VPCs (each with a tier and a VM), named to sort among
/// the others, until `stop`; counts those completed while `reading`.
async fn allocate_during(
    client: Client,
    stop: Arc<AtomicBool>,
    reading: Arc<AtomicBool>,
    during: Arc<AtomicU64>,
) -> Vec<String> {
    let mut made = Vec::new();
    let mut k = 0;
    while !stop.load(Ordering::SeqCst) {
        // Spread over the zone, so they land before and after the cursor.
        let i = (k * 97) % VPCS;
        let name = format!("{}-late{k}", vpc(i));
        let mut v = vpc_request(i);
        (v.vpc, v.request_id, v.router) = (name.clone(), format!("late-{name}"), None);
        client.vpc_allocate(&v).await.expect("late vpc");
        let t = TierAllocate {
            request_id: format!("late-tier-{name}"),
            tier: format!("tier-{name}"),
            vpc: name.clone(),
            ..tier_request(i)
        };
        client.tier_allocate(&t).await.expect("late tier");
        if reading.load(Ordering::SeqCst) {
            during.fetch_add(1, Ordering::SeqCst);
        }
        made.push(name);
        k += 1;
    }
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_zone_reads_completely_in_pages_while_allocations_continue() {
    let test_start = Instant::now();
    let nats = nats_or_skip!();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let fast = ["--unsafe-no-fsync"];
    let mut services = Vec::new();
    for (kind, sub) in [
        (ServiceKind::Ipam, "i"),
        (ServiceKind::AreaRegistry, "a"),
        (ServiceKind::ConfigRenderer, "c"),
    ] {
        let data = dir.path().join(sub);
        services.push(Service::start_with_args(kind, &url, &data, &fast).await);
    }
    let client = Client::connect(&url)
        .await
        .with_timeout(Duration::from_secs(60));
    let created = create_zone(&client).await;
    eprintln!(
        "created {VPCS} VPCs, {VPCS} tiers, {} VMs, {ACLS} ACL lists in {created:.1?}",
        TIERS_WITH_VMS * VMS_PER_TIER
    );
    let summary: ZoneSummary = client
        .call(subjects::ipam::ZONE_SUMMARY, &Show { name: "z1".into() })
        .await
        .expect("summary");
    assert_eq!(
        (summary.vpcs, summary.tiers, summary.vms, summary.acls),
        (
            VPCS as u64,
            VPCS as u64,
            (TIERS_WITH_VMS * VMS_PER_TIER) as u64,
            ACLS as u64
        )
    );
    let expected = expected_positions();

    // A full read with nothing else going on: pages cut by bytes only.
    let start = Instant::now();
    let (rows, pages, bytes) = read_pages(
        client.nats(),
        subjects::ipam::ZONE_EXPORT,
        PagedShow::first("z1"),
        export_items,
    )
    .await;
    let took = start.elapsed();
    let positions: Vec<String> = rows.iter().map(ExportRow::position).collect();
    assert_eq!(positions.len(), expected.len());
    assert_complete_once("zone.export", &positions, &expected);
    assert!(pages > 1, "the export of a full zone fits no single reply");
    eprintln!(
        "full paged read of the zone: {} rows in {pages} pages, {bytes} bytes, {took:.2?}",
        rows.len()
    );

    // The same read in small pages while VPCs are allocated meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let reading = Arc::new(AtomicBool::new(true));
    let during = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(allocate_during(
        client.clone(),
        stop.clone(),
        reading.clone(),
        during.clone(),
    ));
    // Wait for the writer's first allocation, so the read runs alongside.
    while during.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let small = PagedShow {
        limit: Some(200),
        ..PagedShow::first("z1")
    };
    let (rows, small_pages, _) = read_pages(
        client.nats(),
        subjects::ipam::ZONE_EXPORT,
        small,
        export_items,
    )
    .await;
    reading.store(false, Ordering::SeqCst);
    let during_read = during.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let late: BTreeSet<String> = writer.await.unwrap().into_iter().collect();
    assert!(
        during_read > 1,
        "allocations went on during the read: {during_read}"
    );
    let positions: Vec<String> = rows.iter().map(ExportRow::position).collect();
    assert_complete_once("zone.export while allocating", &positions, &expected);
    // Anything else returned is a late VPC or its tier, never made up.
    for p in positions.iter().filter(|p| !expected.contains(*p)) {
        let vpc_name = p.split('/').next().unwrap();
        assert!(late.contains(vpc_name), "{p} returned but never created");
    }
    eprintln!("read in {small_pages} pages of 200 while {during_read} late VPCs were allocated");

    check_other_pages(&client).await;
    check_vpcctl(&url, VPCS + late.len()).await;
    check_streaming(&url, VPCS + late.len()).await;
    eprintln!("test took {:.1?}", test_start.elapsed());
}

/// The area registry's, the renderer's and ipam's ACL and log pages.
async fn check_other_pages(client: &Client) {
    // The registry and the renderer follow ipam: wait until they hold it.
    let areas_of = |page: serde_json::Value| {
        let p: ZoneOspfPage = serde_json::from_value(page).expect("zone.areas page");
        p.view.areas
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let areas = loop {
        let req = PagedShow {
            limit: Some(1000),
            ..PagedShow::first("z1")
        };
        let (areas, _, _) =
            read_pages(client.nats(), subjects::areas::ZONE_AREAS, req, areas_of).await;
        if areas.len() >= VPCS || Instant::now() > deadline {
            break areas;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let names: Vec<String> = areas.iter().map(|a| a.vpc.clone()).collect();
    let expected: BTreeSet<String> = (0..VPCS).map(vpc).collect();
    assert_complete_once("areas zone.areas", &names, &expected);

    let deadline = Instant::now() + Duration::from_secs(120);
    let routers = loop {
        let req = RouterPage {
            zone: Some("z1".into()),
            after: None,
            limit: Some(7),
        };
        let (routers, _, _) = read_pages(client.nats(), subjects::config::ROUTER_PAGE, req, |p| {
            serde_json::from_value::<Page<RouterSummary>>(p)
                .unwrap()
                .items
        })
        .await;
        if routers.len() >= ROUTERS || Instant::now() > deadline {
            break routers;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let names: Vec<String> = routers.iter().map(|r| r.router.clone()).collect();
    let expected: BTreeSet<String> = (0..ROUTERS).map(|i| format!("r-{}", vpc(i))).collect();
    assert_complete_once("config router.page", &names, &expected);
    assert_eq!(names.len(), ROUTERS);

    let req = PagedShow {
        limit: Some(7),
        ..PagedShow::first("z1")
    };
    let (acls, _, _) = read_pages(client.nats(), subjects::ipam::ACL_LIST, req, |p| {
        serde_json::from_value::<Page<vpcroute_protocol::acl::AclView>>(p)
            .unwrap()
            .items
    })
    .await;
    let names: Vec<String> = acls.iter().map(|a| a.acl.clone()).collect();
    let expected: BTreeSet<String> = (0..ACLS).map(|i| format!("acl-{i:02}")).collect();
    assert_complete_once("ipam acl.list", &names, &expected);
    assert_eq!(names.len(), ACLS);
}

/// `vpcctl show zone` at full size: JSON, human, `--limit`, `--summary`.
async fn check_vpcctl(url: &str, vpcs: usize) {
    let start = Instant::now();
    let z = vpcctl(url, &["show", "zone", "z1"]).await.expect_ok();
    eprintln!(
        "vpcctl show zone --json of {vpcs} VPCs: {:.2?}",
        start.elapsed()
    );
    let shown = z["vpcs"].as_array().expect("vpcs");
    assert_eq!(shown.len(), vpcs);
    let first = &shown[0];
    assert_eq!(first["vpc"], vpc(0));
    assert_eq!(
        first["tiers"][0]["vms"].as_array().unwrap().len(),
        VMS_PER_TIER
    );
    assert!(first["area_id"].is_string(), "{first}");
    assert_eq!(z["zone"], "z1");

    let limited = vpcctl(url, &["show", "zone", "z1", "--limit", "3"])
        .await
        .expect_ok();
    assert_eq!(limited["vpcs"].as_array().unwrap().len(), 3);
    assert_eq!(limited["vpc_count"], vpcs as u64);

    let summary = vpcctl(url, &["show", "zone", "z1", "--summary"])
        .await
        .expect_ok();
    assert_eq!(summary["vpcs"], vpcs as u64);
    assert!(summary.get("ospf").is_some() && summary["ospf"].get("areas").is_none());

    let out = tokio::process::Command::new(vpcroute_tests::binary("vpcctl"))
        .args(["--nats-url", url, "show", "zone", "z1"])
        .env_remove("VPCROUTE_NATS_URL")
        .output()
        .await
        .expect("vpcctl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.starts_with("zone z1  super-CIDRs 10.0.0.0/8\n"),
        "{}",
        &text[..200]
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("  vpc ")).count(),
        vpcs
    );

    // An OSPF-only `zone update` answers with the zone's super-CIDRs, read
    // from `zone.summary`: it read them from `zone.show`, which at this
    // size is `reply_too_large` (found by bench-full-zone's key rotation).
    let updated = vpcctl(url, &["zone", "update", "z1", "--hello-interval", "5"])
        .await
        .expect_ok();
    assert_eq!(updated["super_cidrs"][0], "10.0.0.0/8", "{updated}");
}

/// `vpcctl show zone` prints the first VPC before it asks for the last
/// page. Its output goes to a pipe read no further than that first VPC,
/// so it blocks writing the first page's VPCs (far more than a pipe
/// holds) and cannot ask for more meanwhile; the pages asked for by then
/// are counted on the wire once it is quiet. Reading on, every page is
/// asked (the positive control).
async fn check_streaming(url: &str, vpcs: usize) {
    use tokio::io::AsyncBufReadExt;
    let export_requests = |tap: &Wiretap| {
        tap.captured()
            .iter()
            .filter(|c| {
                c.direction == Direction::Request && c.subject == subjects::ipam::ZONE_EXPORT
            })
            .count()
    };
    let tap = Wiretap::start_on(url, &[subjects::ipam::ZONE_EXPORT]).await;
    let mut child = tokio::process::Command::new(vpcroute_tests::binary("vpcctl"))
        .args(["--nats-url", url, "show", "zone", "z1"])
        .env_remove("VPCROUTE_NATS_URL")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("vpcctl");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let is_vpc = |l: &str| l.starts_with("  vpc ");
    while !is_vpc(&lines.next_line().await.unwrap().expect("a VPC line")) {}
    tap.settle().await;
    let asked_at_first_vpc = export_requests(&tap);
    let mut shown = 1;
    while let Some(line) = lines.next_line().await.unwrap() {
        shown += usize::from(is_vpc(&line));
    }
    assert!(child.wait().await.unwrap().success());
    tap.settle().await;
    let asked = export_requests(&tap);
    assert_eq!(shown, vpcs);
    assert!(
        asked_at_first_vpc < asked,
        "the first VPC came only after {asked_at_first_vpc} of the {asked} pages were asked"
    );
    eprintln!("first VPC printed after {asked_at_first_vpc} of {asked} pages");
}

/// A NATS server whose `max_payload` is 64 KiB.
const SMALL_PAYLOAD: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_reply_is_a_structured_error_not_a_timeout() {
    let Some(nats) = NatsServer::start_with_config(&format!("max_payload: {SMALL_PAYLOAD}\n"))
    else {
        return;
    };
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let _ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
    let client = Client::connect(&url)
        .await
        .with_timeout(Duration::from_secs(10));
    assert_eq!(
        client.nats().max_payload(),
        SMALL_PAYLOAD,
        "the server's limit"
    );
    enable_zone(&client).await;
    let few: Vec<_> = (0..5)
        .map(vpc_request)
        .map(|v| VpcAllocate { router: None, ..v })
        .collect();
    pipelined::<_, VpcRecord>(&client, subjects::ipam::VPC_ALLOCATE, few).await;
    // Positive control: a small zone is shown whole.
    assert_eq!(
        client.zone_show("z1").await.expect("small zone").vpcs.len(),
        5
    );

    let more: Vec<_> = (5..600)
        .map(vpc_request)
        .map(|v| VpcAllocate { router: None, ..v })
        .collect();
    pipelined::<_, VpcRecord>(&client, subjects::ipam::VPC_ALLOCATE, more).await;
    let start = Instant::now();
    let err = client.zone_show("z1").await.expect_err("over max_payload");
    let body = err.into_body();
    assert_eq!(body.code, ErrorCode::ReplyTooLarge, "{body}");
    assert!(
        body.message.contains(subjects::ipam::ZONE_SHOW)
            && body.message.contains(&SMALL_PAYLOAD.to_string()),
        "names the subject and the limit: {body}"
    );
    // An answer, not the timeout running out.
    assert!(start.elapsed() < Duration::from_secs(10));
    let out = vpcctl(&url, &["--timeout", "10s", "show", "vpc", "vpc-00000"]).await;
    assert!(out.ok(), "{}", out.stdout);

    // The same zone, paged, is whole, and every page fits.
    let (rows, pages, _) = read_pages(
        client.nats(),
        subjects::ipam::ZONE_EXPORT,
        PagedShow::first("z1"),
        export_items,
    )
    .await;
    let names: Vec<String> = rows.iter().map(ExportRow::position).collect();
    let expected: BTreeSet<String> = (0..600).map(vpc).collect();
    assert_complete_once("zone.export under 64 KiB", &names, &expected);
    assert!(pages > 1, "{pages} pages");
    let z = vpcctl(&url, &["show", "zone", "z1"]).await.expect_ok();
    assert_eq!(z["vpcs"].as_array().unwrap().len(), 600);

    // events.read: 1000 events asked, cut to fit, and contiguous.
    let page = client.events_read(1, 1000).await.expect("events.read");
    assert!(page.head > 600);
    let n = page.events.len();
    assert!(n > 0 && n < 601, "{n} events in a page of at most 64 KiB");
    for (k, ev) in page.events.iter().enumerate() {
        assert_eq!(ev.seq, k as u64 + 1);
    }
    let all = client.all_events().await;
    assert_eq!(all.len() as u64, page.head, "read page by page to the head");
}
