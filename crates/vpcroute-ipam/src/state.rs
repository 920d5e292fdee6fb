//! The ipam state and its two operations, `decide` and `apply`.
//!
//! Split by concept: `zone`, `vpc`, `tier`, `vm` and `acl_list` each hold their
//! `decide_*` and `apply_*` functions (and their views); this file holds
//! the types, the helpers they share, and the two dispatches.

mod acl_list;
mod export;
pub use export::Position;
mod tier;
mod vm;
mod vpc;
mod zone;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde::Serialize;
use vpcroute_allocator::{
    default_gateway, netmask_to_prefix, parse_canonical_cidr, BlockPool, Family, HostPool,
};
use vpcroute_protocol::ipam::{
    self as msg, IpamEvent, Released, RouterSpec, TierRecord, Usage, VmRecord, VmView, VpcRecord,
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

/// An event that does not fit the state: a damaged or foreign log.
fn bad(m: String) -> IpamError {
    IpamError::Inconsistent(m)
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

    /// Moves the state forward by one event. Checks everything before it
    /// changes anything, so an event that does not fit leaves the state
    /// as it was and says why (a damaged or foreign log).
    pub fn apply(&mut self, ev: &IpamEvent) -> Result<(), IpamError> {
        match ev {
            IpamEvent::ZoneEnabled { zone, super_cidrs } => {
                self.apply_zone_enabled(zone, super_cidrs)
            }
            IpamEvent::ZoneSuperCidrsChanged { zone, super_cidrs } => {
                self.apply_zone_super_cidrs_changed(zone, super_cidrs)
            }
            IpamEvent::VpcAllocated {
                vpc,
                zone,
                cidr,
                router,
            } => self.apply_vpc_allocated(vpc, zone, cidr, router),
            IpamEvent::VpcReleased { vpc, zone, cidr } => self.apply_vpc_released(vpc, zone, cidr),
            IpamEvent::TierAllocated {
                tier,
                vpc,
                cidr,
                gateway,
                interface,
                acl,
            } => self.apply_tier_allocated(tier, vpc, cidr, gateway, interface, acl),
            IpamEvent::TierReleased { tier, vpc, cidr } => {
                self.apply_tier_released(tier, vpc, cidr)
            }
            IpamEvent::VmAddressAllocated { vm, tier, ip } => self.apply_vm_allocated(vm, tier, ip),
            IpamEvent::VmAddressReleased { vm, tier, ip } => self.apply_vm_released(vm, tier, ip),
            IpamEvent::AclCreated { acl, vpc } => self.apply_acl_created(acl, vpc),
            IpamEvent::AclDeleted { acl, vpc } => self.apply_acl_deleted(acl, vpc),
            IpamEvent::AclRuleAdded { acl, vpc, rule } => self.apply_acl_rule_added(acl, vpc, rule),
            IpamEvent::AclRuleDeleted { acl, vpc, number } => {
                self.apply_acl_rule_deleted(acl, vpc, number)
            }
            IpamEvent::TierAclSet { tier, vpc, acl } => self.apply_tier_acl_set(tier, vpc, acl),
        }
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
