//! The rules a router model must obey to be rendered, one function each.
//!
//! Validate once: the renderer's own check calls these, and so do the
//! services that accept the data at the request (ipam: a VPC's router and
//! a tier's interface; the area registry: the zone's settings, through
//! [`crate::validate_settings`]). A rule tightened here is tightened at
//! both ends at once, so nothing ipam accepts can be refused at render
//! time (issue 11: a tier interface `eth3@1` was accepted by ipam, refused
//! by the renderer, and its router silently stopped following).
//!
//! This crate is the lowest of the workspace (vpcroute-protocol depends on
//! it for the model types), so the rules live here rather than in the
//! protocol crate; `vpcroute_protocol::names` re-exports them.

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

use crate::RenderError;

/// Longest Linux interface name (IFNAMSIZ - 1).
pub const INTERFACE_NAME_MAX: usize = 15;
/// Longest host name FRR is given (one DNS label).
pub const HOSTNAME_MAX: usize = 63;

/// `[A-Za-z0-9._-]`, 1..=`max` bytes: what the renderer writes after
/// `interface` and `hostname`. Linux itself would allow `@` or `:` in an
/// interface name, but `@` is how `ip link` prints a VLAN's parent
/// (`eth3@eth1`) and neither is a name CloudStack gives a VR NIC.
fn valid_word(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A kernel interface name of the VR (uplink or tier).
pub fn check_interface_name(interface: &str) -> Result<(), RenderError> {
    if valid_word(interface, INTERFACE_NAME_MAX) {
        Ok(())
    } else {
        Err(RenderError::InvalidInterfaceName {
            interface: interface.to_string(),
        })
    }
}

/// The VR's name, written as FRR's `hostname`.
pub fn check_hostname(hostname: &str) -> Result<(), RenderError> {
    if valid_word(hostname, HOSTNAME_MAX) {
        Ok(())
    } else {
        Err(RenderError::InvalidHostname {
            hostname: hostname.to_string(),
        })
    }
}

/// An OSPF router id: neither 0.0.0.0 nor 255.255.255.255.
pub fn check_router_id(router_id: Ipv4Addr) -> Result<(), RenderError> {
    if router_id.is_unspecified() || router_id.is_broadcast() {
        Err(RenderError::InvalidRouterId { router_id })
    } else {
        Ok(())
    }
}

/// The uplink's network and the VPC's block must not overlap: the VPC's
/// range is announced into the backbone the uplink sits in. An IPv6 VPC is
/// never rendered (OSPFv2), so there is nothing to compare.
pub fn check_uplink_outside_vpc(uplink: Ipv4Net, vpc_cidr: IpNet) -> Result<(), RenderError> {
    let IpNet::V4(vpc) = vpc_cidr else {
        return Ok(());
    };
    let (uplink, vpc) = (uplink.trunc(), vpc.trunc());
    if uplink.contains(&vpc.network()) || vpc.contains(&uplink.network()) {
        return Err(RenderError::UplinkOverlapsVpc {
            uplink: IpNet::V4(uplink),
            vpc_cidr: IpNet::V4(vpc),
        });
    }
    Ok(())
}
