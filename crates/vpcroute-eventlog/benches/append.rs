//! Append throughput under `Durability::Full` (fsync'd commits), with 1 and
//! 16 concurrent appenders. With one appender every append pays a commit;
//! with 16, group commit shares each fsync across the queued appends.
//! Criterion reports the rate as "elem/s" (= appends/s); the commits/appends
//! ratio is printed too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vpcroute_eventlog::{
    AppendRequest, Durability, EventLog, ExpectedVersion, LogOptions, NewEvent,
};

fn request(n: u64) -> AppendRequest {
    AppendRequest {
        request_id: format!("bench-{n}"),
        fingerprint: "fp".into(),
        stream: format!("vpc/{}", n % 8),
        expected: ExpectedVersion::Any,
        events: vec![NewEvent {
            event_type: "RouteAdded".into(),
            schema_version: 1,
            payload: serde_json::json!({"prefix": "10.0.0.0/24", "next_hop": "192.0.2.1", "n": n}),
        }],
        result: serde_json::json!({"ok": true}),
    }
}

/// Run `total` appends spread over `threads` threads; return the wall time.
fn run(log: &Arc<EventLog>, next: &Arc<AtomicU64>, threads: u64, total: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let share = total / threads + u64::from(t < total % threads);
            s.spawn(move || {
                for _ in 0..share {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    log.append(request(n)).expect("append");
                }
            });
        }
    });
    start.elapsed()
}

fn bench_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(
        EventLog::open(
            &dir.path().join("bench.sqlite"),
            LogOptions {
                durability: Durability::Full,
                ..LogOptions::default()
            },
        )
        .expect("open"),
    );
    let next = Arc::new(AtomicU64::new(0));

    let mut group = c.benchmark_group("append_full");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    for threads in [1u64, 16] {
        let before = log.stats();
        let mut appends = 0u64;
        let mut elapsed = Duration::ZERO;
        group.bench_function(format!("{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                let t = run(&log, &next, threads, iters);
                appends += iters;
                elapsed += t;
                t
            })
        });
        let after = log.stats();
        println!(
            "append_full/{threads}_threads: {:.0} appends/s overall, {} appends in {} commits (largest batch {})",
            appends as f64 / elapsed.as_secs_f64().max(1e-9),
            after.appends - before.appends,
            after.commits - before.commits,
            after.largest_batch,
        );
    }
    group.finish();
}

criterion_group!(benches, bench_append);
criterion_main!(benches);
