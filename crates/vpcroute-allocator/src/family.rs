//! Address families and the small amount of bit arithmetic shared by the pools.
//!
//! Both pools work on addresses as `u128` integers: IPv4 addresses are simply
//! zero-extended. That lets one implementation serve both families; the only
//! per-family parameter is the address width (`bits`: 32 or 128).
//!
//! The one trap is the size of a block: an IPv6 `/0` holds 2^128 addresses,
//! which does not fit in a `u128`. Every helper here therefore works with the
//! *host mask* (`size - 1`, always representable) or returns `Option` for the
//! size, so callers saturate explicitly instead of overflowing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Family {
    /// IPv4 (32-bit addresses).
    V4,
    /// IPv6 (128-bit addresses).
    V6,
}

impl Family {
    /// Address width in bits, which is also the longest valid prefix length.
    pub const fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// Family of a network.
    pub fn of_net(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// Family of an address.
    pub fn of_addr(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// Mask of the host bits of a `/prefix` block in a `bits`-wide family,
/// i.e. `block size - 1`. Always representable, even for IPv6 `/0`.
#[inline]
pub(crate) fn host_mask(bits: u8, prefix: u8) -> u128 {
    let host_bits = u32::from(bits.saturating_sub(prefix));
    // checked_shl fails only for a shift of 128, i.e. the whole IPv6 space.
    1u128
        .checked_shl(host_bits)
        .map_or(u128::MAX, |size| size - 1)
}

/// Number of addresses in a `/prefix` block; `None` when it is 2^128.
#[inline]
pub(crate) fn block_size(bits: u8, prefix: u8) -> Option<u128> {
    1u128.checked_shl(u32::from(bits.saturating_sub(prefix)))
}

/// The bit that distinguishes the two halves of a `/(prefix-1)` block, i.e.
/// the size of a `/prefix` block. Only meaningful for `prefix >= 1`, where it
/// always fits (at most 2^127).
#[inline]
pub(crate) fn half_bit(bits: u8, prefix: u8) -> u128 {
    1u128
        .checked_shl(u32::from(bits.saturating_sub(prefix)))
        .unwrap_or(0)
}

#[inline]
pub(crate) fn addr_to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Converts back; IPv4 values are truncated to 32 bits (callers only pass
/// values that came from IPv4 addresses).
#[inline]
pub(crate) fn u128_to_addr(family: Family, value: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// Builds a network from its start and prefix length. The prefix is clamped
/// to the family maximum so this can never panic.
#[inline]
pub(crate) fn make_net(family: Family, start: u128, prefix: u8) -> IpNet {
    match family {
        Family::V4 => IpNet::V4(Ipv4Net::new_assert(
            Ipv4Addr::from(start as u32),
            prefix.min(32),
        )),
        Family::V6 => IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from(start), prefix.min(128))),
    }
}

/// `(family, network address as u128, prefix length)` of a network.
#[inline]
pub(crate) fn net_parts(net: &IpNet) -> (Family, u128, u8) {
    (
        Family::of_net(net),
        addr_to_u128(net.network()),
        net.prefix_len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_sizes_at_the_edges() {
        assert_eq!(host_mask(128, 0), u128::MAX);
        assert_eq!(block_size(128, 0), None);
        assert_eq!(block_size(128, 1), Some(1u128 << 127));
        assert_eq!(host_mask(128, 128), 0);
        assert_eq!(block_size(32, 0), Some(1u128 << 32));
        assert_eq!(host_mask(32, 24), 255);
        assert_eq!(half_bit(32, 1), 1u128 << 31);
        assert_eq!(half_bit(128, 128), 1);
        // Out-of-range prefixes saturate instead of panicking.
        assert_eq!(host_mask(32, 40), 0);
    }

    #[test]
    fn conversions_round_trip() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(u128_to_addr(Family::V4, addr_to_u128(v4)), v4);
        assert_eq!(u128_to_addr(Family::V6, addr_to_u128(v6)), v6);
        assert_eq!(make_net(Family::V4, addr_to_u128(v4), 99).prefix_len(), 32);
        let n: IpNet = "10.1.0.0/16".parse().unwrap();
        assert_eq!(net_parts(&n), (Family::V4, 0x0a01_0000, 16));
    }
}
