//! VMs: one address each, from their tier's host pool.

use super::*;

impl IpamState {
    pub(super) fn decide_vm_allocate(&self, c: &msg::VmAllocate) -> Result<Decision, IpamError> {
        check_name("VM", &c.vm)?;
        if self.vm_tier.contains_key(&c.vm) {
            return Err(IpamError::AlreadyExists {
                kind: "VM",
                name: c.vm.clone(),
            });
        }
        let tier = self.tier(&c.tier)?;
        let scope = format!("tier {:?} ({})", c.tier, tier.cidr);
        let stream = zone_stream(&self.vpcs[&tier.vpc].zone);
        let ip = match &c.ip {
            Some(ip) => {
                let ip = parse_addr("address", ip)?;
                if !tier.cidr.contains(&ip) {
                    return Err(IpamError::OutsideParent {
                        what: ip.to_string(),
                        parent: scope,
                    });
                }
                tier.hosts
                    .check_reserve(ip)
                    .map_err(|e| IpamError::from_alloc(e, &scope))?;
                ip
            }
            None => tier
                .hosts
                .next_allocation()
                .map_err(|e| IpamError::from_alloc(e, &scope))?,
        };
        Ok(Decision {
            stream,
            reply: to_json(&VmRecord {
                vm: c.vm.clone(),
                tier: c.tier.clone(),
                ip,
            }),
            events: vec![IpamEvent::VmAddressAllocated {
                vm: c.vm.clone(),
                tier: c.tier.clone(),
                ip,
            }],
        })
    }

    pub(super) fn decide_vm_release(&self, c: &msg::Release) -> Result<Decision, IpamError> {
        let tier_name = self
            .vm_tier
            .get(&c.name)
            .ok_or_else(|| IpamError::UnknownVm(c.name.clone()))?;
        let tier = &self.tiers[tier_name];
        let ip = tier.vms[&c.name];
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&tier.vpc].zone),
            reply: to_json(&Released {
                name: c.name.clone(),
                address: IpNet::from(ip),
            }),
            events: vec![IpamEvent::VmAddressReleased {
                vm: c.name.clone(),
                tier: tier_name.clone(),
                ip,
            }],
        })
    }

    /// `VmAddressAllocated`: the address is taken from its tier.
    pub(super) fn apply_vm_allocated(
        &mut self,
        vm: &str,
        tier: &str,
        ip: &IpAddr,
    ) -> Result<(), IpamError> {
        if self.vm_tier.contains_key(vm) {
            return Err(bad(format!("VM {vm:?} allocated twice")));
        }
        let t = self
            .tiers
            .get_mut(tier)
            .ok_or_else(|| bad(format!("unknown tier {tier:?}")))?;
        t.hosts.reserve(*ip).map_err(|e| bad(e.to_string()))?;
        t.vms.insert(vm.to_string(), *ip);
        self.vm_tier.insert(vm.to_string(), tier.to_string());
        Ok(())
    }

    /// `VmAddressReleased`: the address goes back to its tier.
    pub(super) fn apply_vm_released(
        &mut self,
        vm: &str,
        tier: &str,
        ip: &IpAddr,
    ) -> Result<(), IpamError> {
        let t = self
            .tiers
            .get_mut(tier)
            .ok_or_else(|| bad(format!("unknown tier {tier:?}")))?;
        if t.vms.get(vm) != Some(ip) {
            return Err(bad(format!("release of VM {vm:?} does not match")));
        }
        t.hosts.release(*ip).map_err(|e| bad(e.to_string()))?;
        t.vms.remove(vm);
        self.vm_tier.remove(vm);
        Ok(())
    }
}
