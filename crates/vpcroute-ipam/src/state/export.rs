//! A zone (or a VPC) as a flat list of rows in tree order, from any
//! position on: what paged queries walk (`zone.export`, `vpc.export`) and
//! what `vpc_view` nests. Walking from "just after position P" over the
//! ordered maps needs no state between pages, and returns every row that
//! exists throughout a read exactly once (`vpcroute_protocol::page`).

use std::ops::Bound;

use vpcroute_protocol::ipam::{ExportRow, TierRow, VmRow, VpcAssembler, VpcRow, ZoneSummary};
use vpcroute_protocol::page::KEY_SEPARATOR;

use super::*;

/// Where a page starts: just after the row at `vpc[/tier[/vm]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    vpc: Option<String>,
    tier: Option<String>,
    vm: Option<String>,
}

impl Position {
    /// Reads a page token (`ExportRow::position`); none is the start.
    pub fn parse(token: Option<&str>) -> Result<Position, IpamError> {
        let Some(token) = token else {
            return Ok(Position::default());
        };
        let parts: Vec<&str> = token.split(KEY_SEPARATOR).collect();
        let bad = || {
            IpamError::InvalidRequest(format!(
                "bad page token {:?}",
                vpcroute_protocol::error::clip(token, 64)
            ))
        };
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let part = |i: usize| parts.get(i).map(|p| p.to_string());
        Ok(Position {
            vpc: part(0),
            tier: part(1),
            vm: part(2),
        })
    }
}

/// Keys of `map` from `from` on (all of them for none).
fn keys_from<'a, V>(
    map: &'a BTreeMap<String, V>,
    from: Option<&'a str>,
) -> impl Iterator<Item = &'a String> + 'a {
    let start = from.map_or(Bound::Unbounded, Bound::Included);
    map.range::<str, _>((start, Bound::Unbounded))
        .map(|(k, _)| k)
}

impl IpamState {
    fn vpc_row(&self, name: &str, v: &Vpc) -> VpcRow {
        VpcRow {
            vpc: name.to_string(),
            zone: v.zone.clone(),
            cidr: v.cidr,
            router: v.router.clone(),
            usage: usage_of(v.pool.usage(Family::of_net(&v.cidr))),
            acls: v.acls.iter().cloned().collect(),
        }
    }

    fn tier_row(&self, name: &str, t: &Tier) -> TierRow {
        let u = t.hosts.usage();
        TierRow {
            tier: name.to_string(),
            vpc: t.vpc.clone(),
            cidr: t.cidr,
            gateway: t.gateway,
            interface: t.interface.clone(),
            acl: t.acl.clone(),
            usage: Usage {
                total: u.total,
                used: u.used,
                free: u.free,
                largest_free: None,
            },
        }
    }

    /// The rows of the VPCs `names` (in name order) after `pos`.
    fn rows_of<'a>(
        &'a self,
        names: impl Iterator<Item = &'a String> + 'a,
        pos: &'a Position,
    ) -> impl Iterator<Item = ExportRow> + 'a {
        names.flat_map(move |vpc_name| {
            let v = &self.vpcs[vpc_name];
            // Inside the VPC the position names, or at a VPC after it.
            let inside = pos.vpc.as_deref() == Some(vpc_name.as_str());
            let header = (!inside).then(|| ExportRow::Vpc(self.vpc_row(vpc_name, v)));
            let tier_from = if inside { pos.tier.as_deref() } else { None };
            let tiers = keys_from(&v.tiers, tier_from).flat_map(move |tier_name| {
                let t = &self.tiers[tier_name];
                let inside = inside && pos.tier.as_deref() == Some(tier_name.as_str());
                let header = (!inside).then(|| ExportRow::Tier(self.tier_row(tier_name, t)));
                let vm_start = match (inside, pos.vm.as_deref()) {
                    (true, Some(vm)) => Bound::Excluded(vm),
                    _ => Bound::Unbounded,
                };
                let vms =
                    t.vms
                        .range::<str, _>((vm_start, Bound::Unbounded))
                        .map(move |(vm, ip)| {
                            ExportRow::Vm(VmRow {
                                vm: vm.clone(),
                                tier: tier_name.clone(),
                                vpc: t.vpc.clone(),
                                ip: *ip,
                            })
                        });
                header.into_iter().chain(vms)
            });
            header.into_iter().chain(tiers)
        })
    }

    /// Every VPC, tier and VM of `zone` after `pos`, in tree order.
    pub fn zone_rows<'a>(
        &'a self,
        zone: &str,
        pos: &'a Position,
    ) -> Result<impl Iterator<Item = ExportRow> + 'a, IpamError> {
        let z = self.zone(zone)?;
        Ok(self.rows_of(keys_from(&z.vpcs, pos.vpc.as_deref()), pos))
    }

    /// The VPC `vpc` and its tiers and VMs after `pos`, in tree order.
    pub fn vpc_rows<'a>(
        &'a self,
        vpc: &str,
        pos: &'a Position,
    ) -> Result<impl Iterator<Item = ExportRow> + 'a, IpamError> {
        let (name, _) = self
            .vpcs
            .get_key_value(vpc)
            .ok_or_else(|| IpamError::UnknownVpc(vpc.to_string()))?;
        if pos.vpc.as_ref().is_some_and(|p| p != name) {
            return Err(IpamError::InvalidRequest(format!(
                "page token of another VPC than {vpc:?}"
            )));
        }
        Ok(self.rows_of(std::iter::once(name), pos))
    }

    /// A VPC with its tiers and VMs: its rows, nested.
    pub fn vpc_view(&self, name: &str) -> Result<VpcView, IpamError> {
        let start = Position::default();
        let mut nest = VpcAssembler::default();
        for row in self.vpc_rows(name, &start)? {
            nest.push(row).map_err(IpamError::Inconsistent)?;
        }
        Ok(nest.finish().expect("a VPC's rows begin with its own"))
    }

    /// A zone's utilisation and counts, listing nothing.
    pub fn zone_summary(&self, name: &str) -> Result<ZoneSummary, IpamError> {
        let z = self.zone(name)?;
        let (mut tiers, mut vms, mut acls) = (0u64, 0u64, 0u64);
        for v in z.vpcs.keys().map(|v| &self.vpcs[v]) {
            tiers += v.tiers.len() as u64;
            acls += v.acls.len() as u64;
            vms += v
                .tiers
                .keys()
                .map(|t| self.tiers[t].vms.len() as u64)
                .sum::<u64>();
        }
        Ok(ZoneSummary {
            zone: name.to_string(),
            super_cidrs: z.super_cidrs.clone(),
            usage_ipv4: usage_of(z.pool.usage(Family::V4)),
            usage_ipv6: usage_of(z.pool.usage(Family::V6)),
            vpcs: z.vpcs.len() as u64,
            tiers,
            vms,
            acls,
        })
    }

    /// The ACL lists of `zone`'s VPCs after the list named `after`, by name.
    pub fn zone_acls<'a>(
        &'a self,
        zone: &'a str,
        after: Option<&'a str>,
    ) -> Result<impl Iterator<Item = AclView> + 'a, IpamError> {
        self.zone(zone)?;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .acls
            .range::<str, _>((start, Bound::Unbounded))
            .filter(move |(_, a)| self.vpcs.get(&a.vpc).is_some_and(|v| v.zone == zone))
            .map(|(name, _)| self.acl_view(name).expect("a known list")))
    }
}
