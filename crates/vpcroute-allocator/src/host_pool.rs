//! `HostPool`: VM addresses inside one tier subnet.
//!
//! # Why an interval map of *free* ranges
//! A fresh IPv6 /64 tier has 2^64 free addresses, so free addresses cannot
//! be listed one by one; free *ranges* can. Keeping them in a
//! `BTreeMap<start, end>` (inclusive, disjoint, never adjacent) makes the
//! operations O(log n) in the number of ranges:
//! * lowest free address = start of the first range;
//! * reserving an address splits the range containing it;
//! * releasing one merges it with the ranges ending just below / starting
//!   just above it.
//!
//! Allocated addresses are implicit: an address of the subnet that is
//! neither reserved nor inside a free range.
//!
//! # Which addresses are never handed out
//! The network address, the gateway and, for IPv4, the broadcast address.
//! (IPv6 has no broadcast; its network address is the subnet-router anycast
//! address, so it is kept back as well.)
//!
//! # Smallest tiers
//! Under those rules IPv4 /31 and /32 and IPv6 /127 and /128 subnets have no
//! usable address at all, so `HostPool::new` rejects prefixes longer than
//! /30 ([`HostPool::MAX_PREFIX_V4`], one VM address) and /126
//! ([`HostPool::MAX_PREFIX_V6`], two VM addresses) with `SubnetTooSmall`,
//! guaranteeing every tier has at least one usable address.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::cidr::ensure_canonical;
use crate::error::{AllocError, ReservedKind};
use crate::family::{addr_to_u128, host_mask, make_net, u128_to_addr, Family};

/// Address counts of a [`HostPool`] (usable addresses only: the network,
/// gateway and broadcast addresses are not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostUsage {
    /// Usable addresses of the subnet.
    pub total: u128,
    /// Allocated addresses.
    pub used: u128,
    /// Free usable addresses.
    pub free: u128,
}

/// The VM addresses of one tier subnet.
#[derive(Debug, Clone)]
pub struct HostPool {
    family: Family,
    subnet: IpNet,
    gateway: IpAddr,
    /// Network address and last address of the subnet, as integers.
    first: u128,
    last: u128,
    gateway_value: u128,
    /// IPv4 broadcast (= `last`); `None` for IPv6.
    broadcast: Option<u128>,
    /// Free ranges: start -> end (inclusive); disjoint and never adjacent.
    free: BTreeMap<u128, u128>,
    total: u128,
    used: u128,
}

impl HostPool {
    /// Longest IPv4 prefix accepted for a tier (/30: one VM address).
    pub const MAX_PREFIX_V4: u8 = 30;
    /// Longest IPv6 prefix accepted for a tier (/126: two VM addresses).
    pub const MAX_PREFIX_V6: u8 = 126;

    /// A pool for `subnet` (canonical) whose router sits at `gateway`.
    ///
    /// Errors: `InvalidCidr` (host bits set), `SubnetTooSmall` (prefix longer
    /// than /30 or /126), `InvalidGateway` (other family, outside the
    /// subnet, or the network/broadcast address).
    pub fn new(subnet: IpNet, gateway: IpAddr) -> Result<Self, AllocError> {
        let subnet = ensure_canonical(subnet)?;
        let family = Family::of_net(&subnet);
        let max_prefix = match family {
            Family::V4 => Self::MAX_PREFIX_V4,
            Family::V6 => Self::MAX_PREFIX_V6,
        };
        let prefix = subnet.prefix_len();
        if prefix > max_prefix {
            return Err(AllocError::SubnetTooSmall { subnet, max_prefix });
        }
        let first = addr_to_u128(subnet.network());
        let last = first | host_mask(family.bits(), prefix);
        let broadcast = (family == Family::V4).then_some(last);

        let bad_gateway = |reason| AllocError::InvalidGateway {
            gateway,
            subnet,
            reason,
        };
        if Family::of_addr(&gateway) != family {
            return Err(bad_gateway("it belongs to the other address family"));
        }
        let gateway_value = addr_to_u128(gateway);
        if gateway_value < first || gateway_value > last {
            return Err(bad_gateway("it is outside the subnet"));
        }
        if gateway_value == first {
            return Err(bad_gateway("it is the network address"));
        }
        if Some(gateway_value) == broadcast {
            return Err(bad_gateway("it is the broadcast address"));
        }

        // Free ranges = [first, last] minus the reserved points, which are
        // distinct and sorted as listed.
        let mut reserved = vec![first, gateway_value];
        reserved.extend(broadcast);
        let mut free = BTreeMap::new();
        let mut cursor = Some(first);
        for &point in &reserved {
            if let Some(c) = cursor {
                if c < point {
                    free.insert(c, point - 1);
                }
            }
            cursor = point.checked_add(1);
        }
        if let Some(c) = cursor {
            if c <= last {
                free.insert(c, last);
            }
        }
        // `last - first` = size - 1 is representable even for ::/0; the
        // reserved points are at least 2, so this cannot underflow.
        let total = (last - first) - (reserved.len() as u128 - 1);

        Ok(HostPool {
            family,
            subnet,
            gateway,
            first,
            last,
            gateway_value,
            broadcast,
            free,
            total,
            used: 0,
        })
    }

    /// A pool whose gateway is [`default_gateway`](crate::default_gateway).
    pub fn with_default_gateway(subnet: IpNet) -> Result<Self, AllocError> {
        Self::new(subnet, crate::cidr::default_gateway(subnet))
    }

    /// The tier subnet.
    pub fn subnet(&self) -> IpNet {
        self.subnet
    }

    /// The gateway address.
    pub fn gateway(&self) -> IpAddr {
        self.gateway
    }

    /// The IPv4 broadcast address (`None` for IPv6).
    pub fn broadcast(&self) -> Option<IpAddr> {
        self.broadcast.map(|b| u128_to_addr(self.family, b))
    }

    /// Whether `addr` lies inside the subnet.
    pub fn contains(&self, addr: IpAddr) -> bool {
        Family::of_addr(&addr) == self.family && {
            let a = addr_to_u128(addr);
            self.first <= a && a <= self.last
        }
    }

    /// Why `addr` can never be allocated, if it is one of the reserved
    /// addresses of this subnet.
    pub fn reserved_kind(&self, addr: IpAddr) -> Option<ReservedKind> {
        if !self.contains(addr) {
            return None;
        }
        self.reserved_kind_of(addr_to_u128(addr))
    }

    fn reserved_kind_of(&self, a: u128) -> Option<ReservedKind> {
        if a == self.first {
            Some(ReservedKind::Network)
        } else if a == self.gateway_value {
            Some(ReservedKind::Gateway)
        } else if Some(a) == self.broadcast {
            Some(ReservedKind::Broadcast)
        } else {
            None
        }
    }

    /// The free range containing `a`, if any.
    fn free_range_of(&self, a: u128) -> Option<(u128, u128)> {
        self.free
            .range(..=a)
            .next_back()
            .filter(|(_, &end)| end >= a)
            .map(|(&s, &e)| (s, e))
    }

    /// Validates an address argument: same family, inside, not reserved.
    fn usable(&self, addr: IpAddr) -> Result<u128, AllocError> {
        if !self.contains(addr) {
            let target = make_net(
                Family::of_addr(&addr),
                addr_to_u128(addr),
                Family::of_addr(&addr).bits(),
            );
            return Err(AllocError::OutsidePool { target });
        }
        let a = addr_to_u128(addr);
        match self.reserved_kind_of(a) {
            Some(kind) => Err(AllocError::Reserved { addr, kind }),
            None => Ok(a),
        }
    }

    /// Whether `addr` is currently allocated.
    pub fn is_allocated(&self, addr: IpAddr) -> bool {
        self.usable(addr)
            .map(|a| self.free_range_of(a).is_none())
            .unwrap_or(false)
    }

    /// The address [`HostPool::allocate`] would hand out now (the lowest
    /// free usable one), without taking it. Error: `Exhausted`.
    pub fn next_allocation(&self) -> Result<IpAddr, AllocError> {
        let (&start, _) = self.free.first_key_value().ok_or(AllocError::Exhausted {
            subnet: self.subnet,
        })?;
        Ok(u128_to_addr(self.family, start))
    }

    /// Whether [`HostPool::reserve`] of `addr` would succeed now, without
    /// reserving it; the same errors.
    pub fn check_reserve(&self, addr: IpAddr) -> Result<(), AllocError> {
        let a = self.usable(addr)?;
        self.free_range_of(a)
            .map(|_| ())
            .ok_or(AllocError::AddressInUse { addr })
    }

    /// Allocates the lowest free usable address. Error: `Exhausted`.
    pub fn allocate(&mut self) -> Result<IpAddr, AllocError> {
        let (start, end) = self.free.pop_first().ok_or(AllocError::Exhausted {
            subnet: self.subnet,
        })?;
        if start < end {
            self.free.insert(start + 1, end);
        }
        self.used = self.used.saturating_add(1);
        Ok(u128_to_addr(self.family, start))
    }

    /// Allocates a specific address. Errors: `OutsidePool`, `Reserved`
    /// (network/gateway/broadcast), `AddressInUse`.
    pub fn reserve(&mut self, addr: IpAddr) -> Result<(), AllocError> {
        let a = self.usable(addr)?;
        let (start, end) = self
            .free_range_of(a)
            .ok_or(AllocError::AddressInUse { addr })?;
        // Split [start, end] into [start, a-1] and [a+1, end]. `a > start`
        // implies a >= 1 and `a < end` implies a < u128::MAX.
        if a > start {
            self.free.insert(start, a - 1);
        } else {
            self.free.remove(&start);
        }
        if a < end {
            self.free.insert(a + 1, end);
        }
        self.used = self.used.saturating_add(1);
        Ok(())
    }

    /// Returns an allocated address to the pool. Errors: `OutsidePool`,
    /// `Reserved`, `AddressNotAllocated`.
    pub fn release(&mut self, addr: IpAddr) -> Result<(), AllocError> {
        let a = self.usable(addr)?;
        if self.free_range_of(a).is_some() {
            return Err(AllocError::AddressNotAllocated { addr });
        }
        // Merge with a free range ending just below and/or starting just
        // above; reserved points are never in a range, so merging never
        // swallows them.
        let mut start = a;
        let mut end = a;
        if let Some(below) = a.checked_sub(1) {
            if let Some((s, _)) = self.free_range_of(below) {
                start = s;
            }
        }
        if let Some(above) = a.checked_add(1) {
            if let Some(e) = self.free.remove(&above) {
                end = e;
            }
        }
        self.free.insert(start, end);
        self.used = self.used.saturating_sub(1);
        Ok(())
    }

    /// Allocated addresses in ascending order (lazily computed from the gaps
    /// between free ranges).
    pub fn allocated(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let last = self.last;
        self.free
            .iter()
            .map(|(&s, &e)| Some((s, e)))
            .chain(std::iter::once(None))
            .scan(Some(self.first), move |cursor, range| {
                let gap = match range {
                    Some((s, e)) => {
                        let gap = cursor.filter(|&c| c < s).map(|c| (c, s - 1));
                        *cursor = e.checked_add(1);
                        gap
                    }
                    None => {
                        let gap = cursor.filter(|&c| c <= last).map(|c| (c, last));
                        *cursor = None;
                        gap
                    }
                };
                Some(gap)
            })
            .flatten()
            .flat_map(|(a, b)| a..=b)
            .filter(move |&a| self.reserved_kind_of(a).is_none())
            .map(move |a| u128_to_addr(self.family, a))
    }

    /// Usable, allocated and free address counts. O(1).
    pub fn usage(&self) -> HostUsage {
        HostUsage {
            total: self.total,
            used: self.used,
            free: self.total.saturating_sub(self.used),
        }
    }
}
