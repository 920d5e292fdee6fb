//! Verify 2: every VPC range of the desired configuration is originated
//! into the backbone by this router.
//!
//! After an apply it first waits up to `effect_timeout` for OSPF to get
//! there (about 7 s for a new range, docs/frr-notes.md §4), reading the
//! backbone database every `summary_poll_ms`.
//!
//! FRR 8.4 sometimes configures a range yet never originates it (the range
//! added while a tier summary with the same link state id was announced;
//! §4). While that flushed summary is still in the router's own database
//! nothing helps (an early kick fails for good): the router is
//! `converging`. Once it has aged out, re-adding the range as
//! `not-advertise` and back wakes the ABR task, without touching any
//! adjacency.
//!
//! A range whose area has no tier interface up yet is not announced,
//! rightly (§4a): nothing is kicked for it, and the router is `waiting` for
//! those interfaces. When one comes up the range is given `effect_timeout`
//! to appear, as after an apply, before any kick.

use serde_json::Value;

use crate::machine::pass::Wait;
use crate::machine::{Action, Failure, Input, LogLevel, RouterMachine};
use crate::summaries::{expected_summaries, ExpectedSummary};
use crate::{ospf_state, FrrConfig};
use vpcroute_protocol::sync::SyncEvent;

/// What a verified configuration means once its summaries are there.
#[derive(Debug)]
pub(super) enum EnsureThen {
    /// Nothing needed applying: this running configuration is verified.
    Steady { version: u64, running: FrrConfig },
    /// `commands` were applied (`drift`: to a version applied before).
    Applied {
        version: u64,
        drift: bool,
        commands: usize,
    },
}

/// A summary check under way.
#[derive(Debug)]
pub(super) struct Ensure {
    then: EnsureThen,
    just_applied: bool,
    /// The backbone's summaries, if just read with the apply.
    db: Option<Value>,
    expected: Vec<(ExpectedSummary, Vec<String>)>,
    /// Expected summaries whose area has a tier interface up.
    up: Vec<ExpectedSummary>,
    /// The tier interfaces of the other areas (all down).
    down: Vec<String>,
    deadline_ms: i64,
    missing: Vec<ExpectedSummary>,
    /// The kicks are done; what is missing now is a failure.
    kicked: bool,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    Interfaces,
    Summaries,
    SelfOriginated,
    Kick,
}

impl RouterMachine {
    pub(super) fn ensure_summaries(
        &mut self,
        desired: &FrrConfig,
        just_applied: bool,
        db: Option<Value>,
        then: EnsureThen,
    ) {
        let e = Ensure {
            then,
            just_applied,
            db,
            expected: expected_summaries(desired),
            up: vec![],
            down: vec![],
            deadline_ms: self.now_ms,
            missing: vec![],
            kicked: false,
            stage: Stage::Interfaces,
        };
        if e.expected.is_empty() {
            return self.announceable_known(e);
        }
        self.ask_ensure(Action::ReadInterfaces, e, Stage::Interfaces);
    }

    fn ask_ensure(&mut self, action: Action, mut e: Ensure, stage: Stage) {
        e.stage = stage;
        self.ask(action, Wait::Ensure(Box::new(e)));
    }

    pub(super) fn ensure_answer(&mut self, mut e: Ensure, input: Input) {
        match (e.stage, input) {
            (Stage::Interfaces, Input::Interfaces { result, .. }) => match result {
                Ok(json) => {
                    // Split into the summaries whose area has a tier
                    // interface up, and the tier interfaces of the others.
                    for (summary, tiers) in std::mem::take(&mut e.expected) {
                        if ospf_state::active_interfaces(&json, &summary.area).is_empty() {
                            e.down.extend(tiers);
                        } else {
                            e.up.push(summary);
                        }
                    }
                    e.down.sort();
                    e.down.dedup();
                    self.announceable_known(e)
                }
                Err(err) => self.routing_done(Err(Failure::Unreachable(err))),
            },
            (Stage::Summaries, Input::Summaries { result, .. }) => match result {
                Ok(db) => self.check_missing(e, db),
                Err(err) => self.routing_done(Err(Failure::Unreachable(err))),
            },
            (Stage::SelfOriginated, Input::SelfOriginated { json, .. }) => self.maybe_kick(e, json),
            (Stage::Kick, Input::Configured { result, .. }) => match result {
                Ok(()) => {
                    let m = e.missing.remove(0);
                    self.log(
                        LogLevel::Info,
                        "range not originated: woke the ABR task",
                        &[("area", m.area.clone()), ("cidr", m.cidr.clone())],
                    );
                    self.record(SyncEvent::RangeKicked {
                        router: self.name.clone(),
                        area: m.area,
                        cidr: m.cidr,
                    });
                    self.kick_next(e)
                }
                Err(err) => self.routing_done(Err(Failure::Apply(err))),
            },
            (stage, input) => {
                self.log(
                    LogLevel::Debug,
                    &format!(
                        "unexpected input {input:?} while checking summaries ({stage:?}): ignored"
                    ),
                    &[],
                );
                self.wait = Wait::Ensure(Box::new(e));
            }
        }
    }

    fn announceable_known(&mut self, e: Ensure) {
        if e.up.is_empty() {
            return self.announced(e);
        }
        let wait = if e.just_applied || !self.waiting_for.is_empty() {
            self.timings.effect_timeout_ms
        } else {
            0
        };
        self.start_missing(e, wait)
    }

    /// Reads which expected summaries are missing, polling for at most
    /// `wait_ms`, starting with the database read with the apply if any.
    fn start_missing(&mut self, mut e: Ensure, wait_ms: u64) {
        e.deadline_ms = self.now_ms + wait_ms as i64;
        match e.db.take() {
            Some(db) => self.check_missing(e, db),
            None => self.ask_ensure(Action::ReadSummaries { delay_ms: 0 }, e, Stage::Summaries),
        }
    }

    fn check_missing(&mut self, mut e: Ensure, db: Value) {
        e.missing =
            e.up.iter()
                .filter(|s| !ospf_state::has_summary(&db, &s.backbone, &s.cidr, &s.router_id))
                .cloned()
                .collect();
        if !e.missing.is_empty() && self.now_ms < e.deadline_ms {
            let delay_ms = self.timings.summary_poll_ms;
            return self.ask_ensure(Action::ReadSummaries { delay_ms }, e, Stage::Summaries);
        }
        match e.missing.first() {
            None => self.announced(e),
            Some(m) if e.kicked => {
                let error = format!(
                    "summary {} not in the backbone database after {:?}",
                    m.cidr,
                    std::time::Duration::from_millis(self.timings.effect_timeout_ms)
                );
                self.routing_done(Err(Failure::Apply(error)))
            }
            Some(_) => self.ask_ensure(Action::ReadSelfOriginated, e, Stage::SelfOriginated),
        }
    }

    /// A summary is missing: kick its range, unless the router still holds
    /// a flushed summary with the range's id (an early kick fails for
    /// good, §4): then it is converging.
    fn maybe_kick(&mut self, e: Ensure, own: Value) {
        let first = &e.missing[0];
        let network = first.cidr.split('/').next().unwrap_or_default();
        if ospf_state::self_originated_ids(&own, &first.backbone)
            .iter()
            .any(|id| id == network)
        {
            let why = format!(
                "summary {} not originated yet: an older summary with the same id is still ageing out",
                first.cidr
            );
            return self.routing_done(Err(Failure::Converging(why)));
        }
        self.kick_next(e)
    }

    fn kick_next(&mut self, mut e: Ensure) {
        let Some(m) = e.missing.first() else {
            e.kicked = true;
            let wait = self.timings.effect_timeout_ms;
            return self.start_missing(e, wait);
        };
        let script = format!(
            "configure terminal\nrouter ospf\narea {a} range {c} not-advertise\narea {a} range {c}\nend\n",
            a = m.area,
            c = m.cidr
        );
        self.ask_ensure(Action::Configure { script }, e, Stage::Kick);
    }

    /// Every announceable range is there: the router is verified, or
    /// waiting for the tier interfaces of the others.
    fn announced(&mut self, e: Ensure) {
        if e.down.is_empty() {
            self.ensured(e.then)
        } else {
            self.routing_done(Err(Failure::Waiting(e.down)))
        }
    }
}
