//! One pass over the router: fetch, firewall, routing, firewall again,
//! outcome. Each function runs until it must ask something, then stops;
//! the answer resumes it where [`Wait`] says.

use crate::machine::summary::{Ensure, EnsureThen};
use crate::machine::{Action, Desired, DesiredAnswer, Failure, Input, LogLevel, RouterMachine};
use crate::{plan, plan_new_version, redact, FrrConfig};
use vpcroute_protocol::sync::{RouterState, SyncEvent};

/// The pass under way.
#[derive(Debug)]
pub(super) struct Pass {
    /// A new version was just announced: plan against the running
    /// configuration verified last instead of reading it.
    announced: bool,
    /// The version the first firewall sync followed.
    firewall_for: Option<u64>,
    phase: Phase,
    firewall: Result<(), Failure>,
    routing: Result<(), Failure>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    FirewallFirst,
    Routing,
    FirewallAgain,
}

/// What the machine waits for.
#[derive(Debug)]
pub(super) enum Wait {
    Idle,
    /// The desired configuration; `restarted`: asked again because the
    /// router came back empty (this running configuration).
    Fetch {
        restarted: Option<FrrConfig>,
    },
    /// The table, before the apply, or after it (`verify`: version, drift).
    NftList {
        verify: Option<(u64, bool)>,
    },
    NftApply {
        version: u64,
        drift: bool,
    },
    NftDelete,
    Running,
    Clear {
        commands: usize,
    },
    Apply {
        version: u64,
        drift: bool,
        commands: usize,
        desired: FrrConfig,
    },
    Ensure(Box<Ensure>),
}

impl RouterMachine {
    pub(super) fn start_pass(&mut self, announced: bool) {
        if self.pass.is_some() {
            self.log(
                LogLevel::Debug,
                "tick while a pass is under way: ignored",
                &[],
            );
            return;
        }
        if announced {
            // Any announcement (a new version, or the router's VPC gone)
            // is worth asking about at once.
            self.fetch_due = true;
            self.retry_at_ms = None;
        }
        let refetch = self.timings.drift_interval_ms * self.timings.refetch_after_drift_intervals;
        if self.now_ms - self.last_fetch_ms > refetch as i64 {
            self.fetch_due = true;
        }
        self.pass = Some(Pass {
            announced,
            firewall_for: None,
            phase: Phase::FirewallFirst,
            firewall: Ok(()),
            routing: Ok(()),
        });
        if self.fetch_due {
            self.ask(Action::FetchDesired, Wait::Fetch { restarted: None });
        } else {
            self.after_fetch();
        }
    }

    /// Dispatches an answer to what the machine waits for.
    pub(super) fn answer(&mut self, input: Input) {
        let wait = std::mem::replace(&mut self.wait, Wait::Idle);
        match (wait, input) {
            (Wait::Fetch { restarted }, Input::Desired { answer, .. }) => {
                self.fetched(restarted, answer)
            }
            (Wait::NftList { verify }, Input::NftListed { result, .. }) => {
                self.firewall_listed(verify, result)
            }
            (Wait::NftApply { version, drift }, Input::NftDone { result, .. }) => match result {
                Ok(()) => self.ask(
                    Action::NftList,
                    Wait::NftList {
                        verify: Some((version, drift)),
                    },
                ),
                Err(e) => self.firewall_done(Err(Failure::Apply(format!("firewall: {e}")))),
            },
            (Wait::NftDelete, Input::NftDone { result, .. }) => match result {
                Ok(()) => {
                    self.firewall_applied = None;
                    self.firewall_done(Ok(()))
                }
                Err(e) => self.firewall_done(Err(Failure::Unreachable(format!("firewall: {e}")))),
            },
            (Wait::Running, Input::Running { result, .. }) => match result {
                Ok(text) => self.plan_from(FrrConfig::parse(&text)),
                Err(e) => self.routing_done(Err(Failure::Unreachable(e))),
            },
            (Wait::Clear { commands }, Input::Configured { result, .. }) => match result {
                Ok(()) => {
                    self.record(SyncEvent::Cleared {
                        router: self.name.clone(),
                        commands,
                    });
                    self.routing_done(Ok(()))
                }
                Err(e) => self.routing_done(Err(Failure::Apply(e))),
            },
            (
                Wait::Apply {
                    version,
                    drift,
                    commands,
                    desired,
                },
                Input::Applied { result, .. },
            ) => self.applied_back(version, drift, commands, desired, result),
            (Wait::Ensure(ensure), input) => self.ensure_answer(*ensure, input),
            (wait, input) => {
                self.log(
                    LogLevel::Debug,
                    &format!("unexpected input {input:?} while waiting for {wait:?}: ignored"),
                    &[],
                );
                self.wait = wait;
            }
        }
    }

    fn fetched(&mut self, restarted: Option<FrrConfig>, answer: DesiredAnswer) {
        let answered = self.take_desired(answer);
        match restarted {
            Some(running) => self.plan_desired(running),
            None => {
                if answered {
                    self.last_fetch_ms = self.now_ms;
                    self.fetch_due = false;
                }
                self.after_fetch();
            }
        }
    }

    fn after_fetch(&mut self) {
        if self.retry_at_ms.is_some_and(|t| self.now_ms < t) {
            // A failure's backoff is not over: no pass, no status.
            self.pass = None;
            return;
        }
        // The firewall first: a change that opens or closes a path
        // should not wait for OSPF's verification; both always run, so
        // a broken one never holds the other back.
        let version = self.desired_version();
        if let Some(p) = &mut self.pass {
            p.firewall_for = version;
        }
        self.sync_firewall();
    }

    /// Brings the router's nftables table to the desired ruleset and reads
    /// it back; removes it when the router's VPC is gone.
    fn sync_firewall(&mut self) {
        if !self.firewall_managed {
            return self.firewall_done(Ok(()));
        }
        match &self.desired {
            Desired::Unknown => self.firewall_done(Ok(())),
            // The VPC is gone (and with it every tier): nothing to filter.
            Desired::Removed => self.ask(Action::NftDelete, Wait::NftDelete),
            Desired::Config { .. } => self.ask(Action::NftList, Wait::NftList { verify: None }),
        }
    }

    fn firewall_listed(
        &mut self,
        verify: Option<(u64, bool)>,
        listed: Result<Option<String>, String>,
    ) {
        let listed = match listed {
            Ok(l) => l,
            Err(e) => {
                return self.firewall_done(Err(Failure::Unreachable(format!("firewall: {e}"))))
            }
        };
        let Desired::Config {
            version, firewall, ..
        } = &self.desired
        else {
            return self.firewall_done(Ok(()));
        };
        let (version, want) = (*version, firewall.clone());
        match verify {
            None if listed.as_deref() != Some(want.listing.as_str()) => {
                let drift = self.firewall_applied == Some(version);
                self.ask(
                    Action::NftApply { file: want.file },
                    Wait::NftApply { version, drift },
                );
            }
            None => {
                if self.firewall_applied != Some(version) {
                    self.record(SyncEvent::FirewallApplied {
                        router: self.name.clone(),
                        version,
                    });
                }
                self.firewall_applied = Some(version);
                self.firewall_done(Ok(()))
            }
            Some((version, drift)) => {
                let after = listed.unwrap_or_default();
                if after != want.listing {
                    return self.firewall_done(Err(Failure::Apply(format!(
                        "firewall: table differs after apply ({})",
                        crate::firewall_listing::first_difference(&want.listing, &after)
                    ))));
                }
                self.log(
                    LogLevel::Info,
                    "firewall applied and verified",
                    &[
                        ("version", version.to_string()),
                        ("drift", drift.to_string()),
                    ],
                );
                let router = self.name.clone();
                self.record(if drift {
                    SyncEvent::FirewallRepaired { router, version }
                } else {
                    SyncEvent::FirewallApplied { router, version }
                });
                if drift {
                    self.status.repairs += 1;
                }
                self.firewall_applied = Some(version);
                self.firewall_done(Ok(()))
            }
        }
    }

    fn firewall_done(&mut self, result: Result<(), Failure>) {
        let Some(pass) = &mut self.pass else { return };
        pass.firewall = result;
        match pass.phase {
            Phase::FirewallFirst => {
                pass.phase = Phase::Routing;
                self.sync_routing();
            }
            Phase::Routing | Phase::FirewallAgain => self.finish(),
        }
    }

    /// One check of the router's routing configuration.
    fn sync_routing(&mut self) {
        let announced = self.pass.as_ref().is_some_and(|p| p.announced);
        match (&self.verified_running, announced) {
            (Some(known), true) => self.plan_from(known.clone()),
            _ => self.ask(Action::ReadRunning, Wait::Running),
        }
    }

    fn plan_from(&mut self, running: FrrConfig) {
        // A router that lost everything was restarted: make sure we apply
        // the newest configuration, not one fetched before it went away.
        if running.is_empty() && self.applied.is_some() {
            return self.ask(
                Action::FetchDesired,
                Wait::Fetch {
                    restarted: Some(running),
                },
            );
        }
        self.plan_desired(running)
    }

    fn plan_desired(&mut self, running: FrrConfig) {
        let (version, desired) = match &self.desired {
            Desired::Unknown => return self.routing_done(Ok(())),
            Desired::Removed => {
                let p = plan(&FrrConfig::default(), &running);
                if p.is_empty() {
                    return self.routing_done(Ok(()));
                }
                let commands = p.steps.len();
                return self.ask(
                    Action::Configure { script: p.script() },
                    Wait::Clear { commands },
                );
            }
            Desired::Config { version, model, .. } => (*version, model.clone()),
        };
        // A version the router has not had yet may change only which MD5
        // key it signs with, which no read-back shows (vtysh sorts the key
        // lines, docs/frr-notes.md §5): plan_new_version enters the signing
        // key again.
        let p = if self.applied == Some(version) || self.entered == Some(version) {
            plan(&desired, &running)
        } else {
            plan_new_version(&desired, &running)
        };
        if p.is_empty() {
            // Configured; make sure it also took effect (the range trap can
            // leave a correct configuration without its summary).
            let then = EnsureThen::Steady { version, running };
            return self.ensure_summaries(&desired, false, None, then);
        }
        let drift = self.applied == Some(version);
        self.status.state = RouterState::Applying;
        let commands = p.steps.len();
        self.ask(
            Action::Apply { script: p.script() },
            Wait::Apply {
                version,
                drift,
                commands,
                desired,
            },
        );
    }

    fn applied_back(
        &mut self,
        version: u64,
        drift: bool,
        commands: usize,
        desired: FrrConfig,
        result: Result<crate::machine::ReadBack, String>,
    ) {
        let back = match result {
            Ok(b) => b,
            Err(e) => return self.routing_done(Err(Failure::Apply(e))),
        };
        // Verify 1: what the router now runs needs no further command.
        let after = FrrConfig::parse(&back.running);
        self.verified_running = Some(after.clone());
        let rest = plan(&desired, &after);
        if !rest.is_empty() {
            return self.routing_done(Err(Failure::Apply(format!(
                "running configuration still differs after apply ({} command(s) short, first: {})",
                rest.steps.len(),
                redact::redact_line(&rest.steps[0].1)
            ))));
        }
        self.entered = Some(version);
        // Verify 2: the VPC's summary reached the backbone database.
        let then = EnsureThen::Applied {
            version,
            drift,
            commands,
        };
        self.ensure_summaries(&desired, true, back.summaries, then)
    }

    /// The routing configuration is verified: record it.
    pub(super) fn ensured(&mut self, then: EnsureThen) {
        match then {
            EnsureThen::Steady { version, running } => {
                self.verified_running = Some(running);
                if self.applied != Some(version) {
                    self.applied = Some(version);
                    self.record(SyncEvent::Applied {
                        router: self.name.clone(),
                        version,
                        commands: 0,
                    });
                }
            }
            EnsureThen::Applied {
                version,
                drift,
                commands,
            } => {
                self.applied = Some(version);
                self.log(
                    LogLevel::Info,
                    "configuration applied and verified",
                    &[
                        ("version", version.to_string()),
                        ("commands", commands.to_string()),
                        ("drift", drift.to_string()),
                    ],
                );
                let router = self.name.clone();
                if drift {
                    self.status.repairs += 1;
                    self.record(SyncEvent::DriftRepaired {
                        router,
                        version,
                        commands,
                    });
                } else {
                    self.status.applies += 1;
                    self.record(SyncEvent::Applied {
                        router,
                        version,
                        commands,
                    });
                }
            }
        }
        self.routing_done(Ok(()))
    }

    pub(super) fn routing_done(&mut self, result: Result<(), Failure>) {
        let version = self.desired_version();
        let Some(pass) = &mut self.pass else { return };
        pass.routing = result;
        // The routing part re-fetches after a router restart: the firewall
        // follows the version FRR just got, not one drift tick later.
        if version != pass.firewall_for {
            pass.phase = Phase::FirewallAgain;
            return self.sync_firewall();
        }
        self.finish()
    }

    /// The pass's outcome: the routing result first, then the firewall's.
    fn finish(&mut self) {
        let Some(pass) = self.pass.take() else { return };
        match pass.routing.and(pass.firewall) {
            Ok(()) => {
                self.consecutive_failures = 0;
                self.retry_at_ms = None;
                self.waiting_for.clear();
            }
            Err(f) => {
                self.verified_running = None;
                self.failed(f)
            }
        }
        self.publish();
    }
}
