//! Benchmark 4: rebuilding ipam's state from a 1,000,000-event log, and
//! the real `vpcroute-ipam` process starting on that log (time to replay,
//! peak memory).
//!
//! 1. Generate the log once with the `EventLog` API (`Durability::Relaxed`)
//!    into `<tmp>/ipam.sqlite`: zone, VPCs (with routers), tiers and VMs as
//!    the ipam service writes them (same stream, type, schema version and
//!    payload encoding), 100 events per append.
//! 2. Reference: a raw rusqlite `SELECT seq, payload FROM events` loop that
//!    only touches the payload text (no decoding).
//! 3. Replay as `services/ipam/src/main.rs` does it:
//!    `vpcroute_service::replay_verified_events` + `IpamState::apply`: one
//!    pass that verifies the hash chain, decodes each payload straight from
//!    the row's text into `IpamEvent` (reader thread) and applies it (this
//!    thread). Also timed: that reader thread's work alone (verify +
//!    decode, no apply), `EventLog::verify` alone, and the previous
//!    start-up path for comparison (`EventLog::verify`, then
//!    `vpcroute_service::replay` + `serde_json::from_value(payload.clone())`
//!    + `IpamState::apply`, and its read + decode `StoredEvent` part alone).
//! 4. The real release `vpcroute-ipam` started on a copy of that data dir:
//!    time until it logs "state rebuilt", and its VmHWM / VmRSS then.
//!
//! All reads are from the page cache (the file was just written): this
//! measures CPU cost, not disk reads. `BENCH_EVENTS` overrides the size.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use vpcroute_benches::{
    cpu_secs, emit, env_or, ipam_events, loadavg, rss_kib, say, secs, sibling_bin,
};
use vpcroute_eventlog::{AppendRequest, EventLog, ExpectedVersion, LogOptions, NewEvent};
use vpcroute_ipam::IpamState;
use vpcroute_protocol::ipam::IpamEvent;
use vpcroute_service::LogEvent;
use vpcroute_tests::NatsServer;

/// Step 1: the log, written once with the `EventLog` API, 100 events per
/// append, at most 64 appends in flight.
fn generate_log(path: &Path, n: usize) {
    let log = EventLog::open(path, LogOptions::relaxed()).expect("open log");
    let mut pending = VecDeque::new();
    let mut events = ipam_events(n).peekable();
    let mut chunk_no = 0u64;
    while events.peek().is_some() {
        let chunk: Vec<NewEvent> = events
            .by_ref()
            .take(100)
            .map(|ev: IpamEvent| ev.to_new_event())
            .collect();
        chunk_no += 1;
        pending.push_back(log.append_async(AppendRequest {
            request_id: format!("bench-gen-{chunk_no}"),
            fingerprint: "bench-gen".into(),
            stream: format!("zone/{}", vpcroute_benches::ZONE),
            expected: ExpectedVersion::Any,
            events: chunk,
            result: serde_json::Value::Null,
        }));
        while pending.len() > 64 {
            pending
                .pop_front()
                .unwrap()
                .recv()
                .unwrap()
                .expect("append");
        }
    }
    for rx in pending {
        rx.recv().unwrap().expect("append");
    }
    assert_eq!(log.head().unwrap(), n as u64);
}

/// Step 2, the reference: the fastest of two raw `SELECT seq, payload`
/// passes that only touch the payload text.
fn raw_select(path: &Path, n: usize) -> Duration {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    // Warm the page cache once, then time.
    let mut best = Duration::MAX;
    for _ in 0..2 {
        let t = Instant::now();
        let mut stmt = conn.prepare("SELECT seq, payload FROM events").unwrap();
        let mut rows = stmt.query([]).unwrap();
        let (mut count, mut bytes, mut last) = (0u64, 0usize, 0i64);
        while let Some(row) = rows.next().unwrap() {
            last = row.get_ref(0).unwrap().as_i64().unwrap();
            bytes += row.get_ref(1).unwrap().as_str().unwrap().len();
            count += 1;
        }
        std::hint::black_box((last, bytes));
        assert_eq!(count, n as u64);
        best = best.min(t.elapsed());
    }
    best
}

/// `EventLog::verify` alone, then `replay` with a no-op handler (read +
/// decode `StoredEvent`).
fn time_verify_and_noop(log: &EventLog, n: usize) -> (Duration, Duration) {
    let t = Instant::now();
    let report = log.verify().expect("verify");
    let verify = t.elapsed();
    assert_eq!(report.events_checked, n as u64);
    say!("verify: {:.3}s", verify.as_secs_f64());

    let t = Instant::now();
    let mut count = 0u64;
    log.replay(1, |ev| {
        count += 1;
        std::hint::black_box(&ev);
        Ok::<(), ()>(())
    })
    .expect("replay");
    let read_decode = t.elapsed();
    say!("replay, no-op handler: {:.3}s", read_decode.as_secs_f64());
    (verify, read_decode)
}

/// The previous start-up path after verify: `replay` + `from_value` +
/// `apply`. Returns its wall time and CPU seconds.
fn time_previous_path(log: &EventLog, n: usize) -> (Duration, f64) {
    let (t, cpu0) = (Instant::now(), cpu_secs(std::process::id()));
    let mut state = IpamState::new();
    let head = vpcroute_service::replay(log, |ev| {
        let event: IpamEvent = serde_json::from_value(ev.payload.clone())
            .map_err(|e| format!("undecodable {} event: {e}", ev.event_type))?;
        state.apply(&event).map_err(|e| e.to_string())
    })
    .expect("replay + apply");
    let old_replay_apply = t.elapsed();
    let old_replay_apply_cpu = cpu_secs(std::process::id()) - cpu0;
    assert_eq!(head, n as u64);
    say!(
        "previous path, replay + apply (after verify): {:.3}s",
        old_replay_apply.as_secs_f64()
    );
    drop(state);
    (old_replay_apply, old_replay_apply_cpu)
}

/// The reader thread's work alone: verify + decode `IpamEvent`, no apply.
fn time_verify_decode(log: &EventLog, n: usize) -> Duration {
    let t = Instant::now();
    let mut decoded = 0u64;
    log.replay_verified(|ev| {
        let event: IpamEvent = serde_json::from_str(ev.payload).map_err(|e| e.to_string())?;
        std::hint::black_box(&event);
        decoded += 1;
        Ok::<(), String>(())
    })
    .expect("verify + decode");
    let verify_decode = t.elapsed();
    assert_eq!(decoded, n as u64);
    say!(
        "verify + decode IpamEvent (reader thread alone): {:.3}s",
        verify_decode.as_secs_f64()
    );
    verify_decode
}

/// Figures of the service's start-up path, run in this process.
struct Startup {
    replay_apply: Duration,
    replay_apply_cpu: f64,
    replay_rate: f64,
    rss_before: u64,
    rss_after: u64,
    hwm: u64,
}

/// Step 3: verify + replay + apply as `services/ipam/src/main.rs` does it.
fn time_startup_path(log: &EventLog, n: usize, raw_rate: f64) -> Startup {
    let (rss_before, _) = rss_kib(None);
    let (t, cpu0) = (Instant::now(), cpu_secs(std::process::id()));
    let mut state = IpamState::new();
    let head =
        vpcroute_service::replay_verified_events(log, |event: IpamEvent| state.apply(&event))
            .expect("verified replay + apply");
    let replay_apply = t.elapsed();
    let replay_apply_cpu = cpu_secs(std::process::id()) - cpu0;
    assert_eq!(head, n as u64);
    let (rss_after, hwm) = rss_kib(None);
    let replay_rate = n as f64 / replay_apply.as_secs_f64();
    say!(
        "verify + replay + apply (the service's start-up): {:.3}s, {:.2} s CPU ({:.0} events/s, {:.2} of raw rate)",
        replay_apply.as_secs_f64(),
        replay_apply_cpu,
        replay_rate,
        replay_rate / raw_rate
    );
    std::hint::black_box(&state);
    drop(state);
    Startup {
        replay_apply,
        replay_apply_cpu,
        replay_rate,
        rss_before,
        rss_after,
        hwm,
    }
}

/// Step 4: the real `vpcroute-ipam` started on the data dir: when it logs
/// "event log verified" and "state rebuilt", its CPU and memory then.
fn measure_process(data_dir: &Path) -> serde_json::Value {
    let nats = NatsServer::start().expect("nats-server is needed");
    let bin = sibling_bin("vpcroute-ipam");
    let t = Instant::now();
    let mut child = Command::new(&bin)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--nats-url")
        .arg(nats.url())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (mut verified, mut rebuilt) = (None, None);
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        if line.contains("event log verified") {
            verified = Some(t.elapsed());
        }
        if line.contains("state rebuilt") {
            rebuilt = Some(t.elapsed());
            break;
        }
    }
    let rebuilt = rebuilt.expect("vpcroute-ipam did not rebuild its state");
    // Let it finish connecting, then sample.
    std::thread::sleep(Duration::from_millis(500));
    let (rss, hwm) = rss_kib(Some(child.id()));
    let cpu = vpcroute_benches::cpu_secs(child.id());
    let _ = child.kill();
    let _ = child.wait();
    drop(lines);
    say!(
        "vpcroute-ipam: verified at {:.2}s, state rebuilt at {:.2}s, VmHWM {} MiB, VmRSS {} MiB",
        verified.map_or(0.0, |d| d.as_secs_f64()),
        rebuilt.as_secs_f64(),
        hwm / 1024,
        rss / 1024
    );
    json!({
        "verified_s": verified.map(secs),
        "rebuilt_s": secs(rebuilt),
        "replay_only_s": verified.map(|v| secs(rebuilt - v)),
        "cpu_s": cpu,
        "vmhwm_mib": hwm / 1024,
        "vmrss_mib": rss / 1024,
    })
}

fn main() {
    let n: usize = env_or("BENCH_EVENTS", 1_000_000);
    let skip_process = std::env::var_os("BENCH_SKIP_PROCESS").is_some();
    let dir = tempfile::Builder::new()
        .prefix("vpcroute-bench-replay-")
        .tempdir()
        .expect("tempdir");
    let path = dir.path().join("ipam.sqlite");

    // ---------------------------------------------------------- generate
    let t = Instant::now();
    generate_log(&path, n);
    let generate = t.elapsed();
    let file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(path.with_extension("sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    say!(
        "generated {n} events in {:.1}s ({} MB)",
        generate.as_secs_f64(),
        file_bytes / 1_000_000
    );

    // --------------------------------------------------- raw reference
    let raw = raw_select(&path, n);
    let raw_rate = n as f64 / raw.as_secs_f64();
    say!(
        "raw SELECT seq, payload: {:.3}s ({:.0} rows/s)",
        raw.as_secs_f64(),
        raw_rate
    );

    // ----------------------------------------------------------- replay
    let log = EventLog::open(&path, LogOptions::relaxed()).expect("open log");
    let (verify, read_decode) = time_verify_and_noop(&log, n);
    let (old_replay_apply, old_replay_apply_cpu) = time_previous_path(&log, n);
    let verify_decode = time_verify_decode(&log, n);
    let startup = time_startup_path(&log, n, raw_rate);
    drop(log);

    // ------------------------------------------- the real ipam process
    let process = if skip_process {
        serde_json::Value::Null
    } else {
        measure_process(dir.path())
    };

    emit(json!({
        "bench": "replay",
        "events": n,
        "generate_s": secs(generate),
        "file_mb": file_bytes / 1_000_000,
        "raw_select_s": secs(raw),
        "raw_rows_per_s": raw_rate.round(),
        "verify_s": secs(verify),
        "replay_noop_s": secs(read_decode),
        "previous_replay_apply_s": secs(old_replay_apply),
        "previous_replay_apply_cpu_s": (old_replay_apply_cpu * 100.0).round() / 100.0,
        "replay_apply_cpu_s": (startup.replay_apply_cpu * 100.0).round() / 100.0,
        "loadavg_at_end": loadavg(),
        "previous_verify_then_replay_apply_s": secs(verify + old_replay_apply),
        "verify_decode_s": secs(verify_decode),
        "replay_apply_s": secs(startup.replay_apply),
        "replay_apply_events_per_s": startup.replay_rate.round(),
        "ratio_vs_raw_rate": (startup.replay_rate / raw_rate * 1000.0).round() / 1000.0,
        "bench_rss_growth_mib": startup.rss_after.saturating_sub(startup.rss_before) / 1024,
        "bench_vmhwm_mib": startup.hwm / 1024,
        "process": process,
    }));
}
