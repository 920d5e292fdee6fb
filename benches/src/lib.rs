//! Shared pieces of the vpcroute benchmarks (`scripts/bench.sh` runs them).
//!
//! Every benchmark binary prints progress on stderr and exactly one line of
//! JSON on stdout (its figures), which `bench.sh` collects into
//! `BENCHMARKS.md`. Nothing here asserts a timing.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};
use vpcroute_protocol::ipam::{IpamEvent, RouterSpec};

/// Prints the one JSON result line of a benchmark.
pub fn emit(v: serde_json::Value) {
    println!("{}", serde_json::to_string(&v).expect("json"));
}

/// Progress line on stderr.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => { eprintln!("[{}] {}", env!("CARGO_BIN_NAME"), format!($($t)*)) };
}

/// `VmRSS` and `VmHWM` (peak RSS) in KiB of a process (`None` = self).
pub fn rss_kib(pid: Option<u32>) -> (u64, u64) {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Percentiles (in the unit of the samples) of an unsorted sample set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pcts {
    pub n: usize,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

pub fn pcts(samples: &mut [u64]) -> Pcts {
    if samples.is_empty() {
        return Pcts::default();
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Pcts {
        n: samples.len(),
        mean: samples.iter().map(|&x| x as f64).sum::<f64>() / samples.len() as f64,
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: *samples.last().unwrap(),
    }
}

impl Pcts {
    /// As JSON, converting ns samples to µs.
    pub fn json_us(&self) -> serde_json::Value {
        let us = |x: f64| (x / 10.0).round() / 100.0;
        serde_json::json!({
            "n": self.n,
            "mean_us": us(self.mean),
            "p50_us": us(self.p50 as f64),
            "p90_us": us(self.p90 as f64),
            "p99_us": us(self.p99 as f64),
            "max_us": us(self.max as f64),
        })
    }
}

pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 1e4
}

// ------------------------------------------------------------ ipam workload

/// Shape of the generated ipam history: one zone owning 10.0.0.0/8, then
/// per VPC (a /24 with a virtual router) 4 tiers (/26, each with a VR
/// interface) of 61 VMs each: 249 events per VPC.
pub const ZONE: &str = "zone-1";
pub const TIERS_PER_VPC: u32 = 4;
pub const VMS_PER_TIER: u32 = 61;

fn vpc_net(i: u32) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::from(0x0a00_0000u32 + (i << 8)), 24).expect("/24")
}

pub fn router_spec(i: u32) -> RouterSpec {
    RouterSpec {
        name: format!("vr-{i}"),
        // 172.16.0.1, 172.16.0.2, ...: unique, never .0.0.0 or broadcast.
        router_id: Ipv4Addr::from(0xac10_0000u32 + i + 1),
        uplink_interface: "eth1".into(),
        uplink_address: Ipv4Net::new(Ipv4Addr::from(0x6440_0000u32 + i + 2), 10).expect("/10"),
    }
}

/// The first `n` events of a valid ipam history (zone, VPCs, tiers, VMs in
/// creation order). Lazy: nothing is kept in memory.
pub fn ipam_events(n: usize) -> impl Iterator<Item = IpamEvent> {
    let zone = std::iter::once(IpamEvent::ZoneEnabled {
        zone: ZONE.into(),
        super_cidrs: vec!["10.0.0.0/8".parse().unwrap()],
    });
    let vpcs = (0u32..).flat_map(|i| {
        let vpc = format!("vpc-{i}");
        let net = vpc_net(i);
        let head = std::iter::once(IpamEvent::VpcAllocated {
            vpc: vpc.clone(),
            zone: ZONE.into(),
            cidr: IpNet::V4(net),
            router: Some(router_spec(i)),
        });
        let tiers = (0..TIERS_PER_VPC).flat_map(move |j| {
            let base = u32::from(net.network()) + 64 * j;
            let tier = format!("tier-{i}-{j}");
            let t = std::iter::once(IpamEvent::TierAllocated {
                tier: tier.clone(),
                vpc: format!("vpc-{i}"),
                cidr: IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base), 26).unwrap()),
                gateway: Ipv4Addr::from(base + 1).into(),
                interface: Some(format!("eth{}", j + 2)),
                acl: None,
            });
            let vms = (0..VMS_PER_TIER).map(move |k| IpamEvent::VmAddressAllocated {
                vm: format!("vm-{i}-{j}-{k}"),
                tier: tier.clone(),
                ip: Ipv4Addr::from(base + 2 + k).into(),
            });
            t.chain(vms)
        });
        head.chain(tiers)
    });
    zone.chain(vpcs).take(n)
}

// ------------------------------------------------------------- processes

/// A binary built next to this one (same target dir and profile).
pub fn sibling_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("exe dir").join(name)
}

/// CPU time (user + system, seconds) a process has used so far.
pub fn cpu_secs(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime, stime are 14, 15.
    let rest = text.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // `rest` starts at field 3 (state), so field k is at index k - 3.
    (ticks(14 - 3) + ticks(15 - 3)) / 100.0
}

/// `n`, min, p50, p95, max and mean of millisecond samples, rounded to
/// microseconds (`null` when there are none).
pub fn ms_stats(ms: &[f64]) -> serde_json::Value {
    if ms.is_empty() {
        return serde_json::Value::Null;
    }
    let mut v = ms.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    serde_json::json!({
        "n": v.len(),
        "min_ms": r(v[0]),
        "p50_ms": r(at(0.5)),
        "p95_ms": r(at(0.95)),
        "max_ms": r(v[v.len() - 1]),
        "mean_ms": r(v.iter().sum::<f64>() / v.len() as f64),
    })
}

/// A duration in milliseconds, rounded to 10 µs.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// The first three fields of `/proc/loadavg` (1, 5 and 15 minute load),
/// printed beside figures taken on a machine shared with other work.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Milliseconds each of `n` calls of `f` took (see [`ms`]).
pub fn time_ms(n: usize, mut f: impl FnMut()) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            ms(t.elapsed())
        })
        .collect()
}

/// A size or duration a benchmark takes from the environment variable
/// `name` (`scripts/bench.sh` sets none): `default` when unset or
/// unparsable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
