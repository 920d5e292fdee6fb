//! Issue 11, items 4 and 10: what the event logs keep at rest.
//!
//! * A key the area registry generates (a zone enabled without a key file)
//!   is held in clear by its events only: no other table, index or free
//!   page of the file holds it.
//! * A tail cut off ipam's log, its request records with it, is named by
//!   `vpcctl log verify` and refused at start-up (the anchor beside it).

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use vpcroute_bus::subjects;
use vpcroute_tests::{nats_or_skip, vpcctl, Client, Service, ServiceKind};

/// The generated key, read from the zone_ospf_set event that holds it.
fn generated_key(db: &Path, zone: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT payload FROM events WHERE event_type = 'zone_ospf_set'")
        .unwrap();
    let payloads: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    payloads.iter().find_map(|p| {
        let v: Value = serde_json::from_str(p).unwrap();
        (v["zone"] == zone)
            .then(|| v.pointer("/settings/auth/key")?.as_str().map(String::from))
            .flatten()
    })
}

/// Every text or blob cell of every table but `events` that holds `needle`.
fn cells_holding(conn: &rusqlite::Connection, needle: &str) -> Vec<String> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut found = Vec::new();
    for table in tables.iter().filter(|t| *t != "events") {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let bytes = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b,
                    _ => continue,
                };
                if String::from_utf8_lossy(bytes).contains(needle) {
                    found.push(format!("{table} column {i}"));
                }
            }
        }
    }
    found
}

/// The raw bytes of the database without its `events` table: a copy of
/// the live file (WAL included, `VACUUM INTO`), the table dropped, then
/// vacuumed again so no free page keeps old content.
fn bytes_without_events(db: &Path, scratch: &Path) -> Vec<u8> {
    let copy = scratch.join("copy.sqlite");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    let copy_conn = rusqlite::Connection::open(&copy).unwrap();
    copy_conn
        .execute_batch("DROP TABLE events; VACUUM;")
        .unwrap();
    drop(copy_conn);
    std::fs::read(&copy).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_key_is_kept_by_the_events_only() {
    let nats = nats_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let _ipam = Service::start(ServiceKind::Ipam, &nats.url(), dir.path()).await;
    let _areas = Service::start(ServiceKind::AreaRegistry, &nats.url(), dir.path()).await;
    let db = dir.path().join("area-registry.sqlite");

    vpcctl(
        &nats.url(),
        &["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"],
    )
    .await
    .expect_ok();
    // The registry follows ipam: wait for the zone's generated key.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let key = loop {
        if let Some(k) = generated_key(&db, "z1") {
            break k;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no key was generated"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(key.len() >= 16, "a generated key: {key:?}");

    // A zone.set without a key keeps the generated one; its retry with the
    // same request id gets the same answer, from the record.
    let client = Client::connect(&nats.url()).await;
    let set = json!({"request_id": "rid-set", "zone": "z1", "hello_interval": 5,
                     "auth": {"type": "md5", "key_id": 1}});
    let first = client.call_raw(subjects::areas::ZONE_SET, &set).await;
    let retry = client.call_raw(subjects::areas::ZONE_SET, &set).await;
    assert!(first.get("ok").is_some(), "zone.set answered {first}");
    assert_eq!(first, retry, "a retry answers as the original did");
    assert_eq!(generated_key(&db, "z1").as_deref(), Some(key.as_str()));

    // Positive control: the scan finds the key where it must be.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let in_events: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE instr(payload, ?1) > 0",
            [&key],
            |r| r.get(0),
        )
        .unwrap();
    assert!(in_events >= 1, "the key is in the events");
    let elsewhere = cells_holding(&conn, &key);
    assert!(
        elsewhere.is_empty(),
        "the generated key is kept in clear outside the events: {elsewhere:?}"
    );
    let raw = bytes_without_events(&db, dir.path());
    assert!(
        !raw.windows(key.len()).any(|w| w == key.as_bytes()),
        "the generated key's bytes are in the file outside the events table"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_tail_is_named_by_log_verify_and_refused_at_start() {
    let nats = nats_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let mut ipam = Service::start(ServiceKind::Ipam, &nats.url(), dir.path()).await;
    let url = nats.url();
    vpcctl(
        &url,
        &["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"],
    )
    .await
    .expect_ok();
    for vpc in ["a", "b"] {
        #[rustfmt::skip]
        let args = ["vpc", "create", vpc, "--zone", "z1", "--prefix-length", "24"];
        vpcctl(&url, &args).await.expect_ok();
    }
    ipam.kill9();
    let data_dir = dir.path().to_str().unwrap();
    let verify_args = ["log", "verify", "--data-dir", data_dir];
    let verify = || vpcctl(&url, &verify_args);
    assert!(
        verify().await.ok(),
        "positive control: the untouched log verifies"
    );

    // Cut the last event and its request record, triggers dropped.
    let db = dir.path().join("ipam.sqlite");
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute_batch(
        "DROP TRIGGER events_no_delete; DROP TRIGGER requests_no_delete;
         DELETE FROM requests WHERE request_id =
             (SELECT request_id FROM events ORDER BY seq DESC LIMIT 1);
         DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events);",
    )
    .unwrap();
    drop(raw);

    let out = verify().await;
    assert!(!out.ok(), "a cut tail verifies: {}", out.stdout);
    assert_eq!(out.error_code(), Some("corrupt_log"));
    let message = out.error_message().unwrap_or_default().to_string();
    for word in ["ipam.sqlite", "removed", "anchor", "missing"] {
        assert!(message.contains(word), "{word:?} not in {message:?}");
    }
    let exit = Service::run_to_exit(ServiceKind::Ipam, &url, dir.path(), Duration::from_secs(20));
    assert!(!exit.status.success());
    assert!(
        exit.stderr.contains("removed") && exit.stderr.contains("anchor"),
        "ipam's refusal names the cut: {}",
        exit.stderr
    );
}
