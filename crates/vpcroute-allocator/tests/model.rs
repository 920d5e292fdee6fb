//! Property tests: random operation sequences checked against naive models.
//!
//! The block-pool model is just the set of allocated ranges. From it the
//! test derives the *buddy decomposition* of each root's free space (split a
//! block while it partly overlaps something allocated). Because the pool
//! keeps no two free buddies, its free lists must equal that decomposition
//! exactly, and best fit must pick from it: the smallest block that holds
//! the request, lowest address first.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vpcroute_allocator::{AllocError, BlockPool, Family, HostPool, IpNet};

fn bits(f: Family) -> u8 {
    f.bits()
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(f: Family, v: u128) -> IpAddr {
    match f {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(v as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

fn mask(f: Family, p: u8) -> u128 {
    let h = u32::from(bits(f) - p);
    if h == 128 {
        u128::MAX
    } else {
        (1u128 << h) - 1
    }
}

/// (family, first, last, prefix)
type Block = (Family, u128, u128, u8);

fn block(n: &IpNet) -> Block {
    let f = Family::of_net(n);
    let s = to_u128(n.network());
    (f, s, s | mask(f, n.prefix_len()), n.prefix_len())
}

fn mk(f: Family, s: u128, p: u8) -> IpNet {
    IpNet::new(from_u128(f, s), p).unwrap()
}

fn overlap(a: &Block, b: &Block) -> bool {
    a.0 == b.0 && a.1 <= b.2 && b.1 <= a.2
}

struct Model {
    roots: Vec<IpNet>,
    allocated: BTreeSet<IpNet>,
}

impl Model {
    fn free_decomposition(&self) -> Vec<Block> {
        fn go(m: &Model, f: Family, s: u128, p: u8, out: &mut Vec<Block>) {
            let me = (f, s, s | mask(f, p), p);
            let mut any = false;
            for a in m.allocated.iter().map(block) {
                if overlap(&a, &me) {
                    if a.1 <= me.1 && me.2 <= a.2 {
                        return; // fully allocated
                    }
                    any = true;
                }
            }
            if !any {
                out.push(me);
            } else {
                let half = 1u128 << (bits(f) - p - 1);
                go(m, f, s, p + 1, out);
                go(m, f, s | half, p + 1, out);
            }
        }
        let mut out = Vec::new();
        for r in &self.roots {
            let (f, s, _, p) = block(r);
            go(self, f, s, p, &mut out);
        }
        out
    }

    fn expected_allocation(&self, f: Family, p: u8) -> Result<IpNet, AllocError> {
        let free = self.free_decomposition();
        let best = free
            .iter()
            .filter(|b| b.0 == f && b.3 <= p)
            .min_by_key(|b| (std::cmp::Reverse(b.3), b.1));
        match best {
            Some(b) => Ok(mk(f, b.1, p)),
            None => Err(AllocError::NoSpace {
                family: f,
                requested_prefix: p,
                largest_free: free.iter().filter(|b| b.0 == f).map(|b| b.3).min(),
            }),
        }
    }

    fn inside_root(&self, n: &IpNet) -> bool {
        let b = block(n);
        self.roots
            .iter()
            .map(block)
            .any(|r| r.0 == b.0 && r.1 <= b.1 && b.2 <= r.2)
    }
}

fn check_against_model(pool: &BlockPool, model: &Model) {
    pool.check_invariants().unwrap();
    let got: BTreeSet<IpNet> = pool.allocated().collect();
    assert_eq!(got, model.allocated);
    let mut free: Vec<Block> = pool.free_blocks().map(|n| block(&n)).collect();
    let mut want = model.free_decomposition();
    free.sort();
    want.sort();
    assert_eq!(free, want, "free lists differ from the buddy decomposition");
    for f in [Family::V4, Family::V6] {
        let u = pool.usage(f);
        let size = |b: &Block| b.2 - b.1 + 1;
        let total: u128 = model
            .roots
            .iter()
            .map(block)
            .filter(|b| b.0 == f)
            .map(|b| size(&b))
            .sum();
        let used: u128 = model
            .allocated
            .iter()
            .map(block)
            .filter(|b| b.0 == f)
            .map(|b| size(&b))
            .sum();
        assert_eq!((u.total, u.used, u.free), (total, used, total - used));
        let largest = want
            .iter()
            .filter(|b| b.0 == f)
            .min_by_key(|b| (b.3, b.1))
            .map(|b| mk(f, b.1, b.3));
        assert_eq!(u.largest_free, largest);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Allocate {
        v6: bool,
        prefix: u8,
    },
    Reserve {
        v6: bool,
        offset: u32,
        prefix: u8,
        dirty: bool,
    },
    Release {
        v6: bool,
        pick: usize,
        random: bool,
        offset: u32,
        prefix: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0u8..13).prop_map(|(v6, d)| Op::Allocate { v6, prefix: d }),
        3 => (any::<bool>(), 0u32..1024, 0u8..13, prop::bool::weighted(0.1))
            .prop_map(|(v6, offset, d, dirty)| Op::Reserve { v6, offset, prefix: d, dirty }),
        3 => (any::<bool>(), any::<usize>(), prop::bool::weighted(0.2), 0u32..1024, 0u8..13)
            .prop_map(|(v6, pick, random, offset, d)| Op::Release { v6, pick, random, offset, prefix: d }),
    ]
}

/// The region the ops work in: a /22 (IPv4) or /118 (IPv6) that the roots
/// only partly cover, so some requests fall outside.
fn region(v6: bool) -> (Family, u128, u8) {
    if v6 {
        (Family::V6, to_u128("2001:db8::".parse().unwrap()), 118)
    } else {
        (Family::V4, to_u128("10.0.0.0".parse().unwrap()), 22)
    }
}

/// Prefix lengths from one shorter than the region (too big) to the
/// family's longest, plus one invalid length for allocate (`d` in 0..13).
fn prefix_of(v6: bool, d: u8) -> u8 {
    let (f, _, rp) = region(v6);
    (rp - 1 + d).min(bits(f) + 1)
}

fn net_in_region(v6: bool, offset: u32, d: u8) -> IpNet {
    let (f, base, _) = region(v6);
    let p = prefix_of(v6, d).min(bits(f));
    let s = (base + u128::from(offset)) & !mask(f, p);
    mk(f, s, p)
}

fn roots() -> Vec<IpNet> {
    // Unaligned neighbours of different sizes, in both families.
    [
        "10.0.0.0/24",
        "10.0.1.0/25",
        "10.0.1.192/26",
        "10.0.2.128/30",
        "2001:db8::/120",
        "2001:db8::100/121",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn block_pool_matches_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut pool = BlockPool::with_roots(roots()).unwrap();
        let mut model = Model { roots: roots(), allocated: BTreeSet::new() };
        for op in ops {
            match op {
                Op::Allocate { v6, prefix } => {
                    let (f, _, _) = region(v6);
                    let p = prefix_of(v6, prefix);
                    // The read-only question answers what allocate does.
                    let free_before: Vec<IpNet> = pool.free_blocks().collect();
                    let peek = pool.next_allocation(f, p);
                    prop_assert_eq!(pool.free_blocks().collect::<Vec<_>>(), free_before);
                    let got = pool.allocate(f, p);
                    prop_assert_eq!(&peek, &got);
                    if p > bits(f) {
                        prop_assert_eq!(got.unwrap_err().code(), "invalid_prefix_len");
                        continue;
                    }
                    let want = model.expected_allocation(f, p);
                    prop_assert_eq!(&got, &want);
                    if let Ok(n) = got {
                        prop_assert!(model.inside_root(&n));
                        prop_assert!(model.allocated.iter().all(|a| !overlap(&block(a), &block(&n))));
                        model.allocated.insert(n);
                    }
                }
                Op::Reserve { v6, offset, prefix, dirty } => {
                    let n = net_in_region(v6, offset, prefix);
                    if dirty && n.prefix_len() < bits(Family::of_net(&n)) {
                        // Host bits set: always rejected, naming the canonical form.
                        let d = IpNet::new(from_u128(Family::of_net(&n), to_u128(n.network()) | 1), n.prefix_len()).unwrap();
                        prop_assert_eq!(pool.check_reserve(d), pool.clone().reserve(d));
                        let e = pool.reserve(d).unwrap_err();
                        prop_assert_eq!(e.code(), "invalid_cidr");
                        prop_assert!(e.to_string().contains(&n.to_string()));
                        continue;
                    }
                    let free_before: Vec<IpNet> = pool.free_blocks().collect();
                    let peek = pool.check_reserve(n);
                    prop_assert_eq!(pool.free_blocks().collect::<Vec<_>>(), free_before);
                    let got = pool.reserve(n);
                    prop_assert_eq!(&peek, &got);
                    if !model.inside_root(&n) {
                        prop_assert_eq!(got, Err(AllocError::OutsidePool { target: n }));
                    } else if model.allocated.iter().any(|a| overlap(&block(a), &block(&n))) {
                        match got {
                            Err(AllocError::Overlap { net, with }) => {
                                prop_assert_eq!(net, n);
                                prop_assert!(model.allocated.contains(&with));
                                prop_assert!(overlap(&block(&with), &block(&n)));
                            }
                            other => prop_assert!(false, "expected overlap, got {:?}", other),
                        }
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        model.allocated.insert(n);
                    }
                }
                Op::Release { v6, pick, random, offset, prefix } => {
                    let n = if random || model.allocated.is_empty() {
                        net_in_region(v6, offset, prefix)
                    } else {
                        *model.allocated.iter().nth(pick % model.allocated.len()).unwrap()
                    };
                    let got = pool.release(n);
                    if model.allocated.remove(&n) {
                        prop_assert_eq!(got, Ok(()));
                    } else {
                        prop_assert_eq!(got, Err(AllocError::NotAllocated { net: n }));
                    }
                }
            }
            check_against_model(&pool, &model);
        }
        // Releasing everything merges each root back into one free block.
        for n in model.allocated.clone() {
            pool.release(n).unwrap();
        }
        let free: BTreeSet<IpNet> = pool.free_blocks().collect();
        let want: BTreeSet<IpNet> = roots().into_iter().collect();
        prop_assert_eq!(free, want);
    }

    #[test]
    fn host_pool_matches_model(
        v6 in any::<bool>(),
        gw_offset in 1u32..31,
        ops in prop::collection::vec((0u8..3, 0u32..40), 1..120),
    ) {
        let (f, subnet) = if v6 {
            (Family::V6, "2001:db8::/123".parse::<IpNet>().unwrap())
        } else {
            (Family::V4, "10.9.8.0/27".parse::<IpNet>().unwrap())
        };
        let first = to_u128(subnet.network());
        let size = 32u32;
        let gateway = from_u128(f, first + u128::from(gw_offset));
        let mut pool = HostPool::new(subnet, gateway).unwrap();
        let reserved = |o: u32| o == 0 || o == gw_offset || (f == Family::V4 && o == size - 1);
        let usable = (0..size).filter(|&o| !reserved(o)).count() as u128;
        let mut model: BTreeSet<u32> = BTreeSet::new();
        for (kind, offset) in ops {
            let addr = from_u128(f, first + u128::from(offset));
            match kind {
                0 => {
                    let want = (0..size).find(|&o| !reserved(o) && !model.contains(&o));
                    let peek = pool.next_allocation();
                    let got = pool.allocate();
                    prop_assert_eq!(&peek, &got);
                    match want {
                        Some(o) => {
                            prop_assert_eq!(got, Ok(from_u128(f, first + u128::from(o))));
                            model.insert(o);
                        }
                        None => prop_assert_eq!(got.unwrap_err().code(), "exhausted"),
                    }
                }
                1 | 2 => {
                    let peek = pool.check_reserve(addr);
                    let got = if kind == 1 { pool.reserve(addr) } else { pool.release(addr) };
                    if kind == 1 {
                        prop_assert_eq!(&peek, &got);
                    }
                    let code = got.as_ref().err().map(|e| e.code());
                    if offset >= size {
                        prop_assert_eq!(code, Some("outside_pool"));
                    } else if reserved(offset) {
                        prop_assert_eq!(code, Some("reserved"));
                    } else if kind == 1 {
                        if model.insert(offset) {
                            prop_assert_eq!(code, None);
                        } else {
                            prop_assert_eq!(code, Some("address_in_use"));
                        }
                    } else if model.remove(&offset) {
                        prop_assert_eq!(code, None);
                    } else {
                        prop_assert_eq!(code, Some("address_not_allocated"));
                    }
                }
                _ => unreachable!(),
            }
            let got: Vec<IpAddr> = pool.allocated().collect();
            let want: Vec<IpAddr> = model.iter().map(|&o| from_u128(f, first + u128::from(o))).collect();
            prop_assert_eq!(got, want);
            let u = pool.usage();
            prop_assert_eq!((u.total, u.used, u.free), (usable, model.len() as u128, usable - model.len() as u128));
        }
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        let _ = vpcroute_allocator::parse_canonical_cidr(&s);
    }

    #[test]
    fn parse_roundtrips_canonical(v6 in any::<bool>(), raw in any::<u128>(), p in 0u8..=128) {
        let f = if v6 { Family::V6 } else { Family::V4 };
        let p = p.min(bits(f));
        let n = mk(f, raw & !mask(f, p) & if v6 { u128::MAX } else { u128::from(u32::MAX) }, p);
        prop_assert_eq!(vpcroute_allocator::parse_canonical_cidr(&n.to_string()), Ok(n));
    }

    #[test]
    fn any_prefix_and_root_never_panics(
        v6 in any::<bool>(), raw in any::<u128>(), rp in 0u8..=128, reqs in prop::collection::vec(0u8..=130, 1..20)
    ) {
        let f = if v6 { Family::V6 } else { Family::V4 };
        let rp = rp.min(bits(f));
        let raw = if v6 { raw } else { raw & u128::from(u32::MAX) };
        let root = mk(f, raw & !mask(f, rp), rp);
        let mut pool = BlockPool::with_roots([root]).unwrap();
        let mut got = Vec::new();
        for p in reqs {
            if let Ok(n) = pool.allocate(f, p) {
                got.push(n);
            }
            let _ = pool.usage(f);
        }
        pool.check_invariants().unwrap();
        for n in got {
            pool.release(n).unwrap();
        }
        prop_assert_eq!(pool.free_blocks().collect::<Vec<_>>(), vec![root]);
        let mut hp = HostPool::with_default_gateway(root);
        if let Ok(hp) = hp.as_mut() {
            let a = hp.allocate().unwrap();
            prop_assert!(root.contains(&a));
        }
    }
}

#[test]
fn scattered_pool_stays_consistent() {
    // A larger deterministic run: reserve 20,000 scattered /28s in a /12 via
    // a full-period LCG, allocate /26s and release in between, and compare with
    // a plain map at the end.
    let root: IpNet = "10.0.0.0/12".parse().unwrap();
    let mut pool = BlockPool::with_roots([root]).unwrap();
    let slots = 1u32 << 16; // /28s in a /12
    let mut x = 12345u32;
    let mut model = BTreeMap::new();
    for i in 0..20_000u32 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223) & (slots - 1);
        let n = mk(
            Family::V4,
            to_u128("10.0.0.0".parse().unwrap()) + (u128::from(x) << 4),
            28,
        );
        // Earlier /26 allocations may cover the slot: then it must be
        // reported as overlapping one of them.
        match pool.reserve(n) {
            Ok(()) => {
                model.insert(n, ());
            }
            Err(AllocError::Overlap { with, .. }) => {
                assert!(model.contains_key(&with) && with.contains(&n));
            }
            Err(e) => panic!("{e}"),
        }
        if i % 7 == 0 {
            let a = pool.allocate(Family::V4, 26).unwrap();
            model.insert(a, ());
        }
        if i % 11 == 0 {
            let victim = *model.keys().nth((i as usize * 31) % model.len()).unwrap();
            pool.release(victim).unwrap();
            model.remove(&victim);
        }
    }
    pool.check_invariants().unwrap();
    assert!(pool.allocated().eq(model.keys().copied()));
    let u = pool.usage(Family::V4);
    assert_eq!(u.used + u.free, u.total);
}
