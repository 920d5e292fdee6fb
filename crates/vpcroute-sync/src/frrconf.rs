//! The managed part of an FRR configuration.
//!
//! vpcroute owns the OSPF lines of the interfaces it configures and the
//! whole `router ospf` block; everything else on the router (addresses,
//! other daemons, `frr version` lines, other interfaces' non-OSPF lines) is
//! left alone. Both the desired text (from the renderer) and the running
//! text (`show running-config`) are reduced to this model, so comparing
//! them ignores formatting and FRR's own additions.

use std::collections::BTreeMap;

/// The managed lines of one configuration, each context in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrrConfig {
    /// `interface NAME` → its managed lines (`ip ospf ...`, and
    /// `description` lines written by vpcroute).
    pub interfaces: BTreeMap<String, Vec<String>>,
    /// The `router ospf` block, if present (all its lines are managed).
    pub router_ospf: Option<Vec<String>>,
}

/// Lines FRR 8.4 accepts but never shows in `show running-config`, because
/// they set the default (docs/frr-notes.md §7). Both sides of a comparison
/// leave them out, or a rendered configuration would never match what the
/// router reports. (`ip ospf dead-interval 40` is shown once set, so it
/// stays.)
const SHOWN_AS_DEFAULT: &[&str] = &[
    "ip ospf network broadcast",
    "ip ospf hello-interval 10",
    "ip ospf retransmit-interval 5",
    "ip ospf transmit-delay 1",
];

/// Whether an interface line is vpcroute's to manage.
pub fn is_managed_interface_line(line: &str) -> bool {
    line.starts_with("ip ospf ") || line.starts_with("description vpcroute")
}

#[derive(PartialEq)]
enum Context {
    Global,
    Interface(String),
    RouterOspf,
    /// A context vpcroute does not manage (`router bgp`, `line vty`, ...).
    Other,
}

impl FrrConfig {
    /// Parses configuration text. Unknown contexts and global lines are
    /// skipped, never rejected: a running configuration may hold anything.
    pub fn parse(text: &str) -> FrrConfig {
        let mut cfg = FrrConfig::default();
        let mut ctx = Context::Global;
        for raw in text.lines() {
            let indented = raw.starts_with(' ');
            let line = raw.trim();
            if line.is_empty() || line.starts_with('!') {
                continue;
            }
            if line == "exit" || line == "end" || line == "exit-vrf" {
                ctx = Context::Global;
                continue;
            }
            if !indented {
                // A new top-level statement opens (or leaves) a context.
                ctx = if let Some(name) = line.strip_prefix("interface ") {
                    // `interface eth1 vrf X` is not one of ours.
                    let mut parts = name.split_whitespace();
                    match (parts.next(), parts.next()) {
                        (Some(n), None) => {
                            cfg.interfaces.entry(n.to_string()).or_default();
                            Context::Interface(n.to_string())
                        }
                        _ => Context::Other,
                    }
                } else if line == "router ospf" {
                    cfg.router_ospf.get_or_insert_with(Vec::new);
                    Context::RouterOspf
                } else if line.starts_with("router ")
                    || line.starts_with("line ")
                    || line.starts_with("route-map ")
                    || line.starts_with("vrf ")
                    || line.starts_with("key chain ")
                {
                    Context::Other
                } else {
                    Context::Global
                };
                continue;
            }
            match &ctx {
                Context::Interface(name)
                    if is_managed_interface_line(line) && !SHOWN_AS_DEFAULT.contains(&line) =>
                {
                    cfg.interfaces
                        .get_mut(name)
                        .expect("context entered above")
                        .push(line.to_string());
                }
                Context::RouterOspf => cfg
                    .router_ospf
                    .as_mut()
                    .expect("context entered above")
                    .push(line.to_string()),
                _ => {}
            }
        }
        // An interface with no managed line is nothing of ours.
        cfg.interfaces.retain(|_, lines| !lines.is_empty());
        cfg
    }

    /// True when the router has nothing of vpcroute's configured, as after
    /// a daemon restarted with an empty configuration.
    pub fn is_empty(&self) -> bool {
        self.interfaces.is_empty() && self.router_ospf.as_ref().is_none_or(|l| l.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_managed_lines() {
        let text = r"frr version 8.4.4
frr defaults traditional
hostname left-vr
!
interface eth1
 description vpcroute uplink
 ip address 192.168.100.2/24
 ip ospf area 0.0.0.0
 ip ospf hello-interval 10
exit
!
interface lo
 ip address 1.1.1.1/32
exit
!
router ospf
 ospf router-id 10.255.0.1
 area 0.0.0.5 range 10.1.0.0/22
exit
!
router bgp 65000
 neighbor 1.2.3.4 remote-as 1
exit
!
line vty
!
";
        let cfg = FrrConfig::parse(text);
        assert_eq!(cfg.interfaces.len(), 1);
        assert_eq!(
            cfg.interfaces["eth1"],
            // `hello-interval 10` is the default, which FRR never shows.
            vec!["description vpcroute uplink", "ip ospf area 0.0.0.0"]
        );
        assert_eq!(
            cfg.router_ospf.unwrap(),
            vec![
                "ospf router-id 10.255.0.1",
                "area 0.0.0.5 range 10.1.0.0/22"
            ]
        );
    }

    #[test]
    fn empty_running_config_is_empty() {
        let cfg = FrrConfig::parse("frr version 8.4.4\nhostname x\n!\nline vty\n!\nend\n");
        assert!(cfg.is_empty());
    }
}
