//! The anchor: the log's head (seq and chain hash) kept in a small file
//! beside the database, `<log>.anchor`, so that cutting events off the end
//! of the chain is detected. The chain itself cannot see that: every
//! prefix of a valid chain is a valid chain.
//!
//! The writer replaces the anchor (temp file + rename, so it is never seen
//! half-written) after each group commit. It is written after the commit
//! is durable, so it never names an event the database may lose; it may
//! lag behind the database (a crash between commit and rename, a failed
//! write), and `verify` accepts a database whose head is at or beyond the
//! anchor, provided the event at the anchor's seq has the anchor's hash.
//!
//! No fsync of its own: a lost anchor update only makes the anchor lag,
//! which verifies, and an fsync per group commit would double the fsyncs
//! that bound the write rate. The rename replaces an existing file, and
//! ext4 (default `auto_da_alloc`) writes a file's data before such a
//! rename, so after a power cut the anchor is the old or the new one. On a
//! file system without that guarantee an anchor can come back empty; it is
//! then reported as unreadable, never silently ignored.
//!
//! What it does not stop: whoever can write both files can cut the log and
//! rewrite the anchor to match (or re-hash everything). A keyed chain
//! would not stop that either while the key sits beside the log, readable
//! by the same account.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::chain::{self, Hash};
use crate::error::Error;

/// What the anchor records: the head seq and its chain hash (zeros at 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub seq: u64,
    pub hash: Hash,
}

/// `<log>.anchor`.
pub(crate) fn path_of(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".anchor");
    PathBuf::from(s)
}

const MAGIC: &str = "vpcroute-eventlog anchor v1";

/// Replaces the anchor of `log` (write a temp file, rename it over).
pub(crate) fn write(log: &Path, anchor: &Anchor) -> std::io::Result<()> {
    let target = path_of(log);
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    writeln!(
        f,
        "{MAGIC}\nseq {}\nhash {}",
        anchor.seq,
        hex::encode(anchor.hash)
    )?;
    drop(f);
    std::fs::rename(&tmp, &target)
}

/// The anchor of `log`, `None` if there is no anchor file.
pub(crate) fn read(log: &Path) -> Result<Option<Anchor>, Error> {
    let path = path_of(log);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let unreadable = || Error::Corrupt {
        seq: 0,
        reason: format!("anchor {} is unreadable", path.display()),
    };
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err(unreadable());
    }
    let seq = lines
        .next()
        .and_then(|l| l.strip_prefix("seq "))
        .and_then(|s| s.parse().ok())
        .ok_or_else(unreadable)?;
    let hash = lines
        .next()
        .and_then(|l| l.strip_prefix("hash "))
        .and_then(chain::parse_hex)
        .ok_or_else(unreadable)?;
    Ok(Some(Anchor { seq, hash }))
}

/// Checks a verified chain (head `head`, `hash_at(seq)` the stored hash of
/// event `seq`) against the anchor read before the chain was walked.
pub(crate) fn check(
    log: &Path,
    anchor: Option<Anchor>,
    head: u64,
    hash_at: impl FnOnce(u64) -> Result<Option<Hash>, Error>,
) -> Result<(), Error> {
    let path = path_of(log);
    let Some(anchor) = anchor else {
        if head == 0 {
            return Ok(());
        }
        return Err(Error::Corrupt {
            seq: head,
            reason: format!(
                "anchor {} is missing: it records the head, so without it a cut-off \
                 tail cannot be ruled out",
                path.display()
            ),
        });
    };
    if head < anchor.seq {
        return Err(Error::Corrupt {
            seq: head + 1,
            reason: format!(
                "removed: the log ends at event {head} but its anchor {} records event {}: \
                 the tail {}..={} is missing",
                path.display(),
                anchor.seq,
                head + 1,
                anchor.seq
            ),
        });
    }
    let stored = if anchor.seq == 0 {
        Some([0; 32])
    } else {
        hash_at(anchor.seq)?
    };
    if stored != Some(anchor.hash) {
        return Err(Error::Corrupt {
            seq: anchor.seq,
            reason: format!(
                "changed: its hash differs from the one anchor {} records (history rewritten \
                 from there)",
                path.display()
            ),
        });
    }
    Ok(())
}
