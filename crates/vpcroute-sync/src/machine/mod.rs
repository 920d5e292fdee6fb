//! One managed router's decisions as a pure state machine (sans-IO, in
//! the manner of holo): it is fed [`Input`]s (a timer tick, an
//! announcement, the answer to what it asked last) with the time they
//! happened, and answers with [`Action`]s and its typed status. It does no
//! I/O and reads no clock, so `tests/replay/router-sync/` replays it line
//! by line.
//!
//! One pass, on every drift tick and every announcement:
//! 1. ask the config-renderer for the desired version when an
//!    announcement came, or no answer came for 15 drift intervals;
//! 2. unless a retry is not due yet: bring the firewall (nft) to the
//!    desired table, then the routing configuration, then the firewall
//!    again if the routing part learnt a newer version;
//! 3. classify the outcome (in step; `waiting`; `converging`; `failed` or
//!    `unreachable` with backoff) and publish the status.
//!
//! The routing part plans the commands from the running configuration
//! (read, or the copy verified last when a version was just announced),
//! applies them and verifies twice: the read-back needs no further
//! command, and each VPC range is in the backbone database (`summary`).

mod io;
mod pass;
mod summary;

pub use io::{Action, DesiredAnswer, Input, LogLevel, ReadBack, Timings};

use vpcroute_protocol::config::FirewallRuleset;
use vpcroute_protocol::sync::{RouterState, RouterStatus, SyncEvent};
use vpcroute_protocol::ErrorCode;

use crate::FrrConfig;
use pass::{Pass, Wait};

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

/// Why a sync attempt failed.
#[derive(Debug, Clone)]
enum Failure {
    /// vtysh or nft could not be run, or the daemons did not answer.
    Unreachable(String),
    Apply(String),
    /// Configured and correct, but OSPF has not caught up yet (a flushed
    /// summary still ageing out); retried without counting as a failure.
    Converging(String),
    /// Configured and correct, but no tier interface of an area is up, so
    /// FRR rightly announces no range for it: these interfaces.
    Waiting(Vec<String>),
}

/// One router's state machine.
#[derive(Debug)]
pub struct RouterMachine {
    name: String,
    timings: Timings,
    /// Whether router-sync manages the router's firewall.
    firewall_managed: bool,
    desired: Desired,
    applied: Option<u64>,
    /// The version whose configuration, signing key included, was last
    /// entered and read back identical. Checks of it after that plan only
    /// what differs: a router kept `waiting` or `converging` (so not yet
    /// `applied`) is not sent its signing key again on every tick.
    entered: Option<u64>,
    consecutive_failures: u32,
    retry_at_ms: Option<i64>,
    /// The running configuration as last read back and verified. A new
    /// version is planned against it instead of reading the router first:
    /// each vtysh call costs tens of milliseconds, and the drift check reads
    /// the router anyway, so a stale copy costs at most one failed verify.
    verified_running: Option<FrrConfig>,
    /// The version whose ruleset was last verified on the router.
    firewall_applied: Option<u64>,
    /// Why the config-renderer cannot render this router (`render_failed`),
    /// while it cannot: the router keeps what it runs, and is `failed`.
    render_failed: Option<String>,
    /// While `waiting`: the tier interfaces none of whose area is up yet.
    waiting_for: Vec<String>,
    /// The desired configuration is to be asked for.
    fetch_due: bool,
    last_fetch_ms: i64,
    status: RouterStatus,
    now_ms: i64,
    /// The pass under way, if any, and what it waits for.
    pass: Option<Pass>,
    wait: Wait,
    out: Vec<Action>,
}

impl RouterMachine {
    /// A machine for `name`; `applied`: the version the event log says was
    /// applied last.
    pub fn new(
        name: &str,
        timings: Timings,
        firewall_managed: bool,
        applied: Option<u64>,
        now_ms: i64,
    ) -> RouterMachine {
        RouterMachine {
            name: name.to_string(),
            timings,
            firewall_managed,
            desired: Desired::Unknown,
            applied,
            entered: None,
            consecutive_failures: 0,
            retry_at_ms: None,
            verified_running: None,
            firewall_applied: None,
            render_failed: None,
            waiting_for: vec![],
            // Ask for the current configuration at start.
            fetch_due: true,
            last_fetch_ms: now_ms,
            status: RouterStatus {
                router: name.to_string(),
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
                updated_at_ms: now_ms,
            },
            now_ms,
            pass: None,
            wait: Wait::Idle,
            out: vec![],
        }
    }

    /// The status as the machine knows it (the OSPF neighbours and routes
    /// are filled in by whoever publishes it).
    pub fn status(&self) -> &RouterStatus {
        &self.status
    }

    /// Whether a pass is under way: its last action awaits an answer, and
    /// ticks and announcements wait until it is done.
    pub fn busy(&self) -> bool {
        self.pass.is_some()
    }

    /// Feeds one input; returns what to do.
    pub fn step(&mut self, input: Input) -> Vec<Action> {
        self.now_ms = self.now_ms.max(input.now_ms());
        match input {
            Input::Tick { .. } => self.start_pass(false),
            Input::Announced { .. } => self.start_pass(true),
            other => self.answer(other),
        }
        std::mem::take(&mut self.out)
    }

    fn log(&mut self, level: LogLevel, message: &str, fields: &[(&str, String)]) {
        self.out.push(Action::Log {
            level,
            message: message.to_string(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        });
    }

    fn record(&mut self, event: SyncEvent) {
        self.out.push(Action::Record { event });
    }

    /// Ask the router or the renderer something, and wait for the answer.
    fn ask(&mut self, action: Action, wait: Wait) {
        self.out.push(action);
        self.wait = wait;
    }

    /// The version the router should have, if there is one.
    fn desired_version(&self) -> Option<u64> {
        match &self.desired {
            Desired::Config { version, .. } => Some(*version),
            _ => None,
        }
    }

    /// Takes in the renderer's answer. False when it did not answer (ask
    /// again later).
    fn take_desired(&mut self, answer: DesiredAnswer) -> bool {
        // Any other answer of the renderer ends a render failure; no answer
        // says nothing about it.
        if !matches!(
            answer,
            DesiredAnswer::RenderFailed { .. } | DesiredAnswer::Unreachable { .. }
        ) {
            self.render_failed = None;
        }
        match answer {
            DesiredAnswer::RenderFailed { message } => {
                self.on_render_failed(message);
                true
            }
            DesiredAnswer::Config {
                version,
                frr,
                firewall,
            } => {
                self.desired = Desired::Config {
                    version,
                    model: FrrConfig::parse(&frr),
                    firewall,
                };
                true
            }
            DesiredAnswer::UnknownRouter => {
                // Only a router we configured before can be "removed":
                // a config-renderer still catching up after a restart
                // must not make us wipe a router.
                if matches!(self.desired, Desired::Config { .. }) {
                    self.desired = Desired::Removed;
                }
                true
            }
            DesiredAnswer::NotReady => true,
            DesiredAnswer::OtherError { message: e } | DesiredAnswer::Unreachable { error: e } => {
                self.log(
                    LogLevel::Debug,
                    &format!("config-renderer not reachable: {e}"),
                    &[],
                );
                false
            }
        }
    }

    /// The renderer cannot render this router: it stays `failed` with the
    /// reason (one event and one warning when this starts or the reason
    /// changes) until a version renders; what the router runs is kept.
    fn on_render_failed(&mut self, reason: String) {
        if self.render_failed.as_ref() != Some(&reason) {
            self.log(LogLevel::Warn, &format!("config-renderer cannot render the router, it keeps its configuration: {reason}"), &[]);
            self.record(SyncEvent::ApplyFailed {
                router: self.name.clone(),
                version: self.desired_version(),
                error: format!("render_failed: {reason}"),
            });
            self.render_failed = Some(reason);
        }
    }

    /// Classifies a failed pass: the state, the event, the backoff.
    fn failed(&mut self, f: Failure) {
        let t = &self.timings;
        self.consecutive_failures += 1;
        let backoff =
            t.backoff_base_ms * 2u64.pow(self.consecutive_failures.min(t.backoff_max_doublings));
        self.retry_at_ms = Some(self.now_ms + backoff.min(t.backoff_cap_ms) as i64);
        if !matches!(f, Failure::Waiting(_)) && !self.waiting_for.is_empty() {
            // Whatever else went wrong, the status says that, not a stale
            // list of interfaces.
            self.waiting_for.clear();
            self.status.waiting_for.clear();
        }
        let (state, error) = match f {
            Failure::Unreachable(e) => (RouterState::Unreachable, e),
            Failure::Apply(e) => (RouterState::Failed, e),
            Failure::Waiting(interfaces) => return self.waiting(interfaces),
            Failure::Converging(e) => {
                // Expected and short-lived: check again soon, count nothing.
                self.consecutive_failures = 0;
                self.retry_at_ms = Some(self.now_ms + self.timings.converging_retry_ms as i64);
                self.status.state = RouterState::Converging;
                self.status.last_error = Some(e);
                return;
            }
        };
        self.log(
            LogLevel::Warn,
            &format!("sync failed: {error}"),
            &[("state", state.to_string())],
        );
        if state == RouterState::Failed {
            self.record(SyncEvent::ApplyFailed {
                router: self.name.clone(),
                version: self.desired_version(),
                error: error.clone(),
            });
        }
        self.status.state = state;
        self.status.last_error = Some(error);
        self.status.failures += 1;
    }

    /// Waiting for tier interfaces: no failure counted, no event, and no
    /// backoff, so the next drift tick checks again; one log line when the
    /// set of interfaces changes.
    fn waiting(&mut self, interfaces: Vec<String>) {
        self.consecutive_failures = 0;
        self.retry_at_ms = None;
        if self.waiting_for != interfaces {
            self.log(
                LogLevel::Info,
                "waiting for a tier interface to come up: no range can be announced before",
                &[("interfaces", interfaces.join(","))],
            );
        }
        let why = format!(
            "no tier interface of the area is up ({}): its range cannot be announced yet",
            interfaces.join(", ")
        );
        self.waiting_for = interfaces.clone();
        self.status.state = RouterState::Waiting;
        self.status.waiting_for = interfaces;
        self.status.last_error = Some(why);
    }

    /// Says where the router stands at once, then again with its OSPF part
    /// (two more vtysh calls).
    fn publish(&mut self) {
        let desired_version = self.desired_version();
        let in_sync = self.retry_at_ms.is_none() && self.waiting_for.is_empty();
        let s = &mut self.status;
        s.desired_version = desired_version;
        s.applied_version = self.applied;
        s.firewall_version = self.firewall_applied;
        s.updated_at_ms = self.now_ms;
        if let Some(reason) = &self.render_failed {
            // Running the last version verified is not following the
            // desired state: never in_sync while the render fails.
            s.state = RouterState::Failed;
            s.error_code = Some(ErrorCode::RenderFailed);
            s.last_error = Some(reason.clone());
        } else if in_sync {
            s.waiting_for.clear();
            s.last_error = None;
            s.error_code = None;
            s.state = match desired_version {
                None => RouterState::NoConfig,
                Some(_) => RouterState::InSync,
            };
        }
        self.out.push(Action::Publish {
            refresh_ospf: false,
        });
        self.out.push(Action::Publish { refresh_ospf: true });
    }
}
