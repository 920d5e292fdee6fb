//! The AMQP consumer: CloudStack's RabbitMQ event bus.
//!
//! What CloudStack does (`RabbitMQEventBus`): it declares its exchange as
//! a durable topic exchange, publishes every event there with persistent
//! delivery and the routing key `source.category.type.resourceType.
//! resourceUUID`, and creates no queue for anyone else. So the adapter
//! declares its own durable queue, `vpcroute-cloudstack`, bound with `#`:
//! while the adapter is down, events wait in it (RabbitMQ keeps persistent
//! messages of a durable queue across its own restarts too).
//!
//! Acknowledgements are manual and sent only once the intake answered that
//! the event is durable in the adapter's log; an event the intake could
//! not take is returned to the queue and comes again. One that can never
//! be taken (a routing key not of CloudStack's shape, a body that is not
//! JSON) is rejected without requeue, and logged.
//!
//! The AMQP password never reaches a log line or an error: the URL is
//! parsed here once, and only its redacted form is ever printed (lapin's
//! `AMQPUri` has a `Debug` with the password: never print it).

use std::str::FromStr;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use vpcroute_bus::subjects::cloudstack as cs;

use super::{deliver, BoxError, DeliverError};
use crate::secret::Secret;

/// The adapter's own durable queue on CloudStack's exchange.
pub const QUEUE: &str = "vpcroute-cloudstack";
/// Events handed over at once (unacknowledged) per connection.
const PREFETCH: u16 = 64;
/// Wait before reconnecting, and before a message the intake could not
/// take comes again.
const RETRY: Duration = Duration::from_secs(1);

pub struct AmqpConfig {
    uri: AMQPUri,
    /// The URL without its password, for messages.
    shown: String,
    exchange: String,
}

impl AmqpConfig {
    /// Parses the URL; `password` (from --amqp-password-file) replaces one
    /// in the URL. No error names the URL as given.
    pub fn new(url: &str, exchange: &str, password: Option<Secret>) -> Result<Self, String> {
        let shown = vpcroute_bus::connect::redact_url(url);
        let mut uri = AMQPUri::from_str(url)
            .map_err(|_| format!("{shown} is not an amqp:// or amqps:// URL"))?;
        if let Some(pw) = password {
            uri.authority.userinfo.password = String::from_utf8(pw.expose().to_vec())
                .map_err(|_| "the AMQP password file is not UTF-8".to_string())?;
        }
        if exchange.is_empty() {
            return Err("--amqp-exchange is empty".into());
        }
        Ok(AmqpConfig {
            uri,
            shown,
            exchange: exchange.to_string(),
        })
    }
}

/// Consumes for the process's life, reconnecting after any failure.
pub async fn run(config: AmqpConfig, client: async_nats::Client) -> Result<(), BoxError> {
    loop {
        match consume(&config, &client).await {
            Ok(()) => tracing::warn!(url = %config.shown, "AMQP consumer stopped; reconnecting"),
            // lapin's errors name no credentials (the URI is not in them).
            Err(e) => tracing::warn!(url = %config.shown, "AMQP: {e}; reconnecting"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// One connection's life: declare, bind, consume until it breaks.
async fn consume(config: &AmqpConfig, client: &async_nats::Client) -> Result<(), BoxError> {
    let conn = Connection::connect_uri(config.uri.clone(), ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    // As CloudStack declares it (topic, durable), so either may come first.
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            config.exchange.as_str().into(),
            ExchangeKind::Topic,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            QUEUE.into(),
            config.exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            QUEUE.into(),
            "vpcroute-cloudstack".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(url = %config.shown, exchange = %config.exchange, queue = QUEUE, "AMQP consumer started");
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let routing_key = delivery.routing_key.to_string();
        let Some(subject) = cs::cs_event_from_routing_key(&routing_key) else {
            tracing::warn!(%routing_key, "AMQP message dropped: not a CloudStack routing key");
            delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await?;
            continue;
        };
        let body = bytes::Bytes::from(delivery.data);
        match deliver(client, subject, async_nats::HeaderMap::new(), body).await {
            Ok(_) => {
                delivery.acker.ack(BasicAckOptions::default()).await?;
            }
            Err(e @ DeliverError::Refused(_)) => {
                tracing::warn!(%routing_key, "AMQP message dropped: {e}");
                delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await?;
            }
            Err(e @ DeliverError::Unavailable(_)) => {
                // A moment for NATS or the intake before the event comes
                // again. Logged once returned (cloudstack_events_e2e waits
                // for the line).
                tokio::time::sleep(RETRY).await;
                let requeue = BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                };
                delivery.acker.nack(requeue).await?;
                tracing::warn!(%routing_key, "{e}; returned to the queue");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_errors_hide_the_password() {
        let err = AmqpConfig::new("amqp://u:s3cret@[bad", "x", None)
            .err()
            .unwrap();
        assert!(!err.contains("s3cret"), "{err}");
        let ok = AmqpConfig::new("amqp://u:s3cret@h:5672/%2f", "x", None).unwrap();
        assert!(!ok.shown.contains("s3cret"));
        assert_eq!(ok.uri.authority.userinfo.password, "s3cret");
    }
}
