//! The webhook receiver: CloudStack's `createWebhook` deliveries.
//!
//! What CloudStack sends (4.20, `WebhookDeliveryThread`): a POST of the
//! event's JSON, unchanged, with `X-CS-Event` (the event type, `VPC.CREATE`),
//! `X-CS-Event-ID` (the event's UUID), `X-CS-Signature` =
//! base64(HMAC-SHA256(secret, body)) when the webhook has a secret key, and
//! `User-Agent: CS-Hookshot/<account uuid>`. Only HTTP 200 counts as
//! delivered; anything else is tried again (3 tries).
//!
//! Webhooks carry ActionEvents only, and no routing key, so the subject is
//! made from the body as CloudStack's RabbitMQ bus makes the key from the
//! same event (`ActionEventUtils.publishOnEventBus` puts the event's type in
//! `event`, its resource type in `entity` and its UUID in `entityuuid`):
//! `cloudstack.events.ActionEvent.<event>.<entity>.<entityuuid>`, each part
//! with `.` → `-` and a missing one `*`.
//!
//! A request whose signature is missing or wrong gets 401 and goes no
//! further. 200 is answered only once the intake has the event durable.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use vpcroute_bus::subjects::cloudstack as cs;

use super::{deliver, BoxError, DeliverError};
use crate::secret::Secret;

pub struct WebhookConfig {
    pub listen: SocketAddr,
    pub secret: Secret,
}

struct Receiver {
    secret: Secret,
    client: async_nats::Client,
}

/// Largest body taken (CloudStack's events are a few hundred bytes).
const MAX_BODY: usize = 1 << 20;

/// Binds the listener now (a port in use fails the start) and returns the
/// server's loop.
pub async fn bind(
    config: WebhookConfig,
    client: async_nats::Client,
) -> Result<impl std::future::Future<Output = Result<(), BoxError>>, BoxError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("--webhook-listen {}: {e}", config.listen))?;
    let local = listener.local_addr()?;
    let state = Arc::new(Receiver {
        secret: config.secret,
        client,
    });
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    tracing::info!(listen = %local, "webhook receiver listening");
    Ok(async move {
        axum::serve(listener, app).await?;
        Err("the webhook server ended".into())
    })
}

async fn receive(
    State(rx): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    if !signature_ok(rx.secret.expose(), &headers, &body) {
        tracing::warn!(
            event_id = header(&headers, cs::EVENT_ID_HEADER).unwrap_or("-"),
            "webhook refused: missing or wrong X-CS-Signature"
        );
        return (StatusCode::UNAUTHORIZED, "bad signature\n");
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON\n");
    };
    let subject = subject_of(&event);
    let mut nats_headers = async_nats::HeaderMap::new();
    if let Some(id) = header(&headers, cs::EVENT_ID_HEADER) {
        nats_headers.insert(cs::EVENT_ID_HEADER, id);
    }
    match deliver(&rx.client, subject, nats_headers, body).await {
        Ok(_) => (StatusCode::OK, "ok\n"),
        Err(e @ DeliverError::Refused(_)) => {
            tracing::warn!("webhook event refused: {e}");
            (StatusCode::BAD_REQUEST, "event refused\n")
        }
        Err(e @ DeliverError::Unavailable(_)) => {
            tracing::warn!("webhook event not taken in: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "not taken in, try again\n")
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether `X-CS-Signature` is base64(HMAC-SHA256(secret, body)); the
/// comparison takes the same time wherever the bytes differ
/// (`Mac::verify_slice`).
fn signature_ok(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(given) = header(headers, "X-CS-Signature") else {
        return false;
    };
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The subject of a webhook's event (see the module docs).
fn subject_of(event: &serde_json::Value) -> String {
    let part = |key: &str| event.get(key).and_then(|v| v.as_str());
    cs::cs_event(
        Some("ActionEvent"),
        part("event"),
        part("entity"),
        part("entityuuid"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_from_the_body() {
        let ev = serde_json::json!({
            "event": "VPC.CREATE", "status": "Completed", "entity": "Vpc",
            "entityuuid": "3f2a-77", "account": "a"
        });
        assert_eq!(
            subject_of(&ev),
            "cloudstack.events.ActionEvent.VPC-CREATE.Vpc.3f2a-77"
        );
        let ev = serde_json::json!({"event": "USER.LOGIN", "status": "Completed"});
        assert_eq!(
            subject_of(&ev),
            "cloudstack.events.ActionEvent.USER-LOGIN.*.*"
        );
    }

    #[test]
    fn signature_checked() {
        // base64(HMAC-SHA256("key", "The quick brown fox jumps over the
        // lazy dog")), RFC 4231-style vector published on Wikipedia's HMAC
        // page: f7bc83f4...d8 in hex.
        let sig = "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=";
        let body = b"The quick brown fox jumps over the lazy dog";
        let mut h = HeaderMap::new();
        h.insert("X-CS-Signature", sig.parse().unwrap());
        assert!(signature_ok(b"key", &h, body));
        assert!(!signature_ok(b"other", &h, body));
        assert!(!signature_ok(b"key", &h, b"the quick brown fox"));
        assert!(!signature_ok(b"key", &HeaderMap::new(), body));
    }
}
