//! Criterion benchmarks of `BlockPool` (run: `cargo bench -p vpcroute-allocator`).
//!
//! 1. One /28 allocation + release in a 10.0.0.0/8 pool already holding 0,
//!    10k, 100k and 1M scattered /28s: the buddy design promises this cost
//!    does not grow with fragmentation (O(bits × log n)).
//! 2. 1,000,000 consecutive /28 allocations in a /8, then releasing them all.
//!
//! "Scattered" = reserved at offsets from a fixed-seed LCG modulo 2^20 (the
//! number of /28s in a /8). With an odd increment and a multiplier ≡ 1 mod 4
//! the LCG has full period, so its first N outputs are N distinct slots and
//! no reservation collides.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use vpcroute_allocator::{BlockPool, Family, IpNet};

const SLOTS: u32 = 1 << 20;

fn root() -> IpNet {
    "10.0.0.0/8".parse().unwrap()
}

fn scattered_pool(n: u32) -> BlockPool {
    let mut pool = BlockPool::with_roots([root()]).unwrap();
    let base = u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0));
    let mut x: u32 = 0x2545_F491;
    for _ in 0..n {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223) % SLOTS;
        let addr = std::net::Ipv4Addr::from(base + (x << 4));
        pool.reserve(IpNet::new(addr.into(), 28).unwrap()).unwrap();
    }
    pool
}

fn alloc_release_scattered(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc_release_28_in_8");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in [0u32, 10_000, 100_000, 1_000_000] {
        let mut pool = scattered_pool(n);
        group.bench_with_input(BenchmarkId::new("scattered", n), &n, |b, _| {
            b.iter(|| {
                let net = pool.allocate(Family::V4, 28).unwrap();
                pool.release(black_box(net)).unwrap();
                net
            })
        });
    }
    group.finish();
}

fn consecutive_million(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let mut group = c.benchmark_group("consecutive_1m_28_in_8");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(N));
    group.bench_function("allocate", |b| {
        b.iter_batched(
            || BlockPool::with_roots([root()]).unwrap(),
            |mut pool| {
                for _ in 0..N {
                    black_box(pool.allocate(Family::V4, 28).unwrap());
                }
                pool
            },
            BatchSize::PerIteration,
        )
    });
    let mut full = BlockPool::with_roots([root()]).unwrap();
    let nets: Vec<IpNet> = (0..N)
        .map(|_| full.allocate(Family::V4, 28).unwrap())
        .collect();
    group.bench_function("release", |b| {
        b.iter_batched(
            || full.clone(),
            |mut pool| {
                for net in &nets {
                    pool.release(*net).unwrap();
                }
                pool
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, alloc_release_scattered, consecutive_million);
criterion_main!(benches);
