//! Requests, replies and events of the `ipam` service.
//!
//! Requests carry CIDRs and addresses as strings on purpose: the service
//! validates them itself so that a bad value is answered with a precise
//! `invalid_cidr` error (naming the canonical form when host bits are set)
//! instead of a generic deserialisation failure. Replies and events carry
//! typed, already-validated values.

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};

use crate::acl::AclRule;

/// Address family of a VPC allocation by prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    #[default]
    Ipv4,
    Ipv6,
}

// ---------------------------------------------------------------- requests

/// `vpcroute.ipam.zone.enable`: make a zone dynamically routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneEnable {
    pub request_id: String,
    pub zone: String,
    pub super_cidrs: Vec<String>,
}

/// `vpcroute.ipam.zone.update`: replace a zone's set of super-CIDRs.
/// Super-CIDRs may be added freely; one may be removed only while nothing
/// is allocated inside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneUpdate {
    pub request_id: String,
    pub zone: String,
    pub super_cidrs: Vec<String>,
}

/// The VPC's virtual router as CloudStack describes it. Recorded with the
/// VPC so that router configuration can be rendered from IPAM events alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterSpec {
    pub name: String,
    pub router_id: Ipv4Addr,
    pub uplink_interface: String,
    /// The uplink's own address with its prefix, e.g. `192.168.100.2/24`.
    pub uplink_address: Ipv4Net,
}

/// `vpcroute.ipam.vpc.allocate`: carve a VPC subnet of a given size out of
/// the zone's super-CIDRs. Exactly one of `netmask` and `prefix_length`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcAllocate {
    pub request_id: String,
    pub vpc: String,
    pub zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_length: Option<u8>,
    /// Left out, ipam infers it: IPv4 for a netmask, IPv6 for a prefix
    /// length above 32, else the one family of the zone's super-CIDRs (a
    /// zone with both needs it given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<RouterSpec>,
}

/// `vpcroute.ipam.tier.allocate`: a tier inside its VPC, either fixed by
/// gateway + netmask (or prefix length), or carved by size alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierAllocate {
    pub request_id: String,
    pub tier: String,
    pub vpc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_length: Option<u8>,
    /// The VR interface that serves this tier (e.g. `eth2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The network ACL list of the tier: one of its VPC's lists or a
    /// built-in one; none is `default_deny` (see [`crate::acl`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
}

/// `vpcroute.ipam.vm.allocate`: an address for a VM from its tier, the
/// lowest free one unless `ip` asks for a specific address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmAllocate {
    pub request_id: String,
    pub vm: String,
    pub tier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// `vpcroute.ipam.{vpc,tier,vm}.release`: give an object's space back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub request_id: String,
    pub name: String,
}

/// `vpcroute.ipam.{zone,vpc}.show`: read-only queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Show {
    pub name: String,
}

/// `vpcroute.ipam.vm.show`: where a VM is (`VmView`), or `unknown_vm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmShow {
    pub vm: String,
}

/// `vpcroute.ipam.events.read`: a consumer catching up on the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsRead {
    /// First sequence number wanted (1 for everything).
    pub from_seq: u64,
    /// At most this many events (the service caps it).
    #[serde(default = "default_events_limit")]
    pub limit: u32,
}

fn default_events_limit() -> u32 {
    1000
}

// ----------------------------------------------------------------- replies

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneRecord {
    pub zone: String,
    pub super_cidrs: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcRecord {
    pub vpc: String,
    pub zone: String,
    pub cidr: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<RouterSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierRecord {
    pub tier: String,
    pub vpc: String,
    pub cidr: IpNet,
    pub gateway: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRecord {
    pub vm: String,
    pub tier: String,
    pub ip: IpAddr,
}

/// Reply to `vpcroute.ipam.vm.show`: a VM's address and the tier, VPC and
/// zone it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmView {
    pub vm: String,
    pub tier: String,
    pub ip: IpAddr,
    pub vpc: String,
    pub zone: String,
}

/// Reply to a release: what was given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    pub name: String,
    /// The CIDR of a VPC or tier, or the VM's address as a host prefix.
    pub address: IpNet,
}

/// Address utilisation of a pool. Counts are numbers of addresses; an IPv6
/// count can exceed 2^64, hence u128.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Usage {
    pub total: u128,
    pub used: u128,
    pub free: u128,
    /// One of the largest free blocks (the lowest), if any space is free.
    pub largest_free: Option<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneView {
    pub zone: String,
    pub super_cidrs: Vec<IpNet>,
    pub usage_ipv4: Usage,
    pub usage_ipv6: Usage,
    pub vpcs: Vec<VpcView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcView {
    pub vpc: String,
    pub zone: String,
    pub cidr: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<RouterSpec>,
    pub usage: Usage,
    pub tiers: Vec<TierView>,
    /// The VPC's own ACL lists, by name (the built-in ones are not listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierView {
    pub tier: String,
    pub cidr: IpNet,
    pub gateway: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
    pub usage: Usage,
    pub vms: Vec<VmRecord>,
}

/// Reply to `vpcroute.ipam.zone.summary`: a zone's utilisation and
/// counts, without listing anything (its size does not grow with the zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSummary {
    pub zone: String,
    pub super_cidrs: Vec<IpNet>,
    pub usage_ipv4: Usage,
    pub usage_ipv6: Usage,
    pub vpcs: u64,
    pub tiers: u64,
    pub vms: u64,
    /// The VPCs' own ACL lists.
    pub acls: u64,
}

/// One item of `vpcroute.ipam.zone.export` and `vpcroute.ipam.vpc.export`
/// pages: a zone's VPCs, tiers and VMs as a flat list in tree order (each
/// VPC, then each of its tiers followed by the tier's VMs), so that a page
/// can end anywhere, even inside a VPC of a million VMs. Names are the
/// CloudStack ids (see `IpamState`). [`VpcView`]s are these rows nested.
///
/// Externally tagged (`{"vpc": {...}}`, `{"tier": {...}}`, `{"vm": {...}}`):
/// serde reads an internally tagged enum through a buffer that cannot hold
/// the u128 address counts of `usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportRow {
    Vpc(VpcRow),
    Tier(TierRow),
    Vm(VmRow),
}

/// A VPC as exported: [`VpcView`] without its tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcRow {
    pub vpc: String,
    pub zone: String,
    pub cidr: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<RouterSpec>,
    pub usage: Usage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acls: Vec<String>,
}

/// A tier as exported: [`TierView`] without its VMs, with its VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierRow {
    pub tier: String,
    pub vpc: String,
    pub cidr: IpNet,
    pub gateway: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<String>,
    pub usage: Usage,
}

/// A VM as exported: its address, tier and VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRow {
    pub vm: String,
    pub tier: String,
    pub vpc: String,
    pub ip: IpAddr,
}

impl ExportRow {
    /// The row's position in the tree, `vpc`, `vpc/tier` or `vpc/tier/vm`:
    /// its page token (no name holds the separator). Rows come in the
    /// order of their positions compared name by name, a position before
    /// the longer ones it begins (not as plain strings: `a-x` sorts before
    /// `a/t` as text, but VPC `a`'s tiers come before VPC `a-x`).
    pub fn position(&self) -> String {
        let sep = crate::page::KEY_SEPARATOR;
        match self {
            ExportRow::Vpc(v) => v.vpc.clone(),
            ExportRow::Tier(t) => format!("{}{sep}{}", t.vpc, t.tier),
            ExportRow::Vm(m) => format!("{}{sep}{}{sep}{}", m.vpc, m.tier, m.vm),
        }
    }
}

impl VpcView {
    /// A VPC's view from its row, before its tiers are added.
    pub fn from_row(r: VpcRow) -> VpcView {
        VpcView {
            vpc: r.vpc,
            zone: r.zone,
            cidr: r.cidr,
            router: r.router,
            usage: r.usage,
            tiers: Vec::new(),
            acls: r.acls,
        }
    }
}

impl TierView {
    /// A tier's view from its row, before its VMs are added.
    pub fn from_row(r: TierRow) -> TierView {
        TierView {
            tier: r.tier,
            cidr: r.cidr,
            gateway: r.gateway,
            interface: r.interface,
            acl: r.acl,
            usage: r.usage,
            vms: Vec::new(),
        }
    }
}

/// Nests export rows back into [`VpcView`]s, handing out each VPC once its
/// last row has been seen (when the next VPC starts, or at the end): how
/// a reader of pages prints a zone VPC by VPC, holding one VPC at a time.
#[derive(Debug, Default)]
pub struct VpcAssembler {
    current: Option<VpcView>,
}

impl VpcAssembler {
    /// Takes the next row; returns the VPC it completes, if any. Rows come
    /// in tree order from one walk, so a tier or VM row always follows
    /// its VPC's row (and a VM its tier's); anything else is an error
    /// rather than a VPC made up.
    pub fn push(&mut self, row: ExportRow) -> Result<Option<VpcView>, String> {
        let current = self.current.as_mut();
        match (row, current) {
            (ExportRow::Vpc(v), _) => Ok(self.current.replace(VpcView::from_row(v))),
            (ExportRow::Tier(t), Some(vpc)) if vpc.vpc == t.vpc => {
                vpc.tiers.push(TierView::from_row(t));
                Ok(None)
            }
            (ExportRow::Vm(m), Some(vpc)) if vpc.vpc == m.vpc => {
                match vpc.tiers.last_mut() {
                    Some(t) if t.tier == m.tier => t.vms.push(VmRecord {
                        vm: m.vm,
                        tier: m.tier,
                        ip: m.ip,
                    }),
                    _ => return Err(format!("vm {} came before its tier {}", m.vm, m.tier)),
                }
                Ok(None)
            }
            (row, _) => Err(format!("row {} came before its VPC", row.position())),
        }
    }

    /// The last VPC, once every row has been pushed.
    pub fn finish(&mut self) -> Option<VpcView> {
        self.current.take()
    }
}

/// Reply to `events.read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsPage {
    pub events: Vec<crate::BusEvent>,
    /// The log's last sequence number when the page was read.
    pub head: u64,
}

// ------------------------------------------------------------------ events

/// Every fact `ipam` records. Replaying these in order rebuilds its state
/// exactly: events hold the chosen CIDRs and addresses, never "allocate
/// something", so replay does not depend on the allocation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IpamEvent {
    ZoneEnabled {
        zone: String,
        super_cidrs: Vec<IpNet>,
    },
    ZoneSuperCidrsChanged {
        zone: String,
        super_cidrs: Vec<IpNet>,
    },
    VpcAllocated {
        vpc: String,
        zone: String,
        cidr: IpNet,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        router: Option<RouterSpec>,
    },
    VpcReleased {
        vpc: String,
        zone: String,
        cidr: IpNet,
    },
    TierAllocated {
        tier: String,
        vpc: String,
        cidr: IpNet,
        gateway: IpAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interface: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        acl: Option<String>,
    },
    TierReleased {
        tier: String,
        vpc: String,
        cidr: IpNet,
    },
    VmAddressAllocated {
        vm: String,
        tier: String,
        ip: IpAddr,
    },
    VmAddressReleased {
        vm: String,
        tier: String,
        ip: IpAddr,
    },
    AclCreated {
        acl: String,
        vpc: String,
    },
    AclDeleted {
        acl: String,
        vpc: String,
    },
    AclRuleAdded {
        acl: String,
        vpc: String,
        rule: AclRule,
    },
    AclRuleDeleted {
        acl: String,
        vpc: String,
        number: u32,
    },
    /// A tier's list changed (`acl` is a list of its VPC or a built-in one).
    TierAclSet {
        tier: String,
        vpc: String,
        acl: String,
    },
}

impl IpamEvent {
    /// Schema version of the payloads written today. Bump it when a payload
    /// changes shape, and keep reading the old one.
    pub const SCHEMA_VERSION: u32 = 1;
}
