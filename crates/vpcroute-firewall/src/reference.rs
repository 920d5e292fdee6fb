//! The reference evaluation of a list: what a list decides for one packet,
//! computed on the rules themselves, not on nft. It is the oracle both the
//! unit tests (`tests.rs`) and the lab test that sends real packets through
//! the rendered table (`tests/acl_overlap_lab_e2e.rs`) compare against, so
//! the semantics of `vpcroute_protocol::acl` are written as code once, as
//! plainly as possible, apart from the renderer they check.

use std::net::IpAddr;

use vpcroute_protocol::acl::{AclAction, AclProtocol, AclRule, Traffic};

/// One packet crossing the VR, as far as a list can tell packets apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub protocol: u8,
    /// Destination port (TCP/UDP) or ICMP type; `None` for other protocols.
    pub dport_or_type: Option<u16>,
    pub icmp_code: Option<u8>,
}

/// The verdict of one list for a packet in one direction, as the rendered
/// chain computes it for a packet that opens a connection (replies of
/// allowed connections pass before any list is consulted): the rules of
/// that direction in number order, whatever order `rules` holds them in;
/// the action of the first rule that matches; if none matches, deny, except
/// egress of a list with no egress rule, which allows.
///
/// Ingress matches the rule's CIDRs against the source, egress against the
/// destination. A packet between two tiers (or two VPCs) is allowed when
/// the source tier's list allows it as egress and the destination tier's
/// list allows it as ingress.
pub fn verdict(rules: &[AclRule], traffic: Traffic, p: &Packet) -> AclAction {
    let mut rules: Vec<&AclRule> = rules.iter().filter(|r| r.traffic == traffic).collect();
    if traffic == Traffic::Egress && rules.is_empty() {
        return AclAction::Allow;
    }
    rules.sort_by_key(|r| r.number);
    let peer = match traffic {
        Traffic::Ingress => p.src,
        Traffic::Egress => p.dst,
    };
    for r in rules {
        if r.cidrs.iter().any(|c| c.contains(&peer)) && l4_matches(r, peer.is_ipv6(), p) {
            return r.action;
        }
    }
    AclAction::Deny
}

/// Whether the rule's protocol, ports or ICMP type/code match the packet.
fn l4_matches(r: &AclRule, v6: bool, p: &Packet) -> bool {
    let ports_match = |num: u8| {
        p.protocol == num
            && r.ports.map_or(true, |range| {
                p.dport_or_type
                    .is_some_and(|d| range.start <= d && d <= range.end)
            })
    };
    match r.protocol {
        AclProtocol::All => true,
        AclProtocol::Tcp => ports_match(6),
        AclProtocol::Udp => ports_match(17),
        AclProtocol::Icmp => {
            let num = if v6 { 58 } else { 1 };
            p.protocol == num
                && r.icmp_type
                    .map_or(true, |t| p.dport_or_type == Some(u16::from(t)))
                && r.icmp_code.map_or(true, |c| p.icmp_code == Some(c))
        }
        AclProtocol::Number(n) => p.protocol == n,
    }
}
