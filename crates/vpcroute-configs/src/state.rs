//! The renderer state: inputs mirrored from ipam and the area registry, and
//! the versions of every router's configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use sha2::{Digest, Sha256};
use vpcroute_firewall::{FirewallModel, TierFilter};
use vpcroute_protocol::acl::{self, AclRule};
use vpcroute_protocol::areas::{AreaEvent, OspfAuth, REDACTED};
use vpcroute_protocol::config::{
    ConfigEvent, ConfigText, DialectName, FirewallRuleset, KeyRotationView, RouterConfig,
    RouterSummary,
};
use vpcroute_protocol::ipam::{IpamEvent, RouterSpec, TierRecord};
use vpcroute_render::{
    render, AreaId, Dialect, OspfSettings, RenderError, RenderedConfig, RouterModel, TierInterface,
    Uplink,
};

use crate::rotation::{md5_key, Rotation};
use crate::ConfigError;

/// True when `event` holds a key that was redacted (`***`): such settings
/// came from a broadcast, not from the registry's log, and must never be
/// rendered.
pub fn is_redacted(event: &AreaEvent) -> bool {
    match event {
        AreaEvent::ZoneOspfSet { settings, .. } => match &settings.auth {
            OspfAuth::None => false,
            OspfAuth::Plaintext { key } | OspfAuth::Md5 { key, .. } => key.expose() == REDACTED,
        },
        _ => false,
    }
}

/// The two models a router's configuration is rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Models {
    pub router: RouterModel,
    pub firewall: FirewallModel,
}

/// The version fingerprint of a router: `sha256:` + 64 hex digits over the
/// FRR rendering, the Quagga rendering (or, when Quagga cannot express the
/// model, the reason code) and the nftables ruleset. Fails when FRR cannot
/// render the model.
pub fn fingerprint(model: &RouterModel, firewall: &FirewallModel) -> Result<String, RenderError> {
    let frr = render(model, Dialect::Frr)?;
    let quagga = match render(model, Dialect::Quagga) {
        Ok(q) => q.fingerprint(),
        Err(e) => format!("unsupported:{}", e.code()),
    };
    let mut h = Sha256::new();
    h.update(b"vpcroute-configs/v1\0frr\0");
    h.update(frr.fingerprint().as_bytes());
    h.update(b"\0quagga\0");
    h.update(quagga.as_bytes());
    h.update(b"\0nftables\0");
    h.update(vpcroute_firewall::render_file(firewall).as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in digest.iter() {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    Ok(out)
}

// ------------------------------------------------------------------ inputs

/// A VPC as ipam recorded it, with its tiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcDump {
    pub zone: String,
    pub cidr: IpNet,
    pub router: Option<RouterSpec>,
    /// Seq of the `vpc_allocated` event of this incarnation of the VPC.
    pub allocated_seq: u64,
    pub tiers: BTreeSet<String>,
    /// The VPC's own ACL lists.
    pub acls: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tier {
    vpc: String,
    cidr: IpNet,
    gateway: IpAddr,
    interface: Option<String>,
    /// None: `default_deny`.
    acl: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Area {
    zone: String,
    area_id: AreaId,
    ipam_seq: u64,
}

/// What the renderer knows of ipam and the area registry. Applying inputs
/// never fails: both producers validated their events, and a renderer that
/// refused one would stop configuring every router.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Inputs {
    /// ipam zones and their super-CIDRs (recorded, not rendered).
    zones: BTreeMap<String, Vec<IpNet>>,
    /// Zone OSPF settings from the area registry.
    ospf: BTreeMap<String, OspfSettings>,
    vpcs: BTreeMap<String, VpcDump>,
    tiers: BTreeMap<String, Tier>,
    /// VPC name -> its area.
    areas: BTreeMap<String, Area>,
    /// Index: zone -> its VPCs (ipam's view).
    zone_vpcs: BTreeMap<String, BTreeSet<String>>,
    /// Index: router name -> the VPC that owns it (the first to claim it).
    router_vpc: BTreeMap<String, String>,
    /// ACL list -> its rules by number (the list's VPC knows its name).
    acls: BTreeMap<String, BTreeMap<u32, AclRule>>,
    /// Zone -> its MD5 key rotation in progress.
    rotations: BTreeMap<String, Rotation>,
}

impl Inputs {
    fn apply_ipam(&mut self, seq: u64, ev: &IpamEvent) {
        match ev {
            IpamEvent::ZoneEnabled { zone, super_cidrs }
            | IpamEvent::ZoneSuperCidrsChanged { zone, super_cidrs } => {
                self.zones.insert(zone.clone(), super_cidrs.clone());
            }
            IpamEvent::VpcAllocated {
                vpc,
                zone,
                cidr,
                router,
            } => {
                self.release_vpc(vpc);
                self.vpcs.insert(
                    vpc.clone(),
                    VpcDump {
                        zone: zone.clone(),
                        cidr: *cidr,
                        router: router.clone(),
                        allocated_seq: seq,
                        tiers: BTreeSet::new(),
                        acls: BTreeSet::new(),
                    },
                );
                self.zone_vpcs
                    .entry(zone.clone())
                    .or_default()
                    .insert(vpc.clone());
                if let Some(r) = router {
                    self.router_vpc
                        .entry(r.name.clone())
                        .or_insert_with(|| vpc.clone());
                }
            }
            IpamEvent::VpcReleased { vpc, .. } => self.release_vpc(vpc),
            IpamEvent::TierAllocated {
                tier,
                vpc,
                cidr,
                gateway,
                interface,
                acl,
            } => {
                self.release_tier(tier);
                self.tiers.insert(
                    tier.clone(),
                    Tier {
                        vpc: vpc.clone(),
                        cidr: *cidr,
                        gateway: *gateway,
                        interface: interface.clone(),
                        acl: acl.clone(),
                    },
                );
                if let Some(v) = self.vpcs.get_mut(vpc) {
                    v.tiers.insert(tier.clone());
                }
            }
            IpamEvent::TierReleased { tier, .. } => self.release_tier(tier),
            IpamEvent::VmAddressAllocated { .. } | IpamEvent::VmAddressReleased { .. } => {}
            IpamEvent::AclCreated { acl, vpc } => {
                self.acls.insert(acl.clone(), BTreeMap::new());
                if let Some(v) = self.vpcs.get_mut(vpc) {
                    v.acls.insert(acl.clone());
                }
            }
            IpamEvent::AclDeleted { acl, vpc } => {
                self.acls.remove(acl);
                if let Some(v) = self.vpcs.get_mut(vpc) {
                    v.acls.remove(acl);
                }
            }
            IpamEvent::AclRuleAdded { acl, rule, .. } => {
                if let Some(rules) = self.acls.get_mut(acl) {
                    rules.insert(rule.number, rule.clone());
                }
            }
            IpamEvent::AclRuleDeleted { acl, number, .. } => {
                if let Some(rules) = self.acls.get_mut(acl) {
                    rules.remove(number);
                }
            }
            IpamEvent::TierAclSet { tier, acl, .. } => {
                if let Some(t) = self.tiers.get_mut(tier) {
                    t.acl = Some(acl.clone());
                }
            }
        }
    }

    fn release_vpc(&mut self, vpc: &str) {
        let Some(v) = self.vpcs.remove(vpc) else {
            return;
        };
        for t in &v.tiers {
            self.tiers.remove(t);
        }
        for a in &v.acls {
            self.acls.remove(a);
        }
        if let Some(set) = self.zone_vpcs.get_mut(&v.zone) {
            set.remove(vpc);
            if set.is_empty() {
                self.zone_vpcs.remove(&v.zone);
            }
        }
        if let Some(r) = &v.router {
            if self.router_vpc.get(&r.name).map(String::as_str) == Some(vpc) {
                self.router_vpc.remove(&r.name);
            }
        }
        // The VPC's area stays until the registry retires it; the
        // `ipam_seq` check keeps a later VPC of the same name from using it.
    }

    fn release_tier(&mut self, tier: &str) {
        if let Some(t) = self.tiers.remove(tier) {
            if let Some(v) = self.vpcs.get_mut(&t.vpc) {
                v.tiers.remove(tier);
            }
        }
    }

    fn apply_area(&mut self, ev: &AreaEvent) {
        match ev {
            AreaEvent::ZoneOspfSet { zone, settings } => {
                let before = self.ospf.get(zone).and_then(|s| md5_key(&s.auth));
                let rotation = Rotation::on_settings(
                    self.rotations.remove(zone),
                    before,
                    md5_key(&settings.auth),
                );
                if let Some(r) = rotation {
                    self.rotations.insert(zone.clone(), r);
                }
                self.ospf.insert(zone.clone(), settings.clone());
            }
            AreaEvent::AreaAssigned {
                vpc,
                zone,
                area_id,
                ipam_seq,
            } => {
                self.areas.insert(
                    vpc.clone(),
                    Area {
                        zone: zone.clone(),
                        area_id: *area_id,
                        ipam_seq: *ipam_seq,
                    },
                );
            }
            AreaEvent::AreaRetired { vpc, area_id, .. } => {
                if self.areas.get(vpc).is_some_and(|a| a.area_id == *area_id) {
                    self.areas.remove(vpc);
                }
            }
        }
    }

    /// A copy of just what the routers of `vpcs` depend on (plus the
    /// settings of `zone` and the owner of `router`): an input is decided
    /// on such a copy, so deciding costs what the input touches, not the
    /// size of the region.
    fn subset(&self, vpcs: &BTreeSet<String>, zone: Option<&str>, router: Option<&str>) -> Inputs {
        let mut s = Inputs::default();
        let mut zones: BTreeSet<&str> = zone.into_iter().collect();
        let mut routers: BTreeSet<&str> = router.into_iter().collect();
        for name in vpcs {
            if let Some(a) = self.areas.get(name) {
                s.areas.insert(name.clone(), a.clone());
            }
            let Some(v) = self.vpcs.get(name) else {
                continue;
            };
            zones.insert(&v.zone);
            if let Some(r) = &v.router {
                routers.insert(&r.name);
            }
            for t in &v.tiers {
                if let Some(tier) = self.tiers.get(t) {
                    s.tiers.insert(t.clone(), tier.clone());
                }
            }
            for a in &v.acls {
                if let Some(rules) = self.acls.get(a) {
                    s.acls.insert(a.clone(), rules.clone());
                }
            }
            s.vpcs.insert(name.clone(), v.clone());
        }
        for z in zones {
            if let Some(o) = self.ospf.get(z) {
                s.ospf.insert(z.to_string(), o.clone());
            }
            if let Some(r) = self.rotations.get(z) {
                s.rotations.insert(z.to_string(), r.clone());
            }
        }
        for r in routers {
            if let Some(v) = self.router_vpc.get(r) {
                s.router_vpc.insert(r.to_string(), v.clone());
            }
        }
        s
    }

    /// The router and firewall models of `vpc`, or why there are none yet.
    fn model(&self, vpc: &str) -> Result<Models, String> {
        let v = self
            .vpcs
            .get(vpc)
            .ok_or_else(|| format!("VPC {vpc:?} is not known to ipam"))?;
        let spec = v
            .router
            .as_ref()
            .ok_or_else(|| format!("VPC {vpc:?} has no virtual router"))?;
        if let IpNet::V6(_) = v.cidr {
            return Err(format!(
                "VPC {vpc:?} is IPv6 ({}): OSPFv2 carries IPv4 only, so its router is not rendered",
                v.cidr
            ));
        }
        let area = match self.areas.get(vpc) {
            Some(a) if a.zone != v.zone => {
                return Err(format!(
                    "the area registry places VPC {vpc:?} in zone {:?}, ipam in zone {:?}; waiting for them to agree",
                    a.zone, v.zone
                ))
            }
            Some(a) if a.ipam_seq >= v.allocated_seq => a.area_id,
            _ => {
                return Err(format!(
                    "VPC {vpc:?} has no OSPF area yet (waiting for the area registry)"
                ))
            }
        };
        let ospf = self.ospf.get(&v.zone).ok_or_else(|| {
            format!(
                "zone {:?} has no OSPF settings yet (set them in the area registry)",
                v.zone
            )
        })?;
        // A tier without a recorded VR interface is not on the VR as far as
        // vpcroute knows: it is left out (the VPC range still covers it).
        let tiers = v
            .tiers
            .iter()
            .filter_map(|name| {
                let t = self.tiers.get(name)?;
                Some(TierInterface {
                    name: name.clone(),
                    interface: t.interface.clone()?,
                    gateway: t.gateway,
                    cidr: t.cidr,
                })
            })
            .collect();
        let mut ospf = ospf.clone();
        let md5_rotation = self.rotations.get(&v.zone).map(|r| {
            let (auth, kept) = r.router_keys();
            ospf.auth = auth;
            kept
        });
        let router = RouterModel {
            hostname: spec.name.clone(),
            router_id: spec.router_id,
            uplink: Uplink {
                interface: spec.uplink_interface.clone(),
                address: spec.uplink_address,
            },
            ospf,
            area,
            vpc_cidr: v.cidr,
            tiers,
            md5_rotation,
        };
        Ok(Models {
            router,
            firewall: self.firewall(v),
        })
    }

    /// The ACLs of the VPC's tiers that have a VR interface. A tier with no
    /// list has no rules: ingress denied, egress allowed (CloudStack's
    /// default). A list the renderer does not know (never, with ipam's
    /// checks) gets `default_deny`: failing closed.
    fn firewall(&self, v: &VpcDump) -> FirewallModel {
        let tiers = v
            .tiers
            .iter()
            .filter_map(|name| {
                let t = self.tiers.get(name)?;
                let interface = t.interface.clone()?;
                let (acl, rules) = match t.acl.as_deref() {
                    None => (acl::NO_LIST, vec![]),
                    Some(named) => match acl::builtin_rules(named)
                        .or_else(|| Some(self.acls.get(named)?.values().cloned().collect()))
                    {
                        Some(rules) => (named, rules),
                        None => (
                            acl::DEFAULT_DENY,
                            acl::builtin_rules(acl::DEFAULT_DENY).expect("built-in"),
                        ),
                    },
                };
                Some(TierFilter {
                    tier: name.clone(),
                    interface,
                    acl: acl.to_string(),
                    rules,
                })
            })
            .collect();
        FirewallModel {
            tiers,
            vpc_cidrs: vec![v.cidr],
        }
    }

    /// Why the router of `vpc` cannot be rendered now, or `None` if it can.
    fn problem(&self, vpc: &str) -> Option<String> {
        match self.model(vpc) {
            Err(reason) => Some(reason),
            Ok(m) => fingerprint(&m.router, &m.firewall)
                .err()
                .map(|e| format!("the configuration does not render: {e}")),
        }
    }
}

// ------------------------------------------------------------------- state

/// A router with a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterDump {
    pub vpc: String,
    pub zone: String,
    pub version: u64,
    pub fingerprint: String,
    /// The model the version was rendered from (its `Debug` hides the key).
    pub model: RouterModel,
    /// The tiers' ACLs the version was rendered from.
    pub firewall: FirewallModel,
    /// The last version router-sync reported applied during a key
    /// rotation of the zone (`router_keys_applied`).
    pub keys_applied: Option<u64>,
}

/// The complete state, to compare a live service with a fresh replay.
/// Deliberately not `Serialize`: it holds the keys (its `Debug` does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDump {
    pub ipam_cursor: u64,
    pub area_cursor: u64,
    pub zones: BTreeMap<String, Vec<IpNet>>,
    pub ospf: BTreeMap<String, OspfSettings>,
    pub vpcs: BTreeMap<String, VpcDump>,
    pub tiers: Vec<TierRecord>,
    /// VPC -> (zone, area, ipam seq of the assignment).
    pub areas: BTreeMap<String, (String, AreaId, u64)>,
    pub routers: BTreeMap<String, RouterDump>,
    /// Last version of each removed router.
    pub retired: BTreeMap<String, u64>,
    /// Routers whose inputs do not render, with the reason.
    pub failed: BTreeMap<String, String>,
    /// Zone -> its MD5 key rotation in progress.
    pub rotations: BTreeMap<String, Rotation>,
}

/// See the crate documentation.
#[derive(Debug, Clone, Default)]
pub struct RendererState {
    /// How long the old MD5 key stays after routers began signing with the
    /// new one (the service's `--key-rotation-hold`); only for views.
    pub rotation_hold_ms: i64,
    inputs: Inputs,
    routers: BTreeMap<String, RouterDump>,
    retired: BTreeMap<String, u64>,
    /// Routers whose current inputs do not render, with the reason.
    failed: BTreeMap<String, String>,
    ipam_cursor: u64,
    area_cursor: u64,
}

impl RendererState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Last ipam seq recorded (0 if none); follow ipam from the next one.
    pub fn ipam_cursor(&self) -> u64 {
        self.ipam_cursor
    }

    /// Last area-registry seq recorded (0 if none).
    pub fn area_cursor(&self) -> u64 {
        self.area_cursor
    }

    /// The events to record for ipam's event `seq`. Nothing for a seq
    /// already recorded, nor for VM events. Does not change the state:
    /// apply the returned events, in order.
    pub fn on_ipam(&self, seq: u64, event: &IpamEvent) -> Vec<ConfigEvent> {
        if seq <= self.ipam_cursor {
            return vec![];
        }
        let mut affected = BTreeSet::new();
        let mut router = None;
        let mut zone = None;
        match event {
            IpamEvent::ZoneEnabled { .. } | IpamEvent::ZoneSuperCidrsChanged { .. } => {}
            IpamEvent::VpcAllocated {
                vpc,
                zone: z,
                router: r,
                ..
            } => {
                affected.insert(vpc.clone());
                zone = Some(z.as_str());
                router = r.as_ref().map(|r| r.name.as_str());
            }
            IpamEvent::VpcReleased { vpc, .. } | IpamEvent::TierAllocated { vpc, .. } => {
                affected.insert(vpc.clone());
            }
            IpamEvent::TierReleased { tier, vpc, .. } => {
                affected.insert(vpc.clone());
                if let Some(t) = self.inputs.tiers.get(tier) {
                    affected.insert(t.vpc.clone());
                }
            }
            IpamEvent::VmAddressAllocated { .. } | IpamEvent::VmAddressReleased { .. } => {
                return vec![]
            }
            IpamEvent::AclCreated { vpc, .. }
            | IpamEvent::AclDeleted { vpc, .. }
            | IpamEvent::AclRuleAdded { vpc, .. }
            | IpamEvent::AclRuleDeleted { vpc, .. }
            | IpamEvent::TierAclSet { vpc, .. } => {
                affected.insert(vpc.clone());
            }
        }
        let mut post = self.inputs.subset(&affected, zone, router);
        post.apply_ipam(seq, event);
        let mut out = vec![ConfigEvent::IpamInput {
            seq,
            event: event.clone(),
        }];
        out.extend(self.router_events(&post, &affected, &[]));
        out
    }

    /// The events to record for the area registry's event `seq` (as read
    /// from its log, key included). Nothing for a seq already recorded.
    pub fn on_area(&self, seq: u64, event: &AreaEvent) -> Vec<ConfigEvent> {
        if seq <= self.area_cursor {
            return vec![];
        }
        let mut zone = None;
        let affected: BTreeSet<String> = match event {
            AreaEvent::ZoneOspfSet { zone: z, .. } => {
                zone = Some(z.as_str());
                self.inputs.zone_vpcs.get(z).cloned().unwrap_or_default()
            }
            AreaEvent::AreaAssigned { vpc, .. } | AreaEvent::AreaRetired { vpc, .. } => {
                [vpc.clone()].into()
            }
        };
        let mut post = self.inputs.subset(&affected, zone, None);
        post.apply_area(event);
        let mut out = vec![ConfigEvent::AreaInput {
            seq,
            event: event.clone(),
        }];
        out.extend(self.router_events(&post, &affected, &[]));
        out
    }

    /// Events that bring every router in line with the current inputs,
    /// without any new input. Empty unless the renderer's output changed
    /// between releases (recorded fingerprints no longer match): the
    /// service records these once at start-up, so a router whose text
    /// changed gets a new version.
    pub fn reconcile(&self) -> Vec<ConfigEvent> {
        let all: BTreeSet<String> = self.inputs.vpcs.keys().cloned().collect();
        let versioned: Vec<String> = self.routers.keys().cloned().collect();
        self.router_events(&self.inputs, &all, &versioned)
    }

    /// Router events after an input, given `post` (the inputs after it, at
    /// least for the `affected` VPCs).
    fn router_events(
        &self,
        post: &Inputs,
        affected: &BTreeSet<String>,
        extra: &[String],
    ) -> Vec<ConfigEvent> {
        let mut names: BTreeSet<&str> = extra.iter().map(String::as_str).collect();
        for vpc in affected {
            for inputs in [&self.inputs, post] {
                if let Some(r) = inputs.vpcs.get(vpc).and_then(|v| v.router.as_ref()) {
                    names.insert(&r.name);
                }
            }
        }
        let mut out = Vec::new();
        for name in names {
            match post.router_vpc.get(name) {
                None => {
                    if self.routers.contains_key(name) || self.failed.contains_key(name) {
                        out.push(ConfigEvent::RouterRemoved {
                            router: name.to_string(),
                        });
                    }
                }
                // Owned by a VPC this input does not touch.
                Some(owner) if !affected.contains(owner) => {}
                Some(owner) => {
                    // Not renderable (yet, or any more): nothing changes; a
                    // rendered router keeps its last configuration.
                    let Ok(model) = post.model(owner) else {
                        continue;
                    };
                    out.extend(self.render_outcome(name, &model));
                }
            }
        }
        out
    }

    /// The event (if any) that records how `router` renders from `model`
    /// now: a new version, a failure (new or with a new reason), or the
    /// end of a failure at the current version's text.
    fn render_outcome(&self, router: &str, model: &Models) -> Option<ConfigEvent> {
        let failing = self.failed.get(router);
        match fingerprint(&model.router, &model.firewall) {
            Err(e) => {
                let reason = e.to_string();
                (failing != Some(&reason)).then(|| ConfigEvent::RenderFailed {
                    router: router.to_string(),
                    reason,
                })
            }
            Ok(fp) => {
                let current = self.routers.get(router).map(|r| r.fingerprint.as_str());
                if current != Some(fp.as_str()) {
                    Some(ConfigEvent::RouterVersioned {
                        router: router.to_string(),
                        version: self.next_version(router),
                        fingerprint: fp,
                    })
                } else {
                    failing.map(|_| ConfigEvent::RenderRecovered {
                        router: router.to_string(),
                    })
                }
            }
        }
    }

    fn next_version(&self, router: &str) -> u64 {
        self.routers
            .get(router)
            .map(|r| r.version)
            .or_else(|| self.retired.get(router).copied())
            .unwrap_or(0)
            + 1
    }

    /// Moves the state forward by one recorded event. Fails (changing
    /// nothing) on an event that does not fit: a damaged or foreign log.
    pub fn apply(&mut self, event: &ConfigEvent) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Inconsistent(m));
        match event {
            ConfigEvent::IpamInput { seq, event } => {
                if *seq <= self.ipam_cursor {
                    return bad(format!(
                        "ipam input {seq} recorded after ipam input {}",
                        self.ipam_cursor
                    ));
                }
                self.inputs.apply_ipam(*seq, event);
                self.ipam_cursor = *seq;
            }
            ConfigEvent::AreaInput { seq, event } => {
                if *seq <= self.area_cursor {
                    return bad(format!(
                        "area input {seq} recorded after area input {}",
                        self.area_cursor
                    ));
                }
                self.inputs.apply_area(event);
                self.area_cursor = *seq;
            }
            ConfigEvent::RouterVersioned {
                router,
                version,
                fingerprint,
            } => return self.apply_router_versioned(router, *version, fingerprint),
            ConfigEvent::RouterRemoved { router } => {
                let failed = self.failed.remove(router).is_some();
                match self.routers.remove(router) {
                    Some(r) => {
                        self.retired.insert(router.clone(), r.version);
                    }
                    None if failed => {}
                    None => return bad(format!("removal of unknown router {router:?}")),
                }
            }
            ConfigEvent::RenderFailed { router, reason } => {
                if !self.inputs.router_vpc.contains_key(router) {
                    return bad(format!("render failure of router {router:?} without a VPC"));
                }
                self.failed.insert(router.clone(), reason.clone());
            }
            ConfigEvent::RenderRecovered { router } => {
                if self.failed.remove(router).is_none() {
                    return bad(format!(
                        "recovery of router {router:?}, which had not failed"
                    ));
                }
            }
            ConfigEvent::RouterKeysApplied { router, version } => {
                let Some(r) = self.routers.get_mut(router) else {
                    return bad(format!("keys applied on unknown router {router:?}"));
                };
                if *version != r.version {
                    return bad(format!(
                        "router {router:?} reported version {version} while at {}",
                        r.version
                    ));
                }
                r.keys_applied = Some(*version);
            }
            ConfigEvent::KeyRotationAdvanced { zone, step, at_ms } => {
                return self.apply_rotation_advanced(zone, *step, *at_ms)
            }
        }
        Ok(())
    }

    /// A router's new version: its model as the inputs give it now.
    fn apply_router_versioned(
        &mut self,
        router: &str,
        version: u64,
        fingerprint: &str,
    ) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Inconsistent(m));
        let expected = self.next_version(router);
        if version != expected {
            return bad(format!(
                "router {router:?} version {version} recorded where {expected} was due"
            ));
        }
        let Some(vpc) = self.inputs.router_vpc.get(router) else {
            return bad(format!("router {router:?} versioned without a VPC"));
        };
        let model = match self.inputs.model(vpc) {
            Ok(m) => m,
            Err(reason) => return bad(format!("router {router:?} versioned: {reason}")),
        };
        let zone = self.inputs.vpcs[vpc].zone.clone();
        self.retired.remove(router);
        self.failed.remove(router);
        let keys_applied = self.routers.get(router).and_then(|r| r.keys_applied);
        self.routers.insert(
            router.to_string(),
            RouterDump {
                vpc: vpc.clone(),
                zone,
                version,
                fingerprint: fingerprint.to_string(),
                model: model.router,
                firewall: model.firewall,
                keys_applied,
            },
        );
        Ok(())
    }

    /// A zone's key rotation moved on to `step`.
    fn apply_rotation_advanced(
        &mut self,
        zone: &str,
        step: vpcroute_protocol::config::RotationStep,
        at_ms: i64,
    ) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Inconsistent(m));
        let Some(r) = self.inputs.rotations.get(zone) else {
            return bad(format!("zone {zone:?} has no key rotation to advance"));
        };
        if r.next_step() != step {
            return bad(format!(
                "key rotation of zone {zone:?} advanced to {step:?} from {:?}",
                r.phase
            ));
        }
        let r = self.inputs.rotations.remove(zone).expect("checked above");
        let latest = self.inputs.ospf.get(zone).and_then(|s| md5_key(&s.auth));
        if let Some(next) = r.advanced(step, at_ms, latest) {
            self.inputs.rotations.insert(zone.to_string(), next);
        }
        Ok(())
    }

    /// The router's current configuration in `dialect`, rendered from the
    /// model of its current version. The text holds the zone's key.
    pub fn router_config(
        &self,
        router: &str,
        dialect: DialectName,
    ) -> Result<RouterConfig, ConfigError> {
        // Serving the last version as if all were well would hide that the
        // router no longer follows its inputs (issue 11).
        if let Some(reason) = self.failed.get(router) {
            return Err(ConfigError::RenderFailed {
                router: router.to_string(),
                reason: reason.clone(),
            });
        }
        let Some(r) = self.routers.get(router) else {
            return Err(match self.inputs.router_vpc.get(router) {
                Some(vpc) => ConfigError::NotReady {
                    router: router.to_string(),
                    reason: self
                        .inputs
                        .problem(vpc)
                        .unwrap_or_else(|| "not rendered yet".to_string()),
                },
                None => ConfigError::UnknownRouter {
                    router: router.to_string(),
                },
            });
        };
        let d = match dialect {
            DialectName::Frr => Dialect::Frr,
            DialectName::Quagga => Dialect::Quagga,
        };
        let config = match render(&r.model, d) {
            Ok(RenderedConfig::Frr { frr_conf }) => ConfigText::Frr(frr_conf),
            Ok(RenderedConfig::Quagga {
                zebra_conf,
                ospfd_conf,
            }) => ConfigText::Quagga {
                zebra: zebra_conf,
                ospfd: ospfd_conf,
            },
            Err(source @ RenderError::UnsupportedByDialect { .. }) => {
                return Err(ConfigError::Unsupported {
                    router: router.to_string(),
                    dialect,
                    source,
                })
            }
            Err(source) => {
                return Err(ConfigError::Render {
                    router: router.to_string(),
                    source,
                })
            }
        };
        let nft = vpcroute_firewall::render(&r.firewall);
        Ok(RouterConfig {
            router: router.to_string(),
            version: r.version,
            dialect,
            vpc: r.vpc.clone(),
            zone: r.zone.clone(),
            config,
            firewall: FirewallRuleset {
                file: nft.file,
                listing: nft.listing,
            },
        })
    }

    /// Every router that has a configuration, by name.
    pub fn routers(&self) -> Vec<RouterSummary> {
        self.routers
            .keys()
            .filter_map(|name| self.summary(name))
            .collect()
    }

    /// The routers named after `after` (of `zone`, if given), by name:
    /// the pages of `router.page`.
    pub fn routers_after<'a>(
        &'a self,
        zone: Option<&'a str>,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = RouterSummary> + 'a {
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        self.routers
            .range::<str, _>((start, std::ops::Bound::Unbounded))
            .filter(move |(_, r)| zone.is_none_or(|z| r.zone == z))
            .filter_map(|(name, _)| self.summary(name))
    }

    /// A router's summary, if it has a configuration.
    pub fn summary(&self, router: &str) -> Option<RouterSummary> {
        self.routers.get(router).map(|r| RouterSummary {
            router: router.to_string(),
            version: r.version,
            vpc: r.vpc.clone(),
            zone: r.zone.clone(),
            key_rotation: self.key_rotation(&r.zone, self.rotation_hold_ms),
        })
    }

    // ------------------------------------------------- MD5 key rotation

    /// A zone's key rotation in progress, if any (see [`crate::rotation`]);
    /// `hold_ms` as given to [`RendererState::advance_rotations`].
    pub fn key_rotation(&self, zone: &str, hold_ms: i64) -> Option<KeyRotationView> {
        let r = self.inputs.rotations.get(zone)?;
        Some(KeyRotationView {
            phase: r.phase,
            old_key_id: r.old.0,
            new_key_id: r.new.0,
            sending_key_id: r.sending_key_id(),
            waiting_for: self.rotation_waiting_for(zone),
            old_key_kept_until_ms: r.old_key_kept_until_ms(hold_ms),
        })
    }

    /// The routers of `zone` that have not reported their current version
    /// applied during its rotation.
    fn rotation_waiting_for(&self, zone: &str) -> Vec<String> {
        self.routers
            .iter()
            .filter(|(_, r)| r.zone == zone && r.keys_applied != Some(r.version))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Whether any router of `zone` has a configuration.
    fn zone_has_routers(&self, zone: &str) -> bool {
        self.routers.values().any(|r| r.zone == zone)
    }

    /// The events a router-sync status report causes: while the router's
    /// zone rotates its key, its current version reported applied is
    /// recorded, once. Nothing otherwise, so the log does not grow with
    /// the reports.
    pub fn on_router_status(&self, router: &str, applied: Option<u64>) -> Vec<ConfigEvent> {
        let Some(r) = self.routers.get(router) else {
            return vec![];
        };
        if !self.inputs.rotations.contains_key(&r.zone)
            || applied != Some(r.version)
            || r.keys_applied == Some(r.version)
        {
            return vec![];
        }
        vec![ConfigEvent::RouterKeysApplied {
            router: router.to_string(),
            version: r.version,
        }]
    }

    /// The next step, at `now_ms`, of one zone whose routers all have the
    /// current one, and whose old key has been kept `hold_ms` since its
    /// routers began signing with the new one: `key_rotation_advanced` and
    /// the router versions it causes. Empty when no rotation can advance;
    /// call again after applying these (a zone with no router goes through
    /// its steps one call each), and again as time passes.
    pub fn advance_rotations(&self, now_ms: i64, hold_ms: i64) -> Vec<ConfigEvent> {
        // A zone with no router has no VR holding either key, so nothing to
        // hold the old key for: a key set before the zone's first VPC (as
        // `zone enable --auth-key-id 3 --auth-key-file F` does after ipam
        // enabled the zone with a generated key 1) takes effect at once
        // instead of holding the next rotation back for the whole hold.
        let Some((zone, r)) = self.inputs.rotations.iter().find(|(zone, r)| {
            self.rotation_waiting_for(zone).is_empty()
                && (r.hold_over(now_ms, hold_ms) || !self.zone_has_routers(zone))
        }) else {
            return vec![];
        };
        let step = r.next_step();
        let affected = self.inputs.zone_vpcs.get(zone).cloned().unwrap_or_default();
        let mut post = self.inputs.subset(&affected, Some(zone), None);
        let latest = post.ospf.get(zone).and_then(|s| md5_key(&s.auth));
        post.rotations.remove(zone);
        if let Some(next) = r.clone().advanced(step, now_ms, latest) {
            post.rotations.insert(zone.clone(), next);
        }
        let mut out = vec![ConfigEvent::KeyRotationAdvanced {
            zone: zone.clone(),
            step,
            at_ms: now_ms,
        }];
        out.extend(self.router_events(&post, &affected, &[]));
        out
    }

    /// Routers whose current inputs do not render, with the reason: those
    /// never rendered (`not_ready`) and rendered ones stuck at their last
    /// version. For operators' logs; never holds a key.
    pub fn problems(&self) -> Vec<(String, String)> {
        self.inputs
            .router_vpc
            .iter()
            .filter_map(|(router, vpc)| {
                self.inputs
                    .problem(vpc)
                    .map(|reason| (router.clone(), reason))
            })
            .collect()
    }

    /// The problem of one router (see [`RendererState::problems`]).
    pub fn problem(&self, router: &str) -> Option<String> {
        let vpc = self.inputs.router_vpc.get(router)?;
        self.inputs.problem(vpc)
    }

    pub fn dump(&self) -> StateDump {
        let i = &self.inputs;
        StateDump {
            ipam_cursor: self.ipam_cursor,
            area_cursor: self.area_cursor,
            zones: i.zones.clone(),
            ospf: i.ospf.clone(),
            vpcs: i.vpcs.clone(),
            tiers: i
                .tiers
                .iter()
                .map(|(name, t)| TierRecord {
                    tier: name.clone(),
                    vpc: t.vpc.clone(),
                    cidr: t.cidr,
                    gateway: t.gateway,
                    interface: t.interface.clone(),
                    acl: t.acl.clone(),
                })
                .collect(),
            areas: i
                .areas
                .iter()
                .map(|(vpc, a)| (vpc.clone(), (a.zone.clone(), a.area_id, a.ipam_seq)))
                .collect(),
            routers: self.routers.clone(),
            retired: self.retired.clone(),
            failed: self.failed.clone(),
            rotations: i.rotations.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
