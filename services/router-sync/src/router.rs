//! One managed router: the loop that feeds its state machine and runs
//! what the machine asks for.
//!
//! Every decision (what to apply, against which running configuration,
//! when to kick a range, how a failure is classified and backed off, the
//! status) is `vpcroute_sync::RouterMachine`'s, replayed as data under
//! `tests/replay/router-sync/`. This task only turns the drift timer and
//! the config-renderer's announcements into inputs, runs each action (NATS,
//! vtysh, nft, the event log, tracing) and feeds its answer back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use vpcroute_bus::{request, subjects, RequestError};
use vpcroute_protocol::config::{
    ConfigText, DialectName, RouterConfig, RouterConfigGet, RouterConfigUpdated,
};
use vpcroute_protocol::sync::RouterStatus;
pub use vpcroute_protocol::sync::SyncEvent;
use vpcroute_protocol::ErrorCode;
use vpcroute_sync::machine::{LogLevel, ReadBack};
use vpcroute_sync::{ospf_state, Action, DesiredAnswer, Input, RouterMachine, Timings};

use crate::nft::Nft;
use vpcroute_router_sync::vtysh::{parse_json, Vtysh, READ_BACK};

pub struct RouterTask {
    name: String,
    vtysh: Vtysh,
    client: async_nats::Client,
    record: mpsc::UnboundedSender<SyncEvent>,
    status: watch::Sender<RouterStatus>,
    machine: RouterMachine,
    drift_interval: Duration,
    /// The router's nft, when router-sync manages its firewall.
    nft: Option<Nft>,
    clock: Clock,
}

/// The machine's time: wall-clock milliseconds at the task's start, moved
/// on by a monotonic clock, so a deadline never jumps with the wall clock
/// and `updated_at_ms` still reads as a date.
struct Clock {
    start: Instant,
    start_ms: i64,
}

impl Clock {
    fn new() -> Clock {
        let start_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Clock {
            start: Instant::now(),
            start_ms,
        }
    }

    fn now_ms(&self) -> i64 {
        self.start_ms + self.start.elapsed().as_millis() as i64
    }
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
        let clock = Clock::new();
        let timings = Timings::new(
            drift_interval.as_millis() as u64,
            effect_timeout.as_millis() as u64,
        );
        let machine = RouterMachine::new(&name, timings, nft.is_some(), applied, clock.now_ms());
        let (status, _) = watch::channel(machine.status().clone());
        RouterTask {
            name,
            vtysh,
            client,
            record,
            status,
            machine,
            drift_interval,
            nft,
            clock,
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
        loop {
            // Ticks and announcements are read only between passes: the
            // machine answers one input at a time.
            let announced = tokio::select! {
                msg = updates.next() => {
                    let Some(msg) = msg else { return };
                    serde_json::from_slice::<RouterConfigUpdated>(&msg.payload).is_ok()
                }
                _ = tick.tick() => false,
            };
            let now_ms = self.clock.now_ms();
            let input = if announced {
                Input::Announced { now_ms }
            } else {
                Input::Tick { now_ms }
            };
            self.feed(input).await;
        }
    }

    /// Feeds one input, then every answer the machine asks for, until the
    /// pass is over.
    async fn feed(&mut self, input: Input) {
        let mut next = Some(input);
        while let Some(input) = next.take() {
            for action in self.machine.step(input) {
                if let Some(answer) = self.perform(action).await {
                    next = Some(answer);
                }
            }
            self.show_status();
        }
    }

    /// The machine's status in the watch (what `router.status` answers),
    /// keeping the OSPF part read at the last publish.
    fn show_status(&self) {
        let fresh = self.machine.status().clone();
        self.status.send_modify(|s| {
            let (neighbors, routes) = (std::mem::take(&mut s.neighbors), s.ospf_routes);
            *s = fresh;
            s.neighbors = neighbors;
            s.ospf_routes = routes;
        });
    }

    /// Runs one action; the machine's next input if the action has an
    /// answer.
    async fn perform(&mut self, action: Action) -> Option<Input> {
        let text = |e: &dyn std::fmt::Display| e.to_string();
        let input = match action {
            Action::FetchDesired => {
                let answer = self.fetch_desired().await;
                Input::Desired {
                    now_ms: self.clock.now_ms(),
                    answer,
                }
            }
            Action::ReadRunning => {
                let result = self.vtysh.show(READ_BACK[0]).await.map_err(|e| text(&e));
                Input::Running {
                    now_ms: self.clock.now_ms(),
                    result,
                }
            }
            Action::Apply { script } => {
                let result = self
                    .vtysh
                    .configure_and_show(&script, &READ_BACK)
                    .await
                    .map(|back| ReadBack {
                        running: back.first().cloned().unwrap_or_default(),
                        summaries: back.get(1).and_then(|t| parse_json(t).ok()),
                    })
                    .map_err(|e| text(&e));
                Input::Applied {
                    now_ms: self.clock.now_ms(),
                    result,
                }
            }
            Action::Configure { script } => {
                let result = self.vtysh.configure(&script).await.map_err(|e| text(&e));
                Input::Configured {
                    now_ms: self.clock.now_ms(),
                    result,
                }
            }
            Action::ReadInterfaces => {
                let result = self
                    .vtysh
                    .show_json("show ip ospf interface json")
                    .await
                    .map_err(|e| text(&e));
                Input::Interfaces {
                    now_ms: self.clock.now_ms(),
                    result,
                }
            }
            Action::ReadSummaries { delay_ms } => {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                let result = self
                    .vtysh
                    .show_json(READ_BACK[1])
                    .await
                    .map_err(|e| text(&e));
                Input::Summaries {
                    now_ms: self.clock.now_ms(),
                    result,
                }
            }
            Action::ReadSelfOriginated => {
                let json = self
                    .vtysh
                    .show_json("show ip ospf database summary self-originate json")
                    .await
                    .unwrap_or_default();
                Input::SelfOriginated {
                    now_ms: self.clock.now_ms(),
                    json,
                }
            }
            Action::NftList => {
                let result = match &self.nft {
                    Some(nft) => nft.list().await.map_err(|e| text(&e)),
                    None => Err("nft is not managed here".into()),
                };
                Input::NftListed {
                    now_ms: self.clock.now_ms(),
                    result,
                }
            }
            Action::NftApply { file } => self.nft_done(Some(file)).await,
            Action::NftDelete => self.nft_done(None).await,
            Action::Record { event } => {
                let _ = self.record.send(event);
                return None;
            }
            Action::Log {
                level,
                message,
                fields,
            } => {
                self.log(level, &message, &fields);
                return None;
            }
            Action::Publish { refresh_ospf } => {
                self.publish(refresh_ospf).await;
                return None;
            }
        };
        Some(input)
    }

    /// One log line of the machine's, its fields as tracing prints its
    /// own: `message key=value ...`.
    fn log(&self, level: LogLevel, message: &str, fields: &BTreeMap<String, String>) {
        let fields: String = fields.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        let router = &self.name;
        match level {
            LogLevel::Debug => tracing::debug!(%router, "{message}{fields}"),
            LogLevel::Info => tracing::info!(%router, "{message}{fields}"),
            LogLevel::Warn => tracing::warn!(%router, "{message}{fields}"),
        }
    }

    /// Applies `file` (or deletes the table when None).
    async fn nft_done(&self, file: Option<String>) -> Input {
        let result = match (&self.nft, file) {
            (Some(nft), Some(file)) => nft.apply(&file).await.map_err(|e| e.to_string()),
            (Some(nft), None) => nft.delete().await.map_err(|e| e.to_string()),
            (None, _) => Err("nft is not managed here".into()),
        };
        Input::NftDone {
            now_ms: self.clock.now_ms(),
            result,
        }
    }

    /// Asks the config-renderer for the router's configuration, and says
    /// what it answered in the machine's terms.
    async fn fetch_desired(&self) -> DesiredAnswer {
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
        match reply {
            Ok(c) => match c.config {
                ConfigText::Frr(frr) => DesiredAnswer::Config {
                    version: c.version,
                    frr,
                    firewall: c.firewall,
                },
                // Asked for FRR: any other dialect teaches nothing.
                _ => DesiredAnswer::NotReady,
            },
            Err(RequestError::Service(e)) => match e.code {
                ErrorCode::RenderFailed => DesiredAnswer::RenderFailed { message: e.message },
                ErrorCode::UnknownRouter => DesiredAnswer::UnknownRouter,
                ErrorCode::NotReady => DesiredAnswer::NotReady,
                _ => DesiredAnswer::OtherError {
                    message: RequestError::Service(e).to_string(),
                },
            },
            Err(e) => DesiredAnswer::Unreachable {
                error: e.to_string(),
            },
        }
    }

    /// Publishes the status, after refreshing its OSPF part if asked.
    async fn publish(&self, refresh_ospf: bool) {
        self.show_status();
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
