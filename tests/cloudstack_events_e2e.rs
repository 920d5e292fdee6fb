//! Issue 15, item 1 ("events in"): CloudStack's events reach NATS on
//! `cloudstack.events.<category>.<type>.<resourceType>.<uuid>`, body
//! unchanged, from a real RabbitMQ (what CloudStack's RabbitMQEventBus
//! does: durable topic exchange, persistent delivery, its routing keys),
//! from webhooks (CloudStack's headers, the signature computed here with
//! openssl, not with the code under test) and from a direct publish; the
//! adapter records each event once.
//!
//! Absence is asserted only behind a marker: the adapter takes events one
//! at a time in arrival order, so the `event_received` of an event sent
//! later proves the earlier ones were handled.

use std::process::Command;
use std::time::Duration;

use async_nats::Subscriber;
use futures::StreamExt;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vpcroute_bus::subjects::cloudstack as cs;
use vpcroute_protocol::cloudstack::{CloudStackEvent, EventIdSource};
use vpcroute_protocol::BusEvent;
use vpcroute_tests::cloudstack::{self, secret_file, Adapter};
use vpcroute_tests::rabbitmq::{self, RabbitMq};
use vpcroute_tests::{nats_or_skip, SchemaSet};

const EXCHANGE: &str = "cloudstack-events";
const WAIT: Duration = Duration::from_secs(20);

/// An ActionEvent body as CloudStack writes it: Gson of a HashMap, compact,
/// keys in no sorted order (so a body re-encoded on the way, which would
/// sort or respace them, is caught byte for byte).
fn action_event(event: &str, entity: &str, uuid: &str, status: &str) -> String {
    format!(
        r#"{{"status":"{status}","event":"{event}","entityuuid":"{uuid}","entity":"{entity}","{entity}":"{uuid}","user":"1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f","account":"8a7f9e2c-1b3d-4e5f-a6b7-c8d9e0f1a2b3","eventDateTime":"2026-12-04 22:31:07 +0000","description":"{event} for {uuid}"}}"#
    )
}

/// Publishes as CloudStack does: the exchange declared durable topic,
/// persistent delivery; returns once the broker confirmed it.
async fn amqp_publish(url: &str, routing_key: &str, body: &str) {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("AMQP connect");
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.exchange_declare(
        EXCHANGE.into(),
        ExchangeKind::Topic,
        durable,
        FieldTable::default(),
    )
    .await
    .unwrap();
    let confirm = ch
        .basic_publish(
            EXCHANGE.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            BasicProperties::default()
                .with_content_type("text/plain".into())
                .with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack(), "broker did not confirm {routing_key}");
    conn.close(200, "done".into()).await.unwrap();
}

/// base64(HMAC-SHA256(secret, body)) by openssl, independently of the
/// adapter's code.
fn openssl_signature(secret: &str, body: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body");
    std::fs::write(&path, body).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg("openssl dgst -sha256 -hmac \"$KEY\" -binary \"$1\" | openssl base64 -A")
        .arg("sh")
        .arg(&path)
        .env("KEY", secret)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl failed: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// One HTTP/1.1 POST over a plain socket; the status code.
async fn post(addr: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect webhook");
    let mut req = format!(
        "POST /cloudstack HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {resp:?}"))
}

/// The next message on `sub`, or a failure naming `what`.
async fn next(sub: &mut Subscriber, what: &str) -> async_nats::Message {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("subscription open")
}

/// The next `event_received` the adapter published, checked against
/// its schema.
async fn next_received(sub: &mut Subscriber, schemas: &SchemaSet, what: &str) -> ReceivedEvent {
    let msg = next(sub, what).await;
    let value: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
    schemas.assert_valid_event(&msg.subject, &value);
    let ev: BusEvent = serde_json::from_value(value).unwrap();
    match serde_json::from_value(ev.payload).unwrap() {
        CloudStackEvent::EventReceived {
            subject,
            event_id,
            id_source,
            body,
        } => ReceivedEvent {
            subject,
            event_id,
            id_source,
            body,
        },
    }
}

#[derive(Debug, PartialEq)]
struct ReceivedEvent {
    subject: String,
    event_id: String,
    id_source: EventIdSource,
    body: String,
}

/// `127.0.0.1:PORT` with a port free a moment ago (for --webhook-listen).
fn free_local_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

async fn subscribe(nats: &async_nats::Client, subject: String) -> Subscriber {
    let sub = nats.subscribe(subject).await.unwrap();
    nats.flush().await.unwrap();
    sub
}

fn assert_no_secrets(stderr: &str) {
    for secret in [
        rabbitmq::PASSWORD,
        cloudstack::API_KEY,
        cloudstack::API_SECRET,
        cloudstack::WEBHOOK_SECRET,
    ] {
        assert!(
            !stderr.contains(secret),
            "a secret in the adapter's stderr:\n{stderr}"
        );
    }
}

/// From a real RabbitMQ to NATS: subjects from CloudStack's routing keys,
/// bodies unchanged; events published while the adapter is down wait in
/// its durable queue and arrive after it starts.
#[tokio::test]
async fn amqp_events_reach_nats_unchanged_and_wait_while_the_adapter_is_down() {
    let nats = nats_or_skip!();
    let Some(rabbit) = RabbitMq::start() else {
        return;
    };
    let schemas = SchemaSet::workspace();
    let dir = tempfile::tempdir().unwrap();
    let pw = secret_file(dir.path(), "amqp.pw", rabbitmq::PASSWORD, 0o600);
    let extra: Vec<String> = [
        "--amqp-url",
        &rabbit.url_without_password(),
        "--amqp-password-file",
        &pw.to_string_lossy(),
        "--amqp-exchange",
        EXCHANGE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut raw = subscribe(&client, cs::all_cs_events()).await;
    let mut received = subscribe(&client, format!("{}.>", cs::EVENTS_PREFIX)).await;
    let mut adapter = Adapter::start(Adapter::args(&nats.url(), dir.path(), &extra), dir.path());

    let vpc = "3f2a77c1-9d4e-4b1a-8c2f-5e6d7a8b9c0d";
    let body = action_event("VPC.CREATE", "Vpc", vpc, "Completed");
    amqp_publish(
        &rabbit.url(),
        &format!("management-server.ActionEvent.VPC-CREATE.Vpc.{vpc}"),
        &body,
    )
    .await;
    let msg = next(&mut raw, "the AMQP event on NATS").await;
    assert_eq!(
        msg.subject.as_str(),
        format!("cloudstack.events.ActionEvent.VPC-CREATE.Vpc.{vpc}")
    );
    assert_eq!(
        std::str::from_utf8(&msg.payload),
        Ok(body.as_str()),
        "body changed on the way"
    );
    schemas.assert_valid_event(&msg.subject, &serde_json::from_slice(&msg.payload).unwrap());
    let got = next_received(&mut received, &schemas, "the AMQP event recorded").await;
    assert_eq!(got.subject, msg.subject.as_str());
    assert_eq!(got.body, body);
    assert_eq!(got.id_source, EventIdSource::BodyDigest);

    // A routing key with CloudStack's `*` for missing parts.
    let login = r#"{"status":"Completed","event":"USER.LOGIN","description":"user has logged in","eventDateTime":"2026-12-04 22:31:08 +0000"}"#;
    amqp_publish(
        &rabbit.url(),
        "management-server.ActionEvent.USER-LOGIN.*.*",
        login,
    )
    .await;
    let msg = next(&mut raw, "an event with missing parts").await;
    assert_eq!(
        msg.subject.as_str(),
        "cloudstack.events.ActionEvent.USER-LOGIN.*.*"
    );
    assert_eq!(std::str::from_utf8(&msg.payload), Ok(login));
    next_received(&mut received, &schemas, "the USER.LOGIN event recorded").await;

    // Down: CloudStack goes on publishing; nothing is lost.
    adapter.kill9();
    let tier = "7b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
    let while_down = [
        (
            format!("management-server.ActionEvent.NETWORK-CREATE.Network.{tier}"),
            action_event("NETWORK.CREATE", "Network", tier, "Started"),
        ),
        (
            format!("management-server.ActionEvent.NETWORK-CREATE.Network.{tier}"),
            action_event("NETWORK.CREATE", "Network", tier, "Completed"),
        ),
    ];
    for (key, body) in &while_down {
        amqp_publish(&rabbit.url(), key, body).await;
    }
    adapter.restart();
    for (key, body) in &while_down {
        let got = next_received(&mut received, &schemas, "an event published while down").await;
        assert_eq!(got.subject, cs::cs_event_from_routing_key(key).unwrap());
        assert_eq!(&got.body, body);
    }

    // NATS down: the intake cannot take the event, so RabbitMQ must keep
    // it (nack, requeue). The adapter is killed before NATS returns: the
    // event can then only come from the queue.
    let mut nats = nats;
    nats.stop();
    let vm = "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b";
    let key = format!("management-server.ActionEvent.VM-CREATE.VirtualMachine.{vm}");
    let unacked = action_event("VM.CREATE", "VirtualMachine", vm, "Completed");
    amqp_publish(&rabbit.url(), &key, &unacked).await;
    adapter.wait_for_log("returned to the queue");
    adapter.kill9();
    nats.restart();
    client.flush().await.unwrap();
    adapter.restart();
    let got = next_received(&mut received, &schemas, "the event NATS was down for").await;
    assert_eq!(
        got.body, unacked,
        "an event the intake did not take was acknowledged"
    );

    let stderr = adapter.stderr();
    assert!(stderr.contains("cloudstack event received"), "{stderr}");
    assert_no_secrets(&stderr);
}

/// The same event twice is recorded once, by CloudStack's event UUID when
/// the message has one and by its bytes when not, also across a restart
/// (the seen-set is the log). Direct NATS publishes: the third source.
#[tokio::test]
async fn a_duplicate_event_is_dropped_once() {
    let nats = nats_or_skip!();
    let schemas = SchemaSet::workspace();
    let dir = tempfile::tempdir().unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut received = subscribe(&client, format!("{}.>", cs::EVENTS_PREFIX)).await;
    let mut adapter = Adapter::start(Adapter::args(&nats.url(), dir.path(), &[]), dir.path());

    let vm = "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a";
    let subject = format!("cloudstack.events.ActionEvent.VM-CREATE.VirtualMachine.{vm}");
    let body = action_event("VM.CREATE", "VirtualMachine", vm, "Completed");
    let with_id = |id: &str| {
        let mut h = async_nats::HeaderMap::new();
        h.insert(cs::EVENT_ID_HEADER, id);
        h
    };
    let publish = |id: Option<&str>, body: String| {
        let headers = id.map(with_id).unwrap_or_default();
        client.publish_with_headers(subject.clone(), headers, body.into())
    };
    // By UUID: the same id twice (a retried webhook, a site's re-send).
    publish(Some("e-0001"), body.clone()).await.unwrap();
    publish(Some("e-0001"), body.clone()).await.unwrap();
    // By bytes: AMQP carries no event UUID; a redelivery has the same bytes.
    let other = action_event("VM.CREATE", "VirtualMachine", vm, "Started");
    publish(None, other.clone()).await.unwrap();
    publish(None, other.clone()).await.unwrap();
    // The marker.
    publish(Some("e-0002"), body.clone()).await.unwrap();

    let ids: Vec<_> = [
        next_received(&mut received, &schemas, "e-0001").await,
        next_received(&mut received, &schemas, "the digest-identified event").await,
        next_received(&mut received, &schemas, "the marker e-0002").await,
    ]
    .into_iter()
    .map(|r| (r.event_id, r.id_source))
    .collect();
    assert_eq!(ids[0], ("e-0001".to_string(), EventIdSource::Header));
    assert_eq!(ids[1].1, EventIdSource::BodyDigest);
    assert_eq!(
        ids[2],
        ("e-0002".to_string(), EventIdSource::Header),
        "a duplicate was recorded"
    );

    // After a restart the ids are still known.
    adapter.restart();
    publish(Some("e-0001"), body.clone()).await.unwrap();
    publish(None, other).await.unwrap();
    publish(Some("e-0003"), body).await.unwrap();
    let got = next_received(&mut received, &schemas, "the marker e-0003").await;
    assert_eq!(
        got.event_id, "e-0003",
        "a duplicate was recorded after a restart"
    );
    assert_no_secrets(&adapter.stderr());
}

/// A webhook signed as CloudStack signs it is answered 200 and is on NATS;
/// a wrong or missing signature gets 401 and publishes nothing.
#[tokio::test]
async fn a_webhook_is_taken_only_with_the_right_signature() {
    let nats = nats_or_skip!();
    let schemas = SchemaSet::workspace();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_local_addr();
    let secret = secret_file(
        dir.path(),
        "webhook.secret",
        cloudstack::WEBHOOK_SECRET,
        0o600,
    );
    let extra: Vec<String> = [
        "--webhook-listen",
        &addr,
        "--webhook-secret-file",
        &secret.to_string_lossy(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut raw = subscribe(&client, cs::all_cs_events()).await;
    let mut received = subscribe(&client, format!("{}.>", cs::EVENTS_PREFIX)).await;
    let adapter = Adapter::start(Adapter::args(&nats.url(), dir.path(), &extra), dir.path());

    let vpc = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
    let account = "8a7f9e2c-1b3d-4e5f-a6b7-c8d9e0f1a2b3";
    let user_agent = format!("CS-Hookshot/{account}");
    let forged = action_event("VPC.DELETE", "Vpc", vpc, "Completed");
    let wrong = openssl_signature("not-the-secret", &forged);
    let headers = |id: &'static str, sig: Option<&str>| {
        let mut h = vec![
            ("X-CS-Event", "VPC.DELETE".to_string()),
            ("X-CS-Event-ID", id.to_string()),
            ("User-Agent", user_agent.clone()),
        ];
        if let Some(s) = sig {
            h.push(("X-CS-Signature", s.to_string()));
        }
        h
    };
    let send = |h: Vec<(&'static str, String)>, body: String| {
        let addr = addr.clone();
        async move {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(&addr, &h, &body).await
        }
    };
    assert_eq!(
        send(headers("w-bad", Some(&wrong)), forged.clone()).await,
        401,
        "wrong signature"
    );
    assert_eq!(
        send(headers("w-none", None), forged.clone()).await,
        401,
        "no signature"
    );
    // A right signature over another body: the body was changed.
    let signed_other = openssl_signature(cloudstack::WEBHOOK_SECRET, "{}");
    assert_eq!(
        send(headers("w-swap", Some(&signed_other)), forged).await,
        401,
        "body changed"
    );

    // The positive control, sent after the refused ones.
    let body = action_event("VPC.CREATE", "Vpc", vpc, "Completed");
    let sig = openssl_signature(cloudstack::WEBHOOK_SECRET, &body);
    assert_eq!(send(headers("w-good", Some(&sig)), body.clone()).await, 200);
    let msg = next(&mut raw, "the signed webhook on NATS").await;
    assert_eq!(
        msg.subject.as_str(),
        format!("cloudstack.events.ActionEvent.VPC-CREATE.Vpc.{vpc}"),
        "the first event on NATS is not the signed one: a refused webhook went through"
    );
    assert_eq!(
        std::str::from_utf8(&msg.payload),
        Ok(body.as_str()),
        "body changed on the way"
    );
    let got = next_received(&mut received, &schemas, "the webhook recorded").await;
    assert_eq!(
        (got.event_id.as_str(), got.id_source),
        ("w-good", EventIdSource::Header)
    );
    // CloudStack retries until 200: the retry is answered 200, not recorded.
    assert_eq!(send(headers("w-good", Some(&sig)), body.clone()).await, 200);
    let marker = action_event("VPC.CREATE", "Vpc", vpc, "Started");
    let sig = openssl_signature(cloudstack::WEBHOOK_SECRET, &marker);
    assert_eq!(send(headers("w-marker", Some(&sig)), marker).await, 200);
    let got = next_received(&mut received, &schemas, "the marker webhook").await;
    assert_eq!(
        got.event_id, "w-marker",
        "a retried webhook was recorded twice"
    );
    assert_no_secrets(&adapter.stderr());
}

/// Secret files readable by others are refused at start, naming the file
/// and not its content; the same file at 0600 is taken (positive control).
#[tokio::test]
async fn secret_files_must_be_0600() {
    let nats = nats_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(
        dir.path(),
        "webhook.secret",
        cloudstack::WEBHOOK_SECRET,
        0o644,
    );
    let extra: Vec<String> = [
        "--webhook-listen",
        "127.0.0.1:0",
        "--webhook-secret-file",
        &secret.to_string_lossy(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let args = Adapter::args(&nats.url(), dir.path(), &extra);
    let (code, stderr) = cloudstack::run_refused(&args);
    assert_eq!(code, Some(1), "started with a 0644 secret file:\n{stderr}");
    assert!(
        stderr.contains("webhook.secret") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    assert_no_secrets(&stderr);
    secret_file(
        dir.path(),
        "webhook.secret",
        cloudstack::WEBHOOK_SECRET,
        0o600,
    );
    let adapter = Adapter::start(args, dir.path());
    assert_no_secrets(&adapter.stderr());
}

/// Under the shipped `deploy/nats-server.conf`: the adapter works as user
/// `cloudstack-adapter` (intake, its requests and answers, its events), a
/// site publishes as `cloudstack-events`, and that user cannot forge the
/// adapter's records (sent first, never seen, behind the site's own event).
#[tokio::test]
async fn the_shipped_nats_users_carry_every_source() {
    let pw = |user: &str| format!("pw-{user}-e2e");
    // nats-server reads the passwords from its environment, ours.
    for (user, var) in vpcroute_tests::nats::SHIPPED_USERS {
        std::env::set_var(var, pw(user));
    }
    let conf = vpcroute_tests::bins::workspace_root().join("deploy/nats-server.conf");
    let Some(nats) = vpcroute_tests::NatsServer::start_with_args(&["-c", &conf.to_string_lossy()])
    else {
        return;
    };
    let schemas = SchemaSet::workspace();
    let dir = tempfile::tempdir().unwrap();
    let connect = |user: &'static str| {
        async_nats::ConnectOptions::with_user_and_password(user.into(), pw(user))
            .connect(nats.url())
    };
    let observer = connect("cloudstack").await.unwrap();
    let mut received = subscribe(&observer, format!("{}.>", cs::EVENTS_PREFIX)).await;
    let site = connect("cloudstack-events").await.unwrap();

    let nats_pw = secret_file(dir.path(), "nats.pw", &pw("cloudstack-adapter"), 0o600);
    let webhook_pw = secret_file(
        dir.path(),
        "webhook.secret",
        cloudstack::WEBHOOK_SECRET,
        0o600,
    );
    let addr = free_local_addr();
    let extra: Vec<String> = [
        "--nats-user",
        "cloudstack-adapter",
        "--nats-password-file",
        &nats_pw.to_string_lossy(),
        "--webhook-listen",
        &addr,
        "--webhook-secret-file",
        &webhook_pw.to_string_lossy(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let adapter = Adapter::start(Adapter::args(&nats.url(), dir.path(), &extra), dir.path());

    // A forged record, then the site's own event.
    let forged = serde_json::json!({"source": "cloudstack", "forged": true}).to_string();
    let _ = site
        .publish(
            format!("{}.event_received", cs::EVENTS_PREFIX),
            forged.into(),
        )
        .await;
    let vpc = "4c3b2a19-0807-4f6e-9d5c-4b3a29180706";
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(cs::EVENT_ID_HEADER, "site-1");
    let body = action_event("VPC.CREATE", "Vpc", vpc, "Completed");
    site.publish_with_headers(
        format!("cloudstack.events.ActionEvent.VPC-CREATE.Vpc.{vpc}"),
        headers,
        body.clone().into(),
    )
    .await
    .unwrap();
    site.flush().await.unwrap();
    let got = next_received(&mut received, &schemas, "the site's event recorded").await;
    assert_eq!(
        got.event_id, "site-1",
        "not the site's event: a forged record went through"
    );
    assert_eq!(got.body, body);

    // The webhook: a request as cloudstack-adapter, answered by its intake.
    let hook = action_event("VPC.DELETE", "Vpc", vpc, "Completed");
    let sig = openssl_signature(cloudstack::WEBHOOK_SECRET, &hook);
    let headers = [
        ("X-CS-Event-ID", "hook-1"),
        ("X-CS-Signature", sig.as_str()),
    ];
    assert_eq!(
        post(&addr, &headers, &hook).await,
        200,
        "{}",
        adapter.stderr()
    );
    let got = next_received(&mut received, &schemas, "the webhook recorded").await;
    assert_eq!(got.event_id, "hook-1");
    let stderr = adapter.stderr();
    assert!(
        !stderr.contains("ermission"),
        "a permissions violation:\n{stderr}"
    );
    assert!(
        !stderr.contains(&pw("cloudstack-adapter")),
        "the NATS password in stderr"
    );
    assert_no_secrets(&stderr);
}
