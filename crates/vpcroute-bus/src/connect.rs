//! Connecting to NATS: the options every vpcroute process shares.
//!
//! Secrets (a password, a credentials file's content) are never taken as a
//! command-line value, where `ps` would show them: the password comes from
//! an environment variable or a file, and nothing here logs it.

use std::path::PathBuf;
use std::time::Duration;

/// NATS connection options, flattened into every binary's command line.
/// Global, so vpcctl takes them after its subcommand too, as `--json`
/// (a binary without subcommands is unaffected).
#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// NATS server URL (several may be given comma-separated).
    #[arg(
        long,
        global = true,
        env = "VPCROUTE_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
    /// NATS user name.
    #[arg(long, global = true, env = "VPCROUTE_NATS_USER")]
    pub nats_user: Option<String>,
    /// File holding the NATS password (the variable VPCROUTE_NATS_PASSWORD
    /// also works).
    #[arg(long, global = true, env = "VPCROUTE_NATS_PASSWORD_FILE")]
    pub nats_password_file: Option<PathBuf>,
    /// NATS credentials file (JWT + NKey seed).
    #[arg(long, global = true, env = "VPCROUTE_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// CA certificate to verify the server's TLS certificate with.
    #[arg(long, global = true, env = "VPCROUTE_NATS_TLS_CA")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate and key for mutual TLS.
    #[arg(
        long,
        global = true,
        env = "VPCROUTE_NATS_TLS_CERT",
        requires = "nats_tls_key"
    )]
    pub nats_tls_cert: Option<PathBuf>,
    #[arg(
        long,
        global = true,
        env = "VPCROUTE_NATS_TLS_KEY",
        requires = "nats_tls_cert"
    )]
    pub nats_tls_key: Option<PathBuf>,
    /// Refuse to talk to the server without TLS.
    #[arg(long, global = true, env = "VPCROUTE_NATS_REQUIRE_TLS")]
    pub nats_require_tls: bool,
}

impl NatsArgs {
    /// Options pointing at `url` with no authentication (tests, tools).
    pub fn plain(url: impl Into<String>) -> Self {
        NatsArgs {
            nats_url: url.into(),
            nats_user: None,
            nats_password_file: None,
            nats_creds: None,
            nats_tls_ca: None,
            nats_tls_cert: None,
            nats_tls_key: None,
            nats_require_tls: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read NATS password file {path}: {source}")]
    PasswordFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a NATS user needs a password (VPCROUTE_NATS_PASSWORD or --nats-password-file)")]
    MissingPassword,
    #[error("cannot read NATS credentials file {path}: {source}")]
    Credentials {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A password in the URL would end up in error messages and in
    /// async-nats's debug log; credentials have their own options.
    #[error(
        "credentials in the NATS URL are not accepted ({url}): use --nats-user with \
         --nats-password-file or VPCROUTE_NATS_PASSWORD, or --nats-creds"
    )]
    CredentialsInUrl { url: String },
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect { url: String, message: String },
}

/// How a process waits for NATS when it is down.
#[derive(Debug, Clone, Copy)]
pub enum Startup {
    /// Services: return at once and keep connecting in the background, so a
    /// service started before NATS comes up on its own once NATS does.
    RetryForever,
    /// Command-line tools: fail after one attempt with a clear error.
    FailFast,
}

/// Connects with reconnection enabled for the process's whole life.
/// `name` is the client name the server shows (`vpcroute-ipam`, `vpcctl`).
pub async fn connect(
    args: &NatsArgs,
    name: &str,
    startup: Startup,
) -> Result<async_nats::Client, ConnectError> {
    // Before anything else, so that no option's error can quote the URL.
    if args.nats_url.contains('@') {
        return Err(ConnectError::CredentialsInUrl {
            url: redact_url(&args.nats_url),
        });
    }
    let mut opts = async_nats::ConnectOptions::new()
        .name(name)
        // Unbounded reconnects: a control plane outlives NATS restarts.
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(10)))
        .event_callback(|event| async move {
            tracing::info!(%event, "nats connection event");
        });
    if let Some(user) = &args.nats_user {
        let password = match &args.nats_password_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|source| ConnectError::PasswordFile {
                    path: path.clone(),
                    source,
                })?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            None => std::env::var("VPCROUTE_NATS_PASSWORD")
                .map_err(|_| ConnectError::MissingPassword)?,
        };
        opts = opts.user_and_password(user.clone(), password);
        // Replies come back on inbox subjects. With a per-user prefix the
        // server can allow each user only its own inboxes, so no user can
        // read replies meant for another (some hold OSPF keys).
        opts = opts.custom_inbox_prefix(format!("_INBOX_{user}"));
    }
    if let Some(path) = &args.nats_creds {
        opts = opts
            .credentials_file(path)
            .await
            .map_err(|source| ConnectError::Credentials {
                path: path.clone(),
                source,
            })?;
    }
    if let Some(ca) = &args.nats_tls_ca {
        opts = opts.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&args.nats_tls_cert, &args.nats_tls_key) {
        opts = opts.add_client_certificate(cert.clone(), key.clone());
    }
    if args.nats_require_tls {
        opts = opts.require_tls(true);
    }
    if let Startup::RetryForever = startup {
        opts = opts.retry_on_initial_connect();
    }
    let servers: Vec<async_nats::ServerAddr> = args
        .nats_url
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|e: std::io::Error| ConnectError::Connect {
            url: redact_url(&args.nats_url),
            message: e.to_string(),
        })?;
    opts.connect(servers)
        .await
        .map_err(|e| ConnectError::Connect {
            url: redact_url(&args.nats_url),
            message: format!("{e}{}", connect_hint(e.kind())),
        })
}

/// What to check after a failed connection. A failed TLS handshake
/// reaches us as an I/O error with rustls's words ("received corrupt
/// message of type InvalidContentType" from a server that offers no TLS,
/// "UnknownIssuer", "BadCertificate"; seen in tests/nats_tls_e2e.rs), which
/// do not tell an operator which option is wrong.
fn connect_hint(kind: async_nats::ConnectErrorKind) -> &'static str {
    use async_nats::ConnectErrorKind as Kind;
    match kind {
        Kind::Tls | Kind::Io => {
            " (if TLS is involved: does the server offer TLS (needed by --nats-require-tls), \
             did --nats-tls-ca sign its certificate, and does it need a client certificate \
             (--nats-tls-cert/--nats-tls-key)?)"
        }
        Kind::Authentication | Kind::AuthorizationViolation => {
            " (check --nats-user with its password, or --nats-creds)"
        }
        _ => "",
    }
}

/// The URL with anything between `://` and the last `@` (user, password)
/// replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|u| match (u.find("://"), u.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme + 3 => {
                format!("{}***{}", &u[..scheme + 3], &u[at..])
            }
            (None, Some(at)) => format!("***{}", &u[at..]),
            _ => u.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_in_messages() {
        assert_eq!(
            redact_url("nats://u:s3cret@10.0.0.1:4222"),
            "nats://***@10.0.0.1:4222"
        );
        assert_eq!(
            redact_url("nats://h:1,tls://a:b@h:2"),
            "nats://h:1,tls://***@h:2"
        );
        assert_eq!(redact_url("u:p@h:4222"), "***@h:4222");
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }

    #[tokio::test]
    async fn a_url_with_credentials_is_refused_without_echoing_them() {
        let args = NatsArgs::plain("nats://user:Pa55w0rd@127.0.0.1:4222");
        let err = connect(&args, "t", Startup::FailFast)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not accepted") && !err.contains("Pa55w0rd"),
            "{err}"
        );
    }
}
