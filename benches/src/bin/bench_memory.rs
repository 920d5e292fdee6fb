//! Peak memory of an `IpamState` holding 1,000,000 allocations (the same
//! history `bench-replay` writes: 1 zone, then VPCs, tiers and VMs; all but
//! the zone event are allocations). Events are generated lazily and applied
//! one at a time, so the process's peak RSS is (almost) the state itself.
//! Also gives the in-memory apply rate (no SQLite, no JSON).

use std::time::Instant;

use serde_json::json;
use vpcroute_benches::{emit, env_or, ipam_events, rss_kib, say, secs};
use vpcroute_ipam::IpamState;

fn main() {
    let n: usize = env_or("BENCH_EVENTS", 1_000_000);
    // Time the generator alone first, so apply can be told apart.
    let t = Instant::now();
    let generated = ipam_events(n).fold(0, |count, e| {
        std::hint::black_box(e);
        count + 1
    });
    let gen = t.elapsed();
    assert_eq!(generated, n);

    let (rss0, hwm0) = rss_kib(None);
    let t = Instant::now();
    let mut state = IpamState::new();
    for ev in ipam_events(n) {
        state.apply(&ev).expect("valid history");
    }
    let total = t.elapsed();
    let (rss1, hwm1) = rss_kib(None);
    let apply = total.saturating_sub(gen);
    say!(
        "{n} events applied in {:.3}s (generator {:.3}s); VmRSS {} -> {} MiB, VmHWM {} MiB",
        total.as_secs_f64(),
        gen.as_secs_f64(),
        rss0 / 1024,
        rss1 / 1024,
        hwm1 / 1024
    );
    std::hint::black_box(&state);
    emit(json!({
        "bench": "memory",
        "events": n,
        "allocations": n - 1,
        "apply_in_memory_s": secs(apply),
        "generator_s": secs(gen),
        "baseline_rss_mib": rss0 / 1024,
        "baseline_hwm_mib": hwm0 / 1024,
        "vmrss_mib": rss1 / 1024,
        "vmhwm_mib": hwm1 / 1024,
        "state_mib": rss1.saturating_sub(rss0) / 1024,
        "bytes_per_allocation": (rss1.saturating_sub(rss0) * 1024) / (n as u64 - 1),
    }));
}
