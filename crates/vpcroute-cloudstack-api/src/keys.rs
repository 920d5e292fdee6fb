//! API and secret keys, read from files that only their owner can read.

use std::fmt;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// The CloudStack secret key. Its Debug and Display never show it, so a
/// struct holding it can be logged or put in an error safely.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }
    /// Only for the HMAC.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// An API key pair. The API key identifies the user (CloudStack logs it
/// itself); the secret key is redacted.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub api_key: String,
    pub secret_key: SecretKey,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("key file {path} has mode {mode:04o}; it must not be readable or writable by group or others (chmod 600)")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("key file {path} is empty")]
    Empty { path: PathBuf },
    #[error("key file {path} holds more than one line or a non-printable character")]
    Malformed { path: PathBuf },
}

/// Reads one key from `path`: a regular file with no group or other
/// permission bits (the 0600 rule the issue sets for every secret file),
/// holding one line; a trailing newline (`\n` or `\r\n`) is dropped.
/// The error never quotes the file's content.
pub fn read_key_file(path: &Path) -> Result<String, KeyFileError> {
    let read_err = |source| KeyFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let content = std::fs::read_to_string(path).map_err(read_err)?;
    let key = content
        .strip_suffix('\n')
        .map(|k| k.strip_suffix('\r').unwrap_or(k))
        .unwrap_or(&content);
    if key.is_empty() {
        return Err(KeyFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    if key.chars().any(|c| c.is_control()) {
        return Err(KeyFileError::Malformed {
            path: path.to_path_buf(),
        });
    }
    Ok(key.to_string())
}

impl Credentials {
    pub fn new(api_key: String, secret_key: SecretKey) -> Self {
        Self {
            api_key,
            secret_key,
        }
    }

    /// `--api-key-file` and `--secret-key-file`: both held to the 0600 rule.
    pub fn from_files(api_key_file: &Path, secret_key_file: &Path) -> Result<Self, KeyFileError> {
        Ok(Self::new(
            read_key_file(api_key_file)?,
            SecretKey::new(read_key_file(secret_key_file)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file(dir: &Path, name: &str, content: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn owner_only_file_is_read_and_its_trailing_newline_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let api = key_file(dir.path(), "api", "AK-1\n", 0o600);
        let secret = key_file(dir.path(), "secret", "s3cr3t-value\r\n", 0o400);
        let creds = Credentials::from_files(&api, &secret).unwrap();
        assert_eq!(creds.api_key, "AK-1");
        assert_eq!(creds.secret_key.expose(), "s3cr3t-value");
        let debug = format!("{creds:?}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn group_or_other_bits_are_refused_without_quoting_the_key() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o640, 0o604, 0o644, 0o660, 0o610] {
            let path = key_file(dir.path(), "secret", "s3cr3t-value\n", mode);
            let err = read_key_file(&path).unwrap_err();
            assert!(
                matches!(err, KeyFileError::TooOpen { mode: m, .. } if m == mode),
                "{mode:o}: {err:?}"
            );
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    fn empty_multi_line_and_missing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = key_file(dir.path(), "empty", "\n", 0o600);
        assert!(matches!(
            read_key_file(&empty),
            Err(KeyFileError::Empty { .. })
        ));
        let two = key_file(dir.path(), "two", "a\nb\n", 0o600);
        assert!(matches!(
            read_key_file(&two),
            Err(KeyFileError::Malformed { .. })
        ));
        let missing = dir.path().join("missing");
        assert!(matches!(
            read_key_file(&missing),
            Err(KeyFileError::Read { .. })
        ));
        assert!(matches!(
            read_key_file(dir.path()),
            Err(KeyFileError::NotAFile { .. })
        ));
    }
}
