//! Pure renderer for the routing configuration of one CloudStack VPC virtual
//! router (VR).
//!
//! Each VPC is its own OSPF area; its VR is an area border router: the uplink
//! interface sits in the backbone area and every tier interface in the VPC's
//! area, and `area <vpc> range <vpc-cidr>` makes the backbone see one summary
//! per VPC.
//!
//! [`render`] turns a [`RouterModel`] into configuration text for FRR 8.x
//! (one integrated `frr.conf`) or Quagga (`zebra.conf` + `ospfd.conf`). The
//! output is a pure function of the model: the same model, with its tiers in
//! any order, gives the same bytes. This crate does no I/O.
//!
//! # Decisions
//!
//! * **Interface addresses are not rendered.** CloudStack (and the VR's own
//!   scripts) own the addresses; zebra learns them from the kernel. Writing
//!   `ip address` lines would make zebra fight CloudStack on every change.
//! * **FRR: interface-level `ip ospf area`**, never `network ... area` (ospfd
//!   refuses to mix the two), so every interface can be changed on its own.
//!   Quagga has no `ip ospf area`, so its dialect uses `network` statements.
//! * **FRR: `ip ospf passive` on each tier interface.** FRR 8.4 still parses
//!   `passive-interface IFNAME` under `router ospf`, but it is a hidden,
//!   deprecated command ("not VRF-aware; use ip ospf passive"). Quagga only
//!   has `passive-interface IFNAME`, so its dialect uses that. Passive tiers
//!   mean no VM can ever form an adjacency with the VR.
//! * **`ip ospf network broadcast` on the uplink** is written explicitly: the
//!   uplink is a shared Ethernet segment with the backbone routers and other
//!   VRs, and pinning the type avoids a network-type mismatch should the
//!   kernel interface type ever make ospfd pick another default.
//! * **Authentication is interface-level only** (`ip ospf authentication
//!   [message-digest]` + key on the uplink). ospfd uses the interface's
//!   authentication type when one is set and falls back to the area's only
//!   when it is not, so an `area 0.0.0.0 authentication` line is redundant.
//!   Tier interfaces are passive and send no OSPF packets, so they need none.
//! * **Timers are always written** (even at their defaults), so behaviour does
//!   not depend on daemon defaults.
//! * **IPv6 is refused** ([`RenderError::Ipv6NotSupported`]): OSPFv2 carries
//!   IPv4 only. Callers must leave IPv6 tiers out of the model (or render them
//!   with a future OSPFv3 dialect).
//! * Secrets: [`Secret`] prints as `***` in `Debug`/`Display`; no error
//!   message contains a key; [`RenderedConfig`]'s `Debug` does not print the
//!   file contents (which do contain the keys).

mod error;
mod model;
pub mod rules;
mod text;

pub use error::{KeyKind, RenderError, SettingsError};
pub use model::{
    AreaId, Dialect, Md5Rotation, OspfAuth, OspfSettings, ParseAreaIdError, RouterModel, Secret,
    SendKey, TierInterface, Uplink,
};

use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest simple-password key (OSPF's 8-octet authentication field).
pub const PLAINTEXT_KEY_MAX: usize = 8;
/// Longest keyed-MD5 key (RFC 2328 appendix D: 16 octets).
pub const MD5_KEY_MAX: usize = 16;
/// Printable characters a key may not hold. The key reaches the router on
/// vtysh's standard input, which vtysh reads with readline even when it is
/// not a tty, and readline hands `?` to "describe": in the lab, `md5 ab?cd`
/// printed help and applied the key `abcd`, silently (docs/frr-notes.md
/// §10). `!` and `#` went through byte-exact but are FRR's comment
/// characters; refused too (issue 11), so no key reads as a comment
/// anywhere it is written. Space is outside the printable range below.
pub const KEY_REFUSED_PUNCTUATION: &[u8] = b"?!#";
/// Smallest `ip ospf retransmit-interval` Quagga accepts (`<3-65535>`); FRR 8.4 accepts 1.
pub const QUAGGA_RETRANSMIT_MIN: u16 = 3;

/// File name of FRR's integrated configuration.
pub const FRR_CONF: &str = "frr.conf";
/// File name of Quagga's zebra configuration.
pub const ZEBRA_CONF: &str = "zebra.conf";
/// File name of Quagga's ospfd configuration.
pub const OSPFD_CONF: &str = "ospfd.conf";

/// The rendered configuration files.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "dialect", rename_all = "snake_case")]
pub enum RenderedConfig {
    /// FRR: one integrated `frr.conf` (load with `vtysh -f` or frr-reload).
    Frr { frr_conf: String },
    /// Quagga: `zebra.conf` and `ospfd.conf`.
    Quagga {
        zebra_conf: String,
        ospfd_conf: String,
    },
}

impl RenderedConfig {
    /// The dialect these files are in.
    pub fn dialect(&self) -> Dialect {
        match self {
            RenderedConfig::Frr { .. } => Dialect::Frr,
            RenderedConfig::Quagga { .. } => Dialect::Quagga,
        }
    }

    /// `(file name, contents)` pairs, in a fixed order.
    pub fn files(&self) -> Vec<(&'static str, &str)> {
        match self {
            RenderedConfig::Frr { frr_conf } => vec![(FRR_CONF, frr_conf.as_str())],
            RenderedConfig::Quagga {
                zebra_conf,
                ospfd_conf,
            } => vec![
                (ZEBRA_CONF, zebra_conf.as_str()),
                (OSPFD_CONF, ospfd_conf.as_str()),
            ],
        }
    }

    /// Contents of one file by name, if this dialect has it.
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
    }

    /// A stable version fingerprint: `sha256:` and 64 lowercase hex digits,
    /// over the dialect and every `(name, contents)` pair (length-prefixed).
    /// Equal configurations give equal fingerprints, on any machine and in
    /// any release of this crate that renders the same bytes.
    ///
    /// The contents include the authentication key, so the fingerprint
    /// changes when the key rotates. It is a hash, not the key, but it is a
    /// deterministic function of it: with a weak key and a known model it
    /// allows offline guessing, so publish it only where the model is not
    /// public anyway.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"vpcroute-render/v1\0");
        h.update(self.dialect().to_string().as_bytes());
        h.update(b"\0");
        for (name, text) in self.files() {
            h.update(name.as_bytes());
            h.update(b"\0");
            h.update(text.len().to_string().as_bytes());
            h.update(b"\0");
            h.update(text.as_bytes());
        }
        let digest = h.finalize();
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256:");
        for b in digest.iter() {
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        out
    }
}

/// Does not print the contents: they hold the authentication key.
impl fmt::Debug for RenderedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(match self {
            RenderedConfig::Frr { .. } => "RenderedConfig::Frr",
            RenderedConfig::Quagga { .. } => "RenderedConfig::Quagga",
        });
        for (name, text) in self.files() {
            d.field(name, &format_args!("<{} bytes>", text.len()));
        }
        d.field("fingerprint", &self.fingerprint()).finish()
    }
}

/// Checks the zone-wide settings against FRR 8.4's ranges and OSPF's key
/// limits. Error messages never contain the key.
pub fn validate_settings(s: &OspfSettings) -> Result<(), SettingsError> {
    // OSPF's backbone is area 0 by definition (RFC 2328 §3): with any other
    // id every VR has "two" non-backbone areas and none is a border router.
    if !s.backbone.is_backbone() {
        return Err(SettingsError::BackboneNotZero {
            backbone: s.backbone,
        });
    }
    if s.hello_interval == 0 {
        return Err(SettingsError::HelloIntervalOutOfRange {
            value: s.hello_interval,
        });
    }
    if !(1..=65535).contains(&s.dead_interval) {
        return Err(SettingsError::DeadIntervalOutOfRange {
            value: s.dead_interval,
        });
    }
    if s.retransmit_interval == 0 {
        return Err(SettingsError::RetransmitIntervalOutOfRange {
            value: s.retransmit_interval,
        });
    }
    if s.transmit_delay == 0 {
        return Err(SettingsError::TransmitDelayOutOfRange {
            value: s.transmit_delay,
        });
    }
    if s.dead_interval <= u32::from(s.hello_interval) {
        return Err(SettingsError::DeadNotGreaterThanHello {
            hello: s.hello_interval,
            dead: s.dead_interval,
        });
    }
    match &s.auth {
        OspfAuth::None => Ok(()),
        OspfAuth::Plaintext { key } => check_key(KeyKind::Plaintext, key, PLAINTEXT_KEY_MAX),
        OspfAuth::Md5 { key_id, key } => {
            if *key_id == 0 {
                return Err(SettingsError::KeyIdOutOfRange { key_id: *key_id });
            }
            check_key(KeyKind::Md5, key, MD5_KEY_MAX)
        }
    }
}

fn check_key(kind: KeyKind, key: &Secret, max: usize) -> Result<(), SettingsError> {
    let k = key.expose();
    if k.is_empty() {
        return Err(SettingsError::KeyEmpty { kind });
    }
    // Character check first: a multi-byte character must not be reported as
    // "too long" by byte count.
    if !k
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && !KEY_REFUSED_PUNCTUATION.contains(&b))
    {
        return Err(SettingsError::KeyInvalidCharacter { kind });
    }
    if k.len() > max {
        return Err(SettingsError::KeyTooLong { kind, max });
    }
    Ok(())
}

/// A rotation needs MD5 on the zone and an old key that is valid and has
/// another key id than the zone's key.
fn check_rotation(auth: &OspfAuth, r: &Md5Rotation) -> Result<(), SettingsError> {
    if r.old_key_id == 0 {
        return Err(SettingsError::KeyIdOutOfRange { key_id: 0 });
    }
    check_key(KeyKind::Md5, &r.old_key, MD5_KEY_MAX)?;
    match auth {
        OspfAuth::Md5 { key_id, .. } if *key_id != r.old_key_id => Ok(()),
        OspfAuth::Md5 { key_id, .. } => Err(SettingsError::KeyIdReused { key_id: *key_id }),
        // Nothing to rotate between: the rotation is ignored by the text.
        _ => Ok(()),
    }
}

/// A tier whose addresses are checked to be IPv4.
pub(crate) struct Tier4<'a> {
    pub tier: &'a TierInterface,
    pub cidr: ipnet::Ipv4Net,
}

/// The checked, normalised view of a model that the dialects render from.
pub(crate) struct Checked<'a> {
    pub model: &'a RouterModel,
    pub vpc_cidr: ipnet::Ipv4Net,
    /// Sorted by interface name.
    pub tiers: Vec<Tier4<'a>>,
}

/// Checks everything [`render`] checks, for either dialect, without rendering.
pub fn validate_model(model: &RouterModel) -> Result<(), RenderError> {
    check(model).map(|_| ())
}

fn check(model: &RouterModel) -> Result<Checked<'_>, RenderError> {
    validate_settings(&model.ospf)?;
    if let Some(r) = &model.md5_rotation {
        check_rotation(&model.ospf.auth, r)?;
    }
    rules::check_hostname(&model.hostname)?;
    rules::check_router_id(model.router_id)?;
    if model.area == model.ospf.backbone || model.area.is_backbone() {
        return Err(RenderError::VpcAreaIsBackbone { area: model.area });
    }
    let vpc_cidr = match model.vpc_cidr {
        IpNet::V4(n) => n.trunc(),
        IpNet::V6(_) => {
            return Err(RenderError::Ipv6NotSupported {
                field: "vpc_cidr".into(),
                value: model.vpc_cidr.to_string(),
            })
        }
    };
    rules::check_interface_name(&model.uplink.interface)?;
    rules::check_uplink_outside_vpc(model.uplink.address, model.vpc_cidr)?;

    let mut sorted: Vec<&TierInterface> = model.tiers.iter().collect();
    sorted.sort_by(|a, b| a.interface.cmp(&b.interface));

    let mut tiers: Vec<Tier4<'_>> = Vec::with_capacity(sorted.len());
    for t in sorted {
        let cidr = match t.cidr {
            IpNet::V4(n) => n,
            IpNet::V6(_) => {
                return Err(RenderError::Ipv6NotSupported {
                    field: format!("tiers[{}].cidr", t.interface),
                    value: t.cidr.to_string(),
                })
            }
        };
        let gw = match t.gateway {
            std::net::IpAddr::V4(a) => a,
            std::net::IpAddr::V6(_) => {
                return Err(RenderError::Ipv6NotSupported {
                    field: format!("tiers[{}].gateway", t.interface),
                    value: t.gateway.to_string(),
                })
            }
        };
        rules::check_interface_name(&t.interface)?;
        if t.interface == model.uplink.interface
            || tiers
                .last()
                .is_some_and(|p| p.tier.interface == t.interface)
        {
            return Err(RenderError::DuplicateInterface {
                interface: t.interface.clone(),
            });
        }
        let host_ok = cidr.contains(&gw)
            && (cidr.prefix_len() >= 31 || (gw != cidr.network() && gw != cidr.broadcast()));
        if !host_ok {
            return Err(RenderError::GatewayOutsideTier {
                tier: t.name.clone(),
                gateway: t.gateway,
                cidr: t.cidr,
            });
        }
        let cidr = cidr.trunc();
        if !vpc_cidr.contains(&cidr) {
            return Err(RenderError::TierOutsideVpc {
                tier: t.name.clone(),
                cidr: t.cidr,
                vpc_cidr: model.vpc_cidr,
            });
        }
        if let Some(o) = tiers
            .iter()
            .find(|o| o.cidr.contains(&cidr) || cidr.contains(&o.cidr))
        {
            return Err(RenderError::TiersOverlap {
                a: o.tier.name.clone(),
                b: t.name.clone(),
            });
        }
        tiers.push(Tier4 { tier: t, cidr });
    }
    Ok(Checked {
        model,
        vpc_cidr,
        tiers,
    })
}

/// Renders `model` in `dialect`. Deterministic to the byte; tier order in the
/// model does not matter.
pub fn render(model: &RouterModel, dialect: Dialect) -> Result<RenderedConfig, RenderError> {
    let c = check(model)?;
    match dialect {
        Dialect::Frr => Ok(RenderedConfig::Frr {
            frr_conf: text::frr(&c),
        }),
        Dialect::Quagga => {
            if model.ospf.retransmit_interval < QUAGGA_RETRANSMIT_MIN {
                return Err(RenderError::UnsupportedByDialect {
                    dialect,
                    reason: "Quagga's ip ospf retransmit-interval range is 3..=65535",
                });
            }
            let (zebra_conf, ospfd_conf) = text::quagga(&c);
            Ok(RenderedConfig::Quagga {
                zebra_conf,
                ospfd_conf,
            })
        }
    }
}
