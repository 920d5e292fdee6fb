//! What every vpcroute service shares: the common command line, tracing,
//! opening (and verifying) its event log, and turning stored events into
//! bus events. Each service's own logic lives in its crate; this is only
//! the frame around it.

pub mod commit;
pub mod endpoint;
pub mod event;
pub mod follow;

pub use event::LogEvent;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vpcroute_bus::NatsArgs;
use vpcroute_eventlog::{Durability, EventLog, LogOptions, StoredEvent};
use vpcroute_protocol::ipam::EventsPage;
use vpcroute_protocol::BusEvent;

/// The command line every service takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Directory holding the service's event log (created 0700).
    #[arg(long, env = "VPCROUTE_DATA_DIR", default_value = ".vpcroute")]
    pub data_dir: PathBuf,
    /// Acknowledge appends before they are fsync'd. Only for benchmarks and
    /// throwaway tests: an acknowledged request can then be lost on a crash.
    #[arg(long, hide = true)]
    pub unsafe_no_fsync: bool,
}

/// Logs go to stderr; `RUST_LOG` picks the level (default `info`), except
/// that `async_nats` never logs at `trace`: there it prints every message
/// payload, and `zone.set` requests, `events.read` replies of the area
/// registry and router configurations hold OSPF keys. Nor do `lapin` and
/// `amq_protocol` (vpcroute-cloudstack's AMQP client): at `trace` they
/// may print AMQP frames, and the connection's `start-ok` holds the
/// password (not seen in lapin 4.12's output: a precaution).
pub fn init_tracing() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let no_payloads = tracing_subscriber::filter::filter_fn(|meta| {
        let payloads = ["async_nats", "lapin", "amq_protocol"];
        !(*meta.level() == tracing::Level::TRACE
            && payloads.iter().any(|t| meta.target().starts_with(t)))
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter)
                .with_filter(no_payloads),
        )
        .init();
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open event log {path}: {source}")]
    Open {
        path: PathBuf,
        source: vpcroute_eventlog::Error,
    },
    /// A log whose hash chain does not verify is never served from: the
    /// state rebuilt from it could be wrong in ways nobody would notice.
    #[error("event log {path} failed verification, refusing to start: {source}")]
    Corrupt {
        path: PathBuf,
        source: vpcroute_eventlog::Error,
    },
    #[error("event log {path} cannot be replayed at event {seq}: {reason}")]
    Replay {
        path: PathBuf,
        seq: u64,
        reason: String,
    },
}

/// Opens the service's log, verifies it and replays it in one pass
/// ([`replay_verified_events`]): every service's start-up.
pub fn open_and_replay<E, F, Err>(
    args: &ServiceArgs,
    service: &str,
    apply: F,
) -> Result<(Arc<EventLog>, u64), StartupError>
where
    E: serde::de::DeserializeOwned + Send,
    F: FnMut(E) -> Result<(), Err>,
    Err: std::fmt::Display,
{
    let log = open_unverified(args, service)?;
    let head = replay_verified_events(&log, apply)?;
    Ok((log, head))
}

/// Verifies `log` and replays it, decoded as `E`, through `apply`, in one
/// pass: each event reaches `apply` only after its chain hash has been
/// checked, and `Ok` means the whole log verified (a tampered log is
/// refused as `Corrupt`, whatever `apply` did, so a state built from one is
/// never served).
///
/// Two threads share the work: a reader thread reads and verifies the rows
/// and copies the payload texts of each batch into one buffer; the calling
/// thread decodes and applies them. When the calling thread falls behind
/// (the queue is full) the reader decodes the batch itself instead of
/// waiting, so neither thread idles.
pub fn replay_verified_events<E, F, Err>(log: &EventLog, mut apply: F) -> Result<u64, StartupError>
where
    E: serde::de::DeserializeOwned + Send,
    F: FnMut(E) -> Result<(), Err>,
    Err: std::fmt::Display,
{
    let (tx, rx) = std::sync::mpsc::sync_channel::<ReplayBatch<E>>(4);
    let (walked, failed) = std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("replay-reader".into())
            .spawn_scoped(scope, move || {
                let mut tx = Some(tx);
                let mut batch = RawBatch::default();
                let walked = log.replay_verified(|ev| {
                    batch.push(ev.seq, ev.event_type, ev.payload);
                    if batch.rows.len() == RawBatch::ROWS {
                        send_batch(&mut tx, std::mem::take(&mut batch));
                    }
                    Ok::<(), std::convert::Infallible>(())
                });
                send_batch(&mut tx, batch);
                walked
            })
            .expect("spawn the replay reader thread");
        // Keep draining after a failure so the reader verifies to the end;
        // batches arrive in seq order, so the first failure is the earliest.
        let mut failed: Option<(u64, String)> = None;
        let mut apply_one = |(seq, event): (u64, Result<E, String>)| {
            if failed.is_none() {
                let applied = event.and_then(|e| apply(e).map_err(|e| e.to_string()));
                failed = applied.err().map(|reason| (seq, reason));
            }
        };
        for batch in rx {
            match batch {
                ReplayBatch::Raw(raw) => raw.decode::<E>().for_each(&mut apply_one),
                ReplayBatch::Decoded(events) => events.into_iter().for_each(&mut apply_one),
            }
        }
        let walked = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (walked, failed)
    });
    let path = log.path().to_path_buf();
    // Damage is reported first; then the earliest event that failed.
    let report = match walked {
        Err(vpcroute_eventlog::ReplayError::Log(source)) => {
            return Err(StartupError::Corrupt { path, source })
        }
        Err(vpcroute_eventlog::ReplayError::Handler(never)) => match never {},
        Ok(report) => report,
    };
    if let Some((seq, reason)) = failed {
        return Err(StartupError::Replay { path, seq, reason });
    }
    tracing::info!(path = %path.display(), events = report.events_checked, "event log verified");
    Ok(report.head)
}

/// Verified rows on their way from the replay reader thread to the applier.
enum ReplayBatch<E> {
    Raw(RawBatch),
    /// Decoded by the reader because the applier was behind.
    Decoded(Vec<(u64, Result<E, String>)>),
}

/// The payload texts of a batch of rows in one buffer (one allocation per
/// batch, not per event, crossing threads).
#[derive(Default)]
struct RawBatch {
    text: String,
    /// seq, end of the event type, end of the payload (offsets in `text`).
    rows: Vec<(u64, usize, usize)>,
}

impl RawBatch {
    const ROWS: usize = 1024;

    fn push(&mut self, seq: u64, event_type: &str, payload: &str) {
        self.text.push_str(event_type);
        let type_end = self.text.len();
        self.text.push_str(payload);
        self.rows.push((seq, type_end, self.text.len()));
    }

    /// Each payload straight from the text into the typed event.
    fn decode<E: serde::de::DeserializeOwned>(
        &self,
    ) -> impl Iterator<Item = (u64, Result<E, String>)> + '_ {
        let mut start = 0;
        self.rows.iter().map(move |&(seq, type_end, end)| {
            let (event_type, payload) = (&self.text[start..type_end], &self.text[type_end..end]);
            start = end;
            let event = serde_json::from_str(payload)
                .map_err(|e| format!("undecodable {event_type} event: {e}"));
            (seq, event)
        })
    }
}

/// Hands a batch to the applier, or decodes it here first if the applier's
/// queue is full; once the applier has gone, only verification continues.
fn send_batch<E: serde::de::DeserializeOwned>(
    tx: &mut Option<std::sync::mpsc::SyncSender<ReplayBatch<E>>>,
    batch: RawBatch,
) {
    use std::sync::mpsc::TrySendError;
    let Some(sender) = tx.as_ref() else { return };
    if batch.rows.is_empty() {
        return;
    }
    let gone = match sender.try_send(ReplayBatch::Raw(batch)) {
        Ok(()) => false,
        Err(TrySendError::Disconnected(_)) => true,
        Err(TrySendError::Full(ReplayBatch::Raw(batch))) => {
            let decoded = batch.decode().collect();
            sender.send(ReplayBatch::Decoded(decoded)).is_err()
        }
        Err(TrySendError::Full(ReplayBatch::Decoded(_))) => unreachable!("only raw batches"),
    };
    if gone {
        *tx = None;
    }
}

/// Creates the data directory and opens `<data_dir>/<service>.sqlite`,
/// without verifying it.
fn open_unverified(args: &ServiceArgs, service: &str) -> Result<Arc<EventLog>, StartupError> {
    let dir = &args.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StartupError::DataDir {
            path: dir.clone(),
            source,
        })?;
    // An existing directory keeps its mode from DirBuilder; tighten it.
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let path = dir.join(format!("{service}.sqlite"));
    let opts = LogOptions {
        durability: if args.unsafe_no_fsync {
            Durability::Relaxed
        } else {
            Durability::Full
        },
        ..LogOptions::default()
    };
    let log = EventLog::open(&path, opts).map_err(|source| StartupError::Open {
        path: path.clone(),
        source,
    })?;
    Ok(Arc::new(log))
}

/// Replays every event of `log` through `apply`, turning the first failure
/// into a start-up error that names the event.
pub fn replay<F, E>(log: &EventLog, mut apply: F) -> Result<u64, StartupError>
where
    F: FnMut(&StoredEvent) -> Result<(), E>,
    E: std::fmt::Display,
{
    let res = log.replay(1, |ev: StoredEvent| {
        apply(&ev).map_err(|e| (ev.seq, e.to_string()))
    });
    res.map_err(|e| {
        let (seq, reason) = match e {
            vpcroute_eventlog::ReplayError::Handler(failed) => failed,
            vpcroute_eventlog::ReplayError::Log(e) => (0, e.to_string()),
        };
        StartupError::Replay {
            path: log.path().to_path_buf(),
            seq,
            reason,
        }
    })
}

/// The end of every service's `main`: a failure is logged and printed, and
/// becomes a non-zero exit.
pub fn exit(
    service: &str,
    result: Result<(), Box<dyn std::error::Error>>,
) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{service}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A stored event as it is published on the bus.
pub fn bus_event(source: &str, ev: StoredEvent) -> BusEvent {
    BusEvent {
        source: source.to_string(),
        seq: ev.seq,
        stream: ev.stream,
        stream_version: ev.stream_version,
        event_type: ev.event_type,
        schema_version: ev.schema_version,
        recorded_at_ms: ev.recorded_at_ms,
        payload: ev.payload,
    }
}

/// Most events returned by one `events.read` page.
pub const MAX_EVENTS_PAGE: u32 = 1000;

/// Answers a consumer's catch-up read.
pub fn events_page(
    log: &EventLog,
    source: &str,
    from_seq: u64,
    limit: u32,
) -> Result<EventsPage, vpcroute_eventlog::Error> {
    let head = log.head()?;
    let events = log
        .read_from(from_seq.max(1), limit.clamp(1, MAX_EVENTS_PAGE) as usize)?
        .into_iter()
        .map(|e| bus_event(source, e))
        .collect();
    Ok(EventsPage { events, head })
}

/// Where a service keeps the file `name` under its data directory.
pub fn data_file(args: &ServiceArgs, name: &str) -> PathBuf {
    Path::new(&args.data_dir).join(name)
}
