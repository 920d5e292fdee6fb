//! The VPC ranges a router must originate into the backbone, read from
//! the structure of its desired configuration.

use serde::{Deserialize, Serialize};

use crate::FrrConfig;

/// A VPC range this router must originate into the backbone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedSummary {
    pub backbone: String,
    pub area: String,
    pub cidr: String,
    pub router_id: String,
}

fn area_of(lines: &[String]) -> Option<&str> {
    lines.iter().find_map(|l| l.strip_prefix("ip ospf area "))
}

/// The `area X range P` lines of the `router ospf` block, as (X, P).
fn ranges(ospf: &[String]) -> Vec<(String, String)> {
    ospf.iter()
        .filter_map(
            |l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["area", area, "range", cidr] => Some((area.to_string(), cidr.to_string())),
                _ => None,
            },
        )
        .collect()
}

/// Every VPC range of the desired configuration that has at least one
/// interface in its area, with those (tier) interfaces: a range with no
/// network inside is, rightly, not originated.
///
/// The backbone is the area of the uplink, and the uplink is known from
/// the configuration's shape, not from its description text: the VR is an
/// area border router, every VPC area carries an `area X range` line and
/// the uplink's area (the backbone) carries none. The renderer only
/// renders area 0 as the backbone (RFC 2328 §3), which is the answer when
/// no interface says otherwise.
pub fn expected_summaries(desired: &FrrConfig) -> Vec<(ExpectedSummary, Vec<String>)> {
    let Some(ospf) = &desired.router_ospf else {
        return vec![];
    };
    let router_id = ospf
        .iter()
        .find_map(|l| l.strip_prefix("ospf router-id "))
        .unwrap_or_default()
        .to_string();
    let ranges = ranges(ospf);
    let ranged = |area: &str| ranges.iter().any(|(a, _)| a == area);
    let backbone = desired
        .interfaces
        .values()
        .filter_map(|lines| area_of(lines))
        .find(|area| !ranged(area))
        .unwrap_or("0.0.0.0")
        .to_string();
    ranges
        .into_iter()
        .filter_map(|(area, cidr)| {
            let tiers: Vec<String> = desired
                .interfaces
                .iter()
                .filter(|(_, lines)| area_of(lines) == Some(area.as_str()))
                .map(|(name, _)| name.clone())
                .collect();
            let summary = ExpectedSummary {
                backbone: backbone.clone(),
                area,
                cidr,
                router_id: router_id.clone(),
            };
            (!tiers.is_empty()).then_some((summary, tiers))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uplink_is_the_interface_whose_area_has_no_range() {
        // No description line at all: the shape alone names the backbone.
        let c = FrrConfig::parse(
            "interface eth1\n ip ospf area 0.0.0.0\nexit\ninterface eth2\n ip ospf passive\n ip ospf area 0.0.0.5\nexit\ninterface eth3\n ip ospf area 0.0.0.5\nexit\nrouter ospf\n ospf router-id 10.255.0.1\n area 0.0.0.5 range 10.1.0.0/22\n area 0.0.0.6 range 10.1.8.0/22\nexit\n",
        );
        let got = expected_summaries(&c);
        assert_eq!(got.len(), 1, "a range without an interface is not expected");
        assert_eq!(got[0].0.backbone, "0.0.0.0");
        assert_eq!(got[0].0.area, "0.0.0.5");
        assert_eq!(got[0].0.router_id, "10.255.0.1");
        assert_eq!(got[0].1, vec!["eth2", "eth3"]);
    }
}
