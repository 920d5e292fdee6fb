//! An in-memory index of the request ids the log holds, so the common case
//! of idempotency – a request id never seen before – costs a hash lookup
//! instead of a SQLite query.
//!
//! The index is a superset of the recorded ids: the writer adds an id when it
//! inserts its `requests` row (before the commit, so before anyone is
//! answered), and a rolled-back batch only leaves ids that are not recorded
//! after all. So "absent" is authoritative and "present" only means "look it
//! up in the database", which stays the one source of truth. Ids are kept as
//! 64-bit hashes (8 bytes each, whatever the id's length); a collision costs
//! one database lookup, never a wrong answer.
//!
//! The writer thread fills the index from the `requests` table before it
//! takes its first append; until then every id counts as possibly present.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rusqlite::Connection;

use crate::error::Error;

#[derive(Default)]
pub(crate) struct RequestIds {
    loaded: AtomicBool,
    hashes: Mutex<HashSet<u64>>,
}

/// `DefaultHasher::default()` has fixed keys: the same id always gives the
/// same key within a process, which is all the index needs.
fn key(request_id: &str) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(request_id)
}

impl RequestIds {
    /// `false` only if `request_id` was certainly never recorded (nor is
    /// being committed right now).
    pub(crate) fn may_contain(&self, request_id: &str) -> bool {
        if !self.loaded.load(Ordering::Acquire) {
            return true;
        }
        self.lock().contains(&key(request_id))
    }

    pub(crate) fn insert(&self, request_id: &str) {
        self.lock().insert(key(request_id));
    }

    /// (Re)build the index from the database; until this returns, every id
    /// counts as possibly present.
    pub(crate) fn load(&self, conn: &Connection) -> Result<(), Error> {
        self.loaded.store(false, Ordering::Release);
        let mut hashes = HashSet::new();
        let mut stmt = conn.prepare("SELECT request_id FROM requests")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            // A non-text id (a damaged row) cannot match any request: the
            // database lookup that verification does still reports it.
            if let Ok(id) = row.get_ref(0)?.as_str() {
                hashes.insert(key(id));
            }
        }
        *self.lock() = hashes;
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.hashes.lock().unwrap_or_else(|p| p.into_inner())
    }
}
