//! nftables' own checker, `nft -c -f FILE`, as a check of rendered files.
//!
//! `-c` sends the whole batch to the kernel, which validates every rule
//! and then aborts the transaction, so nothing is applied. It needs
//! CAP_NET_ADMIN; each check runs in a network namespace of its own
//! (`unshare --net`), so a file that deletes `inet vpcroute` never touches
//! the machine's own tables, and the file's `delete table` finds the table
//! its first line created, exactly as on a VR that has none yet.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::skip_unless_ci;

pub struct NftCheck {
    nft: PathBuf,
}

impl NftCheck {
    /// `None` (after `skip_unless_ci`) without root or without nft.
    pub fn new() -> Option<NftCheck> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
            .map(PathBuf::from)
            .into_iter()
            .find(|p| p.is_file());
        match (root, nft) {
            (true, Some(nft)) => Some(NftCheck { nft }),
            (false, _) => {
                skip_unless_ci("root (nft -c needs CAP_NET_ADMIN in a namespace of its own)");
                None
            }
            (true, None) => {
                skip_unless_ci("nft (Debian package nftables)");
                None
            }
        }
    }

    /// Checks an nftables file; a file passes only with exit status 0 and
    /// nothing on stderr.
    pub fn check_file(&self, file: &Path) -> Result<(), String> {
        let out = Command::new("unshare")
            .arg("--net")
            .arg(&self.nft)
            .arg("-c")
            .arg("-f")
            .arg(file)
            .output()
            .expect("run unshare --net nft -c");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() && stderr.trim().is_empty() {
            Ok(())
        } else {
            Err(format!(
                "nft -c rejected {}: status {:?}\n{stderr}",
                file.display(),
                out.status.code()
            ))
        }
    }
}
