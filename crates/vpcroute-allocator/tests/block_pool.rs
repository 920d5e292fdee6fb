//! Example-based tests of `BlockPool`.

use std::net::IpAddr;

use vpcroute_allocator::{AllocError, BlockPool, Family, IpNet};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn pool(roots: &[&str]) -> BlockPool {
    let p = BlockPool::with_roots(roots.iter().map(|r| net(r))).unwrap();
    p.check_invariants().unwrap();
    p
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[test]
fn allocations_are_aligned_inside_and_disjoint() {
    let mut p = pool(&["10.0.0.0/16", "10.1.0.0/20"]);
    let mut got = Vec::new();
    for prefix in [24u8, 20, 28, 22, 24, 30, 17, 26, 32, 21] {
        let n = p.allocate(Family::V4, prefix).unwrap();
        assert_eq!(n.prefix_len(), prefix);
        assert_eq!(n.trunc(), n, "{n} aligned");
        assert!(p.roots().any(|r| r.contains(&n)), "{n} inside a root");
        got.push(n);
        p.check_invariants().unwrap();
    }
    for (i, a) in got.iter().enumerate() {
        for b in &got[i + 1..] {
            assert!(!overlaps(a, b), "{a} overlaps {b}");
        }
    }
    let u = p.usage(Family::V4);
    assert_eq!(u.total, 65536 + 4096);
    let used: u128 = got.iter().map(|n| 1u128 << (32 - n.prefix_len())).sum();
    assert_eq!(u.used, used);
    assert_eq!(u.used + u.free, u.total);
}

#[test]
fn lowest_address_first() {
    let mut p = pool(&["10.0.0.0/16"]);
    assert_eq!(p.allocate(Family::V4, 24).unwrap(), net("10.0.0.0/24"));
    assert_eq!(p.allocate(Family::V4, 24).unwrap(), net("10.0.1.0/24"));
    assert_eq!(p.allocate(Family::V4, 23).unwrap(), net("10.0.2.0/23"));
    assert_eq!(p.allocate(Family::V4, 24).unwrap(), net("10.0.4.0/24"));
}

#[test]
fn best_fit_prefers_a_hole_of_the_right_size() {
    // Fragment: allocate three /24s, release the middle one. A /24 request
    // must take that hole rather than splitting the larger free space.
    let mut p = pool(&["10.0.0.0/16"]);
    let a = p.allocate(Family::V4, 24).unwrap();
    let b = p.allocate(Family::V4, 24).unwrap();
    let c = p.allocate(Family::V4, 24).unwrap();
    assert_eq!(
        (a, b, c),
        (net("10.0.0.0/24"), net("10.0.1.0/24"), net("10.0.2.0/24"))
    );
    p.release(b).unwrap();
    // Free now: 10.0.1.0/24, 10.0.3.0/24, 10.0.4.0/22, ... The lowest /24
    // hole is 10.0.1.0.
    assert_eq!(p.allocate(Family::V4, 24).unwrap(), net("10.0.1.0/24"));
    // Next /24 takes the other /24 hole, not the /22.
    assert_eq!(p.allocate(Family::V4, 24).unwrap(), net("10.0.3.0/24"));
    // Best fit across roots: a small root's exact-size block beats the
    // lowest address in a big root.
    let mut p = pool(&["10.0.0.0/16", "192.168.0.0/24"]);
    assert_eq!(p.allocate(Family::V4, 24).unwrap(), net("192.168.0.0/24"));
    assert_eq!(p.allocate(Family::V4, 24).unwrap(), net("10.0.0.0/24"));
}

#[test]
fn best_fit_uses_a_small_hole_before_a_large_one() {
    let mut p = pool(&["10.0.0.0/8"]);
    // Reserve so that a /20 hole exists low in the space, with /16s free above.
    p.reserve(net("10.0.0.0/20")).unwrap();
    p.reserve(net("10.0.32.0/19")).unwrap();
    // Free: 10.0.16.0/20, 10.0.64.0/18, 10.0.128.0/17, 10.1.0.0/16, ...
    assert_eq!(p.allocate(Family::V4, 24).unwrap(), net("10.0.16.0/24"));
    assert_eq!(p.allocate(Family::V4, 18).unwrap(), net("10.0.64.0/18"));
    assert_eq!(p.allocate(Family::V4, 16).unwrap(), net("10.1.0.0/16"));
}

#[test]
fn release_then_reallocate_and_full_merge() {
    let mut p = pool(&["10.0.0.0/16", "10.1.0.0/20"]);
    let mut got = Vec::new();
    while let Ok(n) = p.allocate(Family::V4, 22) {
        got.push(n);
    }
    assert_eq!(got.len(), 64 + 4);
    let err = p.allocate(Family::V4, 22).unwrap_err();
    assert_eq!(
        err,
        AllocError::NoSpace {
            family: Family::V4,
            requested_prefix: 22,
            largest_free: None
        }
    );
    assert_eq!(p.usage(Family::V4).free, 0);
    // Release one, get the same one back.
    p.release(got[10]).unwrap();
    assert_eq!(p.allocate(Family::V4, 22).unwrap(), got[10]);
    // Release everything (in a scrambled order): each root is one free block again.
    let mut order: Vec<usize> = (0..got.len()).collect();
    order.sort_by_key(|i| (i * 37) % got.len());
    for i in order {
        p.release(got[i]).unwrap();
        p.check_invariants().unwrap();
    }
    let free: Vec<IpNet> = p.free_blocks().collect();
    assert_eq!(free, vec![net("10.0.0.0/16"), net("10.1.0.0/20")]);
    assert_eq!(p.allocated().count(), 0);
    let u = p.usage(Family::V4);
    assert_eq!((u.used, u.free), (0, u.total));
}

#[test]
fn no_space_reports_largest_free_block() {
    let mut p = pool(&["10.0.0.0/22"]);
    p.allocate(Family::V4, 23).unwrap();
    let err = p.allocate(Family::V4, 22).unwrap_err();
    assert_eq!(
        err,
        AllocError::NoSpace {
            family: Family::V4,
            requested_prefix: 22,
            largest_free: Some(23)
        }
    );
    assert_eq!(err.code(), "no_space");
    assert!(err.to_string().contains("/22"), "{err}");
    assert!(
        err.to_string().contains("largest free block is /23"),
        "{err}"
    );
    // Empty pool: no free space at all, and the other family is empty too.
    let mut empty = BlockPool::new();
    assert_eq!(
        empty.allocate(Family::V6, 64).unwrap_err(),
        AllocError::NoSpace {
            family: Family::V6,
            requested_prefix: 64,
            largest_free: None
        }
    );
}

#[test]
fn reserve_rules() {
    let mut p = pool(&["10.0.0.0/16"]);
    p.reserve(net("10.0.4.0/22")).unwrap();
    p.check_invariants().unwrap();
    // Overlaps: inside, containing, equal.
    let e = p.reserve(net("10.0.5.0/24")).unwrap_err();
    assert_eq!(
        e,
        AllocError::Overlap {
            net: net("10.0.5.0/24"),
            with: net("10.0.4.0/22")
        }
    );
    assert_eq!(e.code(), "overlap");
    let e = p.reserve(net("10.0.0.0/20")).unwrap_err();
    assert_eq!(
        e,
        AllocError::Overlap {
            net: net("10.0.0.0/20"),
            with: net("10.0.4.0/22")
        }
    );
    let e = p.reserve(net("10.0.4.0/22")).unwrap_err();
    assert_eq!(e.code(), "overlap");
    // Outside any root, or straddling one.
    let e = p.reserve(net("10.1.0.0/24")).unwrap_err();
    assert_eq!(
        e,
        AllocError::OutsidePool {
            target: net("10.1.0.0/24")
        }
    );
    assert_eq!(
        p.reserve(net("10.0.0.0/15")).unwrap_err().code(),
        "outside_pool"
    );
    assert_eq!(
        p.reserve(net("2001:db8::/64")).unwrap_err().code(),
        "outside_pool"
    );
    // Host bits set: rejected, naming the canonical form.
    let e = p.reserve(net("10.0.8.1/24")).unwrap_err();
    assert_eq!(e.code(), "invalid_cidr");
    assert!(e.to_string().contains("10.0.8.0/24"), "{e}");
    // Allocation avoids the reserved block.
    assert_eq!(p.allocate(Family::V4, 22).unwrap(), net("10.0.0.0/22"));
    assert_eq!(p.allocate(Family::V4, 22).unwrap(), net("10.0.8.0/22"));
    // A whole root and a single address.
    let mut q = pool(&["192.168.0.0/24"]);
    q.reserve(net("192.168.0.0/24")).unwrap();
    assert_eq!(q.usage(Family::V4).free, 0);
    q.release(net("192.168.0.0/24")).unwrap();
    q.reserve(net("192.168.0.77/32")).unwrap();
    q.check_invariants().unwrap();
    assert_eq!(q.usage(Family::V4).used, 1);
    assert_eq!(q.allocate(Family::V4, 26).unwrap(), net("192.168.0.0/26"));
}

#[test]
fn release_rules() {
    let mut p = pool(&["10.0.0.0/16"]);
    let a = p.allocate(Family::V4, 24).unwrap();
    // Only exactly an allocated block.
    assert_eq!(
        p.release(net("10.0.0.0/25")).unwrap_err(),
        AllocError::NotAllocated {
            net: net("10.0.0.0/25")
        }
    );
    assert_eq!(
        p.release(net("10.0.0.0/23")).unwrap_err().code(),
        "not_allocated"
    );
    assert_eq!(
        p.release(net("10.9.0.0/24")).unwrap_err().code(),
        "not_allocated"
    );
    assert_eq!(
        p.release(net("10.0.0.1/24")).unwrap_err().code(),
        "invalid_cidr"
    );
    p.release(a).unwrap();
    assert_eq!(p.release(a).unwrap_err().code(), "not_allocated");
    assert!(!p.is_allocated(a));
}

#[test]
fn merging_stops_at_root_boundaries() {
    // Two adjacent roots that would be buddies at /23: they must stay apart.
    let mut p = pool(&["10.0.0.0/24", "10.0.1.0/24"]);
    assert_eq!(p.allocate(Family::V4, 23).unwrap_err().code(), "no_space");
    let a = p.allocate(Family::V4, 24).unwrap();
    p.release(a).unwrap();
    let free: Vec<IpNet> = p.free_blocks().collect();
    assert_eq!(free, vec![net("10.0.0.0/24"), net("10.0.1.0/24")]);
    // Unaligned neighbours of different sizes.
    let mut p = pool(&["10.0.0.0/25", "10.0.0.128/26", "10.0.0.192/26"]);
    let got: Vec<IpNet> = (0..3)
        .map(|_| p.allocate(Family::V4, 26).unwrap())
        .collect();
    assert_eq!(
        got,
        vec![
            net("10.0.0.128/26"),
            net("10.0.0.192/26"),
            net("10.0.0.0/26")
        ]
    );
    for n in got {
        p.release(n).unwrap();
    }
    p.check_invariants().unwrap();
    assert_eq!(p.free_blocks().count(), 3);
}

#[test]
fn roots_add_and_remove() {
    let mut p = pool(&["10.0.0.0/16"]);
    assert_eq!(
        p.add_root(net("10.0.128.0/17")).unwrap_err(),
        AllocError::RootOverlap {
            net: net("10.0.128.0/17"),
            with: net("10.0.0.0/16")
        }
    );
    assert_eq!(
        p.add_root(net("10.0.0.0/8")).unwrap_err().code(),
        "root_overlap"
    );
    assert_eq!(
        p.add_root(net("10.0.0.1/8")).unwrap_err().code(),
        "invalid_cidr"
    );
    p.add_root(net("10.1.0.0/16")).unwrap();
    let a = p.allocate(Family::V4, 24).unwrap();
    assert_eq!(
        p.remove_root(net("10.0.0.0/16")).unwrap_err(),
        AllocError::RootInUse {
            root: net("10.0.0.0/16"),
            allocated: a
        }
    );
    assert_eq!(
        p.remove_root(net("10.0.0.0/17")).unwrap_err().code(),
        "not_a_root"
    );
    p.remove_root(net("10.1.0.0/16")).unwrap();
    p.check_invariants().unwrap();
    assert_eq!(p.roots().collect::<Vec<_>>(), vec![net("10.0.0.0/16")]);
    assert!(!p.contains("10.1.0.1".parse().unwrap()));
    p.release(a).unwrap();
    p.remove_root(net("10.0.0.0/16")).unwrap();
    p.check_invariants().unwrap();
    assert_eq!(p.usage(Family::V4).total, 0);
    assert_eq!(p.free_blocks().count(), 0);
}

#[test]
fn contains_and_queries() {
    let p = pool(&["10.0.0.0/16", "2001:db8::/48"]);
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    assert!(p.contains(ip("10.0.255.255")));
    assert!(!p.contains(ip("10.1.0.0")));
    assert!(p.contains(ip("2001:db8::1")));
    assert!(!p.contains(ip("2001:db9::")));
    assert!(p.contains_net(net("10.0.4.0/22")));
    assert!(!p.contains_net(net("10.0.0.0/15")));
    assert!(p.contains_net(net("2001:db8:0:ff00::/56")));
    assert_eq!(p.root_of(net("10.0.9.0/24")), Some(net("10.0.0.0/16")));
    assert_eq!(p.root_of(net("192.168.0.0/24")), None);
}

#[test]
fn ipv6_pools() {
    let mut p = pool(&["2001:db8::/48", "fd00::/56"]);
    assert_eq!(p.allocate(Family::V6, 56).unwrap(), net("fd00::/56"));
    assert_eq!(p.allocate(Family::V6, 56).unwrap(), net("2001:db8::/56"));
    assert_eq!(
        p.allocate(Family::V6, 64).unwrap(),
        net("2001:db8:0:100::/64")
    );
    assert_eq!(
        p.allocate(Family::V6, 128).unwrap(),
        net("2001:db8:0:101::/128")
    );
    p.reserve(net("2001:db8:0:ff00::/56")).unwrap();
    assert_eq!(
        p.reserve(net("2001:db8:0:ff80::/64")).unwrap_err().code(),
        "overlap"
    );
    let u = p.usage(Family::V6);
    assert_eq!(u.total, (1u128 << 80) + (1u128 << 72));
    assert_eq!(u.used + u.free, u.total);
    // The reservation split 2001:db8:0:8000::/49, so the largest free
    // blocks are /50s; the lowest is reported.
    assert_eq!(u.largest_free, Some(net("2001:db8:0:4000::/50")));
    // The IPv4 side is untouched.
    assert_eq!(p.usage(Family::V4).total, 0);
    for n in p.allocated().collect::<Vec<_>>() {
        p.release(n).unwrap();
    }
    p.check_invariants().unwrap();
    assert_eq!(
        p.free_blocks().collect::<Vec<_>>(),
        vec![net("2001:db8::/48"), net("fd00::/56")]
    );
}

#[test]
fn extreme_prefixes_never_panic() {
    // IPv6 /0 root: counts saturate, everything else works.
    let mut p = pool(&["::/0", "0.0.0.0/0"]);
    let u = p.usage(Family::V6);
    assert_eq!((u.total, u.used, u.free), (u128::MAX, 0, u128::MAX));
    assert_eq!(u.largest_free, Some(net("::/0")));
    assert_eq!(p.usage(Family::V4).total, 1u128 << 32);
    assert_eq!(p.allocate(Family::V6, 128).unwrap(), net("::/128"));
    assert_eq!(p.allocate(Family::V6, 1).unwrap(), net("8000::/1"));
    assert_eq!(p.usage(Family::V6).used, (1u128 << 127) + 1);
    assert_eq!(p.usage(Family::V6).free, (1u128 << 127) - 1);
    p.reserve(net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"))
        .unwrap_err();
    p.release(net("8000::/1")).unwrap();
    p.reserve(net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"))
        .unwrap();
    p.check_invariants().unwrap();
    for n in p.allocated().collect::<Vec<_>>() {
        p.release(n).unwrap();
    }
    assert_eq!(p.allocate(Family::V6, 0).unwrap(), net("::/0"));
    assert_eq!(p.usage(Family::V6).used, u128::MAX);
    assert_eq!(p.usage(Family::V6).free, 0);
    p.release(net("::/0")).unwrap();
    assert_eq!(p.allocate(Family::V4, 0).unwrap(), net("0.0.0.0/0"));
    assert_eq!(p.allocate(Family::V4, 32).unwrap_err().code(), "no_space");
    // Prefix lengths beyond the family.
    let e = p.allocate(Family::V4, 33).unwrap_err();
    assert_eq!(
        e,
        AllocError::InvalidPrefixLen {
            family: Family::V4,
            prefix_len: 33,
            max: 32
        }
    );
    assert_eq!(
        p.allocate(Family::V6, 129).unwrap_err().code(),
        "invalid_prefix_len"
    );
    assert_eq!(
        p.allocate(Family::V6, 255).unwrap_err().code(),
        "invalid_prefix_len"
    );
    // Two /1 roots covering all of IPv6: total saturates.
    let p = pool(&["::/1", "8000::/1"]);
    assert_eq!(p.usage(Family::V6).total, u128::MAX);
    // /32 and /128 roots.
    let mut p = pool(&[
        "255.255.255.255/32",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
    ]);
    assert_eq!(
        p.allocate(Family::V4, 32).unwrap(),
        net("255.255.255.255/32")
    );
    assert_eq!(p.allocate(Family::V6, 128).unwrap().prefix_len(), 128);
    assert_eq!(p.allocate(Family::V6, 128).unwrap_err().code(), "no_space");
    p.check_invariants().unwrap();
}

#[test]
fn error_codes_are_stable_and_distinct() {
    let n = net("10.0.0.0/24");
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    let errors = [
        AllocError::InvalidCidr {
            input: String::new(),
            reason: String::new(),
        },
        AllocError::InvalidNetmask {
            mask: "255.0.255.0".parse().unwrap(),
        },
        AllocError::InvalidPrefixLen {
            family: Family::V4,
            prefix_len: 40,
            max: 32,
        },
        AllocError::OutsidePool { target: n },
        AllocError::Overlap { net: n, with: n },
        AllocError::NoSpace {
            family: Family::V4,
            requested_prefix: 22,
            largest_free: Some(23),
        },
        AllocError::NotAllocated { net: n },
        AllocError::RootOverlap { net: n, with: n },
        AllocError::RootInUse {
            root: n,
            allocated: n,
        },
        AllocError::NotARoot { net: n },
        AllocError::SubnetTooSmall {
            subnet: n,
            max_prefix: 30,
        },
        AllocError::InvalidGateway {
            gateway: a,
            subnet: n,
            reason: "x",
        },
        AllocError::Reserved {
            addr: a,
            kind: vpcroute_allocator::ReservedKind::Gateway,
        },
        AllocError::AddressInUse { addr: a },
        AllocError::AddressNotAllocated { addr: a },
        AllocError::Exhausted { subnet: n },
    ];
    let codes: Vec<&str> = errors.iter().map(|e| e.code()).collect();
    assert_eq!(
        codes,
        [
            "invalid_cidr",
            "invalid_netmask",
            "invalid_prefix_len",
            "outside_pool",
            "overlap",
            "no_space",
            "not_allocated",
            "root_overlap",
            "root_in_use",
            "not_a_root",
            "subnet_too_small",
            "invalid_gateway",
            "reserved",
            "address_in_use",
            "address_not_allocated",
            "exhausted",
        ]
    );
    for e in &errors {
        assert!(!e.to_string().is_empty());
    }
}
