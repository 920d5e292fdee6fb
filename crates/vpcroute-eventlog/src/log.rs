//! `EventLog`: the handle services hold. It wires the writer thread (all
//! appends) to a pool of reader connections (all queries).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::{Error, ReplayError};
use crate::ids::RequestIds;
use crate::reader::{self, ReaderPool};
use crate::schema;
use crate::types::{
    AppendOutcome, AppendReply, AppendRequest, CommittedReply, Durability, EventRef, LogOptions,
    LogStats, StoredEvent, VerifyReport, WriterSettings,
};
use crate::verify;
use crate::writer::{Counters, Job, Reply, Writer};

/// An open event log. `Send + Sync`: share it (e.g. in an `Arc`) between
/// threads and tasks; appends from all of them are group-committed together.
/// Dropping it finishes the queued appends and stops the writer thread.
///
/// Only one process may have a log open for writing at a time.
pub struct EventLog {
    path: PathBuf,
    tx: Option<Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    readers: ReaderPool,
    counters: Arc<Counters>,
    ids: Arc<RequestIds>,
    durability: Durability,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EventLog {
    /// Open (or create) the log at `path`. A new file is created with mode
    /// 0600 before SQLite sees it; the schema is created if missing; the
    /// writer thread is started. The parent directory must exist.
    pub fn open(path: &Path, opts: LogOptions) -> Result<EventLog, Error> {
        schema::create_private_file(path)?;
        let (conn, found_version) = schema::open_writer(path, opts.durability)?;
        schema::restrict_side_files(path)?;
        let counters = Arc::new(Counters::default());
        let ids = Arc::new(RequestIds::default());
        let mut writer = Writer::new(
            conn,
            path.to_path_buf(),
            opts.max_batch,
            counters.clone(),
            ids.clone(),
        )?;
        // A new file, or one from before anchors: anchor its head now. A
        // file of schema 3 keeps the anchor it has (or lacks): writing one
        // here would hide a tail cut while the service was down.
        if found_version < 3 {
            writer.write_anchor()?;
        }
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("eventlog-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(EventLog {
            path: path.to_path_buf(),
            tx: Some(tx),
            writer: Some(handle),
            readers: ReaderPool::new(path.to_path_buf()),
            counters,
            ids,
            durability: opts.durability,
        })
    }

    /// The durability the log was opened with ([`EventLog::inspect`] shows
    /// what the connection really runs with).
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queue an append; `reply` is called exactly once with the outcome
    /// after the batch holding it has been durably committed (or has
    /// failed). Returns at once. `reply` runs on the writer thread: keep it
    /// short and non-blocking, e.g. send into a `tokio::sync::oneshot`.
    /// If the log is closed, `reply` gets `Err(Closed)` on this thread.
    pub fn submit(&self, req: AppendRequest, reply: AppendReply) {
        if let Some(Reply::Outcome(reply)) = self.queue(req, Reply::Outcome(reply)) {
            reply(Err(Error::Closed));
        }
    }

    /// Like [`EventLog::submit`], but `reply` also gets the appended events
    /// exactly as stored (seq, stream version, time, hash), taken from the
    /// request itself: publishing them needs no read-back.
    pub fn submit_committed(&self, req: AppendRequest, reply: CommittedReply) {
        if let Some(Reply::Committed(reply)) = self.queue(req, Reply::Committed(reply)) {
            reply(Err(Error::Closed));
        }
    }

    /// Hands a job to the writer; gives the reply back if the log is closed.
    fn queue(&self, req: AppendRequest, reply: Reply) -> Option<Reply> {
        match self.send(Job::Append { req, reply }) {
            Some(Job::Append { reply, .. }) => Some(reply),
            _ => None,
        }
    }

    /// Hands a job to the writer; gives it back if the log is closed.
    fn send(&self, job: Job) -> Option<Job> {
        match &self.tx {
            Some(tx) => tx.send(job).err().map(|mpsc::SendError(job)| job),
            None => Some(job),
        }
    }

    /// Calls `f` (on the writer thread) once every append submitted before
    /// it has had its outcome delivered: a reply that commits nothing can
    /// wait here for the commits it was decided on. It adds no transaction
    /// and no fsync. If the log is closed, `f` runs at once on this thread
    /// (nothing queued before it can still become durable).
    pub fn after_queued(&self, f: Box<dyn FnOnce() + Send>) {
        if let Some(Job::Barrier(f)) = self.send(Job::Barrier(f)) {
            f();
        }
    }

    /// Like [`EventLog::after_queued`], and `f` is handed the write
    /// connection's live settings (`PRAGMA journal_mode`, `synchronous`)
    /// and the head committed then, which includes every append submitted
    /// before this call that succeeded. A reader connection could not tell
    /// the writer's `synchronous` (a per-connection setting). If the log is
    /// closed, `f` gets `Err(Closed)` on this thread.
    pub fn inspect(&self, f: Box<dyn FnOnce(Result<WriterSettings, Error>) + Send>) {
        if let Some(Job::Inspect(f)) = self.send(Job::Inspect(f)) {
            f(Err(Error::Closed));
        }
    }

    /// `false` when `request_id` has certainly never been recorded (nor is
    /// being committed): an in-memory check that spares the
    /// [`EventLog::recorded_result`] query for new ids. `true` means "ask
    /// `recorded_result`".
    pub fn may_have_recorded(&self, request_id: &str) -> bool {
        self.ids.may_contain(request_id)
    }

    /// Queue an append and get a channel that yields its outcome once it
    /// is durable.
    pub fn append_async(&self, req: AppendRequest) -> Receiver<Result<AppendOutcome, Error>> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(
            req,
            Box::new(move |outcome| {
                // The caller may have stopped waiting; that is fine.
                let _ = tx.send(outcome);
            }),
        );
        rx
    }

    /// Append and block until the outcome is durable.
    pub fn append(&self, req: AppendRequest) -> Result<AppendOutcome, Error> {
        self.append_async(req).recv().map_err(|_| Error::Closed)?
    }

    /// The fingerprint and result recorded for `request_id`, if any
    /// (committed appends only).
    pub fn recorded_result(
        &self,
        request_id: &str,
    ) -> Result<Option<(String, serde_json::Value)>, Error> {
        let conn = self.readers.get()?;
        match reader::recorded_raw(&conn, request_id)? {
            None => Ok(None),
            Some((fingerprint, text)) => Ok(Some((
                fingerprint,
                reader::decode_result(request_id, &text)?,
            ))),
        }
    }

    /// Up to `limit` events with `seq >= from_seq`, ascending.
    pub fn read_from(&self, from_seq: u64, limit: usize) -> Result<Vec<StoredEvent>, Error> {
        reader::read_from(&*self.readers.get()?, from_seq, limit)
    }

    /// Feed every event with `seq >= from_seq` to `f`, in order, one row at
    /// a time from a single snapshot. Returns the last seq handed to `f`
    /// (0 if none). The first handler error stops the replay.
    pub fn replay<F, E>(&self, from_seq: u64, f: F) -> Result<u64, ReplayError<E>>
    where
        F: FnMut(StoredEvent) -> Result<(), E>,
    {
        reader::replay(&*self.readers.get()?, from_seq, f)
    }

    /// Last committed seq (0 when empty).
    pub fn head(&self) -> Result<u64, Error> {
        reader::head(&*self.readers.get()?)
    }

    /// Committed version of `stream` (0 when it has no events).
    pub fn stream_version(&self, stream: &str) -> Result<u64, Error> {
        reader::stream_version(&*self.readers.get()?, stream)
    }

    /// Walk the hash chain; see the `verify` module for what is reported.
    pub fn verify(&self) -> Result<VerifyReport, Error> {
        verify::verify_conn(&*self.readers.get()?, &self.path)
    }

    /// [`EventLog::verify`] and a replay from seq 1 in one pass: each event
    /// is handed to `f` (borrowed from the row, no copies) only after its
    /// chain hash has been checked. The whole log is verified whatever `f`
    /// does: a tampered log is reported as `Corrupt` even when `f` failed
    /// on an earlier event (`f` is not called again after its first error).
    /// So a service may serve the state `f` built only on `Ok`.
    pub fn replay_verified<F, E>(&self, f: F) -> Result<VerifyReport, ReplayError<E>>
    where
        F: FnMut(EventRef<'_>) -> Result<(), E>,
    {
        verify::verify_replay_conn(&*self.readers.get()?, &self.path, f)
    }

    /// Writer counters since open.
    pub fn stats(&self) -> LogStats {
        self.counters.snapshot()
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish what is queued and exit.
        self.tx = None;
        if let Some(handle) = self.writer.take() {
            if handle.join().is_err() {
                tracing::error!("event log writer thread panicked");
            }
        }
    }
}
