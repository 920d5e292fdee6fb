//! Benchmarks 1 and 2: `BlockPool` alone.
//!
//! 1. One /28 allocation in a 10.0.0.0/8 already holding 0, 10k, 100k and
//!    1M scattered /28s (fixed-seed full-period LCG over the 2^20 /28 slots,
//!    as in `crates/vpcroute-allocator/benches/allocate.rs`).
//!    Three views of "one allocation":
//!    * `alloc_only`: batches of 1,000 back-to-back allocations timed as a
//!      whole, then released untimed (the pool returns to its fill);
//!    * `alloc_release`: an allocation plus the release that undoes it,
//!      timed as a pair (what the ipam service's `probe_allocate` costs);
//!    * `single`: each allocation timed on its own (includes ~20-40 ns of
//!      `Instant` overhead), for p50/p99/max.
//! 2. 1,000,000 consecutive /28 allocations in an empty /8, then releasing
//!    all of them (in allocation order).

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use serde_json::json;
use vpcroute_allocator::{BlockPool, Family, IpNet};
use vpcroute_benches::{emit, pcts, say, secs};

const SLOTS: u32 = 1 << 20;

fn root() -> IpNet {
    "10.0.0.0/8".parse().unwrap()
}

fn scattered_pool(n: u32) -> BlockPool {
    let mut pool = BlockPool::with_roots([root()]).unwrap();
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    let mut x: u32 = 0x2545_F491;
    for _ in 0..n {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223) % SLOTS;
        let addr = Ipv4Addr::from(base + (x << 4));
        pool.reserve(IpNet::new(addr.into(), 28).unwrap()).unwrap();
    }
    pool
}

fn main() {
    if cfg!(debug_assertions) {
        say!("warning: debug build, figures are meaningless");
    }
    let mut sizes = Vec::new();
    let mut empty_alloc_ns = 0.0;
    let mut empty_pair_ns = 0.0;
    for n in [0u32, 10_000, 100_000, 1_000_000] {
        let t = Instant::now();
        let mut pool = scattered_pool(n);
        let setup = t.elapsed();

        // alloc_only: 200 batches x 1,000.
        const BATCH: usize = 1_000;
        const BATCHES: usize = 200;
        let mut nets = Vec::with_capacity(BATCH);
        let mut alloc_ns = 0u128;
        for _ in 0..BATCHES {
            let t = Instant::now();
            for _ in 0..BATCH {
                nets.push(pool.allocate(Family::V4, 28).unwrap());
            }
            alloc_ns += t.elapsed().as_nanos();
            for net in nets.drain(..) {
                pool.release(net).unwrap();
            }
        }
        let alloc_only = alloc_ns as f64 / (BATCH * BATCHES) as f64;

        // alloc_release pairs.
        const PAIRS: usize = 200_000;
        let t = Instant::now();
        for _ in 0..PAIRS {
            let net = pool.allocate(Family::V4, 28).unwrap();
            pool.release(black_box(net)).unwrap();
        }
        let pair = t.elapsed().as_nanos() as f64 / PAIRS as f64;

        // single, individually timed.
        const SINGLE: usize = 100_000;
        let mut samples = Vec::with_capacity(SINGLE);
        for _ in 0..SINGLE {
            let t = Instant::now();
            let net = pool.allocate(Family::V4, 28).unwrap();
            samples.push(t.elapsed().as_nanos() as u64);
            pool.release(black_box(net)).unwrap();
        }
        let single = pcts(&mut samples);
        pool.check_invariants().expect("pool intact");
        if n == 0 {
            empty_alloc_ns = alloc_only;
            empty_pair_ns = pair;
        }
        say!(
            "n={n}: alloc_only {alloc_only:.0} ns, alloc+release {pair:.0} ns, single p50 {} p99 {} max {} ns (setup {:.2}s)",
            single.p50,
            single.p99,
            single.max,
            setup.as_secs_f64()
        );
        sizes.push(json!({
            "scattered": n,
            "setup_s": secs(setup),
            "alloc_only_ns": alloc_only.round(),
            "alloc_release_ns": pair.round(),
            "single_p50_ns": single.p50,
            "single_p99_ns": single.p99,
            "single_max_ns": single.max,
            "ratio_alloc_only_vs_empty": (alloc_only / empty_alloc_ns * 100.0).round() / 100.0,
            "ratio_alloc_release_vs_empty": (pair / empty_pair_ns * 100.0).round() / 100.0,
        }));
    }

    // Benchmark 2.
    const N: usize = 1_000_000;
    let mut pool = BlockPool::with_roots([root()]).unwrap();
    let t = Instant::now();
    let nets: Vec<IpNet> = (0..N)
        .map(|_| pool.allocate(Family::V4, 28).unwrap())
        .collect();
    let alloc = t.elapsed();
    let t = Instant::now();
    for net in &nets {
        pool.release(*net).unwrap();
    }
    let release = t.elapsed();
    assert_eq!(pool.free_blocks().collect::<Vec<_>>(), vec![root()]);
    say!(
        "1M consecutive: allocate {:.3}s, release {:.3}s",
        alloc.as_secs_f64(),
        release.as_secs_f64()
    );
    emit(json!({
        "bench": "alloc",
        "sizes": sizes,
        "consecutive": { "n": N, "allocate_s": secs(alloc), "release_s": secs(release) },
    }));
}
