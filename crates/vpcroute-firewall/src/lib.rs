//! Pure renderer of a VPC virtual router's network ACLs as one nftables
//! table. This crate does no I/O.
//!
//! # Decisions
//!
//! * **One table of our own, `inet vpcroute`**, replaced atomically: the
//!   file [`Ruleset::file`] creates the table if missing, deletes it and
//!   defines it again, and `nft -f` runs the three as one transaction. No
//!   packet ever sees a half-built table, and no other table (CloudStack's
//!   own iptables/nftables rules) is touched.
//! * **The text is rendered in the exact form `nft -n list table inet
//!   vpcroute` prints** ([`Ruleset::listing`]): numeric protocols, ICMP
//!   types and conntrack states, one blank line between chains. Verifying a
//!   router is then a byte comparison of what it lists with what we want,
//!   with no parser of nft's output to get wrong; `tests/nft_fixed_point.rs`
//!   checks every rule shape against the real `nft`.
//! * **Only the `forward` hook is filtered.** The ACLs are about traffic
//!   crossing the VR between a tier and the rest of the network; OSPF
//!   packets (to the VR itself, link-local multicast, never forwarded) and
//!   anything else addressed to the VR are never evaluated by this table,
//!   so no ACL change can disturb an adjacency.
//! * **Stateful, as CloudStack's VR:** replies of allowed connections pass
//!   first (`ct state established,related`). An established connection
//!   survives the deletion of the rule that let it in; new ones are
//!   refused at once.
//! * **Ingress** of a tier = packets routed out of its interface
//!   (`oifname`), **egress** = packets routed in from it (`iifname`). A
//!   packet between two tiers of the VPC passes the source tier's egress
//!   and then the destination tier's ingress: every egress jump comes first
//!   and an egress allow *returns* to the base chain, so the ingress check
//!   still runs; an ingress allow accepts.
//! * **Fail closed:** after the jumps, anything forwarded towards the VPC's
//!   CIDR that no tier's ingress chain accepted is dropped (a tier whose
//!   interface vpcroute does not know, a NIC plugged early).
//! * Rule order is the rule number; the first match decides; ingress ends
//!   with a drop; egress ends with a drop only when the list has egress
//!   rules (see `vpcroute_protocol::acl`). [`verdict`] computes the same
//!   decision from the rules alone: the oracle the rendered table is tested
//!   against, in unit tests and with real packets in the lab.

mod reference;

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use vpcroute_protocol::acl::{AclAction, AclProtocol, AclRule, Traffic};

pub use reference::{verdict, Packet};

/// The table's family and name, as `nft` addresses it.
pub const TABLE: &str = "inet vpcroute";

/// One tier behind the VR and the rules of its list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierFilter {
    /// The tier's name (rule comments only).
    pub tier: String,
    /// The VR interface serving the tier.
    pub interface: String,
    /// The list's name (rule comments only).
    pub acl: String,
    /// The list's rules, any order (rendered by number).
    pub rules: Vec<AclRule>,
}

/// Everything the VR's firewall is rendered from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FirewallModel {
    /// Any order (rendered by interface name).
    pub tiers: Vec<TierFilter>,
    /// The VPC's CIDRs: whatever is forwarded towards them without having
    /// passed a tier's ingress chain (a tier whose VR interface vpcroute
    /// does not know, a NIC plugged before its tier was recorded) is
    /// dropped, so an unknown way in fails closed.
    #[serde(default)]
    pub vpc_cidrs: Vec<IpNet>,
}

/// The rendered table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruleset {
    /// The file for `nft -f`: replaces the table in one transaction.
    pub file: String,
    /// What `nft -n list table inet vpcroute` prints once it is applied.
    /// The same rules as the file; only address sets differ in spelling
    /// (see [`addr_match`]).
    pub listing: String,
}

/// Renders the model. Same model (tiers and rules in any order), same bytes.
pub fn render(model: &FirewallModel) -> Ruleset {
    Ruleset {
        file: render_file(model),
        listing: render_table(model, Spelling::Listing),
    }
}

/// Only [`Ruleset::file`]: what a version fingerprint needs (the listing
/// is a function of the same model).
pub fn render_file(model: &FirewallModel) -> String {
    format!(
        "table {TABLE}\ndelete table {TABLE}\n{}",
        render_table(model, Spelling::Input)
    )
}

/// Address sets are written as the rule's CIDRs, and listed by nft as
/// merged intervals; everything else is spelled the same both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelling {
    Input,
    Listing,
}

fn render_table(model: &FirewallModel, spelling: Spelling) -> String {
    let mut tiers: Vec<&TierFilter> = model.tiers.iter().collect();
    tiers.sort_by(|a, b| a.interface.cmp(&b.interface));

    // Every egress check comes before every ingress check: a packet between
    // two tiers must pass its source tier's egress (an allow returns here)
    // before its destination tier's ingress (an allow accepts).
    let mut egress_jumps = String::new();
    let mut ingress_jumps = String::new();
    let mut chains = Vec::new();
    for (k, t) in tiers.iter().enumerate() {
        let mut rules: Vec<&AclRule> = t.rules.iter().collect();
        rules.sort_by_key(|r| r.number);
        let egress: Vec<&AclRule> = rules
            .iter()
            .copied()
            .filter(|r| r.traffic == Traffic::Egress)
            .collect();
        let ingress: Vec<&AclRule> = rules
            .iter()
            .copied()
            .filter(|r| r.traffic == Traffic::Ingress)
            .collect();
        let iface = quote_iface(&t.interface);
        let name = chain_suffix(&t.interface, k);
        if !egress.is_empty() {
            let _ = writeln!(egress_jumps, "\t\tiifname {iface} jump out_{name}");
            chains.push(chain(
                &format!("out_{name}"),
                t,
                &egress,
                "return",
                spelling,
            ));
        }
        let _ = writeln!(ingress_jumps, "\t\toifname {iface} jump in_{name}");
        chains.push(chain(
            &format!("in_{name}"),
            t,
            &ingress,
            "accept",
            spelling,
        ));
    }

    let mut out = String::new();
    out.push_str("table inet vpcroute {\n");
    out.push_str("\tchain forward {\n");
    out.push_str("\t\ttype filter hook forward priority 0; policy accept;\n");
    // How `nft -n` prints `ct state established,related accept` and
    // `ct state invalid drop` (as CloudStack's VR, invalid packets never
    // reach an allow rule).
    out.push_str("\t\tct state 0x2,0x4 accept\n");
    out.push_str("\t\tct state 0x1 drop\n");
    out.push_str(&egress_jumps);
    out.push_str(&ingress_jumps);
    let mut vpc: Vec<IpNet> = IpNet::aggregate(&model.vpc_cidrs);
    vpc.sort();
    for c in vpc {
        let family = if matches!(c, IpNet::V4(_)) {
            "ip"
        } else {
            "ip6"
        };
        let _ = writeln!(out, "\t\t{family} daddr {} drop", prefix_text(c));
    }
    out.push_str("\t}\n");
    for c in chains {
        out.push('\n');
        out.push_str(&c);
    }
    out.push_str("}\n");
    out
}

/// A tier's ingress or egress chain: its rules in order, then a drop.
fn chain(
    name: &str,
    tier: &TierFilter,
    rules: &[&AclRule],
    allow: &str,
    spelling: Spelling,
) -> String {
    let mut out = format!("\tchain {name} {{\n");
    for r in rules {
        for line in rule_lines(tier, r, allow, spelling) {
            let _ = writeln!(out, "\t\t{line}");
        }
    }
    out.push_str("\t\tdrop\n");
    out.push_str("\t}\n");
    out
}

/// One rule as nft lines: one per address family among its CIDRs.
fn rule_lines(tier: &TierFilter, r: &AclRule, allow: &str, spelling: Spelling) -> Vec<String> {
    let (v4, v6): (Vec<IpNet>, Vec<IpNet>) = r
        .cidrs
        .iter()
        .copied()
        .partition(|c| matches!(c, IpNet::V4(_)));
    let dir = match r.traffic {
        Traffic::Ingress => "saddr",
        Traffic::Egress => "daddr",
    };
    let verdict = match r.action {
        AclAction::Allow => allow,
        AclAction::Deny => "drop",
    };
    // nft refuses comments over 128 bytes; names may be 255 characters.
    let comment = format!(
        "acl {} rule {} tier {}",
        comment_safe(&clip(&tier.acl, 48)),
        r.number,
        comment_safe(&clip(&tier.tier, 48))
    );
    let mut lines = Vec::new();
    for (family, cidrs) in [("ip", v4), ("ip6", v6)] {
        if cidrs.is_empty() {
            continue;
        }
        let addr = format!("{family} {dir} {}", addr_match(&cidrs, spelling));
        let l4 = l4_match(r, family == "ip6");
        let mut line = addr;
        if !l4.is_empty() {
            line.push(' ');
            line.push_str(&l4);
        }
        let _ = write!(line, " {verdict} comment \"{comment}\"");
        lines.push(line);
    }
    lines
}

/// `10.1.0.0/22`, `10.1.0.5` (nft prints host prefixes bare), or a set.
///
/// nft stores a set of prefixes as intervals and merges touching ones, so
/// the listing spells a set the way nft lists it: merged intervals, each as
/// a prefix when it is one and as `first-last` otherwise. The input keeps
/// the CIDRs: a one-interval set written with braces would be listed
/// without them. All `cidrs` are of one family.
fn addr_match(cidrs: &[IpNet], spelling: Spelling) -> String {
    if let [one] = cidrs {
        return prefix_text(*one);
    }
    if spelling == Spelling::Input {
        let items: Vec<String> = cidrs.iter().map(|c| prefix_text(*c)).collect();
        return format!("{{ {} }}", items.join(", "));
    }
    let v6 = matches!(cidrs[0], IpNet::V6(_));
    let mut spans: Vec<(u128, u128)> = cidrs.iter().map(|c| span(*c)).collect();
    spans.sort_unstable();
    let mut merged: Vec<(u128, u128)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some((_, end)) if a <= end.saturating_add(1) => *end = (*end).max(b),
            _ => merged.push((a, b)),
        }
    }
    let items: Vec<String> = merged
        .into_iter()
        .map(|(a, b)| span_text(a, b, v6))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

fn prefix_text(c: IpNet) -> String {
    let addr = addr_text(c.addr());
    if c.prefix_len() == c.max_prefix_len() {
        addr
    } else {
        format!("{addr}/{}", c.prefix_len())
    }
}

/// An address as nft prints it (glibc's `inet_ntop`): Rust's spelling,
/// except IPv6 addresses whose first 96 bits are zero and next 16 are not,
/// which glibc writes in the old IPv4-compatible form (`::1.2.3.0`).
fn addr_text(a: IpAddr) -> String {
    match a {
        IpAddr::V6(v6) => {
            let w = v6.segments();
            if w[..6].iter().all(|x| *x == 0) && w[6] != 0 {
                let [.., a, b, c, d] = v6.octets();
                format!("::{a}.{b}.{c}.{d}")
            } else {
                v6.to_string()
            }
        }
        IpAddr::V4(v4) => v4.to_string(),
    }
}

fn span(c: IpNet) -> (u128, u128) {
    let num = |a: IpAddr| match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    (num(c.network()), num(c.broadcast()))
}

fn span_text(a: u128, b: u128, v6: bool) -> String {
    let addr = |n: u128| -> IpAddr {
        if v6 {
            IpAddr::V6(n.into())
        } else {
            IpAddr::V4(u32::try_from(n).expect("an IPv4 span").into())
        }
    };
    let size = b.wrapping_sub(a).wrapping_add(1);
    // A prefix: the size is a power of two (0 = the whole 2^128 space)
    // and the start is aligned to it.
    let is_prefix = size == 0 || (size.is_power_of_two() && a % size == 0);
    if is_prefix {
        let bits = if v6 { 128 } else { 32 };
        let host_bits = if size == 0 {
            128
        } else {
            size.trailing_zeros()
        };
        let len = u8::try_from(bits - host_bits).expect("a prefix length");
        prefix_text(IpNet::new(addr(a), len).expect("a valid prefix"))
    } else {
        format!("{}-{}", addr_text(addr(a)), addr_text(addr(b)))
    }
}

/// The layer-4 part, in `nft -n`'s numeric spelling.
fn l4_match(r: &AclRule, v6: bool) -> String {
    let ports = |proto: &str, num: u8| match r.ports {
        Some(p) => format!("{proto} dport {p}"),
        None => format!("meta l4proto {num}"),
    };
    match r.protocol {
        AclProtocol::All => String::new(),
        AclProtocol::Tcp => ports("tcp", 6),
        AclProtocol::Udp => ports("udp", 17),
        AclProtocol::Icmp => {
            let (kw, num) = if v6 { ("icmpv6", 58) } else { ("icmp", 1) };
            match (r.icmp_type, r.icmp_code) {
                (None, _) => format!("meta l4proto {num}"),
                (Some(t), None) => format!("{kw} type {t}"),
                (Some(t), Some(c)) => format!("{kw} type {t} {kw} code {c}"),
            }
        }
        AclProtocol::Number(n) => format!("meta l4proto {n}"),
    }
}

/// nft comments cannot hold `"`; our names never do (they are checked
/// names), but a renderer must not be able to produce a broken file.
fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Interface names are quoted strings in nft, matched exactly: the name is
/// written as it is (ipam allows letters, digits, `-_.@`; a quote or a
/// backslash, which nothing allows, would be dropped).
fn quote_iface(s: &str) -> String {
    let name: String = s.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
    format!("\"{name}\"")
}

/// A chain name for the tier on `iface` (the `k`-th in interface order).
/// Chain names are nft identifiers (letters, digits, `_`, `.`, `-`), so the
/// name is escaped injectively: `_` as `__`, `@` as `_a`, anything else as
/// `_x` + the tier's position; two interfaces never share a chain.
fn chain_suffix(iface: &str, k: usize) -> String {
    let mut out = String::new();
    for c in iface.chars() {
        match c {
            '_' => out.push_str("__"),
            '@' => out.push_str("_a"),
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') => out.push(c),
            _ => {
                let _ = write!(out, "_x{k}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
