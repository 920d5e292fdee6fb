//! Secrets (API keys, the webhook secret, the AMQP password) come from
//! files that only their owner may read, and never leave the process in a
//! log line, an error or a child's environment (the adapter starts none).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A secret's bytes. `Debug` prints `***`, so a secret inside a logged
/// struct cannot leak; the bytes are reached only through `expose`.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Issue 15: "files holding them are 0600".
    #[error(
        "secret file {path} may be read by group or others (mode {mode:04o}): \
         chmod 600 it"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("secret file {path} is empty")]
    Empty { path: PathBuf },
}

/// Reads a secret file: refused if group or others have any access to
/// it, or if it is empty. One trailing newline is dropped (editors and
/// `echo` add one).
pub fn read_secret_file(path: &Path) -> Result<Secret, SecretError> {
    let read_err = |source| SecretError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mode = std::fs::metadata(path)
        .map_err(read_err)?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut bytes = std::fs::read(path).map_err(read_err)?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    if bytes.is_empty() {
        return Err(SecretError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Secret(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn only_owner_readable_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let ok = write(dir.path(), "ok", "s3cret\n", 0o600);
        assert_eq!(read_secret_file(&ok).unwrap().expose(), b"s3cret");
        let open = write(dir.path(), "open", "s3cret", 0o640);
        let err = read_secret_file(&open).unwrap_err().to_string();
        assert!(
            err.contains("chmod 600") && !err.contains("s3cret"),
            "{err}"
        );
        let empty = write(dir.path(), "empty", "\n", 0o600);
        assert!(matches!(
            read_secret_file(&empty),
            Err(SecretError::Empty { .. })
        ));
        assert_eq!(format!("{:?}", read_secret_file(&ok).unwrap()), "***");
    }
}
