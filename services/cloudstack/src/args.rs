//! The command line, exactly as issue 15 writes it, and its checks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use vpcroute_service::ServiceArgs;

use crate::events::amqp::AmqpConfig;
use crate::events::webhook::WebhookConfig;
use crate::secret::{read_secret_file, Secret, SecretError};

const ABOUT: &str = "vpcroute's CloudStack adapter: CloudStack's events onto NATS";

const LONG_ABOUT: &str = "\
vpcroute's CloudStack adapter: CloudStack's events onto NATS.

Events come in from a webhook (--webhook-listen), CloudStack's RabbitMQ \
exchange (--amqp-url, --amqp-exchange) or a site publishing CloudStack's \
JSON on cloudstack.events.<category>.<type>.<resourceType>.<uuid> itself; \
each is recorded once (duplicates dropped by event id) in --data-dir.

NOT BUILT YET: the CloudStack API client and the reconciler (adopting VPCs, \
tiers, VMs, ACLs and VRs into ipam). --api-url, --api-key-file, \
--secret-key-file, --zone, --vpc-offering and --reconcile-interval are \
parsed and checked (key files must be mode 0600) but nothing acts on them yet.";

#[derive(Debug, Parser)]
#[command(name = "vpcroute-cloudstack", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,
    /// CloudStack API endpoint, e.g. http://HOST:8080/client/api
    /// (reconciler: not built yet).
    #[arg(long, env = "VPCROUTE_CS_API_URL")]
    pub api_url: String,
    /// File holding the API key (mode 0600) (reconciler: not built yet).
    #[arg(long, env = "VPCROUTE_CS_API_KEY_FILE")]
    pub api_key_file: PathBuf,
    /// File holding the API secret key (mode 0600) (reconciler: not built yet).
    #[arg(long, env = "VPCROUTE_CS_SECRET_KEY_FILE")]
    pub secret_key_file: PathBuf,
    /// CLOUDSTACK_ZONE_UUID=VPCROUTE_ZONE, repeatable (reconciler: not built yet).
    #[arg(long = "zone", value_name = "CLOUDSTACK_ZONE_UUID=VPCROUTE_ZONE", value_parser = parse_zone_map, required = true)]
    pub zones: Vec<ZoneMap>,
    /// Manage only VPCs of these offerings, by name or UUID; repeatable
    /// (default: every VPC of the mapped zones) (reconciler: not built yet).
    #[arg(long = "vpc-offering", value_name = "NAME_OR_UUID")]
    pub vpc_offerings: Vec<String>,
    /// Receive CloudStack webhooks (createWebhook) on ADDR:PORT.
    #[arg(long, value_name = "ADDR:PORT", requires = "webhook_secret_file")]
    pub webhook_listen: Option<SocketAddr>,
    /// File holding the webhook's secret key (mode 0600): every POST must
    /// carry X-CS-Signature = base64(HMAC-SHA256(secret, body)).
    #[arg(long, value_name = "F", requires = "webhook_listen")]
    pub webhook_secret_file: Option<PathBuf>,
    /// RabbitMQ URL, amqp://USER@HOST:5672/%2f; the password from
    /// --amqp-password-file, or in the URL (then pass the URL in
    /// VPCROUTE_AMQP_URL, not on the command line, where ps shows it).
    #[arg(
        long,
        env = "VPCROUTE_AMQP_URL",
        hide_env_values = true,
        value_name = "URL",
        requires = "amqp_exchange"
    )]
    pub amqp_url: Option<String>,
    /// CloudStack's event exchange (the `exchange` of its RabbitMQEventBus bean).
    #[arg(long, value_name = "NAME", requires = "amqp_url")]
    pub amqp_exchange: Option<String>,
    /// File holding the AMQP password (mode 0600), for a URL without one.
    #[arg(long, value_name = "F", requires = "amqp_url")]
    pub amqp_password_file: Option<PathBuf>,
    /// How often a full reconcile runs (reconciler: not built yet).
    #[arg(long, default_value = "5m", value_parser = vpcroute_bus::parse_duration)]
    pub reconcile_interval: Duration,
}

/// One `--zone`: a CloudStack zone and the vpcroute zone it feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneMap {
    pub cloudstack_zone: String,
    pub vpcroute_zone: String,
}

fn parse_zone_map(text: &str) -> Result<ZoneMap, String> {
    match text.split_once('=') {
        Some((cs, vr)) if !cs.is_empty() && !vr.is_empty() && !vr.contains('=') => Ok(ZoneMap {
            cloudstack_zone: cs.to_string(),
            vpcroute_zone: vr.to_string(),
        }),
        _ => Err(format!(
            "{text:?} is not CLOUDSTACK_ZONE_UUID=VPCROUTE_ZONE"
        )),
    }
}

/// What the checks produced: the sources to start, secrets read.
pub struct Checked {
    pub zones: Vec<ZoneMap>,
    pub webhook: Option<WebhookConfig>,
    pub amqp: Option<AmqpConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("--amqp-url: {0}")]
    AmqpUrl(String),
}

impl Args {
    /// Reads and checks every secret file (even those of features not
    /// built yet: a key readable by others is refused now, not later).
    pub fn check(&self) -> Result<Checked, ArgsError> {
        let _api_key: Secret = read_secret_file(&self.api_key_file)?;
        let _secret_key: Secret = read_secret_file(&self.secret_key_file)?;
        let webhook = match (&self.webhook_listen, &self.webhook_secret_file) {
            (Some(listen), Some(file)) => Some(WebhookConfig {
                listen: *listen,
                secret: read_secret_file(file)?,
            }),
            _ => None,
        };
        let amqp = match (&self.amqp_url, &self.amqp_exchange) {
            (Some(url), Some(exchange)) => {
                let password = match &self.amqp_password_file {
                    Some(f) => Some(read_secret_file(f)?),
                    None => None,
                };
                Some(AmqpConfig::new(url, exchange, password).map_err(ArgsError::AmqpUrl)?)
            }
            _ => None,
        };
        Ok(Checked {
            zones: self.zones.clone(),
            webhook,
            amqp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_maps() {
        assert_eq!(
            parse_zone_map("3f2a-1=east").unwrap(),
            ZoneMap {
                cloudstack_zone: "3f2a-1".into(),
                vpcroute_zone: "east".into()
            }
        );
        for bad in ["east", "=east", "3f2a=", "a=b=c"] {
            assert!(parse_zone_map(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_issue_command_line_parses() {
        let args = Args::try_parse_from([
            "vpcroute-cloudstack",
            "--nats-url",
            "nats://127.0.0.1:4222",
            "--data-dir",
            "/tmp/x",
            "--api-url",
            "http://cs:8080/client/api",
            "--api-key-file",
            "/k",
            "--secret-key-file",
            "/s",
            "--zone",
            "z1=east",
            "--zone",
            "z2=west",
            "--vpc-offering",
            "routed",
            "--webhook-listen",
            "127.0.0.1:8443",
            "--webhook-secret-file",
            "/w",
            "--amqp-url",
            "amqp://u@h:5672/%2f",
            "--amqp-exchange",
            "cloudstack-events",
            "--reconcile-interval",
            "5m",
        ])
        .unwrap();
        assert_eq!(args.zones.len(), 2);
        assert_eq!(args.reconcile_interval, Duration::from_secs(300));
        // A webhook without its secret is refused by clap.
        assert!(Args::try_parse_from([
            "vpcroute-cloudstack",
            "--api-url",
            "u",
            "--api-key-file",
            "/k",
            "--secret-key-file",
            "/s",
            "--zone",
            "a=b",
            "--webhook-listen",
            "127.0.0.1:1"
        ])
        .is_err());
    }
}
