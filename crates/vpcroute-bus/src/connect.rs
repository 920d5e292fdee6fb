//! Connecting to NATS: the options every vpcroute process shares.
//!
//! Secrets (a password, a credentials file's content) are never taken as a
//! command-line value, where `ps` would show them: the password comes from
//! an environment variable or a file, and nothing here logs it.

use std::path::PathBuf;
use std::time::Duration;

/// NATS connection options, flattened into every binary's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// NATS server URL (several may be given comma-separated).
    #[arg(
        long,
        env = "VPCROUTE_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,
    /// NATS user name.
    #[arg(long, env = "VPCROUTE_NATS_USER")]
    pub nats_user: Option<String>,
    /// File holding the NATS password (the variable VPCROUTE_NATS_PASSWORD
    /// also works).
    #[arg(long, env = "VPCROUTE_NATS_PASSWORD_FILE")]
    pub nats_password_file: Option<PathBuf>,
    /// NATS credentials file (JWT + NKey seed).
    #[arg(long, env = "VPCROUTE_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// CA certificate to verify the server's TLS certificate with.
    #[arg(long, env = "VPCROUTE_NATS_TLS_CA")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate and key for mutual TLS.
    #[arg(long, env = "VPCROUTE_NATS_TLS_CERT", requires = "nats_tls_key")]
    pub nats_tls_cert: Option<PathBuf>,
    #[arg(long, env = "VPCROUTE_NATS_TLS_KEY", requires = "nats_tls_cert")]
    pub nats_tls_key: Option<PathBuf>,
    /// Refuse to talk to the server without TLS.
    #[arg(long, env = "VPCROUTE_NATS_REQUIRE_TLS")]
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
            url: args.nats_url.clone(),
            message: e.to_string(),
        })?;
    opts.connect(servers)
        .await
        .map_err(|e| ConnectError::Connect {
            url: args.nats_url.clone(),
            message: e.to_string(),
        })
}
