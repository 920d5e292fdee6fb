//! Reading OSPF state from FRR's JSON output.
//!
//! FRR's JSON field names change between releases; every reader here
//! accepts the 8.x names and the older ones, and never fails on extra
//! fields.

use std::net::Ipv4Addr;

use serde_json::Value;
use vpcroute_protocol::sync::OspfNeighbor;

/// Neighbours from `show ip ospf neighbor json`:
/// `{"neighbors": {"<router id>": [{"nbrState"|"state": "Full/DR", "ifaceAddress"|"address": ..., "ifaceName": ...}]}}`.
pub fn neighbors(json: &Value) -> Vec<OspfNeighbor> {
    let mut out = Vec::new();
    let Some(map) = json.get("neighbors").and_then(Value::as_object) else {
        return out;
    };
    for (router_id, entries) in map {
        let entries: Vec<&Value> = match entries {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for e in entries {
            let s = |k: &str| e.get(k).and_then(Value::as_str).map(String::from);
            out.push(OspfNeighbor {
                router_id: router_id.clone(),
                state: s("nbrState").or_else(|| s("state")).unwrap_or_default(),
                address: s("ifaceAddress").or_else(|| s("address")),
                interface: s("ifaceName"),
            });
        }
    }
    out
}

/// Number of network routes in `show ip ospf route json` (keys that are
/// prefixes; router entries are keyed by router id without a length).
pub fn route_count(json: &Value) -> u64 {
    json.as_object()
        .map(|m| m.keys().filter(|k| k.contains('/')).count() as u64)
        .unwrap_or(0)
}

/// Whether `show ip ospf database summary json` holds, in area `area`, a
/// live summary LSA for `cidr` (`A.B.C.D/LEN`) advertised by `router_id`:
/// the proof that the VPC's range reached the backbone.
///
/// The LSA's link state id is not always the network address: FRR may use
/// the host-bits form (RFC 2328 appendix E), so the id is compared under
/// the mask. A flushed LSA stays listed with age 3600 for about a minute
/// and does not count.
pub fn has_summary(json: &Value, area: &str, cidr: &str, router_id: &str) -> bool {
    let Some((network, len)) = parse_cidr(cidr) else {
        return false;
    };
    let Some(Value::Array(lsas)) = json
        .pointer("/summaryLinkStates/areas")
        .and_then(|a| a.get(area))
    else {
        return false;
    };
    lsas.iter().any(|l| {
        let lsid = l
            .get("linkStateId")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Ipv4Addr>().ok());
        l.get("advertisingRouter").and_then(Value::as_str) == Some(router_id)
            && l.get("networkMask").and_then(Value::as_u64) == Some(u64::from(len))
            && l.get("lsaAge")
                .and_then(Value::as_u64)
                .is_some_and(|age| age < MAX_AGE)
            && lsid.is_some_and(|id| u32::from(id) & mask(len) == u32::from(network))
    })
}

/// The age at which an LSA is being flushed.
const MAX_AGE: u64 = 3600;

/// Link state ids of the summary LSAs this router itself holds in `area`,
/// from `show ip ospf database summary self-originate json` (whose shape
/// differs from the plain command: area → object keyed by id). Flushed
/// ones are included: while one with a VPC range's id lingers, FRR 8.4
/// cannot originate the range (docs/frr-notes.md §4).
pub fn self_originated_ids(json: &Value, area: &str) -> Vec<String> {
    json.pointer("/Summary Link States")
        .and_then(|a| a.get(area))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The interfaces OSPF runs on in `area`, from `show ip ospf interface
/// json` (without an interface name: named, it also lists an inactive
/// interface, with `ospfEnabled: false`).
///
/// Lab fact (docs/frr-notes.md §4a): an interface configured with `ip ospf
/// area` is listed here only once it exists, is admin up, has carrier and
/// an address; missing, admin down, no carrier or no address, it is not
/// listed, and an area with none listed gets no range announced.
pub fn active_interfaces(json: &Value, area: &str) -> Vec<String> {
    let Some(map) = json.get("interfaces").and_then(Value::as_object) else {
        return vec![];
    };
    map.iter()
        .filter(|(_, i)| {
            i.get("area").and_then(Value::as_str) == Some(area)
                && i.get("ifUp").and_then(Value::as_bool) != Some(false)
                && i.get("ospfEnabled").and_then(Value::as_bool) != Some(false)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn parse_cidr(cidr: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = cidr.split_once('/')?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((addr.parse().ok()?, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_neighbors_in_both_spellings() {
        let v = json!({"neighbors": {
            "10.255.0.254": [{"nbrState": "Full/DR", "ifaceAddress": "192.168.100.1", "ifaceName": "eth1:192.168.100.2"}],
            "10.255.0.2": [{"state": "2-Way/DROther", "address": "192.168.100.3"}]
        }});
        let n = neighbors(&v);
        assert_eq!(n.len(), 2);
        assert!(n
            .iter()
            .any(|x| x.router_id == "10.255.0.254" && x.state == "Full/DR"));
        assert!(n
            .iter()
            .any(|x| x.router_id == "10.255.0.2" && x.state.starts_with("2-Way")));
    }

    #[test]
    fn counts_network_routes_only() {
        let v = json!({"10.1.0.0/22": {}, "10.1.4.0/22": {}, "10.255.0.254": {}});
        assert_eq!(route_count(&v), 2);
    }

    #[test]
    fn finds_the_live_summary_in_the_backbone() {
        let v = json!({"routerId": "10.255.0.254", "summaryLinkStates": {"areas": {"0.0.0.0": [
            {"linkStateId": "10.1.0.0", "networkMask": 24, "lsaAge": 3600, "advertisingRouter": "10.255.0.1"},
            {"linkStateId": "10.1.4.0", "networkMask": 22, "lsaAge": 12, "advertisingRouter": "10.255.0.2"},
            {"linkStateId": "10.1.8.255", "networkMask": 22, "lsaAge": 5, "advertisingRouter": "10.255.0.3"}
        ]}}});
        assert!(has_summary(&v, "0.0.0.0", "10.1.4.0/22", "10.255.0.2"));
        // Host-bits link state id.
        assert!(has_summary(&v, "0.0.0.0", "10.1.8.0/22", "10.255.0.3"));
        // Flushed (age 3600), wrong router, wrong mask, wrong area.
        assert!(!has_summary(&v, "0.0.0.0", "10.1.0.0/24", "10.255.0.1"));
        assert!(!has_summary(&v, "0.0.0.0", "10.1.4.0/22", "10.255.0.1"));
        assert!(!has_summary(&v, "0.0.0.0", "10.1.4.0/24", "10.255.0.2"));
        assert!(!has_summary(&v, "0.0.0.5", "10.1.4.0/22", "10.255.0.2"));
    }

    #[test]
    fn active_interfaces_are_those_listed_in_the_area() {
        // As FRR 8.4 printed it in the lab: eth1 up in the backbone, eth3
        // up in area 0.0.0.5 (its OSPF state `Waiting` is the DR wait, not
        // down); a tier without carrier or address is simply not listed.
        let v = json!({"interfaces": {
            "eth1": {"ifUp": true, "area": "0.0.0.0", "state": "Waiting"},
            "eth3": {"ifUp": true, "ospfEnabled": true, "area": "0.0.0.5", "state": "Waiting"},
            "eth4": {"ifUp": true, "ospfEnabled": false}
        }});
        assert_eq!(active_interfaces(&v, "0.0.0.5"), vec!["eth3"]);
        assert_eq!(active_interfaces(&v, "0.0.0.0"), vec!["eth1"]);
        assert!(active_interfaces(&v, "0.0.0.6").is_empty());
        assert!(active_interfaces(&json!({"interfaces": {}}), "0.0.0.5").is_empty());
    }

    #[test]
    fn reads_self_originated_ids() {
        let v = json!({"routerId": "10.255.0.1", "Summary Link States": {
            "0.0.0.0": {"10.1.0.0": {"lsaAge": 3600}}, "0.0.0.5": {"192.168.100.0": {}}}});
        assert_eq!(self_originated_ids(&v, "0.0.0.0"), vec!["10.1.0.0"]);
        assert!(self_originated_ids(&v, "0.0.0.9").is_empty());
    }
}
