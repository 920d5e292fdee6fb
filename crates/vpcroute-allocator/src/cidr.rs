//! Parsing and validation helpers for CIDRs and netmasks.
//!
//! CloudStack hands us netmasks in dotted form and operators type CIDRs by
//! hand. Accepting `10.0.0.5/24` silently as `10.0.0.0/24` hides typos, so
//! everything entering the allocator must be *canonical* (host bits zero);
//! the error then names the canonical form so the fix is obvious.

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnet::IpNet;

use crate::error::AllocError;
use crate::family::{addr_to_u128, host_mask, u128_to_addr, Family};

/// Converts a dotted IPv4 netmask (e.g. `255.255.255.0`) to a prefix length.
///
/// Rejects masks whose one-bits are not contiguous from the left, such as
/// `255.0.255.0` or `0.255.255.255`.
pub fn netmask_to_prefix(mask: Ipv4Addr) -> Result<u8, AllocError> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    // The mask with exactly `ones` leading one-bits; a shift by 32 (mask
    // 255.255.255.255) is handled by checked_shr.
    let expected = !u32::MAX.checked_shr(ones).unwrap_or(0);
    if m == expected {
        // `ones` is at most 32, so it fits in a u8.
        Ok(ones as u8)
    } else {
        Err(AllocError::InvalidNetmask { mask })
    }
}

/// Parses `addr/prefix` and insists that it is canonical.
///
/// Surrounding whitespace is ignored. Rejected: a missing `/prefix`, a prefix
/// that is not plain decimal digits (no sign, no leading zeros), a prefix
/// longer than the family allows, an unparsable address, and host bits set
/// (the message names the canonical form, e.g. `10.0.0.0/16`).
pub fn parse_canonical_cidr(s: &str) -> Result<IpNet, AllocError> {
    let input = s.trim();
    let invalid = |reason: String| AllocError::InvalidCidr {
        input: s.to_string(),
        reason,
    };
    let (addr_text, prefix_text) = input
        .split_once('/')
        .ok_or_else(|| invalid("missing '/prefix-length'".to_string()))?;
    let addr = IpAddr::from_str(addr_text)
        .map_err(|_| invalid(format!("{addr_text:?} is not an IP address")))?;
    let digits_ok = !prefix_text.is_empty()
        && prefix_text.len() <= 3
        && prefix_text.bytes().all(|b| b.is_ascii_digit())
        && !(prefix_text.len() > 1 && prefix_text.starts_with('0'));
    if !digits_ok {
        return Err(invalid(format!("{prefix_text:?} is not a prefix length")));
    }
    // At most three digits, so this cannot overflow a u16.
    let prefix: u16 = prefix_text
        .parse()
        .map_err(|_| invalid(format!("{prefix_text:?} is not a prefix length")))?;
    let family = Family::of_addr(&addr);
    if prefix > u16::from(family.bits()) {
        return Err(invalid(format!(
            "prefix length /{prefix} exceeds /{} for {family}",
            family.bits()
        )));
    }
    let net = IpNet::new(addr, prefix as u8)
        .map_err(|_| invalid(format!("prefix length /{prefix} is out of range")))?;
    ensure_canonical(net).map_err(|e| match e {
        AllocError::InvalidCidr { reason, .. } => invalid(reason),
        other => other,
    })
}

/// Checks that a network has no host bits set.
pub(crate) fn ensure_canonical(net: IpNet) -> Result<IpNet, AllocError> {
    let canonical = net.trunc();
    if canonical == net {
        Ok(net)
    } else {
        Err(AllocError::InvalidCidr {
            input: net.to_string(),
            reason: format!("host bits are set; the canonical form is {canonical}"),
        })
    }
}

/// The conventional gateway of a subnet: the first address after the network
/// address (e.g. `10.1.2.1` for `10.1.2.0/24`).
///
/// Host bits of `subnet` are ignored. For subnets without room for it
/// (IPv4 /31 and /32, IPv6 /127 and /128) the result is not a usable gateway
/// and [`HostPool::new`](crate::HostPool::new) rejects such subnets anyway;
/// the result never wraps around past the last address of the family.
pub fn default_gateway(subnet: IpNet) -> IpAddr {
    let family = Family::of_net(&subnet);
    let network = addr_to_u128(subnet.network());
    let family_max = host_mask(family.bits(), 0);
    let gateway = if network < family_max {
        network + 1
    } else {
        network
    };
    u128_to_addr(family, gateway)
}
