//! Quick allocator figures without criterion:
//! `cargo run --release -p vpcroute-allocator --example alloc_figures`.
//!
//! Prints one row per measurement: a whitespace-free name, the number of
//! operations, the total time in ms and the mean in ns per operation, so a
//! script can collect them with `awk`. Same scenarios as `benches/allocate.rs`.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use vpcroute_allocator::{BlockPool, Family, IpNet};

/// Number of /28 blocks in a /8.
const SLOTS: u32 = 1 << 20;

fn root() -> IpNet {
    "10.0.0.0/8".parse().unwrap()
}

/// A /8 pool with `n` /28s reserved at distinct pseudo-random slots (a
/// full-period LCG modulo 2^20, fixed seed).
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

fn row(name: &str, ops: u64, secs: f64) {
    println!(
        "{name:<40} {ops:>9} {:>10.2} {:>10.1}",
        secs * 1e3,
        secs * 1e9 / ops as f64
    );
}

fn main() {
    if cfg!(debug_assertions) {
        eprintln!("note: debug build; use --release for meaningful figures");
    }
    println!(
        "{:<40} {:>9} {:>10} {:>10}",
        "measurement", "ops", "total_ms", "ns_per_op"
    );

    for n in [0u32, 10_000, 100_000, 1_000_000] {
        let t = Instant::now();
        let mut pool = scattered_pool(n);
        if n > 0 {
            row(
                &format!("setup_reserve_scattered_28/n={n}"),
                u64::from(n),
                t.elapsed().as_secs_f64(),
            );
        }
        const OPS: u64 = 200_000;
        let t = Instant::now();
        for _ in 0..OPS {
            let net = pool.allocate(Family::V4, 28).unwrap();
            pool.release(black_box(net)).unwrap();
        }
        row(
            &format!("alloc_release_28/scattered={n}"),
            OPS,
            t.elapsed().as_secs_f64(),
        );
    }

    const N: u64 = 1_000_000;
    let mut pool = BlockPool::with_roots([root()]).unwrap();
    let t = Instant::now();
    let nets: Vec<IpNet> = (0..N)
        .map(|_| pool.allocate(Family::V4, 28).unwrap())
        .collect();
    row(
        "allocate_consecutive_28/n=1000000",
        N,
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    for net in &nets {
        pool.release(*net).unwrap();
    }
    row(
        "release_consecutive_28/n=1000000",
        N,
        t.elapsed().as_secs_f64(),
    );
    assert_eq!(pool.free_blocks().collect::<Vec<_>>(), vec![root()]);
}
