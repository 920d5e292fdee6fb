//! Example-based tests of `HostPool` and the CIDR helpers.

use std::net::{IpAddr, Ipv4Addr};

use vpcroute_allocator::{
    default_gateway, netmask_to_prefix, parse_canonical_cidr, AllocError, HostPool, HostUsage,
    IpNet, ReservedKind,
};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn never_hands_out_network_gateway_or_broadcast() {
    let mut p = HostPool::new(net("10.1.2.0/28"), ip("10.1.2.1")).unwrap();
    assert_eq!(
        p.usage(),
        HostUsage {
            total: 13,
            used: 0,
            free: 13
        }
    );
    let mut got = Vec::new();
    while let Ok(a) = p.allocate() {
        got.push(a);
    }
    let expected: Vec<IpAddr> = (2..=14).map(|i| ip(&format!("10.1.2.{i}"))).collect();
    assert_eq!(got, expected, "lowest first, skipping .0, .1 and .15");
    assert_eq!(
        p.allocate().unwrap_err(),
        AllocError::Exhausted {
            subnet: net("10.1.2.0/28")
        }
    );
    assert_eq!(
        p.usage(),
        HostUsage {
            total: 13,
            used: 13,
            free: 0
        }
    );
    assert_eq!(p.allocated().collect::<Vec<_>>(), expected);
}

#[test]
fn gateway_in_the_middle() {
    let mut p = HostPool::new(net("192.168.0.0/29"), ip("192.168.0.4")).unwrap();
    let got: Vec<IpAddr> = std::iter::from_fn(|| p.allocate().ok()).collect();
    let want: Vec<IpAddr> = [1, 2, 3, 5, 6]
        .iter()
        .map(|i| ip(&format!("192.168.0.{i}")))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn release_and_reuse_lowest_first() {
    let mut p = HostPool::with_default_gateway(net("10.0.0.0/24")).unwrap();
    assert_eq!(p.gateway(), ip("10.0.0.1"));
    assert_eq!(p.broadcast(), Some(ip("10.0.0.255")));
    let a: Vec<IpAddr> = (0..10).map(|_| p.allocate().unwrap()).collect();
    assert_eq!(a[0], ip("10.0.0.2"));
    assert_eq!(a[9], ip("10.0.0.11"));
    p.release(a[5]).unwrap();
    p.release(a[2]).unwrap();
    assert!(!p.is_allocated(a[2]));
    assert!(p.is_allocated(a[3]));
    assert_eq!(p.usage().used, 8);
    assert_eq!(p.allocate().unwrap(), a[2]);
    assert_eq!(p.allocate().unwrap(), a[5]);
    assert_eq!(p.allocate().unwrap(), ip("10.0.0.12"));
    // Release everything: back to the initial free ranges.
    for x in p.allocated().collect::<Vec<_>>() {
        p.release(x).unwrap();
    }
    assert_eq!(
        p.usage(),
        HostUsage {
            total: 253,
            used: 0,
            free: 253
        }
    );
    assert_eq!(p.allocate().unwrap(), ip("10.0.0.2"));
}

#[test]
fn reserve_and_release_errors() {
    let mut p = HostPool::new(net("10.0.0.0/24"), ip("10.0.0.1")).unwrap();
    let e = p.reserve(ip("10.0.0.0")).unwrap_err();
    assert_eq!(
        e,
        AllocError::Reserved {
            addr: ip("10.0.0.0"),
            kind: ReservedKind::Network
        }
    );
    assert!(e.to_string().contains("network address"), "{e}");
    assert_eq!(
        p.reserve(ip("10.0.0.1")).unwrap_err(),
        AllocError::Reserved {
            addr: ip("10.0.0.1"),
            kind: ReservedKind::Gateway
        }
    );
    assert_eq!(
        p.release(ip("10.0.0.255")).unwrap_err(),
        AllocError::Reserved {
            addr: ip("10.0.0.255"),
            kind: ReservedKind::Broadcast
        }
    );
    assert_eq!(
        p.reserve(ip("10.0.1.0")).unwrap_err(),
        AllocError::OutsidePool {
            target: net("10.0.1.0/32")
        }
    );
    assert_eq!(p.reserve(ip("::1")).unwrap_err().code(), "outside_pool");
    p.reserve(ip("10.0.0.2")).unwrap();
    p.reserve(ip("10.0.0.100")).unwrap();
    p.reserve(ip("10.0.0.254")).unwrap();
    assert_eq!(
        p.reserve(ip("10.0.0.100")).unwrap_err(),
        AllocError::AddressInUse {
            addr: ip("10.0.0.100")
        }
    );
    assert_eq!(
        p.release(ip("10.0.0.101")).unwrap_err(),
        AllocError::AddressNotAllocated {
            addr: ip("10.0.0.101")
        }
    );
    assert_eq!(p.allocate().unwrap(), ip("10.0.0.3"));
    assert_eq!(
        p.allocated().collect::<Vec<_>>(),
        vec![
            ip("10.0.0.2"),
            ip("10.0.0.3"),
            ip("10.0.0.100"),
            ip("10.0.0.254")
        ]
    );
    assert_eq!(
        p.reserved_kind(ip("10.0.0.255")),
        Some(ReservedKind::Broadcast)
    );
    assert_eq!(p.reserved_kind(ip("10.0.0.7")), None);
    assert_eq!(p.reserved_kind(ip("10.0.1.0")), None);
}

#[test]
fn construction_rules() {
    // Smallest tiers.
    let p = HostPool::new(net("10.0.0.0/30"), ip("10.0.0.1")).unwrap();
    assert_eq!(p.usage().total, 1);
    for s in ["10.0.0.0/31", "10.0.0.0/32"] {
        let e = HostPool::with_default_gateway(net(s)).unwrap_err();
        assert_eq!(
            e,
            AllocError::SubnetTooSmall {
                subnet: net(s),
                max_prefix: 30
            }
        );
    }
    let p = HostPool::new(net("2001:db8::/126"), ip("2001:db8::1")).unwrap();
    assert_eq!(p.usage().total, 2, "IPv6 has no broadcast");
    for s in ["2001:db8::/127", "2001:db8::/128"] {
        assert_eq!(
            HostPool::with_default_gateway(net(s)).unwrap_err().code(),
            "subnet_too_small"
        );
    }
    // Gateways.
    let bad = |s: &str, g: &str| HostPool::new(net(s), ip(g)).unwrap_err();
    assert_eq!(bad("10.0.0.0/24", "10.0.0.0").code(), "invalid_gateway");
    assert_eq!(bad("10.0.0.0/24", "10.0.0.255").code(), "invalid_gateway");
    assert_eq!(bad("10.0.0.0/24", "10.0.1.1").code(), "invalid_gateway");
    assert_eq!(bad("10.0.0.0/24", "::1").code(), "invalid_gateway");
    assert_eq!(bad("2001:db8::/64", "2001:db8::").code(), "invalid_gateway");
    // IPv6: the last address is usable, even as the gateway.
    let mut p = HostPool::new(net("2001:db8::/126"), ip("2001:db8::3")).unwrap();
    assert_eq!(p.allocate().unwrap(), ip("2001:db8::1"));
    assert_eq!(p.allocate().unwrap(), ip("2001:db8::2"));
    assert_eq!(p.allocate().unwrap_err().code(), "exhausted");
    // Host bits set.
    let e = HostPool::new(net("10.0.0.7/24"), ip("10.0.0.1")).unwrap_err();
    assert_eq!(e.code(), "invalid_cidr");
    assert!(e.to_string().contains("10.0.0.0/24"), "{e}");
}

#[test]
fn ipv6_tiers_and_extremes() {
    let mut p = HostPool::with_default_gateway(net("2001:db8:0:1::/64")).unwrap();
    assert_eq!(p.usage().total, (1u128 << 64) - 2);
    assert_eq!(p.broadcast(), None);
    assert_eq!(p.allocate().unwrap(), ip("2001:db8:0:1::2"));
    p.reserve(ip("2001:db8:0:1:ffff:ffff:ffff:ffff")).unwrap();
    assert_eq!(p.usage().used, 2);
    p.release(ip("2001:db8:0:1:ffff:ffff:ffff:ffff")).unwrap();
    // The whole IPv6 space as one tier: counts stay exact (2^128 - 2).
    let mut p = HostPool::with_default_gateway(net("::/0")).unwrap();
    assert_eq!(p.usage().total, u128::MAX - 1);
    let top = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    p.reserve(top).unwrap();
    assert_eq!(p.reserve(top).unwrap_err().code(), "address_in_use");
    assert!(p.allocated().eq([top]));
    p.release(top).unwrap();
    assert_eq!(p.allocate().unwrap(), ip("::2"));
    // The whole IPv4 space.
    let mut p = HostPool::with_default_gateway(net("0.0.0.0/0")).unwrap();
    assert_eq!(p.usage().total, (1u128 << 32) - 3);
    assert_eq!(
        p.reserve(ip("255.255.255.255")).unwrap_err().code(),
        "reserved"
    );
    p.reserve(ip("255.255.255.254")).unwrap();
}

#[test]
fn netmasks() {
    let m = |s: &str| netmask_to_prefix(s.parse().unwrap());
    assert_eq!(m("255.255.255.0"), Ok(24));
    assert_eq!(m("255.255.255.255"), Ok(32));
    assert_eq!(m("0.0.0.0"), Ok(0));
    assert_eq!(m("255.255.252.0"), Ok(22));
    assert_eq!(m("128.0.0.0"), Ok(1));
    for bad in [
        "255.0.255.0",
        "0.255.255.255",
        "255.255.255.1",
        "255.255.253.0",
    ] {
        let e = m(bad).unwrap_err();
        assert_eq!(
            e,
            AllocError::InvalidNetmask {
                mask: bad.parse::<Ipv4Addr>().unwrap()
            }
        );
        assert_eq!(e.code(), "invalid_netmask");
    }
    // Every valid mask round-trips.
    for p in 0..=32u32 {
        let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - p).unwrap_or(0));
        assert_eq!(netmask_to_prefix(mask), Ok(p as u8));
    }
}

#[test]
fn canonical_cidrs() {
    assert_eq!(parse_canonical_cidr("10.0.0.0/16"), Ok(net("10.0.0.0/16")));
    assert_eq!(
        parse_canonical_cidr(" 2001:db8::/32 "),
        Ok(net("2001:db8::/32"))
    );
    assert_eq!(parse_canonical_cidr("0.0.0.0/0"), Ok(net("0.0.0.0/0")));
    assert_eq!(parse_canonical_cidr("::/0"), Ok(net("::/0")));
    assert_eq!(parse_canonical_cidr("10.0.0.1/32"), Ok(net("10.0.0.1/32")));
    let e = parse_canonical_cidr("10.0.0.1/16").unwrap_err();
    assert_eq!(e.code(), "invalid_cidr");
    assert!(
        e.to_string().contains("canonical form is 10.0.0.0/16"),
        "{e}"
    );
    let e = parse_canonical_cidr("2001:db8::1/64").unwrap_err();
    assert!(e.to_string().contains("2001:db8::/64"), "{e}");
    let e = parse_canonical_cidr("10.0.0.0/33").unwrap_err();
    assert!(e.to_string().contains("/33"), "{e}");
    for bad in [
        "",
        "/",
        "10.0.0.0",
        "10.0.0.0/",
        "/24",
        "10.0.0/24",
        "10.0.0.256/24",
        "10.0.0.0/+8",
        "10.0.0.0/08",
        "10.0.0.0/-1",
        "10.0.0.0/24/1",
        "2001:db8::/129",
        "::/1000",
        "10.0.0.0/99999999999999999999",
        "garbage",
        "10.0.0.0 /24",
        "010.0.0.0/8",
    ] {
        let e = parse_canonical_cidr(bad).unwrap_err();
        assert_eq!(e.code(), "invalid_cidr", "{bad:?}");
    }
}

#[test]
fn default_gateways() {
    assert_eq!(default_gateway(net("10.1.2.0/24")), ip("10.1.2.1"));
    assert_eq!(default_gateway(net("10.1.2.77/24")), ip("10.1.2.1"));
    assert_eq!(default_gateway(net("2001:db8::/64")), ip("2001:db8::1"));
    // Never wraps around.
    assert_eq!(
        default_gateway(net("255.255.255.255/32")),
        ip("255.255.255.255")
    );
    let top = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_eq!(default_gateway(IpNet::new(top, 128).unwrap()), top);
}
