//! Reading OSPF state from FRR's JSON output.
//!
//! FRR's JSON field names change between releases; every reader here
//! accepts the 8.x names and the older ones, and never fails on extra
//! fields.

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
/// summary LSA for `network` (the VPC's network address) advertised by
/// `router_id`: the proof that the VPC's range reached the backbone.
pub fn has_summary(json: &Value, area: &str, network: &str, router_id: &str) -> bool {
    let lsas = json
        .pointer("/summaryLinkStates/areas")
        .and_then(|a| a.get(area))
        .or_else(|| json.pointer(&format!("/areas/{area}/summaryLinkStates")));
    let Some(Value::Array(lsas)) = lsas else {
        return false;
    };
    lsas.iter().any(|l| {
        l.get("linkStateId").and_then(Value::as_str) == Some(network)
            && l.get("advertisingRouter").and_then(Value::as_str) == Some(router_id)
    })
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
    fn finds_the_summary_in_the_backbone() {
        let v = json!({"routerId": "10.255.0.1", "summaryLinkStates": {"areas": {"0.0.0.0": [
            {"linkStateId": "10.1.0.0", "advertisingRouter": "10.255.0.1"}
        ]}}});
        assert!(has_summary(&v, "0.0.0.0", "10.1.0.0", "10.255.0.1"));
        assert!(!has_summary(&v, "0.0.0.0", "10.1.4.0", "10.255.0.1"));
        assert!(!has_summary(&v, "0.0.0.5", "10.1.0.0", "10.255.0.1"));
    }
}
