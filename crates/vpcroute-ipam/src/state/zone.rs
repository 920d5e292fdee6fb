//! Zones: their super-CIDRs, the pool VPCs are carved from.

use super::*;

impl IpamState {
    pub(super) fn parse_super_cidrs(list: &[String]) -> Result<(Vec<IpNet>, BlockPool), IpamError> {
        if list.is_empty() {
            return Err(IpamError::InvalidRequest(
                "at least one super-CIDR is required".into(),
            ));
        }
        // The schema's CIDR has no blanks (parse_canonical_cidr would trim
        // them): `" 10.0.0.0/8"` is refused, as
        // schemas/ipam/zone.enable.request.invalid.jsonl says.
        if list.iter().any(|s| s.trim() != s) {
            return Err(IpamError::InvalidCidr(
                "a super-CIDR has blanks around it".into(),
            ));
        }
        let cidrs = list
            .iter()
            .map(|s| parse_cidr(s))
            .collect::<Result<Vec<_>, _>>()?;
        let pool = BlockPool::with_roots(cidrs.iter().copied())
            .map_err(|e| IpamError::from_alloc(e, "the super-CIDR list"))?;
        Ok((cidrs, pool))
    }

    pub(super) fn decide_zone_enable(&self, c: &msg::ZoneEnable) -> Result<Decision, IpamError> {
        check_name("zone", &c.zone)?;
        if self.zones.contains_key(&c.zone) {
            return Err(IpamError::AlreadyExists {
                kind: "zone",
                name: c.zone.clone(),
            });
        }
        let (super_cidrs, _) = Self::parse_super_cidrs(&c.super_cidrs)?;
        Ok(Decision {
            stream: zone_stream(&c.zone),
            reply: to_json(&ZoneRecord {
                zone: c.zone.clone(),
                super_cidrs: super_cidrs.clone(),
            }),
            events: vec![IpamEvent::ZoneEnabled {
                zone: c.zone.clone(),
                super_cidrs,
            }],
        })
    }

    pub(super) fn decide_zone_update(&self, c: &msg::ZoneUpdate) -> Result<Decision, IpamError> {
        let zone = self.zone(&c.zone)?;
        let (super_cidrs, _) = Self::parse_super_cidrs(&c.super_cidrs)?;
        // Try the change on a copy: removing a super-CIDR that holds a VPC
        // must fail without touching the live pool.
        let mut pool = zone.pool.clone();
        apply_root_change(&mut pool, &zone.super_cidrs, &super_cidrs)
            .map_err(|e| IpamError::from_alloc(e, &format!("zone {:?}", c.zone)))?;
        Ok(Decision {
            stream: zone_stream(&c.zone),
            reply: to_json(&ZoneRecord {
                zone: c.zone.clone(),
                super_cidrs: super_cidrs.clone(),
            }),
            events: vec![IpamEvent::ZoneSuperCidrsChanged {
                zone: c.zone.clone(),
                super_cidrs,
            }],
        })
    }

    /// `ZoneEnabled`: a new zone and its pool.
    pub(super) fn apply_zone_enabled(
        &mut self,
        zone: &str,
        super_cidrs: &[IpNet],
    ) -> Result<(), IpamError> {
        if self.zones.contains_key(zone) {
            return Err(bad(format!("zone {zone:?} enabled twice")));
        }
        let pool =
            BlockPool::with_roots(super_cidrs.iter().copied()).map_err(|e| bad(e.to_string()))?;
        self.zones.insert(
            zone.to_string(),
            Zone {
                super_cidrs: super_cidrs.to_vec(),
                pool,
                vpcs: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// `ZoneSuperCidrsChanged`: the pool moves to the new roots, or nothing changes.
    pub(super) fn apply_zone_super_cidrs_changed(
        &mut self,
        zone: &str,
        super_cidrs: &[IpNet],
    ) -> Result<(), IpamError> {
        let z = self
            .zones
            .get_mut(zone)
            .ok_or_else(|| bad(format!("unknown zone {zone:?}")))?;
        let mut pool = z.pool.clone();
        apply_root_change(&mut pool, &z.super_cidrs, super_cidrs)
            .map_err(|e| bad(e.to_string()))?;
        z.pool = pool;
        z.super_cidrs = super_cidrs.to_vec();
        Ok(())
    }

    pub fn zone_view(&self, name: &str) -> Result<ZoneView, IpamError> {
        let z = self.zone(name)?;
        Ok(ZoneView {
            zone: name.to_string(),
            super_cidrs: z.super_cidrs.clone(),
            usage_ipv4: usage_of(z.pool.usage(Family::V4)),
            usage_ipv6: usage_of(z.pool.usage(Family::V6)),
            vpcs: z
                .vpcs
                .keys()
                .map(|v| self.vpc_view(v).expect("a zone's VPCs exist"))
                .collect(),
        })
    }
}

/// Moves a pool from one root set to another: removals first (each must be
/// unused), then additions (each must not overlap what remains).
fn apply_root_change(
    pool: &mut BlockPool,
    old: &[IpNet],
    new: &[IpNet],
) -> Result<(), vpcroute_allocator::AllocError> {
    for r in old.iter().filter(|r| !new.contains(r)) {
        pool.remove_root(*r)?;
    }
    for r in new.iter().filter(|r| !old.contains(r)) {
        pool.add_root(*r)?;
    }
    Ok(())
}
