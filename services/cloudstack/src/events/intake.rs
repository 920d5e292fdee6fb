//! The intake: every CloudStack event, from `cloudstack.events.>`, into
//! the adapter's log once.
//!
//! One event at a time, in arrival order: identify it, append it (the
//! log's request id is the event id, so the log's idempotency is the
//! persistent seen-set: a duplicate appends nothing, after a restart too),
//! publish the recorded event on `vpcroute.events.cloudstack.
//! event_received`, then answer the source if it asked. The log keeps 8
//! bytes per recorded id in memory (`vpcroute_eventlog`'s id index) and
//! the ids themselves on disk.

use std::sync::Arc;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use vpcroute_bus::{encode_reply, subjects};
use vpcroute_eventlog::{AppendOutcome, AppendRequest, Committed, EventLog, ExpectedVersion};
use vpcroute_protocol::cloudstack::{CloudStackEvent, EventIdSource, EventTaken};
use vpcroute_protocol::{ErrorBody, ErrorCode};
use vpcroute_service::commit::Publisher;
use vpcroute_service::LogEvent;

use super::BoxError;

const SOURCE: &str = "cloudstack";
/// Every received event goes to one stream: nothing is decided on
/// per-resource versions here.
const STREAM: &str = "cloudstack/events";
/// Request ids of the log are `event:<event id>`.
const ID_PREFIX: &str = "event:";

/// Subscribes now (so nothing sent after this returns is missed) and
/// returns the intake's loop.
pub async fn start(
    client: async_nats::Client,
    log: Arc<EventLog>,
) -> Result<impl std::future::Future<Output = Result<(), BoxError>>, BoxError> {
    let mut sub = client
        .subscribe(subjects::cloudstack::all_cs_events())
        .await?;
    // subscribe() returns once the SUB is queued, before NATS has it (or
    // before the connection is even up). A message to ourselves sent after
    // it comes back only once the server processed what came before on
    // this connection: then events sent to the intake reach it. Seen as
    // lost events right after a restart in cloudstack_events_e2e.
    let probe_subject = client.new_inbox();
    let mut probe = client.subscribe(probe_subject.clone()).await?;
    client.publish(probe_subject, bytes::Bytes::new()).await?;
    probe.next().await.ok_or("the NATS connection closed")?;
    drop(probe);
    let publisher = Publisher::of::<CloudStackEvent>(SOURCE, subjects::cloudstack::EVENTS_PREFIX);
    tracing::info!(subject = %subjects::cloudstack::all_cs_events(), "intake listening");
    Ok(async move {
        while let Some(msg) = sub.next().await {
            take(&client, &log, &publisher, msg).await?;
        }
        Err("the intake's NATS subscription ended".into())
    })
}

/// The identity of an event and where it came from.
fn identify(msg: &async_nats::Message, body: &str) -> (String, EventIdSource) {
    let header = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(subjects::cloudstack::EVENT_ID_HEADER))
        .map(|v| v.as_str().trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128);
    match header {
        Some(id) => (id, EventIdSource::Header),
        None => (digest(&msg.subject, body), EventIdSource::BodyDigest),
    }
}

fn digest(subject: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(subject.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Takes one message in. Returns an error only when the log failed: then
/// the process stops (what is durable is what a restart finds).
async fn take(
    client: &async_nats::Client,
    log: &EventLog,
    publisher: &Publisher,
    msg: async_nats::Message,
) -> Result<(), BoxError> {
    let subject = msg.subject.to_string();
    let body = match std::str::from_utf8(&msg.payload) {
        Ok(b) if serde_json::from_str::<serde_json::Value>(b).is_ok() => b,
        _ => {
            tracing::warn!(%subject, bytes = msg.payload.len(), "event refused: not JSON text");
            let refusal = ErrorBody::new(ErrorCode::InvalidRequest, "a CloudStack event is JSON");
            answer(client, &msg, Err(refusal)).await;
            return Ok(());
        }
    };
    let (event_id, id_source) = identify(&msg, body);
    let event = CloudStackEvent::EventReceived {
        subject: subject.clone(),
        event_id: event_id.clone(),
        id_source,
        body: body.to_string(),
    };
    let request = AppendRequest {
        request_id: format!("{ID_PREFIX}{event_id}"),
        fingerprint: digest(&subject, body),
        stream: STREAM.into(),
        expected: ExpectedVersion::Any,
        events: vec![event.to_new_event()],
        result: serde_json::Value::Null,
    };
    let (tx, rx) = oneshot::channel();
    log.submit_committed(request, Box::new(move |r| drop(tx.send(r))));
    let committed = rx.await.map_err(|_| "the event log's writer is gone")?;
    let taken = match committed {
        Ok(Committed {
            outcome: AppendOutcome::Appended { first_seq, .. },
            events,
        }) => {
            for stored in events {
                let ev = publisher.bus_event(stored);
                let to = subjects::event_subject(publisher.events_prefix, &ev.event_type);
                let bytes = serde_json::to_vec(&ev).expect("bus events serialise");
                client.publish(to, bytes.into()).await?;
            }
            EventTaken {
                event_id,
                seq: Some(first_seq),
                duplicate: false,
            }
        }
        Ok(Committed {
            outcome: AppendOutcome::Duplicate { .. },
            ..
        }) => EventTaken {
            event_id,
            seq: None,
            duplicate: true,
        },
        // The same id with another body: CloudStack reuses no event UUID,
        // so one of the two is not CloudStack's. The first stays.
        Err(vpcroute_eventlog::Error::RequestIdConflict { .. }) => {
            tracing::warn!(%subject, %event_id, "event id seen before with another body: dropped");
            EventTaken {
                event_id,
                seq: None,
                duplicate: true,
            }
        }
        Err(e) => return Err(format!("cannot record a CloudStack event: {e}").into()),
    };
    tracing::info!(
        %subject,
        event_id = %taken.event_id,
        id_source = ?id_source,
        seq = ?taken.seq,
        duplicate = taken.duplicate,
        "cloudstack event received"
    );
    answer(client, &msg, Ok(taken)).await;
    Ok(())
}

/// Answers a source that asked (a request); a plain publish gets nothing.
async fn answer(
    client: &async_nats::Client,
    msg: &async_nats::Message,
    reply: Result<EventTaken, ErrorBody>,
) {
    if let Some(to) = msg.reply.clone() {
        if let Err(e) = client.publish(to, encode_reply(&reply)).await {
            tracing::warn!("could not answer an event's source: {e}");
        }
    }
}
