//! Typed errors. No message ever contains an authentication key (nor its
//! length, nor the offending character).

use ipnet::IpNet;
use std::net::IpAddr;

use crate::model::{AreaId, Dialect};

/// Which kind of key a [`SettingsError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `ip ospf authentication-key` (simple password).
    Plaintext,
    /// `ip ospf message-digest-key N md5`.
    Md5,
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyKind::Plaintext => "plaintext",
            KeyKind::Md5 => "md5",
        })
    }
}

/// Invalid zone-wide OSPF settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("hello-interval {value} is out of range 1..=65535")]
    HelloIntervalOutOfRange { value: u16 },
    #[error("dead-interval {value} is out of range 1..=65535")]
    DeadIntervalOutOfRange { value: u32 },
    #[error("retransmit-interval {value} is out of range 1..=65535")]
    RetransmitIntervalOutOfRange { value: u16 },
    #[error("transmit-delay {value} is out of range 1..=65535")]
    TransmitDelayOutOfRange { value: u16 },
    #[error("dead-interval {dead} must be greater than hello-interval {hello}")]
    DeadNotGreaterThanHello { hello: u16, dead: u32 },
    #[error("{kind} authentication key is empty")]
    KeyEmpty { kind: KeyKind },
    #[error("{kind} authentication key is longer than {max} characters")]
    KeyTooLong { kind: KeyKind, max: usize },
    #[error(
        "{kind} authentication key may hold only printable ASCII without space (0x21..=0x7e) other than '?', '!' and '#' (vtysh reads '?' as a help request; '!' and '#' are FRR's comment characters)"
    )]
    KeyInvalidCharacter { kind: KeyKind },
    #[error("backbone area {backbone} is refused: OSPF's backbone is area 0 (0.0.0.0) by definition; with any other id no VR becomes an area border router")]
    BackboneNotZero { backbone: AreaId },
    #[error("md5 key id {key_id} is out of range 1..=255")]
    KeyIdOutOfRange { key_id: u8 },
    /// A different key under a key id in use: routers would change it each
    /// at its own moment and lose their common key (docs/frr-notes.md §5).
    #[error(
        "md5 key id {key_id} already holds another key: a new key needs a new key id (leave the key id out to take the next one)"
    )]
    KeyIdReused { key_id: u8 },
}

impl SettingsError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SettingsError::HelloIntervalOutOfRange { .. } => "settings.hello_interval_out_of_range",
            SettingsError::DeadIntervalOutOfRange { .. } => "settings.dead_interval_out_of_range",
            SettingsError::RetransmitIntervalOutOfRange { .. } => {
                "settings.retransmit_interval_out_of_range"
            }
            SettingsError::TransmitDelayOutOfRange { .. } => "settings.transmit_delay_out_of_range",
            SettingsError::DeadNotGreaterThanHello { .. } => "settings.dead_not_greater_than_hello",
            SettingsError::KeyEmpty { .. } => "settings.key_empty",
            SettingsError::KeyTooLong { .. } => "settings.key_too_long",
            SettingsError::KeyInvalidCharacter { .. } => "settings.key_invalid_character",
            SettingsError::KeyIdOutOfRange { .. } => "settings.key_id_out_of_range",
            SettingsError::BackboneNotZero { .. } => "settings.backbone_not_zero",
            SettingsError::KeyIdReused { .. } => "settings.key_id_reused",
        }
    }
}

/// Why a model could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("invalid OSPF settings: {0}")]
    Settings(#[from] SettingsError),
    /// OSPFv2 carries IPv4 only. `field` names the offending model field.
    #[error("IPv6 is not supported by OSPFv2: {field} is {value}")]
    Ipv6NotSupported { field: String, value: String },
    #[error("hostname {hostname:?} is invalid: 1..=63 characters of [A-Za-z0-9._-] expected")]
    InvalidHostname { hostname: String },
    #[error("router id {router_id} is invalid (0.0.0.0 and 255.255.255.255 are not router ids)")]
    InvalidRouterId { router_id: std::net::Ipv4Addr },
    #[error(
        "interface name {interface:?} is invalid: 1..=15 characters of [A-Za-z0-9._-] expected"
    )]
    InvalidInterfaceName { interface: String },
    #[error("interface {interface:?} appears more than once (uplink and tiers must be distinct)")]
    DuplicateInterface { interface: String },
    #[error("the VPC area {area} is the backbone area; each VPC needs its own non-backbone area")]
    VpcAreaIsBackbone { area: AreaId },
    #[error("tier {tier:?} ({cidr}) is not inside the VPC CIDR {vpc_cidr}")]
    TierOutsideVpc {
        tier: String,
        cidr: IpNet,
        vpc_cidr: IpNet,
    },
    #[error("tier {tier:?}: gateway {gateway} is not a host address inside {cidr}")]
    GatewayOutsideTier {
        tier: String,
        gateway: IpAddr,
        cidr: IpNet,
    },
    #[error("tiers {a:?} and {b:?} have overlapping CIDRs")]
    TiersOverlap { a: String, b: String },
    #[error("uplink network {uplink} overlaps the VPC CIDR {vpc_cidr}")]
    UplinkOverlapsVpc { uplink: IpNet, vpc_cidr: IpNet },
    #[error("{dialect} cannot express this model: {reason}")]
    UnsupportedByDialect {
        dialect: Dialect,
        reason: &'static str,
    },
}

impl RenderError {
    /// A stable machine-readable code (settings errors keep their own code).
    pub fn code(&self) -> &'static str {
        match self {
            RenderError::Settings(e) => e.code(),
            RenderError::Ipv6NotSupported { .. } => "render.ipv6_not_supported",
            RenderError::InvalidHostname { .. } => "render.invalid_hostname",
            RenderError::InvalidRouterId { .. } => "render.invalid_router_id",
            RenderError::InvalidInterfaceName { .. } => "render.invalid_interface_name",
            RenderError::DuplicateInterface { .. } => "render.duplicate_interface",
            RenderError::VpcAreaIsBackbone { .. } => "render.vpc_area_is_backbone",
            RenderError::TierOutsideVpc { .. } => "render.tier_outside_vpc",
            RenderError::GatewayOutsideTier { .. } => "render.gateway_outside_tier",
            RenderError::TiersOverlap { .. } => "render.tiers_overlap",
            RenderError::UplinkOverlapsVpc { .. } => "render.uplink_overlaps_vpc",
            RenderError::UnsupportedByDialect { .. } => "render.unsupported_by_dialect",
        }
    }
}
