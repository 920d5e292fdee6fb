//! Address-space allocation for vpcroute.
//!
//! The control plane hands out address space in three stages, all served by
//! this crate:
//! 1. zone super-CIDRs -> VPC CIDRs: a [`BlockPool`] whose roots are the
//!    zone's super-CIDRs;
//! 2. a VPC CIDR -> tier subnets: a [`BlockPool`] whose root is the VPC CIDR;
//! 3. a tier subnet -> VM addresses: a [`HostPool`].
//!
//! Both IPv4 and IPv6 are supported everywhere.
//!
//! The crate is deliberately *pure*: no I/O, no async, no clocks, no
//! randomness. Pools are plain in-memory values; the service persists the
//! allocations elsewhere and rebuilds a pool at start-up with
//! [`BlockPool::add_root`] + [`BlockPool::reserve`] (or
//! [`HostPool::reserve`]). Results depend only on the sequence of calls, so
//! replaying the same events yields the same pool.
//!
//! ```
//! use vpcroute_allocator::{parse_canonical_cidr, AllocError, BlockPool, Family, HostPool};
//!
//! // Zone -> VPC.
//! let mut zone = BlockPool::with_roots([parse_canonical_cidr("10.0.0.0/16")?])?;
//! let vpc = zone.allocate(Family::V4, 20)?;
//! assert_eq!(vpc.to_string(), "10.0.0.0/20");
//!
//! // VPC -> tier.
//! let mut tiers = BlockPool::with_roots([vpc])?;
//! let tier = tiers.allocate(Family::V4, 24)?;
//!
//! // Tier -> VM addresses (.0 is the network, .1 the gateway).
//! let mut hosts = HostPool::with_default_gateway(tier)?;
//! assert_eq!(hosts.allocate()?.to_string(), "10.0.0.2");
//!
//! // Errors carry a stable code for API clients.
//! let err = tiers.allocate(Family::V4, 19).unwrap_err();
//! assert_eq!(err.code(), "no_space");
//! assert_eq!(err.to_string(), "no free IPv4 block for a /19: the largest free block is /21");
//! # Ok::<(), AllocError>(())
//! ```
//!
//! No function panics on any input: invalid input and exhausted pools are
//! reported as [`AllocError`]s, each with a stable [`AllocError::code`], and
//! address counts that would exceed `u128` (the IPv6 `/0`) saturate.

mod block_pool;
mod cidr;
mod error;
mod family;
mod host_pool;

pub use block_pool::{BlockPool, Usage};
pub use cidr::{default_gateway, netmask_to_prefix, parse_canonical_cidr};
pub use error::{AllocError, ReservedKind};
pub use family::Family;
pub use host_pool::{HostPool, HostUsage};

/// Re-export of the `ipnet` types used in this API.
pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};
