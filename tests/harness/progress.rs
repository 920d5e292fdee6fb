//! "Nothing else will happen": [`wait_processed`] waits until every
//! running consumer reports (`<service>.service.status`) having handled
//! everything its producers held when the test's last request was
//! answered. Only then may a test assert that something did *not* happen:
//! whatever the requests set off has been decided and made durable by then
//! (a status reply waits for the appends in flight), so there is no "too
//! early" left to hide a change that is merely late.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vpcroute_bus::subjects;
use vpcroute_protocol::config::{RouterList, RouterSummary};
use vpcroute_protocol::service::{ServiceStatus, ServiceStatusGet};

/// How long the pipeline may take to drain.
const PROCESSED_TIMEOUT: Duration = Duration::from_secs(30);

/// A service a test runs, as [`wait_processed`] asks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Running {
    Ipam,
    AreaRegistry,
    ConfigRenderer,
    /// A router-sync instance, by name.
    RouterSync(String),
}

impl Running {
    /// Where the service answers `service.status`.
    pub fn status_subject(&self) -> String {
        match self {
            Running::Ipam => subjects::ipam::SERVICE_STATUS.into(),
            Running::AreaRegistry => subjects::areas::SERVICE_STATUS.into(),
            Running::ConfigRenderer => subjects::config::SERVICE_STATUS.into(),
            Running::RouterSync(instance) => subjects::sync::service_status(instance),
        }
    }
}

/// One service's `service.status`; any failure to get it fails the test.
pub async fn service_status(nc: &async_nats::Client, running: &Running) -> ServiceStatus {
    let subject = running.status_subject();
    vpcroute_bus::request(nc, &subject, &ServiceStatusGet {}, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{subject}: {e}"))
}

/// The last seq of `source` that `status` reports handled.
fn applied(status: &ServiceStatus, source: &str) -> u64 {
    status
        .followed
        .iter()
        .find(|f| f.source == source)
        .unwrap_or_else(|| {
            panic!(
                "{} does not report following {source}: {status:?}",
                status.service
            )
        })
        .applied_seq
}

/// Asks `running` until `done` holds, failing with the last answer.
async fn status_until(
    nc: &async_nats::Client,
    running: &Running,
    what: &str,
    done: impl Fn(&ServiceStatus) -> bool,
) -> ServiceStatus {
    let deadline = Instant::now() + PROCESSED_TIMEOUT;
    loop {
        let status = service_status(nc, running).await;
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{running:?} has not processed {what} within {PROCESSED_TIMEOUT:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every service of `running` has processed everything its
/// producers held when this was called, in the pipeline's order: ipam's
/// head (its status is answered in order behind every request before it,
/// like any ipam reply), then the area registry up to that head, then the
/// config-renderer up to both producers' heads, then each router-sync
/// instance up to the config-renderer's current version of each of its
/// routers. Returns each service's log head as it reported it then
/// (router-sync instances by instance name).
pub async fn wait_processed(nc: &async_nats::Client, running: &[Running]) -> BTreeMap<String, u64> {
    let runs = |r: &Running| running.contains(r);
    let mut heads = BTreeMap::new();
    let ipam_head = if runs(&Running::Ipam) {
        service_status(nc, &Running::Ipam).await.log.head
    } else {
        0
    };
    heads.insert("ipam".to_string(), ipam_head);
    let mut areas_head = 0;
    if runs(&Running::AreaRegistry) {
        let what = format!("ipam's log up to {ipam_head}");
        let st = status_until(nc, &Running::AreaRegistry, &what, |s| {
            applied(s, "ipam") >= ipam_head
        })
        .await;
        areas_head = st.log.head;
        heads.insert("area-registry".to_string(), areas_head);
    }
    if runs(&Running::ConfigRenderer) {
        let what = format!("ipam's log up to {ipam_head}, the area registry's up to {areas_head}");
        let st = status_until(nc, &Running::ConfigRenderer, &what, |s| {
            applied(s, "ipam") >= ipam_head && applied(s, "area-registry") >= areas_head
        })
        .await;
        heads.insert("config-renderer".to_string(), st.log.head);
    }
    let syncs: Vec<&Running> = running
        .iter()
        .filter(|r| matches!(r, Running::RouterSync(_)))
        .collect();
    if syncs.is_empty() {
        return heads;
    }
    assert!(
        runs(&Running::ConfigRenderer),
        "router-sync follows the config-renderer, which this test does not run"
    );
    let list: Vec<RouterSummary> = vpcroute_bus::request(
        nc,
        subjects::config::ROUTER_LIST,
        &RouterList::default(),
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|e| panic!("router.list: {e}"));
    let versions: BTreeMap<String, u64> = list.into_iter().map(|r| (r.router, r.version)).collect();
    for sync in syncs {
        let what = format!("the config-renderer's versions {versions:?}");
        let st = status_until(nc, sync, &what, |s| {
            s.routers.iter().all(|r| match versions.get(&r.router) {
                Some(v) => r.desired_version.is_some_and(|d| d >= *v),
                None => true,
            })
        })
        .await;
        let Running::RouterSync(instance) = sync else {
            unreachable!("filtered above")
        };
        heads.insert(instance.clone(), st.log.head);
    }
    heads
}
