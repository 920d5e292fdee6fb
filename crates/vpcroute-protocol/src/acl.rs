//! Network ACL lists, as CloudStack has them: a list belongs to one VPC and
//! is attached to tiers; each rule has a number (evaluation order, first
//! match wins), a CIDR list (the source of ingress traffic, the destination
//! of egress traffic), a protocol, a port range or ICMP type/code, a
//! traffic type and an action.
//!
//! Semantics (CloudStack's, written down once here):
//! * **Ingress** (traffic entering a tier, from another VPC or from another
//!   tier of the same VPC): rules in number order, first match decides;
//!   nothing matched is denied.
//! * **Egress** (traffic leaving a tier): allowed unless the list has at
//!   least one egress rule; then rules in number order, nothing matched is
//!   denied.
//! * Replies of allowed connections always pass (the filter is stateful).
//! * Two built-in lists exist for every VPC: [`DEFAULT_ALLOW`] (everything
//!   in and out) and [`DEFAULT_DENY`] (nothing in, nothing out). A tier with
//!   no list behaves as an empty list: all ingress denied, all egress
//!   allowed (CloudStack's default), so nothing can reach it from outside
//!   its VPC, or from its other tiers, until a list allows it.
//!
//! Requests carry strings (validated by ipam, with a precise error); events
//! and replies carry the typed [`AclRule`].

use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Built-in list: allow all ingress and egress.
pub const DEFAULT_ALLOW: &str = "default_allow";
/// Built-in list: deny all ingress and egress.
pub const DEFAULT_DENY: &str = "default_deny";

/// How a tier with no list is shown (not a list name: it cannot be set).
pub const NO_LIST: &str = "none";

/// True for the names of the built-in lists, which every VPC has and nobody
/// creates, changes or deletes.
pub fn is_builtin(acl: &str) -> bool {
    acl == DEFAULT_ALLOW || acl == DEFAULT_DENY
}

/// The rules of a built-in list, or `None` for any other name. Built-ins
/// are ordinary rule lists, so the firewall renderer has one code path.
pub fn builtin_rules(acl: &str) -> Option<Vec<AclRule>> {
    let action = match acl {
        DEFAULT_ALLOW => AclAction::Allow,
        DEFAULT_DENY => AclAction::Deny,
        _ => return None,
    };
    let any: Vec<IpNet> = vec![
        "0.0.0.0/0".parse().expect("valid"),
        "::/0".parse().expect("valid"),
    ];
    let rule = |number, traffic| AclRule {
        number,
        cidrs: any.clone(),
        protocol: AclProtocol::All,
        ports: None,
        icmp_type: None,
        icmp_code: None,
        traffic,
        action,
    };
    Some(vec![rule(1, Traffic::Ingress), rule(2, Traffic::Egress)])
}

/// Largest rule number (CloudStack numbers rules with small integers; a
/// bound keeps nft chains and messages small).
pub const RULE_NUMBER_MAX: u32 = 65_535;
/// Most CIDRs in one rule, and most rules in one list.
pub const RULE_CIDRS_MAX: usize = 64;
pub const LIST_RULES_MAX: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Traffic {
    Ingress,
    Egress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AclAction {
    Allow,
    Deny,
}

/// `all`, `tcp`, `udp`, `icmp`, or an IP protocol number (0-255). Numbers
/// of the named protocols (1, 6, 17) are read as their names, so one rule
/// has one spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AclProtocol {
    All,
    Tcp,
    Udp,
    Icmp,
    Number(u8),
}

impl AclProtocol {
    /// True for the protocols that have ports.
    pub fn has_ports(self) -> bool {
        matches!(self, AclProtocol::Tcp | AclProtocol::Udp)
    }
}

impl fmt::Display for AclProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclProtocol::All => f.write_str("all"),
            AclProtocol::Tcp => f.write_str("tcp"),
            AclProtocol::Udp => f.write_str("udp"),
            AclProtocol::Icmp => f.write_str("icmp"),
            AclProtocol::Number(n) => write!(f, "{n}"),
        }
    }
}

impl TryFrom<String> for AclProtocol {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<AclProtocol> for String {
    fn from(p: AclProtocol) -> String {
        p.to_string()
    }
}

impl std::str::FromStr for AclProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // Exactly as the schema (`acl_protocol`) and vpcctl's help spell it:
        // lower-case names, numbers without leading zeros or blanks. "TCP"
        // and "006" were taken once; no client of the contract sent them.
        Ok(match s {
            "all" => AclProtocol::All,
            "tcp" => AclProtocol::Tcp,
            "udp" => AclProtocol::Udp,
            "icmp" => AclProtocol::Icmp,
            other => match plain_decimal::<u8>(other) {
                // "6" and "tcp" alike: one protocol, one spelling.
                Some(6) => AclProtocol::Tcp,
                Some(17) => AclProtocol::Udp,
                Some(1) => AclProtocol::Icmp,
                Some(n) => AclProtocol::Number(n),
                None => {
                    return Err(format!(
                        "protocol {:?} must be all, tcp, udp, icmp or a protocol number 0-255",
                        crate::error::clip(s, 32)
                    ))
                }
            },
        })
    }
}

/// A number written as the schemas write one: decimal digits only, no
/// sign, blank or leading zero (`"0"` itself is fine).
fn plain_decimal<T: std::str::FromStr>(s: &str) -> Option<T> {
    let plain = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'));
    plain.then(|| s.parse().ok()).flatten()
}

/// An inclusive port range; `start == end` for one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl std::str::FromStr for PortRange {
    type Err = String;
    /// `8080` or `8000-8090`, ports 1-65535, start ≤ end.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "ports {:?} must be a port or a range A-B of ports 1-65535 with A <= B",
                crate::error::clip(s, 32)
            )
        };
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let start: u16 = plain_decimal(a).ok_or_else(bad)?;
        let end: u16 = plain_decimal(b).ok_or_else(bad)?;
        if start == 0 || start > end {
            return Err(bad());
        }
        Ok(PortRange { start, end })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRule {
    pub number: u32,
    /// Sorted, without duplicates or CIDRs covered by another one.
    pub cidrs: Vec<IpNet>,
    pub protocol: AclProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    /// ICMP only; none means every type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    /// ICMP only, with a type; none means every code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    pub traffic: Traffic,
    pub action: AclAction,
}

// ---------------------------------------------------------------- requests

/// `vpcroute.ipam.acl.create`: a new, empty list for a VPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclCreate {
    pub request_id: String,
    pub acl: String,
    pub vpc: String,
}

/// `vpcroute.ipam.acl.rule.add`. Strings, validated by ipam (see
/// [`AclRuleAdd::to_rule`]). `icmp_type`/`icmp_code` take CloudStack's `-1`
/// for "any".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRuleAdd {
    pub request_id: String,
    pub acl: String,
    pub number: u32,
    pub cidrs: Vec<String>,
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<i32>,
    pub traffic: Traffic,
    pub action: AclAction,
}

/// Why a rule request is refused, by field, so ipam can answer with the
/// right error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleProblem {
    /// A CIDR that does not parse or has host bits set.
    Cidr(String),
    /// Anything else, the message names the field.
    Field(String),
}

impl AclRuleAdd {
    /// The rule this request describes, or what is wrong with it.
    /// `parse_cidr` is the caller's canonical CIDR parser (ipam's, so the
    /// message matches every other CIDR error).
    pub fn to_rule(
        &self,
        parse_cidr: impl Fn(&str) -> Result<IpNet, String>,
    ) -> Result<AclRule, RuleProblem> {
        use RuleProblem::Field;
        if self.number == 0 || self.number > RULE_NUMBER_MAX {
            return Err(Field(format!(
                "rule number {} must be 1-{RULE_NUMBER_MAX}",
                self.number
            )));
        }
        if self.cidrs.is_empty() {
            return Err(Field(
                "at least one CIDR is required (0.0.0.0/0 for any IPv4 address)".into(),
            ));
        }
        if self.cidrs.len() > RULE_CIDRS_MAX {
            return Err(Field(format!(
                "a rule holds at most {RULE_CIDRS_MAX} CIDRs, not {}",
                self.cidrs.len()
            )));
        }
        let cidrs = self
            .cidrs
            .iter()
            .map(|c| parse_cidr(c.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(RuleProblem::Cidr)?;
        let protocol: AclProtocol = self.protocol.parse().map_err(Field)?;
        let ports = match (&self.ports, protocol.has_ports()) {
            (None, _) => None,
            (Some(p), true) => Some(p.parse::<PortRange>().map_err(Field)?),
            (Some(_), false) => {
                return Err(Field(format!(
                    "ports apply to tcp and udp only, not to protocol {protocol}"
                )))
            }
        };
        let icmp = |what: &str, v: Option<i32>| -> Result<Option<u8>, RuleProblem> {
            match v {
                None | Some(-1) => Ok(None),
                Some(_) if protocol != AclProtocol::Icmp => Err(Field(format!(
                    "an ICMP {what} applies to protocol icmp only, not {protocol}"
                ))),
                Some(n) => u8::try_from(n)
                    .map(Some)
                    .map_err(|_| Field(format!("ICMP {what} {n} must be 0-255 (or -1 for any)"))),
            }
        };
        let icmp_type = icmp("type", self.icmp_type)?;
        let icmp_code = icmp("code", self.icmp_code)?;
        if icmp_code.is_some() && icmp_type.is_none() {
            return Err(Field("an ICMP code needs an ICMP type".into()));
        }
        // ICMP and ICMPv6 number their types differently (echo: 8 and 128):
        // one rule cannot mean both.
        if icmp_type.is_some() && cidrs.iter().any(|c| matches!(c, IpNet::V6(_))) {
            return Err(Field(
                "an ICMP type applies to IPv4 CIDRs only; write IPv6 rules without a type".into(),
            ));
        }
        Ok(AclRule {
            number: self.number,
            cidrs: IpNet::aggregate(&cidrs),
            protocol,
            ports,
            icmp_type,
            icmp_code,
            traffic: self.traffic,
            action: self.action,
        })
    }
}

/// `vpcroute.ipam.acl.rule.delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRuleDelete {
    pub request_id: String,
    pub acl: String,
    pub number: u32,
}

/// `vpcroute.ipam.tier.set_acl`: attach a list (or a built-in one) to a tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSetAcl {
    pub request_id: String,
    pub tier: String,
    pub acl: String,
}

// ----------------------------------------------------------------- replies

/// Reply to `acl.create`, `acl.show` and every rule change: the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclView {
    pub acl: String,
    pub vpc: String,
    /// In number order.
    pub rules: Vec<AclRule>,
    /// Tiers the list is attached to, by name.
    pub tiers: Vec<String>,
}

/// Reply to `tier.set_acl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierAclRecord {
    pub tier: String,
    pub vpc: String,
    pub acl: String,
    /// The list attached before; none for a tier that had no list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(protocol: &str) -> AclRuleAdd {
        AclRuleAdd {
            request_id: "r".into(),
            acl: "web".into(),
            number: 10,
            cidrs: vec!["10.1.0.0/22".into(), "10.1.1.0/24".into()],
            protocol: protocol.into(),
            ports: None,
            icmp_type: None,
            icmp_code: None,
            traffic: Traffic::Ingress,
            action: AclAction::Allow,
        }
    }

    fn parse(s: &str) -> Result<IpNet, String> {
        s.parse().map_err(|_| format!("bad {s}"))
    }

    #[test]
    fn covered_cidrs_are_folded_and_numbers_of_named_protocols_are_names() {
        let r = req("6").to_rule(parse).unwrap();
        assert_eq!(r.protocol, AclProtocol::Tcp);
        // One spelling of a number: "006" is refused, as the schema does.
        assert!("006".parse::<AclProtocol>().is_err());
        assert_eq!(r.cidrs, vec!["10.1.0.0/22".parse::<IpNet>().unwrap()]);
        assert_eq!(
            "47".parse::<AclProtocol>().unwrap(),
            AclProtocol::Number(47)
        );
        let json = serde_json::to_string(&AclProtocol::Number(47)).unwrap();
        assert_eq!(json, "\"47\"");
        assert_eq!(
            serde_json::from_str::<AclProtocol>("\"icmp\"").unwrap(),
            AclProtocol::Icmp
        );
        // Names are lower case, as the schema and vpcctl's help write them.
        assert!(serde_json::from_str::<AclProtocol>("\"ICMP\"").is_err());
    }

    #[test]
    fn ports_and_icmp_fields_are_checked_against_the_protocol() {
        let mut r = req("icmp");
        r.ports = Some("80".into());
        assert!(
            matches!(r.to_rule(parse), Err(RuleProblem::Field(m)) if m.contains("tcp and udp"))
        );
        let mut r = req("tcp");
        r.ports = Some("90-80".into());
        assert!(r.to_rule(parse).is_err());
        r.ports = Some("8000-8090".into());
        assert_eq!(
            r.to_rule(parse).unwrap().ports,
            Some(PortRange {
                start: 8000,
                end: 8090
            })
        );
        r.icmp_type = Some(8);
        assert!(r.to_rule(parse).is_err());
        let mut r = req("icmp");
        r.icmp_type = Some(-1);
        r.icmp_code = Some(-1);
        let rule = r.to_rule(parse).unwrap();
        assert_eq!((rule.icmp_type, rule.icmp_code), (None, None));
        r.icmp_type = Some(-1);
        r.icmp_code = Some(0);
        assert!(r.to_rule(parse).is_err(), "a code without a type");
        r.icmp_type = Some(300);
        assert!(r.to_rule(parse).is_err());
        let mut r = req("icmp");
        r.cidrs.push("2001:db8::/32".into());
        r.icmp_type = Some(8);
        assert!(r.to_rule(parse).is_err(), "an ICMP type on IPv6");
        let mut r = req("tcp");
        r.cidrs = vec!["10.1.0.0/33".into()];
        assert!(matches!(r.to_rule(parse), Err(RuleProblem::Cidr(_))));
        let mut r = req("tcp");
        r.number = 0;
        assert!(r.to_rule(parse).is_err());
        r.number = 65_536;
        assert!(r.to_rule(parse).is_err());
    }
}
