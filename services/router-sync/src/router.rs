//! One managed router: its desired configuration, its sync loop, its
//! status.
//!
//! Every `drift_interval` the task reads the running configuration; when
//! the config-renderer announces a new version it uses the one it verified
//! last instead. It plans the commands that bring it to the desired one
//! (`vpcroute_sync::plan`), applies them live through vtysh, and verifies
//! twice, reading both back in the same vtysh exchange as the apply: the
//! running configuration must need no further command, and the VPC's
//! summary must be in the backbone database. A failure is retried with
//! exponential backoff and reported in the status and the event log.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use vpcroute_bus::{request, subjects, RequestError};
use vpcroute_protocol::config::{
    ConfigText, DialectName, FirewallRuleset, RouterConfig, RouterConfigGet, RouterConfigUpdated,
};
pub use vpcroute_protocol::sync::SyncEvent;
use vpcroute_protocol::sync::{RouterState, RouterStatus};
use vpcroute_protocol::ErrorCode;
use vpcroute_sync::{ospf_state, plan, plan_new_version, FrrConfig};

use crate::nft::{self, Nft, NftError};
use vpcroute_router_sync::vtysh::{parse_json, Vtysh, READ_BACK};

/// The configuration the router should have.
#[derive(Debug, Clone)]
enum Desired {
    /// Not known yet (config-renderer not reached, or nothing rendered).
    Unknown,
    Config {
        version: u64,
        model: FrrConfig,
        /// The version's nftables table (the VR's ACLs).
        firewall: FirewallRuleset,
    },
    /// The router's VPC was deleted while we managed it.
    Removed,
}

pub struct RouterTask {
    name: String,
    vtysh: Vtysh,
    client: async_nats::Client,
    record: mpsc::UnboundedSender<SyncEvent>,
    status: watch::Sender<RouterStatus>,
    desired: Desired,
    applied: Option<u64>,
    drift_interval: Duration,
    effect_timeout: Duration,
    consecutive_failures: u32,
    retry_at: Option<Instant>,
    /// The running configuration as last read back and verified. A new
    /// version is planned against it instead of reading the router first:
    /// each vtysh call costs tens of milliseconds, and the drift check reads
    /// the router anyway, so a stale copy costs at most one failed verify.
    verified_running: Option<FrrConfig>,
    /// The router's nft, when router-sync manages its firewall.
    nft: Option<Nft>,
    /// The version whose ruleset was last verified on the router.
    firewall_applied: Option<u64>,
    /// Why the config-renderer cannot render this router (`render_failed`),
    /// while it cannot: the router keeps what it runs, and is `failed`.
    render_failed: Option<String>,
    /// While `waiting`: the tier interfaces none of whose area is up yet.
    waiting_for: Vec<String>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Why a sync attempt failed.
enum Failure {
    /// vtysh could not be run or the daemons did not answer.
    Unreachable(String),
    Apply(String),
    /// Configured and correct, but OSPF has not caught up yet (a flushed
    /// summary still ageing out); retried without counting as a failure.
    Converging(String),
    /// Configured and correct, but no tier interface of an area is up, so
    /// FRR rightly announces no range for it: these interfaces.
    Waiting(Vec<String>),
}

impl RouterTask {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        vtysh: Vtysh,
        nft: Option<Nft>,
        client: async_nats::Client,
        record: mpsc::UnboundedSender<SyncEvent>,
        applied: Option<u64>,
        drift_interval: Duration,
        effect_timeout: Duration,
    ) -> RouterTask {
        let (status, _) = watch::channel(RouterStatus {
            router: name.clone(),
            state: RouterState::Starting,
            error_code: None,
            desired_version: None,
            applied_version: applied,
            firewall_version: None,
            waiting_for: vec![],
            last_error: None,
            neighbors: vec![],
            ospf_routes: 0,
            applies: 0,
            failures: 0,
            repairs: 0,
            updated_at_ms: now_ms(),
        });
        RouterTask {
            name,
            vtysh,
            client,
            record,
            status,
            desired: Desired::Unknown,
            applied,
            drift_interval,
            effect_timeout,
            consecutive_failures: 0,
            retry_at: None,
            verified_running: None,
            nft,
            firewall_applied: None,
            render_failed: None,
            waiting_for: vec![],
        }
    }

    pub fn status(&self) -> watch::Receiver<RouterStatus> {
        self.status.subscribe()
    }

    pub async fn run(mut self) {
        let mut updates = match self
            .client
            .subscribe(subjects::config::updated(&self.name))
            .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(router = %self.name, "cannot subscribe to updates: {e}");
                return;
            }
        };
        let mut tick = tokio::time::interval(self.drift_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Ask for the current configuration at start, and again every so
        // often in case an announcement was missed.
        let mut fetch = true;
        let mut last_fetch = Instant::now();
        loop {
            let mut announced = false;
            tokio::select! {
                msg = updates.next() => {
                    let Some(msg) = msg else { return };
                    // Any announcement (a new version, or the router's VPC
                    // gone) is worth asking about at once.
                    if serde_json::from_slice::<RouterConfigUpdated>(&msg.payload).is_ok() {
                        fetch = true;
                        announced = true;
                        self.retry_at = None;
                    }
                }
                _ = tick.tick() => {}
            }
            if last_fetch.elapsed() > self.drift_interval * 15 {
                fetch = true;
            }
            if fetch && self.fetch_desired().await {
                last_fetch = Instant::now();
                fetch = false;
            }
            if self.retry_at.is_some_and(|t| Instant::now() < t) {
                continue;
            }
            // The firewall first: a change that opens or closes a path
            // should not wait for OSPF's verification; both always run, so
            // a broken one never holds the other back.
            let firewall_for = self.desired_version();
            let mut firewall = self.sync_firewall().await;
            let routing = self.sync_once(announced).await;
            // sync_once re-fetches after a router restart: the firewall
            // follows the version FRR just got, not one drift tick later.
            if self.desired_version() != firewall_for {
                firewall = self.sync_firewall().await;
            }
            match routing.and(firewall) {
                Ok(()) => {
                    self.consecutive_failures = 0;
                    self.retry_at = None;
                    self.waiting_for.clear();
                }
                Err(f) => {
                    self.verified_running = None;
                    self.failed(f)
                }
            }
            // Say where the router stands at once; the OSPF part of the
            // status (two more vtysh calls) follows.
            self.publish(false).await;
            self.publish(true).await;
        }
    }

    /// Gets the current desired configuration. False when the
    /// config-renderer could not be asked (try again later).
    async fn fetch_desired(&mut self) -> bool {
        let q = RouterConfigGet {
            router: self.name.clone(),
            dialect: DialectName::Frr,
        };
        let reply: Result<RouterConfig, RequestError> = request(
            &self.client,
            subjects::config::ROUTER_GET,
            &q,
            Duration::from_secs(5),
        )
        .await;
        // Any other answer of the renderer ends a render failure; no answer
        // says nothing about it.
        match &reply {
            Err(RequestError::Service(e)) if e.code == ErrorCode::RenderFailed => {}
            Ok(_) | Err(RequestError::Service(_)) => self.render_failed = None,
            Err(_) => {}
        }
        match reply {
            Err(RequestError::Service(e)) if e.code == ErrorCode::RenderFailed => {
                self.on_render_failed(e.message);
                true
            }
            Ok(c) => {
                if let ConfigText::Frr(text) = &c.config {
                    self.desired = Desired::Config {
                        version: c.version,
                        model: FrrConfig::parse(text),
                        firewall: c.firewall,
                    };
                }
                true
            }
            Err(RequestError::Service(e)) if e.code == ErrorCode::UnknownRouter => {
                // Only a router we configured before can be "removed":
                // a config-renderer still catching up after a restart
                // must not make us wipe a router.
                if matches!(self.desired, Desired::Config { .. }) {
                    self.desired = Desired::Removed;
                }
                true
            }
            Err(RequestError::Service(e)) if e.code == ErrorCode::NotReady => true,
            Err(e) => {
                tracing::debug!(router = %self.name, "config-renderer not reachable: {e}");
                false
            }
        }
    }

    /// The renderer cannot render this router: it stays `failed` with the
    /// reason (one event and one warning when this starts or the reason
    /// changes) until a version renders; what the router runs is kept.
    fn on_render_failed(&mut self, reason: String) {
        if self.render_failed.as_ref() != Some(&reason) {
            tracing::warn!(router = %self.name, "config-renderer cannot render the router, it keeps its configuration: {reason}");
            let _ = self.record.send(SyncEvent::ApplyFailed {
                router: self.name.clone(),
                version: self.desired_version(),
                error: format!("render_failed: {reason}"),
            });
            self.render_failed = Some(reason);
        }
    }

    /// One check of the router; `announced`: a new version was just
    /// announced, so the router is not re-read before planning.
    async fn sync_once(&mut self, announced: bool) -> Result<(), Failure> {
        let running = match (&self.verified_running, announced) {
            (Some(known), true) => known.clone(),
            _ => self.running().await?,
        };
        // A router that lost everything was restarted: make sure we apply
        // the newest configuration, not one fetched before it went away.
        if running.is_empty() && self.applied.is_some() {
            self.fetch_desired().await;
        }
        let (version, desired) = match &self.desired {
            Desired::Unknown => return Ok(()),
            Desired::Removed => {
                let p = plan(&FrrConfig::default(), &running);
                if !p.is_empty() {
                    self.configure(&p.script()).await?;
                    let _ = self.record.send(SyncEvent::Cleared {
                        router: self.name.clone(),
                        commands: p.steps.len(),
                    });
                }
                return Ok(());
            }
            Desired::Config { version, model, .. } => (*version, model.clone()),
        };
        // A version the router has not had yet may change only which MD5
        // key it signs with, which no read-back shows (vtysh sorts the key
        // lines): plan_new_version enters the signing key again.
        let p = if self.applied == Some(version) {
            plan(&desired, &running)
        } else {
            plan_new_version(&desired, &running)
        };
        if p.is_empty() {
            // Configured; make sure it also took effect (the range trap can
            // leave a correct configuration without its summary).
            self.ensure_summaries(&desired, false, None).await?;
            self.verified_running = Some(running);
            if self.applied != Some(version) {
                self.applied = Some(version);
                let _ = self.record.send(SyncEvent::Applied {
                    router: self.name.clone(),
                    version,
                    commands: 0,
                });
            }
            return Ok(());
        }
        let drift = self.applied == Some(version);
        self.set_state(RouterState::Applying);
        let back = self
            .vtysh
            .configure_and_show(&p.script(), &READ_BACK)
            .await
            .map_err(|e| Failure::Apply(e.to_string()))?;
        // Verify 1: what the router now runs needs no further command.
        let after = FrrConfig::parse(&back[0]);
        self.verified_running = Some(after.clone());
        let rest = plan(&desired, &after);
        if !rest.is_empty() {
            return Err(Failure::Apply(format!(
                "running configuration still differs after apply ({} command(s) short, first: {})",
                rest.steps.len(),
                vpcroute_sync::redact::redact_line(&rest.steps[0].1)
            )));
        }
        // Verify 2: the VPC's summary reached the backbone database.
        self.ensure_summaries(&desired, true, parse_json(&back[1]).ok())
            .await?;
        self.applied = Some(version);
        let ev = if drift {
            SyncEvent::DriftRepaired {
                router: self.name.clone(),
                version,
                commands: p.steps.len(),
            }
        } else {
            SyncEvent::Applied {
                router: self.name.clone(),
                version,
                commands: p.steps.len(),
            }
        };
        tracing::info!(router = %self.name, version, commands = p.steps.len(), drift, "configuration applied and verified");
        self.status.send_modify(|s| {
            if drift {
                s.repairs += 1
            } else {
                s.applies += 1
            }
        });
        let _ = self.record.send(ev);
        Ok(())
    }

    /// Brings the router's nftables table to the desired ruleset and reads
    /// it back; removes it when the router's VPC is gone.
    async fn sync_firewall(&mut self) -> Result<(), Failure> {
        let Some(nft) = &self.nft else {
            return Ok(());
        };
        let unreachable = |e: NftError| Failure::Unreachable(format!("firewall: {e}"));
        let (version, want) = match &self.desired {
            Desired::Unknown => return Ok(()),
            Desired::Removed => {
                // The VPC is gone (and with it every tier): nothing to filter.
                nft.delete().await.map_err(unreachable)?;
                self.firewall_applied = None;
                return Ok(());
            }
            Desired::Config {
                version, firewall, ..
            } => (*version, firewall),
        };
        let current = nft.list().await.map_err(unreachable)?;
        if current.as_deref() != Some(want.listing.as_str()) {
            let drift = self.firewall_applied == Some(version);
            nft.apply(&want.file)
                .await
                .map_err(|e| Failure::Apply(format!("firewall: {e}")))?;
            let after = nft.list().await.map_err(unreachable)?.unwrap_or_default();
            if after != want.listing {
                return Err(Failure::Apply(format!(
                    "firewall: table differs after apply ({})",
                    nft::first_difference(&want.listing, &after)
                )));
            }
            tracing::info!(router = %self.name, version, drift, "firewall applied and verified");
            let router = self.name.clone();
            let _ = self.record.send(if drift {
                SyncEvent::FirewallRepaired { router, version }
            } else {
                SyncEvent::FirewallApplied { router, version }
            });
            if drift {
                self.status.send_modify(|s| s.repairs += 1);
            }
        } else if self.firewall_applied != Some(version) {
            let _ = self.record.send(SyncEvent::FirewallApplied {
                router: self.name.clone(),
                version,
            });
        }
        self.firewall_applied = Some(version);
        Ok(())
    }

    async fn running(&self) -> Result<FrrConfig, Failure> {
        let text = self
            .vtysh
            .show(READ_BACK[0])
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        Ok(FrrConfig::parse(&text))
    }

    async fn configure(&self, script: &str) -> Result<(), Failure> {
        self.vtysh
            .configure(script)
            .await
            .map_err(|e| Failure::Apply(e.to_string()))
    }

    /// Checks that every VPC range of the desired configuration is
    /// originated into the backbone by this router; after an apply
    /// (`just_applied`) it first waits up to `effect_timeout` for OSPF to
    /// get there (about 7 s for a new range). `db`: the backbone's
    /// summaries if just read.
    ///
    /// FRR 8.4 sometimes configures a range yet never originates it (the
    /// range added while a tier summary with the same link state id was
    /// announced; docs/frr-notes.md §4). While that flushed summary is
    /// still in the router's own database nothing helps; once it has aged
    /// out, re-adding the range as `not-advertise` and back wakes the ABR
    /// task, without touching any adjacency.
    ///
    /// A range whose area has no tier interface up yet is not announced,
    /// rightly (§4a): nothing is kicked for it, and the router is `waiting`
    /// for those interfaces. When one comes up the range is given
    /// `effect_timeout` to appear, as after an apply, before any kick.
    async fn ensure_summaries(
        &self,
        desired: &FrrConfig,
        just_applied: bool,
        db: Option<serde_json::Value>,
    ) -> Result<(), Failure> {
        let (expected, waiting_for) = self.announceable(expected_summaries(desired)).await?;
        let wait = if just_applied || !self.waiting_for.is_empty() {
            self.effect_timeout
        } else {
            Duration::ZERO
        };
        self.ensure_announced(&expected, wait, db).await?;
        if waiting_for.is_empty() {
            Ok(())
        } else {
            Err(Failure::Waiting(waiting_for))
        }
    }

    /// Splits the expected summaries into those whose area has a tier
    /// interface up, and the tier interfaces of the others (all down).
    async fn announceable(
        &self,
        expected: Vec<(ExpectedSummary, Vec<String>)>,
    ) -> Result<(Vec<ExpectedSummary>, Vec<String>), Failure> {
        if expected.is_empty() {
            return Ok((vec![], vec![]));
        }
        let interfaces = self
            .vtysh
            .show_json("show ip ospf interface json")
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        let mut up = Vec::new();
        let mut down = Vec::new();
        for (summary, tiers) in expected {
            if ospf_state::active_interfaces(&interfaces, &summary.area).is_empty() {
                down.extend(tiers);
            } else {
                up.push(summary);
            }
        }
        down.sort();
        down.dedup();
        Ok((up, down))
    }

    /// Makes sure every one of `expected` is in the backbone database,
    /// waiting up to `wait` first and kicking a trapped range (§4).
    async fn ensure_announced(
        &self,
        expected: &[ExpectedSummary],
        wait: Duration,
        db: Option<serde_json::Value>,
    ) -> Result<(), Failure> {
        if expected.is_empty() {
            return Ok(());
        }
        let missing = self.missing_summaries(expected, wait, db).await?;
        let Some(first) = missing.first() else {
            return Ok(());
        };
        let own = self
            .vtysh
            .show_json("show ip ospf database summary self-originate json")
            .await
            .unwrap_or_default();
        let network = first.cidr.split('/').next().unwrap_or_default();
        if ospf_state::self_originated_ids(&own, &first.backbone)
            .iter()
            .any(|id| id == network)
        {
            return Err(Failure::Converging(format!(
                "summary {} not originated yet: an older summary with the same id is still ageing out",
                first.cidr
            )));
        }
        for m in &missing {
            let script = format!(
                "configure terminal\nrouter ospf\narea {a} range {c} not-advertise\narea {a} range {c}\nend\n",
                a = m.area,
                c = m.cidr
            );
            self.configure(&script).await?;
            tracing::info!(router = %self.name, area = %m.area, cidr = %m.cidr, "range not originated: woke the ABR task");
            let _ = self.record.send(SyncEvent::RangeKicked {
                router: self.name.clone(),
                area: m.area.clone(),
                cidr: m.cidr.clone(),
            });
        }
        let still = self
            .missing_summaries(expected, self.effect_timeout, None)
            .await?;
        match still.first() {
            None => Ok(()),
            Some(m) => Err(Failure::Apply(format!(
                "summary {} not in the backbone database after {:?}",
                m.cidr, self.effect_timeout
            ))),
        }
    }

    /// The expected summaries not (yet) in the backbone database, polling
    /// for at most `wait`, starting with `db` if given.
    async fn missing_summaries<'a>(
        &self,
        expected: &'a [ExpectedSummary],
        wait: Duration,
        mut db: Option<serde_json::Value>,
    ) -> Result<Vec<&'a ExpectedSummary>, Failure> {
        let deadline = Instant::now() + wait;
        loop {
            let db = match db.take() {
                Some(db) => db,
                None => self
                    .vtysh
                    .show_json(READ_BACK[1])
                    .await
                    .map_err(|e| Failure::Unreachable(e.to_string()))?,
            };
            let missing: Vec<&ExpectedSummary> = expected
                .iter()
                .filter(|e| !ospf_state::has_summary(&db, &e.backbone, &e.cidr, &e.router_id))
                .collect();
            if missing.is_empty() || Instant::now() >= deadline {
                return Ok(missing);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn failed(&mut self, f: Failure) {
        self.consecutive_failures += 1;
        let backoff = Duration::from_millis(500 * 2u64.pow(self.consecutive_failures.min(6)));
        self.retry_at = Some(Instant::now() + backoff.min(Duration::from_secs(30)));
        if !matches!(f, Failure::Waiting(_)) && !self.waiting_for.is_empty() {
            // Whatever else went wrong, the status says that, not a stale
            // list of interfaces.
            self.waiting_for.clear();
            self.status.send_modify(|s| s.waiting_for.clear());
        }
        let (state, error) = match f {
            Failure::Unreachable(e) => (RouterState::Unreachable, e),
            Failure::Apply(e) => (RouterState::Failed, e),
            Failure::Waiting(interfaces) => return self.waiting(interfaces),
            Failure::Converging(e) => {
                // Expected and short-lived: check again soon, count nothing.
                self.consecutive_failures = 0;
                self.retry_at = Some(Instant::now() + Duration::from_secs(5));
                self.status.send_modify(|s| {
                    s.state = RouterState::Converging;
                    s.last_error = Some(e);
                });
                return;
            }
        };
        tracing::warn!(router = %self.name, %state, "sync failed: {error}");
        let version = self.desired_version();
        if state == RouterState::Failed {
            let _ = self.record.send(SyncEvent::ApplyFailed {
                router: self.name.clone(),
                version,
                error: error.clone(),
            });
        }
        self.status.send_modify(|s| {
            s.state = state;
            s.last_error = Some(error);
            s.failures += 1;
        });
    }

    /// Waiting for tier interfaces: no failure counted, no event, and no
    /// backoff, so the next drift tick checks again; one log line when the
    /// set of interfaces changes.
    fn waiting(&mut self, interfaces: Vec<String>) {
        self.consecutive_failures = 0;
        self.retry_at = None;
        if self.waiting_for != interfaces {
            tracing::info!(router = %self.name, interfaces = %interfaces.join(","), "waiting for a tier interface to come up: no range can be announced before");
        }
        let why = format!(
            "no tier interface of the area is up ({}): its range cannot be announced yet",
            interfaces.join(", ")
        );
        self.waiting_for = interfaces.clone();
        self.status.send_modify(|s| {
            s.state = RouterState::Waiting;
            s.waiting_for = interfaces;
            s.last_error = Some(why);
        });
    }

    /// The version the router should have, if there is one.
    fn desired_version(&self) -> Option<u64> {
        match &self.desired {
            Desired::Config { version, .. } => Some(*version),
            _ => None,
        }
    }

    fn set_state(&self, state: RouterState) {
        self.status.send_modify(|s| s.state = state);
    }

    /// Publishes the status, after refreshing its OSPF part if asked.
    async fn publish(&self, refresh_ospf: bool) {
        if refresh_ospf {
            let out = self
                .vtysh
                .shows(&["show ip ospf neighbor json", "show ip ospf route json"])
                .await
                .unwrap_or_default();
            let json = |i: usize| out.get(i).and_then(|t| parse_json(t).ok());
            let neighbors = json(0)
                .map(|v| ospf_state::neighbors(&v))
                .unwrap_or_default();
            let routes = json(1).map(|v| ospf_state::route_count(&v)).unwrap_or(0);
            self.status.send_modify(|s| {
                s.neighbors = neighbors;
                s.ospf_routes = routes;
            });
        }
        let desired_version = self.desired_version();
        let in_sync = self.retry_at.is_none() && self.waiting_for.is_empty();
        let applied = self.applied;
        let firewall = self.firewall_applied;
        let render_failed = self.render_failed.clone();
        self.status.send_modify(|s| {
            s.desired_version = desired_version;
            s.applied_version = applied;
            s.firewall_version = firewall;
            s.updated_at_ms = now_ms();
            if let Some(reason) = render_failed {
                // Running the last version verified is not following the
                // desired state: never in_sync while the render fails.
                s.state = RouterState::Failed;
                s.error_code = Some(ErrorCode::RenderFailed);
                s.last_error = Some(reason);
            } else if in_sync {
                s.waiting_for.clear();
                s.last_error = None;
                s.error_code = None;
                s.state = match desired_version {
                    None => RouterState::NoConfig,
                    Some(_) => RouterState::InSync,
                };
            }
        });
        let status = self.status.borrow().clone();
        let body = serde_json::to_vec(&status).expect("status serialises");
        if let Err(e) = self
            .client
            .publish(subjects::sync::status(&self.name), body.into())
            .await
        {
            tracing::debug!("cannot publish status: {e}");
        }
    }
}

/// A VPC range this router must originate into the backbone.
#[derive(Debug, Clone, PartialEq)]
struct ExpectedSummary {
    backbone: String,
    area: String,
    cidr: String,
    router_id: String,
}

/// Every VPC range of the desired configuration that has at least one
/// interface in its area, with those interfaces (a range with no active
/// network inside is, rightly, not originated).
fn expected_summaries(desired: &FrrConfig) -> Vec<(ExpectedSummary, Vec<String>)> {
    let Some(ospf) = &desired.router_ospf else {
        return vec![];
    };
    let router_id = ospf
        .iter()
        .find_map(|l| l.strip_prefix("ospf router-id "))
        .unwrap_or_default()
        .to_string();
    let area_of = |lines: &Vec<String>| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix("ip ospf area "))
            .map(str::to_string)
    };
    let backbone = desired
        .interfaces
        .values()
        .find(|lines| lines.iter().any(|l| l == "description vpcroute uplink"))
        .and_then(area_of)
        .unwrap_or_else(|| "0.0.0.0".into());
    ospf.iter()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["area", area, "range", cidr] => Some((area.to_string(), cidr.to_string())),
                _ => None,
            }
        })
        .filter_map(|(area, cidr)| {
            let tiers: Vec<String> = desired
                .interfaces
                .iter()
                .filter(|(_, lines)| area_of(lines).as_deref() == Some(area.as_str()))
                .map(|(name, _)| name.clone())
                .collect();
            let summary = ExpectedSummary {
                backbone: backbone.clone(),
                area,
                cidr,
                router_id: router_id.clone(),
            };
            (!tiers.is_empty()).then_some((summary, tiers))
        })
        .collect()
}
