//! VPCs: carved from their zone, each with an optional router whose name
//! and OSPF router id are unique.

use super::*;

/// The family of a VPC request: as given, else the only one that fits (a
/// dotted netmask is IPv4, a prefix length above 32 IPv6, a zone of one
/// family's super-CIDRs that family). CloudStack's adapter and vpcctl both
/// leave it out and get the same answer.
fn vpc_family(c: &msg::VpcAllocate, zone: &Zone) -> Result<Family, IpamError> {
    if let Some(f) = c.family {
        return Ok(family_of(f));
    }
    if c.netmask.is_some() {
        return Ok(Family::V4);
    }
    if c.prefix_length.is_some_and(|p| p > Family::V4.bits()) {
        return Ok(Family::V6);
    }
    let has = |f: Family| zone.super_cidrs.iter().any(|n| Family::of_net(n) == f);
    match (has(Family::V4), has(Family::V6)) {
        (true, true) => Err(IpamError::InvalidRequest(format!(
            "zone {:?} has IPv4 and IPv6 super-CIDRs: give the family (--family ipv4 or ipv6) for a /{}",
            c.zone,
            c.prefix_length.unwrap_or_default()
        ))),
        (false, true) => Ok(Family::V6),
        _ => Ok(Family::V4),
    }
}

fn family_of(f: msg::Family) -> Family {
    match f {
        msg::Family::Ipv4 => Family::V4,
        msg::Family::Ipv6 => Family::V6,
    }
}

impl IpamState {
    pub(super) fn decide_vpc_allocate(&self, c: &msg::VpcAllocate) -> Result<Decision, IpamError> {
        check_name("VPC", &c.vpc)?;
        if self.vpcs.contains_key(&c.vpc) {
            return Err(IpamError::AlreadyExists {
                kind: "VPC",
                name: c.vpc.clone(),
            });
        }
        let zone = self.zone(&c.zone)?;
        let family = vpc_family(c, zone)?;
        let prefix = requested_prefix(&c.netmask, c.prefix_length, family)?;
        if let Some(r) = &c.router {
            self.check_router(r)?;
        }
        let cidr = zone
            .pool
            .next_allocation(family, prefix)
            .map_err(|e| IpamError::from_alloc(e, &format!("zone {:?}", c.zone)))?;
        if let Some(r) = &c.router {
            vpcroute_protocol::names::check_uplink_outside_vpc(r.uplink_address, cidr)
                .map_err(IpamError::from_render)?;
        }
        Ok(Decision {
            stream: zone_stream(&c.zone),
            reply: to_json(&VpcRecord {
                vpc: c.vpc.clone(),
                zone: c.zone.clone(),
                cidr,
                router: c.router.clone(),
            }),
            events: vec![IpamEvent::VpcAllocated {
                vpc: c.vpc.clone(),
                zone: c.zone.clone(),
                cidr,
                router: c.router.clone(),
            }],
        })
    }

    pub(super) fn check_router(&self, r: &RouterSpec) -> Result<(), IpamError> {
        // Router names become a NATS subject token and an FRR hostname.
        if r.name.is_empty()
            || r.name.len() > 63
            || !r
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(IpamError::InvalidRequest(format!(
                "router name {:?} must be 1-63 characters of letters, digits, '-', '_'",
                r.name
            )));
        }
        vpcroute_protocol::names::check_hostname(&r.name).map_err(IpamError::from_render)?;
        check_interface(&r.uplink_interface)?;
        vpcroute_protocol::names::check_router_id(r.router_id).map_err(IpamError::from_render)?;
        // A router serves one VPC, and OSPF needs router ids unique in the
        // routing domain: a duplicate would silently break adjacencies.
        if let Some(vpc) = self.router_vpc.get(&r.name) {
            return Err(IpamError::AlreadyExists {
                kind: "router",
                name: format!("{} (serves VPC {vpc:?})", r.name),
            });
        }
        if let Some(other) = self.router_ids.get(&r.router_id) {
            return Err(IpamError::AlreadyExists {
                kind: "router id",
                name: format!("{} (router {other:?})", r.router_id),
            });
        }
        Ok(())
    }

    pub(super) fn decide_vpc_release(&self, c: &msg::Release) -> Result<Decision, IpamError> {
        let vpc = self.vpc(&c.name)?;
        if let Some(t) = vpc.tiers.keys().next() {
            return Err(IpamError::NotEmpty {
                kind: "VPC",
                name: c.name.clone(),
                children: format!("{} tier(s), e.g. {t:?}", vpc.tiers.len()),
            });
        }
        if let Some(a) = vpc.acls.iter().next() {
            return Err(IpamError::NotEmpty {
                kind: "VPC",
                name: c.name.clone(),
                children: format!("{} ACL list(s), e.g. {a:?}", vpc.acls.len()),
            });
        }
        Ok(Decision {
            stream: zone_stream(&vpc.zone),
            reply: to_json(&Released {
                name: c.name.clone(),
                address: vpc.cidr,
            }),
            events: vec![IpamEvent::VpcReleased {
                vpc: c.name.clone(),
                zone: vpc.zone.clone(),
                cidr: vpc.cidr,
            }],
        })
    }

    /// `VpcAllocated`: carved from its zone, with its router's name and id taken.
    pub(super) fn apply_vpc_allocated(
        &mut self,
        vpc: &str,
        zone: &str,
        cidr: &IpNet,
        router: &Option<RouterSpec>,
    ) -> Result<(), IpamError> {
        if self.vpcs.contains_key(vpc) {
            return Err(bad(format!("VPC {vpc:?} allocated twice")));
        }
        if let Some(r) = router {
            if self.router_vpc.contains_key(&r.name) || self.router_ids.contains_key(&r.router_id) {
                return Err(bad(format!("router {:?} or its id used twice", r.name)));
            }
        }
        let z = self
            .zones
            .get_mut(zone)
            .ok_or_else(|| bad(format!("unknown zone {zone:?}")))?;
        let pool = BlockPool::with_roots([*cidr]).map_err(|e| bad(e.to_string()))?;
        z.pool.reserve(*cidr).map_err(|e| bad(e.to_string()))?;
        z.vpcs.insert(vpc.to_string(), ());
        if let Some(r) = router {
            self.router_vpc.insert(r.name.clone(), vpc.to_string());
            self.router_ids.insert(r.router_id, r.name.clone());
        }
        self.vpcs.insert(
            vpc.to_string(),
            Vpc {
                zone: zone.to_string(),
                cidr: *cidr,
                router: router.clone(),
                pool,
                tiers: BTreeMap::new(),
                acls: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// `VpcReleased`: an empty VPC's space goes back to its zone.
    pub(super) fn apply_vpc_released(
        &mut self,
        vpc: &str,
        zone: &str,
        cidr: &IpNet,
    ) -> Result<(), IpamError> {
        let v = self
            .vpcs
            .get(vpc)
            .ok_or_else(|| bad(format!("unknown VPC {vpc:?}")))?;
        if v.zone != zone || &v.cidr != cidr || !v.tiers.is_empty() || !v.acls.is_empty() {
            return Err(bad(format!("release of VPC {vpc:?} does not match")));
        }
        let z = self.zones.get_mut(zone).expect("a VPC's zone exists");
        z.pool.release(*cidr).map_err(|e| bad(e.to_string()))?;
        z.vpcs.remove(vpc);
        if let Some(r) = self.vpcs.remove(vpc).and_then(|v| v.router) {
            self.router_vpc.remove(&r.name);
            self.router_ids.remove(&r.router_id);
        }
        Ok(())
    }
}
