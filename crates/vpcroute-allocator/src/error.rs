//! The one error type of the crate.
//!
//! Every variant carries enough typed context for the service to build a
//! useful message ("requested /22 but the largest free block is /23") and has
//! a stable machine-readable [`AllocError::code`], so API clients can branch
//! on the code without parsing English text. Codes are part of the public
//! contract: never rename one, only add new ones.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::family::Family;

/// Why an address inside a tier subnet can never be handed to a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReservedKind {
    /// The network address (first address of the subnet).
    Network,
    /// The tier's gateway (the virtual router's address).
    Gateway,
    /// The IPv4 broadcast address (last address of the subnet).
    Broadcast,
}

impl fmt::Display for ReservedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReservedKind::Network => "network address",
            ReservedKind::Gateway => "gateway address",
            ReservedKind::Broadcast => "broadcast address",
        })
    }
}

/// Everything that can go wrong in this crate. No operation panics; all
/// failures surface as one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// Text that is not a canonical CIDR, or a network with host bits set.
    #[error("invalid CIDR {input:?}: {reason}")]
    InvalidCidr { input: String, reason: String },

    /// A dotted netmask whose one-bits are not contiguous (e.g. 255.0.255.0).
    #[error("invalid netmask {mask}: the one-bits must be contiguous from the left")]
    InvalidNetmask { mask: Ipv4Addr },

    /// A prefix length longer than the family allows (> 32 or > 128).
    #[error("prefix length /{prefix_len} is out of range for {family} (at most /{max})")]
    InvalidPrefixLen {
        family: Family,
        prefix_len: u8,
        max: u8,
    },

    /// The network or address is not inside any root of the pool (or not
    /// inside the tier subnet, for a host pool). Addresses are reported as
    /// host networks (/32 or /128).
    #[error("{target} is outside the pool")]
    OutsidePool { target: IpNet },

    /// A reservation overlaps a block that is already allocated.
    #[error("{net} overlaps allocated block {with}")]
    Overlap { net: IpNet, with: IpNet },

    /// No free block can hold the requested prefix length.
    #[error(
        "no free {family} block for a /{requested_prefix}: {}",
        match largest_free {
            Some(p) => format!("the largest free block is /{p}"),
            None => "the pool has no free space".to_string(),
        }
    )]
    NoSpace {
        family: Family,
        requested_prefix: u8,
        /// Prefix length of the largest free block, if any space is left.
        largest_free: Option<u8>,
    },

    /// Release of a network that is not exactly an allocated block.
    #[error("{net} is not an allocated block")]
    NotAllocated { net: IpNet },

    /// A new root overlaps an existing root.
    #[error("root {net} overlaps existing root {with}")]
    RootOverlap { net: IpNet, with: IpNet },

    /// A root cannot be removed while something inside it is allocated.
    #[error("root {root} is still in use (e.g. {allocated} is allocated)")]
    RootInUse { root: IpNet, allocated: IpNet },

    /// `remove_root` of a network that is not exactly a root.
    #[error("{net} is not a root of the pool")]
    NotARoot { net: IpNet },

    /// A tier subnet with no address usable by a VM.
    #[error("subnet {subnet} is too small for VMs (longest allowed prefix is /{max_prefix})")]
    SubnetTooSmall { subnet: IpNet, max_prefix: u8 },

    /// A gateway that is not a usable address of its subnet.
    #[error("gateway {gateway} is not usable in {subnet}: {reason}")]
    InvalidGateway {
        gateway: IpAddr,
        subnet: IpNet,
        reason: &'static str,
    },

    /// An address that can never be handed to a VM.
    #[error("{addr} is the {kind} of the subnet")]
    Reserved { addr: IpAddr, kind: ReservedKind },

    /// Reservation of an address that is already allocated.
    #[error("{addr} is already allocated")]
    AddressInUse { addr: IpAddr },

    /// Release of an address that is not allocated.
    #[error("{addr} is not allocated")]
    AddressNotAllocated { addr: IpAddr },

    /// Every usable address of the tier subnet is allocated.
    #[error("no free address left in {subnet}")]
    Exhausted { subnet: IpNet },
}

impl AllocError {
    /// Stable machine-readable code of the error (snake_case).
    pub fn code(&self) -> &'static str {
        match self {
            AllocError::InvalidCidr { .. } => "invalid_cidr",
            AllocError::InvalidNetmask { .. } => "invalid_netmask",
            AllocError::InvalidPrefixLen { .. } => "invalid_prefix_len",
            AllocError::OutsidePool { .. } => "outside_pool",
            AllocError::Overlap { .. } => "overlap",
            AllocError::NoSpace { .. } => "no_space",
            AllocError::NotAllocated { .. } => "not_allocated",
            AllocError::RootOverlap { .. } => "root_overlap",
            AllocError::RootInUse { .. } => "root_in_use",
            AllocError::NotARoot { .. } => "not_a_root",
            AllocError::SubnetTooSmall { .. } => "subnet_too_small",
            AllocError::InvalidGateway { .. } => "invalid_gateway",
            AllocError::Reserved { .. } => "reserved",
            AllocError::AddressInUse { .. } => "address_in_use",
            AllocError::AddressNotAllocated { .. } => "address_not_allocated",
            AllocError::Exhausted { .. } => "exhausted",
        }
    }
}
