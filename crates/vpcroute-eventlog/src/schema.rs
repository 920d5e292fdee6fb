//! On-disk layout: file creation with private permissions, connection
//! settings, tables and the triggers that make the log append-only inside
//! the database itself (not just by convention in this crate).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::chain;
use crate::error::Error;
use crate::types::Durability;

/// `PRAGMA user_version` of the layout below. Bump on any change to the
/// tables or to the hash-chain encoding.
///
/// * 1: `events` chain only.
/// * 2: `requests.hash`, the hash of each idempotency record (chain.rs).
/// * 3: no table change; the anchor file beside the database (anchor.rs)
///   is kept, so `verify` requires it once the log has events.
pub(crate) const SCHEMA_VERSION: i64 = 3;

/// The oldest layout this build can still read (and migrate when opened for
/// writing).
pub(crate) const OLDEST_SCHEMA_VERSION: i64 = 1;

/// WAL pages between automatic checkpoints (4 KiB pages: a WAL of up to
/// ~32 MiB before it is copied back and restarted).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 8192;

/// How long a connection waits on a lock held by another connection (e.g. a
/// `vpcctl log verify` reader, or a checkpoint) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const DDL: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    seq            INTEGER PRIMARY KEY,      -- global order, 1.. without gaps
    stream         TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,         -- 1.. without gaps per stream
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        TEXT    NOT NULL,         -- exact JSON text that was hashed
    request_id     TEXT,
    recorded_at_ms INTEGER NOT NULL,
    hash           TEXT    NOT NULL,         -- hex chain hash, see chain.rs
    UNIQUE (stream, stream_version)
);

-- One row per request id: the idempotency record, written in the same
-- transaction as the request's events.
CREATE TABLE IF NOT EXISTS requests (
    request_id     TEXT    PRIMARY KEY,
    fingerprint    TEXT    NOT NULL,
    result         TEXT    NOT NULL,         -- JSON reply returned to retries
    first_seq      INTEGER NOT NULL,
    last_seq       INTEGER NOT NULL,         -- head after this request
    recorded_at_ms INTEGER NOT NULL,
    hash           TEXT    NOT NULL          -- hex record hash, see chain.rs
) WITHOUT ROWID;

-- Append-only, enforced by SQLite for every client of the file.
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed'); END;

CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed'); END;

-- Also stops INSERT OR REPLACE (whose implicit delete skips DELETE triggers)
-- and keeps seq gap-free.
CREATE TRIGGER IF NOT EXISTS events_seq_contiguous BEFORE INSERT ON events
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM events)
BEGIN SELECT RAISE(ABORT, 'events are append-only: seq must be head + 1'); END;

CREATE TRIGGER IF NOT EXISTS events_stream_contiguous BEFORE INSERT ON events
WHEN NEW.stream_version IS NOT
     (SELECT COALESCE(MAX(stream_version), 0) + 1 FROM events WHERE stream = NEW.stream)
BEGIN SELECT RAISE(ABORT, 'events are append-only: stream_version must be stream head + 1'); END;

CREATE TRIGGER IF NOT EXISTS requests_no_update BEFORE UPDATE ON requests
BEGIN SELECT RAISE(ABORT, 'requests are append-only: UPDATE is not allowed'); END;

CREATE TRIGGER IF NOT EXISTS requests_no_delete BEFORE DELETE ON requests
BEGIN SELECT RAISE(ABORT, 'requests are append-only: DELETE is not allowed'); END;

CREATE TRIGGER IF NOT EXISTS requests_no_replace BEFORE INSERT ON requests
WHEN EXISTS (SELECT 1 FROM requests WHERE request_id = NEW.request_id)
BEGIN SELECT RAISE(ABORT, 'requests are append-only: request id already recorded'); END;
"#;

/// Create the database file (if missing) with mode 0600 ourselves, before
/// SQLite touches it, so its permissions never depend on the process umask.
/// An existing file is tightened to 0600 too.
pub(crate) fn create_private_file(path: &Path) -> Result<(), Error> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?;
    set_private(path)
}

/// Tighten the `-wal` / `-shm` side files, which SQLite creates lazily.
/// SQLite copies the main file's mode onto them; this makes sure of it.
pub(crate) fn restrict_side_files(path: &Path) -> Result<(), Error> {
    for side in side_files(path) {
        match set_private(&side) {
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

fn side_files(path: &Path) -> [PathBuf; 2] {
    let with = |suffix: &str| {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [with("-wal"), with("-shm")]
}

#[cfg(unix)]
fn set_private(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn set_private(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// Open the single write connection: WAL so readers never block the writer
/// (and vice versa), the requested fsync level, then create the schema.
/// Also returns the schema version the file had (0 when new).
pub(crate) fn open_writer(path: &Path, durability: Durability) -> Result<(Connection, i64), Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(format!("could not enable WAL journal mode (got {mode:?})")),
        )));
    }
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Relaxed => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    // Each append runs in a SAVEPOINT; its statement journal would otherwise
    // go to a temporary file, a write syscall per page per append (a quarter
    // of the writer's time under load). A larger page cache keeps the hot
    // B-tree pages of `events` and `requests` in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -65536)?;
    // Checkpoint less often than SQLite's default (every 1000 pages): each
    // checkpoint copies every page the WAL changed back into the database
    // and fsyncs it, on this (the writer's) thread. The hot pages (the tail
    // of `events`, the leaves of `requests`) change in almost every commit,
    // so a longer WAL copies each of them once instead of many times.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    // The statement cache holds the handful of statements the writer runs.
    conn.set_prepared_statement_cache_capacity(32);
    let found = create_schema(&conn)?;
    Ok((conn, found))
}

fn create_schema(conn: &Connection) -> Result<i64, Error> {
    // IMMEDIATE first, then read the version: nobody can migrate or create
    // the file between our look and our change.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let done = create_schema_in_tx(conn).and_then(|found| {
        conn.execute_batch("COMMIT")?;
        Ok(found)
    });
    if done.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    done
}

fn create_schema_in_tx(conn: &Connection) -> Result<i64, Error> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Error::UnsupportedSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == 1 {
        migrate_v1_to_v2(conn)?;
    }
    // Also recreates the update trigger the migration dropped.
    conn.execute_batch(&format!("{DDL} PRAGMA user_version = {SCHEMA_VERSION};"))?;
    Ok(found)
}

/// Version 1 had no `requests.hash`. Add it and hash every existing record
/// against the event chain at its `last_seq`. Runs inside the caller's
/// `BEGIN IMMEDIATE`; the update trigger is recreated by the DDL afterwards.
/// A record that cannot be hashed (its `last_seq` points at no event, or a
/// column has the wrong type) keeps an empty hash, which `verify` reports.
fn migrate_v1_to_v2(conn: &Connection) -> Result<(), Error> {
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS requests_no_update;
         ALTER TABLE requests ADD COLUMN hash TEXT NOT NULL DEFAULT '';",
    )?;
    let mut rows: Vec<(String, String)> = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT r.request_id, r.fingerprint, r.result, r.first_seq, r.last_seq, \
             r.recorded_at_ms, e.hash \
             FROM requests r LEFT JOIN events e ON e.seq = r.last_seq",
        )?;
        let mut q = stmt.query([])?;
        while let Some(row) = q.next()? {
            let Ok(request_id) = row.get::<_, String>(0) else {
                continue;
            };
            let hash = record_hash(row).map_or_else(String::new, hex::encode);
            rows.push((request_id, hash));
        }
    }
    let mut upd = conn.prepare("UPDATE requests SET hash = ?2 WHERE request_id = ?1")?;
    for (request_id, hash) in &rows {
        upd.execute((request_id, hash))?;
    }
    tracing::info!(
        records = rows.len(),
        "event log migrated from schema 1 to 2 (idempotency record hashes)"
    );
    Ok(())
}

/// The hash of a `requests` row read as (request_id, fingerprint, result,
/// first_seq, last_seq, recorded_at_ms, event hash at last_seq). `None` if
/// a column does not have the type the log writes or the event is missing.
pub(crate) fn record_hash(row: &rusqlite::Row<'_>) -> Option<chain::Hash> {
    let request_id: String = row.get(0).ok()?;
    let fingerprint: String = row.get(1).ok()?;
    let result: String = row.get(2).ok()?;
    let first_seq = u64::try_from(row.get::<_, i64>(3).ok()?).ok()?;
    let last_seq = u64::try_from(row.get::<_, i64>(4).ok()?).ok()?;
    let recorded_at_ms: i64 = row.get(5).ok()?;
    let event_hash = if last_seq == 0 {
        [0; 32]
    } else {
        chain::parse_hex(&row.get::<_, Option<String>>(6).ok()??)?
    };
    Some(chain::request_link(
        &event_hash,
        &chain::RequestInput {
            request_id: &request_id,
            fingerprint: &fingerprint,
            result: &result,
            first_seq,
            last_seq,
            recorded_at_ms,
        },
    ))
}

/// Open a connection for reads only. `read_write` is needed by readers of a
/// live WAL database (they take locks in the `-shm` file); `query_only`
/// makes sure this connection can still never change anything.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
}

/// Open a file strictly read-only (for offline verification). Refuses a
/// missing file instead of creating an empty database, and refuses a schema
/// it does not know.
pub(crate) fn open_read_only(path: &Path) -> Result<Connection, Error> {
    std::fs::metadata(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if !(OLDEST_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&found) {
        return Err(Error::UnsupportedSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(conn)
}
