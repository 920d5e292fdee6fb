//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time and the expensive part of a durable
//! append is the fsync at commit. So one thread owns the write connection,
//! waits for the first queued append, drains whatever else is already queued
//! (up to `max_batch`), runs them all in ONE transaction and commits once.
//! Each append runs inside its own SAVEPOINT, so a failed check or insert
//! undoes only that append. Nobody is answered before the commit returns:
//! an `Appended` reply always means "on disk".
//!
//! The writer caches the chain tip (head seq, last hash) and stream versions
//! so checks cost no queries. Any failed batch drops these caches and
//! reloads them from the database, which is the only source of truth.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension};

use crate::chain::{self, ChainInput, Hash, RequestInput};
use crate::error::Error;
use crate::ids::RequestIds;
use crate::reader::{decode_result, recorded_raw};
use crate::schema;
use crate::types::{
    AppendOutcome, AppendReply, AppendRequest, Committed, CommittedReply, LogStats, StoredEvent,
    WriterSettings,
};

/// Stream-version cache entries kept before the cache is simply cleared;
/// bounds memory for services that create many short-lived streams.
const MAX_CACHED_STREAMS: usize = 100_000;

/// What the writer is handed, in order.
pub(crate) enum Job {
    /// One append and where its answer goes.
    Append { req: AppendRequest, reply: Reply },
    /// Called once every append queued before it has been committed (or
    /// has failed); commits nothing itself.
    Barrier(Barrier),
    /// Like a barrier, and handed what the write connection runs with.
    Inspect(Inspect),
}

/// See [`crate::EventLog::after_queued`].
pub(crate) type Barrier = Box<dyn FnOnce() + Send>;

/// See [`crate::EventLog::inspect`].
pub(crate) type Inspect = Box<dyn FnOnce(Result<WriterSettings, Error>) + Send>;

/// What a job's submitter wants back.
pub(crate) enum Reply {
    Outcome(AppendReply),
    /// The outcome and the stored events, built from the job's own request
    /// after the commit (no read-back).
    Committed(CommittedReply),
}

impl Reply {
    /// Call the callback; a panicking one must not take the writer down
    /// with it (every later append would fail with `Closed`).
    fn send(self, req: AppendRequest, outcome: Result<Applied, Error>) {
        let call = move || match self {
            Reply::Outcome(reply) => reply(outcome.map(|a| a.outcome)),
            Reply::Committed(reply) => reply(outcome.map(|a| a.into_committed(req))),
        };
        if std::panic::catch_unwind(AssertUnwindSafe(call)).is_err() {
            tracing::error!("event log append reply callback panicked");
        }
    }
}

/// One append's result inside a batch: the outcome, plus what was stored
/// when it appended events.
struct Applied {
    outcome: AppendOutcome,
    stored: Option<Stamp>,
}

/// What the writer chose for an append's events: enough, with the request
/// itself, to give back each event exactly as stored.
struct Stamp {
    recorded_at_ms: i64,
    first_stream_version: u64,
    /// Hex chain hash of each event, in order.
    hashes: Vec<String>,
}

impl Applied {
    fn into_committed(self, req: AppendRequest) -> Committed {
        let events = match (&self.outcome, self.stored) {
            (AppendOutcome::Appended { first_seq, .. }, Some(stamp)) => {
                let request_id = req.request_id;
                let stream = req.stream;
                (0u64..)
                    .zip(req.events.into_iter().zip(stamp.hashes))
                    .map(|(i, (ev, hash))| StoredEvent {
                        seq: first_seq + i,
                        stream: stream.clone(),
                        stream_version: stamp.first_stream_version + i,
                        event_type: ev.event_type,
                        schema_version: ev.schema_version,
                        payload: ev.payload,
                        request_id: Some(request_id.clone()),
                        recorded_at_ms: stamp.recorded_at_ms,
                        hash,
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        Committed {
            outcome: self.outcome,
            events,
        }
    }
}

/// Counters shared with `EventLog::stats`.
#[derive(Default)]
pub(crate) struct Counters {
    commits: AtomicU64,
    appends: AtomicU64,
    events: AtomicU64,
    largest_batch: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> LogStats {
        LogStats {
            commits: self.commits.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
        }
    }
}

pub(crate) struct Writer {
    conn: Connection,
    path: PathBuf,
    max_batch: usize,
    counters: Arc<Counters>,
    /// Seq of the last committed-or-batched event (0 when empty).
    head: u64,
    /// Chain hash of event `head`.
    last_hash: Hash,
    /// Known current version per stream; misses are read from the database.
    streams: HashMap<String, u64>,
    /// Side files are re-tightened after the first commit of each open,
    /// because SQLite (re)creates the `-wal` lazily.
    side_files_checked: bool,
    /// Every recorded request id (and possibly a few more), shared with
    /// `EventLog::may_have_recorded`.
    ids: Arc<RequestIds>,
    /// The anchor file (opened at the first update) and the head it was
    /// last set to by this writer.
    anchor_file: Option<crate::anchor::AnchorFile>,
    anchored: Option<u64>,
}

/// An event ready to insert: encoded, numbered and hashed.
struct Row<'a> {
    seq: u64,
    stream_version: u64,
    event_type: &'a str,
    schema_version: u32,
    payload: String,
    hash: Hash,
    hash_hex: String,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        path: PathBuf,
        max_batch: usize,
        counters: Arc<Counters>,
        ids: Arc<RequestIds>,
    ) -> Result<Writer, Error> {
        let mut w = Writer {
            conn,
            path,
            max_batch: max_batch.max(1),
            counters,
            head: 0,
            last_hash: [0; 32],
            streams: HashMap::new(),
            side_files_checked: false,
            ids,
            anchor_file: None,
            anchored: None,
        };
        w.reload_tip()?;
        Ok(w)
    }

    /// Serve appends until every sender is gone.
    pub(crate) fn run(mut self, rx: Receiver<Job>) {
        // Before the first append (which waits meanwhile); until it is
        // loaded, idempotency checks fall back to the database.
        if let Err(e) = self.ids.load(&self.conn) {
            tracing::warn!(error = %e, "event log could not index its request ids; looking each one up");
        }
        let mut batch: Vec<Job> = Vec::with_capacity(self.max_batch.min(1024));
        while let Ok(first) = rx.recv() {
            batch.push(first);
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let appends: Vec<&AppendRequest> = batch
                .iter()
                .filter_map(|job| match job {
                    Job::Append { req, .. } => Some(req),
                    Job::Barrier(_) | Job::Inspect(_) => None,
                })
                .collect();
            // A batch of barriers only waits for what came before it, which
            // has been answered already: no transaction.
            let mut outcomes = if appends.is_empty() {
                Vec::new()
            } else {
                self.commit_batch(&appends)
            }
            .into_iter();
            for job in batch.drain(..) {
                match job {
                    Job::Append { req, reply } => {
                        let outcome = outcomes.next().expect("one outcome per append");
                        reply.send(req, outcome);
                    }
                    Job::Barrier(call) => {
                        if std::panic::catch_unwind(AssertUnwindSafe(call)).is_err() {
                            tracing::error!("event log barrier callback panicked");
                        }
                    }
                    Job::Inspect(call) => {
                        let settings = self.settings();
                        if std::panic::catch_unwind(AssertUnwindSafe(|| call(settings))).is_err() {
                            tracing::error!("event log inspect callback panicked");
                        }
                    }
                }
            }
        }
    }

    /// Run one group commit and produce one outcome per append, in order.
    fn commit_batch(&mut self, jobs: &[&AppendRequest]) -> Vec<Result<Applied, Error>> {
        match self.try_commit_batch(jobs) {
            Ok(outcomes) => {
                let n = jobs.len() as u64;
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
                self.counters.appends.fetch_add(n, Ordering::Relaxed);
                self.counters.largest_batch.fetch_max(n, Ordering::Relaxed);
                // After the commit is durable: the anchor never names an
                // event the database could still lose (anchor.rs).
                if self.anchored != Some(self.head) {
                    if let Err(e) = self.write_anchor() {
                        tracing::warn!(error = %e, "could not update the event log anchor; it lags behind the log");
                    }
                }
                if !self.side_files_checked {
                    self.side_files_checked = true;
                    if let Err(e) = schema::restrict_side_files(&self.path) {
                        tracing::warn!(error = %e, "could not restrict event log side files to 0600");
                    }
                }
                outcomes
            }
            Err(e) => {
                // Nothing of this batch is on disk, and our caches may
                // describe appends that were rolled back: start over from
                // the database. Everyone in the batch gets the error (even
                // a `Duplicate` may have pointed at a rolled-back append).
                tracing::error!(error = %e, batch = jobs.len(), "event log group commit failed");
                let _ = self.conn.execute_batch("ROLLBACK");
                if let Err(reload) = self.reload_tip() {
                    tracing::error!(error = %reload, "event log could not reload its tip after a failed commit");
                }
                jobs.iter().map(|_| Err(e.duplicate())).collect()
            }
        }
    }

    fn try_commit_batch(
        &mut self,
        jobs: &[&AppendRequest],
    ) -> Result<Vec<Result<Applied, Error>>, Error> {
        // IMMEDIATE takes the write lock now, so checks below read state
        // that nobody else can change before our commit.
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        self.check_tip()?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for req in jobs {
            outcomes.push(self.apply(req)?);
        }
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(outcomes)
    }

    /// One append inside the open batch transaction. The outer `Err` is
    /// fatal for the batch (the transaction is in an unknown state); the
    /// inner one fails only this append.
    fn apply(&mut self, req: &AppendRequest) -> Result<Result<Applied, Error>, Error> {
        if let Err(e) = validate(req) {
            return Ok(Err(e));
        }
        // Idempotency comes first: a retry must get its original answer even
        // if the stream has moved on since. This lookup also sees requests
        // inserted earlier in this very batch (same transaction, and the id
        // index got them at insert), which is how two appends with the same
        // new id in one batch are handled. An id the index has never seen
        // needs no lookup.
        let recorded = if self.ids.may_contain(&req.request_id) {
            recorded_raw(&self.conn, &req.request_id)
        } else {
            Ok(None)
        };
        match recorded {
            Ok(Some((fingerprint, result))) => {
                return Ok(if fingerprint == req.fingerprint {
                    decode_result(&req.request_id, &result).map(|result| Applied {
                        outcome: AppendOutcome::Duplicate { result },
                        stored: None,
                    })
                } else {
                    Err(Error::RequestIdConflict {
                        request_id: req.request_id.clone(),
                    })
                });
            }
            Ok(None) => {}
            Err(e) => return Ok(Err(e)),
        }
        let actual = match self.stream_version(&req.stream) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        if !req.expected.admits(actual) {
            return Ok(Err(Error::VersionConflict {
                stream: req.stream.clone(),
                expected: req.expected,
                actual,
            }));
        }
        let now = now_ms();
        let (rows, result_text) = match self.encode(req, actual, now) {
            Ok(x) => x,
            Err(e) => return Ok(Err(e)),
        };

        self.conn.prepare_cached("SAVEPOINT append")?.execute([])?;
        match self.insert(req, &rows, &result_text, now) {
            Ok(()) => {
                self.conn.prepare_cached("RELEASE append")?.execute([])?;
            }
            Err(e) => {
                let undo = self
                    .conn
                    .execute_batch("ROLLBACK TO append; RELEASE append")
                    .map_err(Error::from);
                if let Err(undo) = undo {
                    // The transaction itself is gone or broken (e.g. a
                    // RAISE(ROLLBACK)): the whole batch fails, with the
                    // append's own error as the cause.
                    tracing::error!(error = %undo, "could not undo a failed append");
                    return Err(e);
                }
                return Ok(Err(e));
            }
        }

        // Only now, with the rows in the transaction, advance the caches.
        self.ids.insert(&req.request_id);
        let first_seq = self.head + 1;
        if let Some(last) = rows.last() {
            self.head = last.seq;
            self.last_hash = last.hash;
            self.cache_stream(&req.stream, last.stream_version);
        }
        self.counters
            .events
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(Ok(Applied {
            outcome: AppendOutcome::Appended {
                first_seq,
                last_seq: self.head,
                result: req.result.clone(),
            },
            stored: Some(Stamp {
                recorded_at_ms: now,
                first_stream_version: actual + 1,
                hashes: rows.into_iter().map(|r| r.hash_hex).collect(),
            }),
        }))
    }

    /// Serialize payloads and result, number the events and chain them
    /// onto the current tip. Pure: nothing changes until the insert works.
    fn encode<'r>(
        &self,
        req: &'r AppendRequest,
        actual: u64,
        now: i64,
    ) -> Result<(Vec<Row<'r>>, String), Error> {
        let invalid = |what: &str, e: serde_json::Error| Error::InvalidRequest {
            reason: format!("{what} cannot be encoded as JSON: {e}"),
        };
        let mut rows = Vec::with_capacity(req.events.len());
        let mut prev = self.last_hash;
        for (i, ev) in (1u64..).zip(&req.events) {
            let seq = self.head + i;
            let stream_version = actual + i;
            let payload = serde_json::to_string(&ev.payload).map_err(|e| invalid("payload", e))?;
            let hash = chain::link(
                &prev,
                &ChainInput {
                    seq,
                    stream: &req.stream,
                    stream_version,
                    event_type: &ev.event_type,
                    schema_version: ev.schema_version,
                    payload: &payload,
                    request_id: Some(&req.request_id),
                    recorded_at_ms: now,
                },
            );
            prev = hash;
            rows.push(Row {
                seq,
                stream_version,
                event_type: &ev.event_type,
                schema_version: ev.schema_version,
                payload,
                hash,
                hash_hex: hex::encode(hash),
            });
        }
        let result = serde_json::to_string(&req.result).map_err(|e| invalid("result", e))?;
        Ok((rows, result))
    }

    fn insert(
        &self,
        req: &AppendRequest,
        rows: &[Row<'_>],
        result: &str,
        now: i64,
    ) -> Result<(), Error> {
        let mut ins = self.conn.prepare_cached(
            "INSERT INTO events (seq, stream, stream_version, event_type, schema_version, \
             payload, request_id, recorded_at_ms, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for row in rows {
            ins.execute((
                to_i64(row.seq)?,
                &req.stream,
                to_i64(row.stream_version)?,
                &row.event_type,
                row.schema_version,
                &row.payload,
                &req.request_id,
                now,
                &row.hash_hex,
            ))?;
        }
        let (last_seq, last_hash) = rows
            .last()
            .map_or((self.head, self.last_hash), |r| (r.seq, r.hash));
        let first_seq = self.head + 1;
        let hash = chain::request_link(
            &last_hash,
            &RequestInput {
                request_id: &req.request_id,
                fingerprint: &req.fingerprint,
                result,
                first_seq,
                last_seq,
                recorded_at_ms: now,
            },
        );
        self.conn
            .prepare_cached(
                "INSERT INTO requests (request_id, fingerprint, result, first_seq, last_seq, recorded_at_ms, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute((
                &req.request_id,
                &req.fingerprint,
                result,
                to_i64(first_seq)?,
                to_i64(last_seq)?,
                now,
                hex::encode(hash),
            ))?;
        Ok(())
    }

    fn stream_version(&mut self, stream: &str) -> Result<u64, Error> {
        if let Some(v) = self.streams.get(stream) {
            return Ok(*v);
        }
        let v = crate::reader::stream_version(&self.conn, stream)?;
        self.cache_stream(stream, v);
        Ok(v)
    }

    fn cache_stream(&mut self, stream: &str, version: u64) {
        if let Some(v) = self.streams.get_mut(stream) {
            *v = version;
            return;
        }
        if self.streams.len() >= MAX_CACHED_STREAMS {
            self.streams.clear();
        }
        self.streams.insert(stream.to_owned(), version);
    }

    /// Guard against another process having appended to the file since we
    /// last looked (only one writer process is supported, but a stale cache
    /// must never fork the chain): if the tip moved, reload.
    fn check_tip(&mut self) -> Result<(), Error> {
        let (head, hash) = read_tip(&self.conn)?;
        if head != self.head || hash != self.last_hash {
            tracing::warn!(
                cached = self.head,
                actual = head,
                "event log tip moved under the writer; reloading"
            );
            self.head = head;
            self.last_hash = hash;
            self.streams.clear();
            // Someone else wrote requests too: re-index them.
            self.ids.load(&self.conn)?;
        }
        Ok(())
    }

    /// Replaces the anchor file with the current tip (anchor.rs).
    pub(crate) fn write_anchor(&mut self) -> Result<(), Error> {
        let anchor = crate::anchor::Anchor {
            seq: self.head,
            hash: self.last_hash,
        };
        if self.anchor_file.is_none() {
            self.anchor_file = Some(crate::anchor::AnchorFile::open(&self.path)?);
        }
        let file = self.anchor_file.as_ref().expect("opened above");
        file.set(&anchor)?;
        self.anchored = Some(self.head);
        Ok(())
    }

    /// The write connection's live settings and the committed head (run
    /// between batches, so nothing is half-committed).
    fn settings(&self) -> Result<WriterSettings, Error> {
        let journal_mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        let synchronous: i64 = self
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        Ok(WriterSettings {
            head: self.head,
            journal_mode,
            synchronous,
        })
    }

    fn reload_tip(&mut self) -> Result<(), Error> {
        self.streams.clear();
        let (head, hash) = read_tip(&self.conn)?;
        self.head = head;
        self.last_hash = hash;
        Ok(())
    }
}

/// Last seq and its hash, straight from the database.
fn read_tip(conn: &Connection) -> Result<(u64, Hash), Error> {
    let tip: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match tip {
        None => Ok((0, [0; 32])),
        Some((seq, hash)) => {
            let seq_u = u64::try_from(seq).map_err(|_| Error::Corrupt {
                seq: 0,
                reason: format!("out of sequence: negative seq {seq}"),
            })?;
            let hash = chain::parse_hex(&hash).ok_or_else(|| Error::Corrupt {
                seq: seq_u,
                reason: "changed: stored hash is not a sha256 hex digest".into(),
            })?;
            Ok((seq_u, hash))
        }
    }
}

/// Reject requests that could never be stored meaningfully.
fn validate(req: &AppendRequest) -> Result<(), Error> {
    let invalid = |reason: &str| {
        Err(Error::InvalidRequest {
            reason: reason.to_owned(),
        })
    };
    if req.request_id.is_empty() {
        return invalid("request_id must not be empty");
    }
    if req.stream.is_empty() {
        return invalid("stream must not be empty");
    }
    if req.events.iter().any(|e| e.event_type.is_empty()) {
        return invalid("event_type must not be empty");
    }
    Ok(())
}

fn to_i64(v: u64) -> Result<i64, Error> {
    i64::try_from(v).map_err(|_| Error::InvalidRequest {
        reason: format!("value {v} exceeds the log's integer range"),
    })
}

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before it):
/// the clock of `recorded_at_ms`, and of any decision that records a time.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
