//! The area-registry state and its operations: `decide_zone_set`,
//! `on_ipam_event` and `apply`.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use vpcroute_protocol::areas::{
    AreaEvent, AreaId, AuthRequest, OspfAuth, OspfSettings, Secret, VpcArea, ZoneOspfSet,
    ZoneOspfView,
};
use vpcroute_protocol::ipam::IpamEvent;

use crate::AreaError;

/// Length of a generated MD5 key (the most OSPF MD5 allows).
pub const KEY_LEN: usize = 16;

/// The outcome of a `zone.set` that succeeds: events to append to `stream`
/// (none when the request changes nothing) and the reply to record with
/// the request id. The reply never holds the key.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub stream: String,
    pub events: Vec<AreaEvent>,
    pub reply: ZoneOspfView,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Zone {
    settings: OspfSettings,
    revision: u64,
}

/// Everything the registry knows. `Debug` never shows a key (`Secret`
/// prints `***`).
#[derive(Debug, Clone)]
pub struct AreaState {
    /// Zones with OSPF settings.
    zones: BTreeMap<String, Zone>,
    /// VPCs that have an area now.
    vpcs: BTreeMap<String, VpcArea>,
    /// Every area id ever handed out, active or retired, with its VPC.
    issued: BTreeMap<AreaId, String>,
    /// Lowest candidate for the next area id; only goes up.
    next_area: u64,
    /// Highest ipam seq recorded in an area event.
    ipam_cursor: u64,
}

impl Default for AreaState {
    fn default() -> Self {
        AreaState {
            zones: BTreeMap::new(),
            vpcs: BTreeMap::new(),
            issued: BTreeMap::new(),
            next_area: 1,
            ipam_cursor: 0,
        }
    }
}

/// A zone's settings and how many times they were set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneDump {
    pub settings: OspfSettings,
    pub revision: u64,
}

/// The whole state as plain data, to compare two states (e.g. live and
/// replayed). Its `Debug` shows keys as `***`; equality compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump {
    pub zones: BTreeMap<String, ZoneDump>,
    pub areas: BTreeMap<String, VpcArea>,
    pub issued: BTreeMap<AreaId, String>,
    pub next_area: u64,
    pub ipam_cursor: u64,
}

/// The same name rule as ipam's.
fn check_name(kind: &str, name: &str) -> Result<(), AreaError> {
    vpcroute_protocol::names::check_name(kind, name).map_err(AreaError::InvalidRequest)
}

/// Every event of a zone goes to one stream.
pub(crate) fn zone_stream(zone: &str) -> String {
    format!("zone/{zone}")
}

fn auth_name(auth: &OspfAuth) -> (&'static str, Option<u8>) {
    match auth {
        OspfAuth::None => ("none", None),
        OspfAuth::Plaintext { .. } => ("plaintext", None),
        OspfAuth::Md5 { key_id, .. } => ("md5", Some(*key_id)),
    }
}

/// What a `zone.set` asked, without its request id and with the key
/// replaced by a salted SHA-256 digest: it is stored in the log's requests
/// table, which must not hold the key in clear. A retry with the same key
/// has the same fingerprint; one with another key does not.
pub fn zone_set_fingerprint(req: &ZoneOspfSet) -> String {
    let mut v = serde_json::to_value(req).expect("requests serialise");
    if let Some(obj) = v.as_object_mut() {
        obj.remove("request_id");
        let key = match &req.auth {
            Some(AuthRequest::Plaintext { key })
            | Some(AuthRequest::Md5 { key: Some(key), .. }) => Some(key),
            _ => None,
        };
        if let (Some(key), Some(auth)) = (key, obj.get_mut("auth").and_then(|a| a.as_object_mut()))
        {
            let mut h = Sha256::new();
            h.update(b"vpcroute-areas zone.set key\0");
            h.update(req.zone.as_bytes());
            h.update(b"\0");
            h.update(key.expose().as_bytes());
            auth.insert(
                "key".into(),
                format!("sha256:{}", hex::encode(h.finalize())).into(),
            );
        }
    }
    v.to_string()
}

/// The key id after `id`, within 1..=255.
fn next_key_id(id: u8) -> u8 {
    if id == u8::MAX {
        1
    } else {
        id + 1
    }
}

/// The MD5 settings a request asks for, given the zone's current MD5 key
/// id and key (if any). A new key takes a new key id, so that the
/// config-renderer can keep both on every router while they change over
/// (the rotation in vpcroute-configs): a key changed under the same id
/// would change on each router at its own moment. That holds only while
/// the key is `in_use` (the zone has a VPC, so routers may hold it):
/// before that, `zone enable --auth-key-file F` replaces the key generated
/// when ipam enabled the zone, under its id. `generated_key` is called
/// only when the zone has no key and the request gives none.
fn md5_auth(
    current: Option<(u8, Secret)>,
    in_use: bool,
    key_id: Option<u8>,
    key: Option<Secret>,
    generated_key: impl FnOnce() -> String,
) -> Result<OspfAuth, AreaError> {
    let auth = |key_id, key| Ok(OspfAuth::Md5 { key_id, key });
    match (current, key) {
        (None, key) => auth(
            key_id.unwrap_or(1),
            key.unwrap_or_else(|| Secret::new(generated_key())),
        ),
        (Some((id, cur)), None) => auth(key_id.unwrap_or(id), cur),
        (Some((id, cur)), Some(key)) if key == cur => auth(key_id.unwrap_or(id), cur),
        (Some((id, _)), Some(key)) => match key_id {
            Some(same) if same == id && in_use => {
                Err(vpcroute_render::SettingsError::KeyIdReused { key_id: id }.into())
            }
            Some(other) => auth(other, key),
            None if in_use => auth(next_key_id(id), key),
            None => auth(id, key),
        },
    }
}

impl AreaState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides a `zone.set`: absent fields keep the current value (the
    /// documented defaults for a new zone). `generated_key` is called at
    /// most once, only when MD5 is wanted and the zone has no MD5 key yet.
    /// The resulting settings are validated as a whole; a request that
    /// changes nothing decides no event and replies with the current view.
    pub fn decide_zone_set(
        &self,
        req: &ZoneOspfSet,
        generated_key: impl FnOnce() -> String,
    ) -> Result<Decision, AreaError> {
        check_name("zone", &req.zone)?;
        let current = self.zones.get(&req.zone);
        let mut s = current.map(|z| z.settings.clone()).unwrap_or_default();
        if let Some(b) = req.backbone {
            s.backbone = b;
        }
        if let Some(v) = req.hello_interval {
            s.hello_interval = v;
        }
        if let Some(v) = req.dead_interval {
            s.dead_interval = v;
        }
        if let Some(v) = req.retransmit_interval {
            s.retransmit_interval = v;
        }
        if let Some(v) = req.transmit_delay {
            s.transmit_delay = v;
        }
        let current_md5 = current.and_then(|z| match &z.settings.auth {
            OspfAuth::Md5 { key_id, key } => Some((*key_id, key.clone())),
            _ => None,
        });
        s.auth = match (&req.auth, current) {
            (Some(AuthRequest::None {}), _) => OspfAuth::None,
            (Some(AuthRequest::Plaintext { key }), _) => OspfAuth::Plaintext { key: key.clone() },
            (Some(AuthRequest::Md5 { key_id, key }), _) => {
                let in_use = !self.zone_areas(&req.zone).is_empty();
                md5_auth(current_md5, in_use, *key_id, key.clone(), generated_key)?
            }
            (None, Some(z)) => z.settings.auth.clone(),
            (None, None) => md5_auth(None, false, None, None, generated_key)?,
        };
        // Also refuses a backbone other than 0.0.0.0, which no VPC area
        // ever is (areas start at 1): the renderer's own check, called once.
        vpcroute_render::validate_settings(&s)?;
        let stream = zone_stream(&req.zone);
        match current {
            Some(z) if z.settings == s => Ok(Decision {
                stream,
                events: vec![],
                reply: self.view_of(&req.zone, z),
            }),
            _ => {
                let zone = Zone {
                    settings: s.clone(),
                    revision: current.map_or(0, |z| z.revision) + 1,
                };
                Ok(Decision {
                    stream,
                    reply: self.view_of(&req.zone, &zone),
                    events: vec![AreaEvent::ZoneOspfSet {
                        zone: req.zone.clone(),
                        settings: s,
                    }],
                })
            }
        }
    }

    /// The area events an ipam event causes: `vpc_allocated` assigns the
    /// next area id, `vpc_released` retires the VPC's area, anything else
    /// causes nothing. Idempotent: an ipam seq at or below the last one
    /// recorded causes nothing, nor does an allocation of a VPC that has an
    /// area already or the release of one that has none.
    pub fn on_ipam_event(
        &self,
        seq: u64,
        ev: &IpamEvent,
        generated_key: impl FnOnce() -> String,
    ) -> Vec<AreaEvent> {
        if seq <= self.ipam_cursor {
            return vec![];
        }
        match ev {
            // Every routed zone gets OSPF settings the moment it exists
            // (defaults, MD5 with a generated key), so a zone enabled with
            // super-CIDRs alone is routable without a second call. A zone
            // that already has settings keeps them.
            IpamEvent::ZoneEnabled { zone, .. } => {
                if self.zones.contains_key(zone) {
                    return vec![];
                }
                let defaults = ZoneOspfSet {
                    request_id: format!("ipam:{seq}"),
                    zone: zone.clone(),
                    backbone: None,
                    hello_interval: None,
                    dead_interval: None,
                    retransmit_interval: None,
                    transmit_delay: None,
                    auth: None,
                };
                self.decide_zone_set(&defaults, generated_key)
                    .map(|d| d.events)
                    .unwrap_or_default()
            }
            IpamEvent::VpcAllocated { vpc, zone, .. } => {
                if self.vpcs.contains_key(vpc) {
                    return vec![];
                }
                match self.next_free_area() {
                    Some(area_id) => vec![AreaEvent::AreaAssigned {
                        vpc: vpc.clone(),
                        zone: zone.clone(),
                        area_id,
                        ipam_seq: seq,
                    }],
                    // 2^32 areas handed out: nothing sensible is left.
                    None => vec![],
                }
            }
            IpamEvent::VpcReleased { vpc, .. } => match self.vpcs.get(vpc) {
                Some(a) => vec![AreaEvent::AreaRetired {
                    vpc: vpc.clone(),
                    zone: a.zone.clone(),
                    area_id: a.area_id,
                    ipam_seq: seq,
                }],
                None => vec![],
            },
            _ => vec![],
        }
    }

    /// The stream an area event belongs to (`zone/<zone>`).
    pub fn stream_of(ev: &AreaEvent) -> String {
        match ev {
            AreaEvent::ZoneOspfSet { zone, .. }
            | AreaEvent::AreaAssigned { zone, .. }
            | AreaEvent::AreaRetired { zone, .. } => zone_stream(zone),
        }
    }

    fn backbones(&self) -> BTreeSet<AreaId> {
        self.zones.values().map(|z| z.settings.backbone).collect()
    }

    /// The lowest id at or above the counter that is no zone's backbone.
    fn next_free_area(&self) -> Option<AreaId> {
        let backbones = self.backbones();
        (self.next_area..=u64::from(u32::MAX))
            .map(|c| AreaId(c as u32))
            .find(|id| !backbones.contains(id) && !self.issued.contains_key(id))
    }

    fn check_seq(&self, ipam_seq: u64) -> Result<(), AreaError> {
        if ipam_seq <= self.ipam_cursor {
            return Err(AreaError::Inconsistent(format!(
                "ipam seq {ipam_seq} is not after the last one recorded ({})",
                self.ipam_cursor
            )));
        }
        Ok(())
    }

    /// Moves the state forward by one event. Fails (changing nothing) only
    /// on an event that contradicts the state, i.e. a damaged log.
    pub fn apply(&mut self, ev: &AreaEvent) -> Result<(), AreaError> {
        match ev {
            AreaEvent::ZoneOspfSet { zone, settings } => {
                if let Some(vpc) = self.issued.get(&settings.backbone) {
                    return Err(AreaError::Inconsistent(format!(
                        "backbone {} of zone {zone:?} is the area id of VPC {vpc:?}",
                        settings.backbone
                    )));
                }
                let z = self.zones.entry(zone.clone()).or_insert_with(|| Zone {
                    settings: settings.clone(),
                    revision: 0,
                });
                z.settings = settings.clone();
                z.revision += 1;
            }
            AreaEvent::AreaAssigned {
                vpc,
                zone,
                area_id,
                ipam_seq,
            } => {
                self.check_seq(*ipam_seq)?;
                if let Some(a) = self.vpcs.get(vpc) {
                    return Err(AreaError::Inconsistent(format!(
                        "VPC {vpc:?} already has area {}",
                        a.area_id
                    )));
                }
                if let Some(other) = self.issued.get(area_id) {
                    return Err(AreaError::Inconsistent(format!(
                        "area {area_id} was already given to VPC {other:?}"
                    )));
                }
                if area_id.is_backbone() || self.backbones().contains(area_id) {
                    return Err(AreaError::Inconsistent(format!(
                        "area {area_id} of VPC {vpc:?} is a backbone area"
                    )));
                }
                self.vpcs.insert(
                    vpc.clone(),
                    VpcArea {
                        vpc: vpc.clone(),
                        zone: zone.clone(),
                        area_id: *area_id,
                    },
                );
                self.issued.insert(*area_id, vpc.clone());
                self.next_area = self.next_area.max(u64::from(area_id.0) + 1);
                self.ipam_cursor = *ipam_seq;
            }
            AreaEvent::AreaRetired {
                vpc,
                zone,
                area_id,
                ipam_seq,
            } => {
                self.check_seq(*ipam_seq)?;
                match self.vpcs.get(vpc) {
                    Some(a) if a.area_id == *area_id && a.zone == *zone => {}
                    Some(a) => {
                        return Err(AreaError::Inconsistent(format!(
                            "retiring area {area_id} in zone {zone:?} of VPC {vpc:?}, which has area {} in zone {:?}",
                            a.area_id, a.zone
                        )))
                    }
                    None => {
                        return Err(AreaError::Inconsistent(format!(
                            "retiring the area of VPC {vpc:?}, which has none"
                        )))
                    }
                }
                self.vpcs.remove(vpc);
                self.ipam_cursor = *ipam_seq;
            }
        }
        Ok(())
    }

    fn view_of(&self, name: &str, zone: &Zone) -> ZoneOspfView {
        ZoneOspfView {
            areas: self.zone_areas(name),
            ..Self::settings_view(name, zone)
        }
    }

    /// [`Self::view_of`] without the areas (a page's header).
    fn settings_view(name: &str, zone: &Zone) -> ZoneOspfView {
        let s = &zone.settings;
        let (auth, key_id) = auth_name(&s.auth);
        ZoneOspfView {
            zone: name.to_string(),
            backbone: s.backbone,
            hello_interval: s.hello_interval,
            dead_interval: s.dead_interval,
            retransmit_interval: s.retransmit_interval,
            transmit_delay: s.transmit_delay,
            auth: auth.to_string(),
            key_id,
            revision: zone.revision,
            areas: Vec::new(),
        }
    }

    /// A zone's settings without the key (its `areas` left empty), and the
    /// areas of its VPCs named after `after`, by VPC name: the pages of
    /// `zone.areas`.
    pub fn zone_areas_after<'a>(
        &'a self,
        zone: &'a str,
        after: Option<&'a str>,
    ) -> Result<(ZoneOspfView, impl Iterator<Item = VpcArea> + 'a), AreaError> {
        let z = self
            .zones
            .get(zone)
            .ok_or_else(|| AreaError::UnknownZone(zone.to_string()))?;
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let areas = self
            .vpcs
            .range::<str, _>((start, std::ops::Bound::Unbounded))
            .map(|(_, a)| a)
            .filter(move |a| a.zone == zone)
            .cloned();
        Ok((Self::settings_view(zone, z), areas))
    }

    /// The areas of a zone's VPCs, by VPC name.
    pub fn zone_areas(&self, zone: &str) -> Vec<VpcArea> {
        self.vpcs
            .values()
            .filter(|a| a.zone == zone)
            .cloned()
            .collect()
    }

    /// A zone's settings without the key, and its VPCs' areas.
    pub fn zone_view(&self, zone: &str) -> Result<ZoneOspfView, AreaError> {
        let z = self
            .zones
            .get(zone)
            .ok_or_else(|| AreaError::UnknownZone(zone.to_string()))?;
        Ok(self.view_of(zone, z))
    }

    /// One VPC's area.
    pub fn vpc_area(&self, vpc: &str) -> Result<VpcArea, AreaError> {
        self.vpcs
            .get(vpc)
            .cloned()
            .ok_or_else(|| AreaError::UnknownVpc(vpc.to_string()))
    }

    /// A zone's complete settings, key included (for the renderer).
    pub fn settings(&self, zone: &str) -> Result<OspfSettings, AreaError> {
        self.zones
            .get(zone)
            .map(|z| z.settings.clone())
            .ok_or_else(|| AreaError::UnknownZone(zone.to_string()))
    }

    /// Every VPC that has an area now, by VPC name.
    pub fn areas(&self) -> impl Iterator<Item = &VpcArea> {
        self.vpcs.values()
    }

    /// Names of the zones that have OSPF settings.
    pub fn zones(&self) -> impl Iterator<Item = &str> {
        self.zones.keys().map(String::as_str)
    }

    /// The highest ipam seq recorded; following ipam resumes after it.
    pub fn ipam_cursor(&self) -> u64 {
        self.ipam_cursor
    }

    pub fn dump(&self) -> Dump {
        Dump {
            zones: self
                .zones
                .iter()
                .map(|(n, z)| {
                    (
                        n.clone(),
                        ZoneDump {
                            settings: z.settings.clone(),
                            revision: z.revision,
                        },
                    )
                })
                .collect(),
            areas: self.vpcs.clone(),
            issued: self.issued.clone(),
            next_area: self.next_area,
            ipam_cursor: self.ipam_cursor,
        }
    }
}
