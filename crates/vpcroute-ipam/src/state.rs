//! The ipam state and its two operations, `decide` and `apply`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde::Serialize;
use vpcroute_allocator::{
    default_gateway, netmask_to_prefix, parse_canonical_cidr, BlockPool, Family, HostPool,
};
use vpcroute_protocol::ipam::{
    self as msg, IpamEvent, Released, RouterSpec, TierRecord, TierView, Usage, VmRecord, VmView, VpcRecord,
    VpcView, ZoneRecord, ZoneView,
};

use vpcroute_protocol::acl::{self, AclRule, AclView, TierAclRecord};

use crate::IpamError;

/// A request that changes state. Queries are not commands.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    ZoneEnable(msg::ZoneEnable),
    ZoneUpdate(msg::ZoneUpdate),
    VpcAllocate(msg::VpcAllocate),
    VpcRelease(msg::Release),
    TierAllocate(msg::TierAllocate),
    TierRelease(msg::Release),
    VmAllocate(msg::VmAllocate),
    VmRelease(msg::Release),
    AclCreate(acl::AclCreate),
    AclDelete(msg::Release),
    AclRuleAdd(acl::AclRuleAdd),
    AclRuleDelete(acl::AclRuleDelete),
    TierSetAcl(acl::TierSetAcl),
}

impl Command {
    /// The request id, and the fingerprint: what the request asked without
    /// its request id. A retry must ask exactly the same thing to be
    /// answered from the record, otherwise the id was reused by mistake
    /// and the request is refused. Both come from the serialised command,
    /// so a new variant needs nothing here.
    pub fn request_id_and_fingerprint(&self) -> (String, String) {
        let mut v = serde_json::to_value(self).expect("commands serialise");
        let request_id = v
            .as_object_mut()
            .and_then(|obj| obj.remove("request_id"))
            .and_then(|id| id.as_str().map(str::to_string))
            .expect("every command carries a request id");
        (request_id, v.to_string())
    }

    /// The fingerprint alone (see [`Command::request_id_and_fingerprint`]).
    pub fn fingerprint(&self) -> String {
        self.request_id_and_fingerprint().1
    }
}

/// The outcome of a command that succeeds: events to append to `stream`
/// (all of them, atomically) and the reply to record with the request id.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub stream: String,
    pub events: Vec<IpamEvent>,
    pub reply: serde_json::Value,
}

#[derive(Debug, Clone)]
struct Zone {
    super_cidrs: Vec<IpNet>,
    pool: BlockPool,
    vpcs: BTreeMap<String, ()>,
}

#[derive(Debug, Clone)]
struct Vpc {
    zone: String,
    cidr: IpNet,
    router: Option<RouterSpec>,
    pool: BlockPool,
    tiers: BTreeMap<String, ()>,
    acls: BTreeSet<String>,
}

/// One of a VPC's own ACL lists; rules by number.
#[derive(Debug, Clone)]
struct Acl {
    vpc: String,
    rules: BTreeMap<u32, AclRule>,
}

#[derive(Debug, Clone)]
struct Tier {
    vpc: String,
    cidr: IpNet,
    gateway: IpAddr,
    interface: Option<String>,
    /// None until a list is set: `default_deny`.
    acl: Option<String>,
    hosts: HostPool,
    vms: BTreeMap<String, IpAddr>,
}

/// Everything ipam knows. Names of zones, VPCs, tiers and VMs are global
/// identifiers (CloudStack's UUIDs or names), each unique in its kind.
#[derive(Debug, Clone, Default)]
pub struct IpamState {
    zones: BTreeMap<String, Zone>,
    vpcs: BTreeMap<String, Vpc>,
    tiers: BTreeMap<String, Tier>,
    vm_tier: BTreeMap<String, String>,
    /// Router name → its VPC, and router id → router name, so checking a
    /// new VPC's router does not scan every VPC.
    router_vpc: BTreeMap<String, String>,
    router_ids: BTreeMap<Ipv4Addr, String>,
    acls: BTreeMap<String, Acl>,
}

fn check_name(kind: &str, name: &str) -> Result<(), IpamError> {
    vpcroute_protocol::names::check_name(kind, name).map_err(IpamError::InvalidRequest)
}

/// A VR interface name, by the renderer's own rule (validate once).
fn check_interface(name: &str) -> Result<(), IpamError> {
    vpcroute_protocol::names::check_interface_name(name).map_err(IpamError::from_render)
}

fn parse_cidr(s: &str) -> Result<IpNet, IpamError> {
    parse_canonical_cidr(s).map_err(|e| IpamError::InvalidCidr(e.to_string()))
}

fn parse_addr(what: &str, s: &str) -> Result<IpAddr, IpamError> {
    s.parse()
        .map_err(|_| IpamError::InvalidCidr(format!("{what} {s:?} is not an IP address")))
}

/// The prefix length asked for by a netmask or a prefix length, exactly one.
fn requested_prefix(
    netmask: &Option<String>,
    prefix_length: Option<u8>,
    family: Family,
) -> Result<u8, IpamError> {
    match (netmask, prefix_length) {
        (Some(_), Some(_)) => Err(IpamError::InvalidRequest(
            "give either a netmask or a prefix length, not both".into(),
        )),
        (None, None) => Err(IpamError::InvalidRequest(
            "a netmask or a prefix length is required".into(),
        )),
        (Some(mask), None) => {
            if family != Family::V4 {
                return Err(IpamError::InvalidNetmask(
                    "a dotted netmask describes IPv4 only; use a prefix length for IPv6".into(),
                ));
            }
            let mask: Ipv4Addr = mask.parse().map_err(|_| {
                IpamError::InvalidNetmask(format!("netmask {mask:?} is not a dotted IPv4 mask"))
            })?;
            netmask_to_prefix(mask).map_err(|e| IpamError::InvalidNetmask(e.to_string()))
        }
        (None, Some(p)) => {
            if p > family.bits() {
                Err(IpamError::InvalidCidr(format!(
                    "prefix length /{p} is out of range for {family} (at most /{})",
                    family.bits()
                )))
            } else {
                Ok(p)
            }
        }
    }
}

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

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("replies serialise")
}

fn usage_of(u: vpcroute_allocator::Usage) -> Usage {
    Usage {
        total: u.total,
        used: u.used,
        free: u.free,
        largest_free: u.largest_free,
    }
}

/// Every command of a zone goes to one stream: allocations anywhere in a
/// zone compete for the same space, so the zone is the unit of consistency.
fn zone_stream(zone: &str) -> String {
    format!("zone/{zone}")
}

impl IpamState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides a command: the events that record it and the reply, or an
    /// error. It takes `&self`: the pools answer "what would you hand out"
    /// and "is this block free" read-only, so deciding cannot change state;
    /// the caller applies the events once they are appended (and on replay).
    pub fn decide(&self, cmd: &Command) -> Result<Decision, IpamError> {
        match cmd {
            Command::ZoneEnable(c) => self.decide_zone_enable(c),
            Command::ZoneUpdate(c) => self.decide_zone_update(c),
            Command::VpcAllocate(c) => self.decide_vpc_allocate(c),
            Command::VpcRelease(c) => self.decide_vpc_release(c),
            Command::TierAllocate(c) => self.decide_tier_allocate(c),
            Command::TierRelease(c) => self.decide_tier_release(c),
            Command::VmAllocate(c) => self.decide_vm_allocate(c),
            Command::VmRelease(c) => self.decide_vm_release(c),
            Command::AclCreate(c) => self.decide_acl_create(c),
            Command::AclDelete(c) => self.decide_acl_delete(c),
            Command::AclRuleAdd(c) => self.decide_acl_rule_add(c),
            Command::AclRuleDelete(c) => self.decide_acl_rule_delete(c),
            Command::TierSetAcl(c) => self.decide_tier_set_acl(c),
        }
    }

    fn parse_super_cidrs(list: &[String]) -> Result<(Vec<IpNet>, BlockPool), IpamError> {
        if list.is_empty() {
            return Err(IpamError::InvalidRequest(
                "at least one super-CIDR is required".into(),
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

    fn decide_zone_enable(&self, c: &msg::ZoneEnable) -> Result<Decision, IpamError> {
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

    fn decide_zone_update(&self, c: &msg::ZoneUpdate) -> Result<Decision, IpamError> {
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

    fn decide_vpc_allocate(&self, c: &msg::VpcAllocate) -> Result<Decision, IpamError> {
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

    fn check_router(&self, r: &RouterSpec) -> Result<(), IpamError> {
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

    fn decide_vpc_release(&self, c: &msg::Release) -> Result<Decision, IpamError> {
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

    fn decide_tier_allocate(&self, c: &msg::TierAllocate) -> Result<Decision, IpamError> {
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

    fn decide_tier_release(&self, c: &msg::Release) -> Result<Decision, IpamError> {
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

    fn decide_vm_allocate(&self, c: &msg::VmAllocate) -> Result<Decision, IpamError> {
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

    fn decide_vm_release(&self, c: &msg::Release) -> Result<Decision, IpamError> {
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

    /// Moves the state forward by one event. Checks everything before it
    /// changes anything, so an event that does not fit leaves the state
    /// as it was and says why (a damaged or foreign log).
    pub fn apply(&mut self, ev: &IpamEvent) -> Result<(), IpamError> {
        let bad = |m: String| IpamError::Inconsistent(m);
        match ev {
            IpamEvent::ZoneEnabled { zone, super_cidrs } => {
                if self.zones.contains_key(zone) {
                    return Err(bad(format!("zone {zone:?} enabled twice")));
                }
                let pool = BlockPool::with_roots(super_cidrs.iter().copied())
                    .map_err(|e| bad(e.to_string()))?;
                self.zones.insert(
                    zone.clone(),
                    Zone {
                        super_cidrs: super_cidrs.clone(),
                        pool,
                        vpcs: BTreeMap::new(),
                    },
                );
            }
            IpamEvent::ZoneSuperCidrsChanged { zone, super_cidrs } => {
                let z = self
                    .zones
                    .get_mut(zone)
                    .ok_or_else(|| bad(format!("unknown zone {zone:?}")))?;
                let mut pool = z.pool.clone();
                apply_root_change(&mut pool, &z.super_cidrs, super_cidrs)
                    .map_err(|e| bad(e.to_string()))?;
                z.pool = pool;
                z.super_cidrs = super_cidrs.clone();
            }
            IpamEvent::VpcAllocated {
                vpc,
                zone,
                cidr,
                router,
            } => {
                if self.vpcs.contains_key(vpc) {
                    return Err(bad(format!("VPC {vpc:?} allocated twice")));
                }
                if let Some(r) = router {
                    if self.router_vpc.contains_key(&r.name)
                        || self.router_ids.contains_key(&r.router_id)
                    {
                        return Err(bad(format!("router {:?} or its id used twice", r.name)));
                    }
                }
                let z = self
                    .zones
                    .get_mut(zone)
                    .ok_or_else(|| bad(format!("unknown zone {zone:?}")))?;
                let pool = BlockPool::with_roots([*cidr]).map_err(|e| bad(e.to_string()))?;
                z.pool.reserve(*cidr).map_err(|e| bad(e.to_string()))?;
                z.vpcs.insert(vpc.clone(), ());
                if let Some(r) = router {
                    self.router_vpc.insert(r.name.clone(), vpc.clone());
                    self.router_ids.insert(r.router_id, r.name.clone());
                }
                self.vpcs.insert(
                    vpc.clone(),
                    Vpc {
                        zone: zone.clone(),
                        cidr: *cidr,
                        router: router.clone(),
                        pool,
                        tiers: BTreeMap::new(),
                        acls: BTreeSet::new(),
                    },
                );
            }
            IpamEvent::VpcReleased { vpc, zone, cidr } => {
                let v = self
                    .vpcs
                    .get(vpc)
                    .ok_or_else(|| bad(format!("unknown VPC {vpc:?}")))?;
                if &v.zone != zone || &v.cidr != cidr || !v.tiers.is_empty() || !v.acls.is_empty() {
                    return Err(bad(format!("release of VPC {vpc:?} does not match")));
                }
                let z = self.zones.get_mut(zone).expect("a VPC's zone exists");
                z.pool.release(*cidr).map_err(|e| bad(e.to_string()))?;
                z.vpcs.remove(vpc);
                if let Some(r) = self.vpcs.remove(vpc).and_then(|v| v.router) {
                    self.router_vpc.remove(&r.name);
                    self.router_ids.remove(&r.router_id);
                }
            }
            IpamEvent::TierAllocated {
                tier,
                vpc,
                cidr,
                gateway,
                interface,
                acl,
            } => {
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
                v.tiers.insert(tier.clone(), ());
                self.tiers.insert(
                    tier.clone(),
                    Tier {
                        vpc: vpc.clone(),
                        cidr: *cidr,
                        gateway: *gateway,
                        interface: interface.clone(),
                        acl: acl.clone(),
                        hosts,
                        vms: BTreeMap::new(),
                    },
                );
            }
            IpamEvent::TierReleased { tier, vpc, cidr } => {
                let t = self
                    .tiers
                    .get(tier)
                    .ok_or_else(|| bad(format!("unknown tier {tier:?}")))?;
                if &t.vpc != vpc || &t.cidr != cidr || !t.vms.is_empty() {
                    return Err(bad(format!("release of tier {tier:?} does not match")));
                }
                let v = self.vpcs.get_mut(vpc).expect("a tier's VPC exists");
                v.pool.release(*cidr).map_err(|e| bad(e.to_string()))?;
                v.tiers.remove(tier);
                self.tiers.remove(tier);
            }
            IpamEvent::VmAddressAllocated { vm, tier, ip } => {
                if self.vm_tier.contains_key(vm) {
                    return Err(bad(format!("VM {vm:?} allocated twice")));
                }
                let t = self
                    .tiers
                    .get_mut(tier)
                    .ok_or_else(|| bad(format!("unknown tier {tier:?}")))?;
                t.hosts.reserve(*ip).map_err(|e| bad(e.to_string()))?;
                t.vms.insert(vm.clone(), *ip);
                self.vm_tier.insert(vm.clone(), tier.clone());
            }
            IpamEvent::VmAddressReleased { vm, tier, ip } => {
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
            }
            IpamEvent::AclCreated { acl, vpc } => {
                if self.acls.contains_key(acl) || acl::is_builtin(acl) {
                    return Err(bad(format!("ACL list {acl:?} created twice")));
                }
                let v = self
                    .vpcs
                    .get_mut(vpc)
                    .ok_or_else(|| bad(format!("unknown VPC {vpc:?}")))?;
                v.acls.insert(acl.clone());
                self.acls.insert(
                    acl.clone(),
                    Acl {
                        vpc: vpc.clone(),
                        rules: BTreeMap::new(),
                    },
                );
            }
            IpamEvent::AclDeleted { acl, vpc } => {
                self.own_acl(acl, vpc).map_err(|e| bad(e.to_string()))?;
                if let Some(t) = self.tiers_of_acl(acl).next() {
                    return Err(bad(format!(
                        "ACL list {acl:?} deleted while tier {t:?} uses it"
                    )));
                }
                self.acls.remove(acl);
                self.vpcs.get_mut(vpc).expect("checked").acls.remove(acl);
            }
            IpamEvent::AclRuleAdded { acl, vpc, rule } => {
                self.own_acl(acl, vpc).map_err(|e| bad(e.to_string()))?;
                let a = self.acls.get_mut(acl).expect("checked");
                if a.rules.contains_key(&rule.number) {
                    return Err(bad(format!("rule {} of {acl:?} added twice", rule.number)));
                }
                a.rules.insert(rule.number, rule.clone());
            }
            IpamEvent::AclRuleDeleted { acl, vpc, number } => {
                self.own_acl(acl, vpc).map_err(|e| bad(e.to_string()))?;
                let a = self.acls.get_mut(acl).expect("checked");
                if a.rules.remove(number).is_none() {
                    return Err(bad(format!("unknown rule {number} of {acl:?} deleted")));
                }
            }
            IpamEvent::TierAclSet { tier, vpc, acl } => {
                self.check_acl_of(acl, vpc)
                    .map_err(|e| bad(e.to_string()))?;
                let t = self
                    .tiers
                    .get_mut(tier)
                    .filter(|t| &t.vpc == vpc)
                    .ok_or_else(|| bad(format!("unknown tier {tier:?} of VPC {vpc:?}")))?;
                t.acl = Some(acl.clone());
            }
        }
        Ok(())
    }

    // -------------------------------------------------------------- ACLs

    /// `acl` may serve a tier of `vpc`: a built-in list, or one of the VPC's own.
    fn check_acl_of(&self, acl: &str, vpc: &str) -> Result<(), IpamError> {
        if acl::is_builtin(acl) {
            return Ok(());
        }
        self.own_acl(acl, vpc).map(|_| ())
    }

    /// One of `vpc`'s own lists. A list of another VPC is refused: a rule
    /// written for one VPC's addresses means nothing in another.
    fn own_acl(&self, acl: &str, vpc: &str) -> Result<&Acl, IpamError> {
        match self.acls.get(acl) {
            Some(a) if a.vpc == vpc => Ok(a),
            // Not naming the owner: list names are global, VPCs are tenants'.
            Some(_) => Err(IpamError::UnknownAcl(format!(
                "{acl:?}: not a list of VPC {vpc:?}"
            ))),
            None => Err(IpamError::UnknownAcl(format!("{acl:?}"))),
        }
    }

    fn acl(&self, name: &str) -> Result<&Acl, IpamError> {
        if acl::is_builtin(name) {
            return Err(IpamError::InvalidRequest(format!(
                "{name:?} is a built-in list: it cannot be changed or deleted"
            )));
        }
        self.acls
            .get(name)
            .ok_or_else(|| IpamError::UnknownAcl(format!("{name:?}")))
    }

    fn tiers_of_acl<'a>(&'a self, acl: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        let vpc = self.acls.get(acl).map(|a| a.vpc.as_str());
        vpc.and_then(|v| self.vpcs.get(v))
            .into_iter()
            .flat_map(|v| v.tiers.keys())
            .filter(move |t| self.tiers[*t].acl.as_deref() == Some(acl))
    }

    fn decide_acl_create(&self, c: &acl::AclCreate) -> Result<Decision, IpamError> {
        check_name("ACL list", &c.acl)?;
        if c.acl == acl::NO_LIST {
            return Err(IpamError::InvalidRequest(format!(
                "{:?} is reserved: it shows a tier with no list",
                acl::NO_LIST
            )));
        }
        if self.acls.contains_key(&c.acl) || acl::is_builtin(&c.acl) {
            return Err(IpamError::AlreadyExists {
                kind: "ACL list",
                name: c.acl.clone(),
            });
        }
        let vpc = self.vpc(&c.vpc)?;
        Ok(Decision {
            stream: zone_stream(&vpc.zone),
            reply: to_json(&AclView {
                acl: c.acl.clone(),
                vpc: c.vpc.clone(),
                rules: vec![],
                tiers: vec![],
            }),
            events: vec![IpamEvent::AclCreated {
                acl: c.acl.clone(),
                vpc: c.vpc.clone(),
            }],
        })
    }

    fn decide_acl_delete(&self, c: &msg::Release) -> Result<Decision, IpamError> {
        let a = self.acl(&c.name)?;
        let tiers: Vec<&String> = self.tiers_of_acl(&c.name).collect();
        if let Some(t) = tiers.first() {
            return Err(IpamError::AclInUse {
                acl: c.name.clone(),
                tiers: format!("{} tier(s), e.g. {t:?}", tiers.len()),
            });
        }
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&a.vpc].zone),
            reply: to_json(&self.acl_view(&c.name)?),
            events: vec![IpamEvent::AclDeleted {
                acl: c.name.clone(),
                vpc: a.vpc.clone(),
            }],
        })
    }

    fn decide_acl_rule_add(&self, c: &acl::AclRuleAdd) -> Result<Decision, IpamError> {
        let a = self.acl(&c.acl)?;
        let rule = c
            .to_rule(|s| parse_cidr(s).map_err(|e| e.to_string()))
            .map_err(|p| match p {
                acl::RuleProblem::Cidr(m) => IpamError::InvalidCidr(m),
                acl::RuleProblem::Field(m) => IpamError::InvalidRequest(m),
            })?;
        if a.rules.contains_key(&rule.number) {
            return Err(IpamError::AlreadyExists {
                kind: "ACL rule",
                name: format!("{} of list {}", rule.number, c.acl),
            });
        }
        if a.rules.len() >= acl::LIST_RULES_MAX {
            return Err(IpamError::InvalidRequest(format!(
                "ACL list {:?} already holds {} rules, the most a list may hold",
                c.acl,
                acl::LIST_RULES_MAX
            )));
        }
        let mut view = self.acl_view(&c.acl)?;
        view.rules.push(rule.clone());
        view.rules.sort_by_key(|r| r.number);
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&a.vpc].zone),
            reply: to_json(&view),
            events: vec![IpamEvent::AclRuleAdded {
                acl: c.acl.clone(),
                vpc: a.vpc.clone(),
                rule,
            }],
        })
    }

    fn decide_acl_rule_delete(&self, c: &acl::AclRuleDelete) -> Result<Decision, IpamError> {
        let a = self.acl(&c.acl)?;
        if !a.rules.contains_key(&c.number) {
            return Err(IpamError::UnknownAclRule {
                acl: c.acl.clone(),
                number: c.number,
            });
        }
        let mut view = self.acl_view(&c.acl)?;
        view.rules.retain(|r| r.number != c.number);
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&a.vpc].zone),
            reply: to_json(&view),
            events: vec![IpamEvent::AclRuleDeleted {
                acl: c.acl.clone(),
                vpc: a.vpc.clone(),
                number: c.number,
            }],
        })
    }

    fn decide_tier_set_acl(&self, c: &acl::TierSetAcl) -> Result<Decision, IpamError> {
        let tier = self.tier(&c.tier)?;
        self.check_acl_of(&c.acl, &tier.vpc)?;
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&tier.vpc].zone),
            reply: to_json(&TierAclRecord {
                tier: c.tier.clone(),
                vpc: tier.vpc.clone(),
                acl: c.acl.clone(),
                previous: tier.acl.clone(),
            }),
            events: vec![IpamEvent::TierAclSet {
                tier: c.tier.clone(),
                vpc: tier.vpc.clone(),
                acl: c.acl.clone(),
            }],
        })
    }

    /// Every VPC's own list, by name.
    pub fn acl_views(&self) -> Vec<AclView> {
        self.acls
            .keys()
            .map(|a| self.acl_view(a).expect("a known list"))
            .collect()
    }

    /// A list with its rules (in number order) and the tiers using it. The
    /// built-in lists show their fixed rules and belong to no VPC (`*`).
    pub fn acl_view(&self, name: &str) -> Result<AclView, IpamError> {
        if let Some(rules) = acl::builtin_rules(name) {
            return Ok(AclView {
                acl: name.to_string(),
                vpc: "*".to_string(),
                rules,
                tiers: vec![],
            });
        }
        let a = self
            .acls
            .get(name)
            .ok_or_else(|| IpamError::UnknownAcl(format!("{name:?}")))?;
        Ok(AclView {
            acl: name.to_string(),
            vpc: a.vpc.clone(),
            rules: a.rules.values().cloned().collect(),
            tiers: self.tiers_of_acl(name).cloned().collect(),
        })
    }

    fn zone(&self, name: &str) -> Result<&Zone, IpamError> {
        self.zones
            .get(name)
            .ok_or_else(|| IpamError::UnknownZone(name.to_string()))
    }

    fn vpc(&self, name: &str) -> Result<&Vpc, IpamError> {
        self.vpcs
            .get(name)
            .ok_or_else(|| IpamError::UnknownVpc(name.to_string()))
    }

    fn tier(&self, name: &str) -> Result<&Tier, IpamError> {
        self.tiers
            .get(name)
            .ok_or_else(|| IpamError::UnknownTier(name.to_string()))
    }

    // ------------------------------------------------------------- views

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

    pub fn vpc_view(&self, name: &str) -> Result<VpcView, IpamError> {
        let v = self.vpc(name)?;
        Ok(VpcView {
            vpc: name.to_string(),
            zone: v.zone.clone(),
            cidr: v.cidr,
            router: v.router.clone(),
            usage: usage_of(v.pool.usage(Family::of_net(&v.cidr))),
            tiers: v
                .tiers
                .keys()
                .map(|t| {
                    let t_ = &self.tiers[t];
                    let u = t_.hosts.usage();
                    TierView {
                        tier: t.clone(),
                        cidr: t_.cidr,
                        gateway: t_.gateway,
                        interface: t_.interface.clone(),
                        acl: t_.acl.clone(),
                        usage: Usage {
                            total: u.total,
                            used: u.used,
                            free: u.free,
                            largest_free: None,
                        },
                        vms: t_
                            .vms
                            .iter()
                            .map(|(vm, ip)| VmRecord {
                                vm: vm.clone(),
                                tier: t.clone(),
                                ip: *ip,
                            })
                            .collect(),
                    }
                })
                .collect(),
            acls: v.acls.iter().cloned().collect(),
        })
    }

    /// Every zone, in name order: a complete, deterministic picture of the
    /// state, used to compare a live service with a fresh replay.
    pub fn vm_view(&self, name: &str) -> Result<VmView, IpamError> {
        let unknown = || IpamError::UnknownVm(name.to_string());
        let tier_name = self.vm_tier.get(name).ok_or_else(unknown)?;
        let tier = self.tier(tier_name)?;
        let ip = *tier.vms.get(name).ok_or_else(unknown)?;
        Ok(VmView {
            vm: name.to_string(),
            tier: tier_name.clone(),
            ip,
            vpc: tier.vpc.clone(),
            zone: self.vpc(&tier.vpc)?.zone.clone(),
        })
    }

    pub fn dump(&self) -> Vec<ZoneView> {
        self.zones
            .keys()
            .map(|z| self.zone_view(z).expect("zone exists"))
            .collect()
    }

    pub fn zone_names(&self) -> impl Iterator<Item = &str> {
        self.zones.keys().map(String::as_str)
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
