//! Tiers: carved from their VPC, each a host pool for its VMs.

use super::*;

impl IpamState {
    pub(super) fn decide_tier_allocate(
        &self,
        c: &msg::TierAllocate,
    ) -> Result<Decision, IpamError> {
        check_name("tier", &c.tier)?;
        if self.tiers.contains_key(&c.tier) {
            return Err(IpamError::AlreadyExists {
                kind: "tier",
                name: c.tier.clone(),
            });
        }
        let vpc = self.vpc(&c.vpc)?;
        let family = Family::of_net(&vpc.cidr);
        let prefix = requested_prefix(&c.netmask, c.prefix_length, family)?;
        if let Some(iface) = &c.interface {
            check_interface(iface)?;
            if let Some(r) = &vpc.router {
                if &r.uplink_interface == iface {
                    return Err(IpamError::AlreadyExists {
                        kind: "interface",
                        name: format!("{iface} (the uplink of router {:?})", r.name),
                    });
                }
            }
            for t in vpc.tiers.keys() {
                if self.tiers[t].interface.as_deref() == Some(iface) {
                    return Err(IpamError::AlreadyExists {
                        kind: "interface",
                        name: format!("{iface} (serves tier {t:?})"),
                    });
                }
            }
        }
        if let Some(a) = &c.acl {
            self.check_acl_of(a, &c.vpc)?;
        }
        let vpc = self.vpc(&c.vpc)?;
        let scope = format!("VPC {:?} ({})", c.vpc, vpc.cidr);
        let (vpc_zone, vpc_cidr) = (vpc.zone.clone(), vpc.cidr);
        let (cidr, gateway) = match &c.gateway {
            Some(gw) => {
                let gateway = parse_addr("gateway", gw)?;
                if Family::of_addr(&gateway) != family {
                    return Err(IpamError::InvalidCidr(format!(
                        "gateway {gateway} is not of the VPC's family ({vpc_cidr})"
                    )));
                }
                let cidr = IpNet::new(gateway, prefix)
                    .map_err(|e| IpamError::InvalidCidr(e.to_string()))?
                    .trunc();
                vpc.pool
                    .check_reserve(cidr)
                    .map_err(|e| IpamError::from_alloc(e, &scope))?;
                (cidr, gateway)
            }
            None => {
                let cidr = vpc
                    .pool
                    .next_allocation(family, prefix)
                    .map_err(|e| IpamError::from_alloc(e, &scope))?;
                (cidr, default_gateway(cidr))
            }
        };
        // Refuse a subnet no VM could live in, or a gateway on the network
        // or broadcast address, before anything is recorded.
        HostPool::new(cidr, gateway).map_err(|e| IpamError::from_alloc(e, &scope))?;
        let record = TierRecord {
            tier: c.tier.clone(),
            vpc: c.vpc.clone(),
            cidr,
            gateway,
            interface: c.interface.clone(),
            acl: c.acl.clone(),
        };
        Ok(Decision {
            stream: zone_stream(&vpc_zone),
            reply: to_json(&record),
            events: vec![IpamEvent::TierAllocated {
                tier: record.tier,
                vpc: record.vpc,
                cidr,
                gateway,
                interface: record.interface,
                acl: record.acl,
            }],
        })
    }

    pub(super) fn decide_tier_release(&self, c: &msg::Release) -> Result<Decision, IpamError> {
        let tier = self.tier(&c.name)?;
        if let Some(vm) = tier.vms.keys().next() {
            return Err(IpamError::NotEmpty {
                kind: "tier",
                name: c.name.clone(),
                children: format!("{} VM(s), e.g. {vm:?}", tier.vms.len()),
            });
        }
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&tier.vpc].zone),
            reply: to_json(&Released {
                name: c.name.clone(),
                address: tier.cidr,
            }),
            events: vec![IpamEvent::TierReleased {
                tier: c.name.clone(),
                vpc: tier.vpc.clone(),
                cidr: tier.cidr,
            }],
        })
    }

    /// `TierAllocated`: carved from its VPC.
    pub(super) fn apply_tier_allocated(
        &mut self,
        tier: &str,
        vpc: &str,
        cidr: &IpNet,
        gateway: &IpAddr,
        interface: &Option<String>,
        acl: &Option<String>,
    ) -> Result<(), IpamError> {
        if self.tiers.contains_key(tier) {
            return Err(bad(format!("tier {tier:?} allocated twice")));
        }
        if let Some(a) = acl {
            self.check_acl_of(a, vpc).map_err(|e| bad(e.to_string()))?;
        }
        let v = self
            .vpcs
            .get_mut(vpc)
            .ok_or_else(|| bad(format!("unknown VPC {vpc:?}")))?;
        let hosts = HostPool::new(*cidr, *gateway).map_err(|e| bad(e.to_string()))?;
        v.pool.reserve(*cidr).map_err(|e| bad(e.to_string()))?;
        v.tiers.insert(tier.to_string(), ());
        self.tiers.insert(
            tier.to_string(),
            Tier {
                vpc: vpc.to_string(),
                cidr: *cidr,
                gateway: *gateway,
                interface: interface.clone(),
                acl: acl.clone(),
                hosts,
                vms: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// `TierReleased`: an empty tier's space goes back to its VPC.
    pub(super) fn apply_tier_released(
        &mut self,
        tier: &str,
        vpc: &str,
        cidr: &IpNet,
    ) -> Result<(), IpamError> {
        let t = self
            .tiers
            .get(tier)
            .ok_or_else(|| bad(format!("unknown tier {tier:?}")))?;
        if t.vpc != vpc || &t.cidr != cidr || !t.vms.is_empty() {
            return Err(bad(format!("release of tier {tier:?} does not match")));
        }
        let v = self.vpcs.get_mut(vpc).expect("a tier's VPC exists");
        v.pool.release(*cidr).map_err(|e| bad(e.to_string()))?;
        v.tiers.remove(tier);
        self.tiers.remove(tier);
        Ok(())
    }
}
