//! The router model: everything needed to render one VPC virtual router.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

/// An OSPF area identifier (32 bits).
///
/// Displayed, and serialised, in dotted form (`0.0.0.5`). Parsing (and
/// deserialisation) accepts either the dotted form or a plain decimal number
/// (`"5"` or `5`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AreaId(pub u32);

impl AreaId {
    /// The backbone area, `0.0.0.0`.
    pub const BACKBONE: AreaId = AreaId(0);

    /// True for `0.0.0.0`.
    pub fn is_backbone(self) -> bool {
        self.0 == 0
    }
}

impl From<u32> for AreaId {
    fn from(v: u32) -> Self {
        AreaId(v)
    }
}

impl From<Ipv4Addr> for AreaId {
    fn from(v: Ipv4Addr) -> Self {
        AreaId(u32::from(v))
    }
}

impl From<AreaId> for u32 {
    fn from(v: AreaId) -> Self {
        v.0
    }
}

impl fmt::Display for AreaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Ipv4Addr::from(self.0), f)
    }
}

impl fmt::Debug for AreaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AreaId({self})")
    }
}

/// Error parsing an [`AreaId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid OSPF area id {0:?}: expected dotted form (0.0.0.5) or a decimal number (5)")]
pub struct ParseAreaIdError(pub String);

impl FromStr for AreaId {
    type Err = ParseAreaIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Ok(AreaId::from(ip));
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(v) = s.parse::<u32>() {
                return Ok(AreaId(v));
            }
        }
        Err(ParseAreaIdError(s.to_owned()))
    }
}

impl Serialize for AreaId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AreaId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AreaId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OSPF area id: \"0.0.0.5\", \"5\" or 5")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AreaId, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AreaId, E> {
                u32::try_from(v)
                    .map(AreaId)
                    .map_err(|_| E::custom("OSPF area id out of 32-bit range"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AreaId, E> {
                u32::try_from(v)
                    .map(AreaId)
                    .map_err(|_| E::custom("OSPF area id out of 32-bit range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A secret (an OSPF authentication key).
///
/// `Debug` and `Display` print `***`; [`Secret::expose`] gives the key.
/// Serde (de)serialises it as the plain string, so that it can be carried
/// between services: whatever serialises a model must treat the output as
/// sensitive.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Secret(key.into())
    }

    /// The key itself. Only the renderer (and the bus that carries it) should call this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(v: String) -> Self {
        Secret(v)
    }
}

impl From<&str> for Secret {
    fn from(v: &str) -> Self {
        Secret(v.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// OSPF authentication on the backbone (uplink) interface.
///
/// Serialised as `{"type":"none"}`, `{"type":"plaintext","key":"..."}` or
/// `{"type":"md5","key_id":1,"key":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OspfAuth {
    /// No authentication (OSPF type 0).
    #[default]
    None,
    /// Simple password (OSPF type 1), at most 8 characters.
    Plaintext { key: Secret },
    /// Keyed MD5 (OSPF type 2), key at most 16 characters, key id 1..=255.
    Md5 { key_id: u8, key: Secret },
}

/// Zone-wide OSPF settings, identical on every VR of the zone (and on the
/// backbone routers they peer with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OspfSettings {
    /// The backbone area; `0.0.0.0` by default.
    pub backbone: AreaId,
    /// Seconds, 1..=65535; default 10.
    pub hello_interval: u16,
    /// Seconds, 1..=65535, strictly greater than `hello_interval`; default 40.
    pub dead_interval: u32,
    /// Seconds, 1..=65535 (FRR 8.4; Quagga wants 3..=65535); default 5.
    pub retransmit_interval: u16,
    /// Seconds, 1..=65535; default 1.
    pub transmit_delay: u16,
    /// Authentication on the uplink; default none.
    pub auth: OspfAuth,
}

impl Default for OspfSettings {
    fn default() -> Self {
        OspfSettings {
            backbone: AreaId::BACKBONE,
            hello_interval: 10,
            dead_interval: 40,
            retransmit_interval: 5,
            transmit_delay: 1,
            auth: OspfAuth::None,
        }
    }
}

/// The VR's interface into the backbone network (CloudStack's public/uplink network).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uplink {
    /// Kernel interface name, e.g. `eth2`.
    pub interface: String,
    /// Interface address with its prefix, e.g. `192.168.100.2/24`.
    ///
    /// The address itself is NOT written to the FRR configuration (CloudStack
    /// and the host own interface addresses); the Quagga dialect derives its
    /// `network` statement from the prefix.
    pub address: Ipv4Net,
}

/// One VPC tier (guest network) behind the VR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierInterface {
    /// The tier's CloudStack name (used only in an interface `description`, sanitised).
    pub name: String,
    /// Kernel interface name on the VR, e.g. `eth3`.
    pub interface: String,
    /// The VR's address on the tier. Must lie inside `cidr`.
    pub gateway: IpAddr,
    /// The tier's network. Must lie inside the VPC CIDR. IPv4 only for now.
    pub cidr: IpNet,
}

/// Which key a router signs its OSPF packets with during a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendKey {
    /// Still the old key; the new one is only accepted.
    Old,
    /// The new key; the old one is still accepted.
    New,
}

/// A keyed-MD5 rotation in progress: the key being retired stays configured
/// beside the zone's key (`ospf.auth`), and `send` says which of the two
/// the router signs with. The renderer writes the sending key last, which
/// is the one FRR signs with (docs/frr-notes.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Md5Rotation {
    pub old_key_id: u8,
    pub old_key: Secret,
    pub send: SendKey,
}

/// Everything needed to render one VR's routing configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterModel {
    /// The VR name, e.g. `left-vr`; used as the daemon hostname.
    pub hostname: String,
    /// The OSPF router id.
    pub router_id: Ipv4Addr,
    /// The interface in the backbone area.
    pub uplink: Uplink,
    /// Zone-wide settings.
    pub ospf: OspfSettings,
    /// This VPC's area. Must not be the backbone.
    pub area: AreaId,
    /// The VPC super-net, announced into the backbone as one summary (`area X range`).
    pub vpc_cidr: IpNet,
    /// The tiers, in any order (rendered sorted by interface name).
    pub tiers: Vec<TierInterface>,
    /// An MD5 key rotation in progress on the zone, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_rotation: Option<Md5Rotation>,
}

/// Which daemon suite to render for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// FRR 8.x, one integrated `frr.conf`.
    Frr,
    /// Quagga 0.99/1.x, split `zebra.conf` + `ospfd.conf`.
    Quagga,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Frr => "frr",
            Dialect::Quagga => "quagga",
        })
    }
}
