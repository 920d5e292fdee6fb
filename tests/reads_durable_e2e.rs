//! Issue 11, item 2: a query and a refusal are decided on durable state
//! only. ipam's SQLite file is write-locked from outside (`BEGIN
//! IMMEDIATE` on another connection), so a `vpc create` is decided but
//! cannot commit. Whatever ipam answers meanwhile must agree with what a
//! `kill -9` and a restart leave.
//!
//! The writer gives up on a held lock after its busy timeout (5 s) and
//! ipam then stops (fail-stop); each phase below holds the lock for well
//! under a second, waiting on conditions, never on a fixed sleep.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use vpcroute_bus::RequestError;
use vpcroute_protocol::ipam::*;
use vpcroute_protocol::ErrorCode;
use vpcroute_tests::{nats_or_skip, Client, Service, ServiceKind};

/// Every reply a client got, as (what was asked, the answer).
type Seen = Arc<Mutex<Vec<(String, Result<String, ErrorCode>)>>>;

fn create(rid: &str, vpc: &str) -> VpcAllocate {
    VpcAllocate {
        request_id: rid.into(),
        vpc: vpc.into(),
        zone: "z1".into(),
        netmask: None,
        prefix_length: Some(24),
        family: Some(Family::Ipv4),
        router: None,
    }
}

fn lists(view: &ZoneView, vpc: &str) -> bool {
    view.vpcs.iter().any(|v| v.vpc == vpc)
}

/// Records the answer of a request sent in the background.
fn record<T: std::fmt::Debug + Send + 'static>(
    seen: &Seen,
    what: String,
    fut: impl std::future::Future<Output = Result<T, RequestError>> + Send + 'static,
    show: impl Fn(&T) -> String + Send + 'static,
) -> JoinHandle<()> {
    let seen = seen.clone();
    tokio::spawn(async move {
        let answer = match fut.await {
            Ok(v) => Ok(show(&v)),
            Err(RequestError::Service(e)) => Err(e.code),
            // No answer at all (the service was killed): nothing was said.
            Err(_) => return,
        };
        seen.lock().unwrap().push((what, answer));
    })
}

/// Sends `vpc create` in the background, recording its answer.
fn send_create(client: &Client, seen: &Seen, rid: &str, vpc: &str) -> JoinHandle<()> {
    let (c, req) = (client.clone(), create(rid, vpc));
    record(
        seen,
        format!("create {vpc} ({rid})"),
        async move { c.vpc_allocate(&req).await },
        |r: &VpcRecord| r.vpc.clone(),
    )
}

/// Holds the write lock of ipam's log until dropped (rolled back).
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(path: &std::path::Path) -> WriteLock {
        let conn = rusqlite::Connection::open(path).expect("open ipam.sqlite");
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        WriteLock(conn)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
}

/// While `vpc` is being created under the lock, sends `show zone` until one
/// is not answered at once (ipam holds it: the create was decided and is in
/// flight), or one lists `vpc` (the defect). Returns the held shows.
async fn shows_while_held(client: &Client, seen: &Seen, vpc: &str) -> Vec<JoinHandle<()>> {
    let mut held = Vec::new();
    for i in 0..20 {
        let c = client.clone();
        let vpc_name = vpc.to_string();
        let task = record(
            seen,
            format!("show zone #{i}"),
            async move { c.zone_show("z1").await },
            move |z: &ZoneView| format!("lists {vpc_name}: {}", lists(z, &vpc_name)),
        );
        // A show ipam answers at once comes back within this; one it holds
        // does not. Too short a window only ends the probing early.
        let answered = tokio::time::timeout(Duration::from_millis(300), async {
            while !task.is_finished() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .is_ok();
        let listed = seen
            .lock()
            .unwrap()
            .iter()
            .any(|(_, a)| a.as_deref() == Ok(&format!("lists {vpc}: true")));
        if !answered {
            held.push(task);
            break;
        }
        if listed {
            break;
        }
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queries_and_refusals_wait_for_the_commit_they_saw() {
    let nats = nats_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let mut ipam = Service::start(ServiceKind::Ipam, &nats.url(), dir.path()).await;
    let db = dir.path().join("ipam.sqlite");
    let client = Client::connect(&nats.url())
        .await
        .with_timeout(Duration::from_secs(20));
    client
        .zone_enable(&ZoneEnable {
            request_id: "rid-z1".into(),
            zone: "z1".into(),
            super_cidrs: vec!["10.1.0.0/16".into()],
        })
        .await
        .expect("zone enable");

    // Phase 1, the positive control: the lock is released, and every held
    // answer then arrives, consistent with the create.
    let seen: Seen = Arc::default();
    let lock = WriteLock::take(&db);
    let first = send_create(&client, &seen, "rid-a1", "held-a");
    let shows = shows_while_held(&client, &seen, "held-a").await;
    assert!(
        !shows.is_empty(),
        "a show zone sent while the create of held-a was blocked was answered at once: {:?}",
        seen.lock().unwrap()
    );
    let second = send_create(&client, &seen, "rid-a2", "held-a");
    drop(lock);
    first.await.unwrap();
    second.await.unwrap();
    for s in shows {
        s.await.unwrap();
    }
    let answers = seen.lock().unwrap().clone();
    let of = |what: &str| {
        answers
            .iter()
            .find(|(w, _)| w == what)
            .unwrap_or_else(|| panic!("no answer to {what}: {answers:?}"))
            .1
            .clone()
    };
    assert_eq!(of("create held-a (rid-a1)"), Ok("held-a".into()));
    assert_eq!(
        of("create held-a (rid-a2)"),
        Err(ErrorCode::AlreadyExists),
        "{answers:?}"
    );
    // The shows were sent one after another (each answered before the
    // next, but the held one), so the last show recorded is the held one;
    // the refusal of rid-a2, released with it, may be recorded either side.
    let held_show = answers
        .iter()
        .rev()
        .find(|(what, _)| what.starts_with("show zone"))
        .expect("a show was sent");
    assert_eq!(
        held_show.1,
        Ok("lists held-a: true".into()),
        "the held show zone, answered once the create was durable, lists it: {answers:?}"
    );

    // Phase 2, the defect: the create never becomes durable (kill -9 while
    // the lock is held). No answer given before the kill may mention it.
    let seen: Seen = Arc::default();
    let lock = WriteLock::take(&db);
    let _first = send_create(&client, &seen, "rid-b1", "held");
    let _shows = shows_while_held(&client, &seen, "held").await;
    let second = send_create(&client, &seen, "rid-b2", "held");
    // rid-b2 is decided (refused) or queued behind rid-b1 by now, or
    // answered (the defect) — give it the time a show takes to come back.
    let c = client.clone().with_timeout(Duration::from_millis(300));
    let _ = c.zone_show("z1").await;
    let said_before_kill = seen.lock().unwrap().clone();
    ipam.kill9();
    drop(lock);
    second.abort();
    ipam.restart().await;

    let after = client
        .zone_show("z1")
        .await
        .expect("show zone after restart");
    assert!(
        !lists(&after, "held"),
        "held was never durable, yet survived the restart"
    );
    assert!(lists(&after, "held-a"), "held-a was durable: {after:?}");
    for (what, answer) in &said_before_kill {
        assert!(
            answer.as_deref() != Ok("lists held: true"),
            "{what} listed held before its create was durable; after kill -9 + restart it is gone"
        );
        assert!(
            !(what.starts_with("create held (") && answer.is_err()),
            "{what} was refused ({answer:?}) on a create that was never durable"
        );
    }
    // The create can now succeed, as every earlier answer implied.
    let again = client
        .vpc_allocate(&create("rid-b3", "held"))
        .await
        .expect("create held after the restart");
    assert_eq!(again.vpc, "held");
}
