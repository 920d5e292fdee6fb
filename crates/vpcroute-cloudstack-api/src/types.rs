//! CloudStack's list responses, as its `*Response` classes serialize them
//! (Gson: null fields left out, so everything optional is `Option`; fields
//! this crate does not name are ignored). Ids are the UUIDs CloudStack shows
//! through the API. Values with a fixed set are enums with an `Other` arm,
//! so a value a newer CloudStack adds is carried, not a decode failure.

use serde::{Deserialize, Deserializer};
use uuid::Uuid;

/// A number CloudStack serializes as a JSON string (`"startport": "22"` in
/// NetworkACLItemResponse) or a number.
fn opt_num_or_string<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr + TryFrom<i64>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(i64),
        Str(String),
    }
    let bad = |what: &dyn std::fmt::Display| {
        serde::de::Error::custom(format!("not a port/code number: {what}"))
    };
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Num(n)) => T::try_from(n).map(Some).map_err(|_| bad(&n)),
        Some(Raw::Str(s)) if s.is_empty() => Ok(None),
        Some(Raw::Str(s)) => s.trim().parse().map(Some).map_err(|_| bad(&s)),
    }
}

/// `cidrlist` is one comma-separated string in NetworkACLItemResponse.
fn cidr_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Zone {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub networktype: Option<String>,
}

/// `networkmode` of a VPC offering (4.20): only ROUTED VPCs are routed by
/// vpcroute; NATTED ones source-NAT everything leaving the VR.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub enum NetworkMode {
    #[serde(rename = "ROUTED")]
    Routed,
    #[serde(rename = "NATTED")]
    Natted,
    #[serde(other)]
    Other,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct VpcOffering {
    pub id: Uuid,
    pub name: String,
    /// Absent before 4.20, where every VPC was NATTED.
    #[serde(default)]
    pub networkmode: Option<NetworkMode>,
    #[serde(default)]
    pub routingmode: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Vpc {
    pub id: Uuid,
    pub name: String,
    pub zoneid: Uuid,
    pub cidr: String,
    pub vpcofferingid: Uuid,
    #[serde(default)]
    pub state: Option<String>,
    /// Redundant VPCs (two VRs) are reported as unsupported.
    #[serde(default)]
    pub redundantvpcrouter: bool,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Network {
    pub id: Uuid,
    pub name: String,
    pub zoneid: Uuid,
    #[serde(default)]
    pub vpcid: Option<Uuid>,
    #[serde(default)]
    pub cidr: Option<String>,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub netmask: Option<String>,
    #[serde(default)]
    pub aclid: Option<Uuid>,
}

/// A NIC as listNics and listVirtualMachines' `nic` entries give it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Nic {
    pub id: Uuid,
    pub networkid: Uuid,
    #[serde(default)]
    pub ipaddress: Option<String>,
    #[serde(default)]
    pub macaddress: Option<String>,
    #[serde(default)]
    pub isdefault: bool,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct VirtualMachine {
    pub id: Uuid,
    pub name: String,
    pub zoneid: Uuid,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub nic: Vec<Nic>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct NetworkAclList {
    pub id: Uuid,
    pub name: String,
    /// Absent for the global default lists (`default_allow`, `default_deny`).
    #[serde(default)]
    pub vpcid: Option<Uuid>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum AclTrafficType {
    Ingress,
    Egress,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum AclAction {
    Allow,
    Deny,
}

/// One rule of a network ACL list (NetworkACLItemResponse).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct NetworkAcl {
    pub id: Uuid,
    pub aclid: Uuid,
    pub number: u32,
    #[serde(default, deserialize_with = "cidr_list")]
    pub cidrlist: Vec<String>,
    /// `tcp`, `udp`, `icmp`, `all` or a protocol number, as CloudStack keeps it.
    pub protocol: String,
    #[serde(default, deserialize_with = "opt_num_or_string")]
    pub startport: Option<u16>,
    #[serde(default, deserialize_with = "opt_num_or_string")]
    pub endport: Option<u16>,
    #[serde(default, deserialize_with = "opt_num_or_string")]
    pub icmptype: Option<i32>,
    #[serde(default, deserialize_with = "opt_num_or_string")]
    pub icmpcode: Option<i32>,
    pub traffictype: AclTrafficType,
    pub action: AclAction,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub enum RouterState {
    Starting,
    Running,
    Stopping,
    Stopped,
    Migrating,
    Error,
    Destroyed,
    Expunging,
    Unknown,
    #[serde(other)]
    Other,
}

/// `redundantstate` of a VR (VirtualRouter.RedundantState).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub enum RedundantState {
    #[serde(rename = "UNKNOWN")]
    Unknown,
    #[serde(rename = "PRIMARY", alias = "MASTER")]
    Primary,
    #[serde(rename = "BACKUP")]
    Backup,
    #[serde(rename = "FAULT")]
    Fault,
    #[serde(other)]
    Other,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub enum NicTrafficType {
    Guest,
    Public,
    Control,
    Management,
    Storage,
    #[serde(other)]
    Other,
}

/// A VR's NIC: listRouters gives MAC, IP, network and traffic type, but not
/// always a device id, so tiers are mapped to interfaces by MAC.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct RouterNic {
    pub id: Uuid,
    pub networkid: Uuid,
    pub traffictype: NicTrafficType,
    #[serde(default)]
    pub ipaddress: Option<String>,
    #[serde(default)]
    pub macaddress: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Router {
    pub id: Uuid,
    pub name: String,
    pub zoneid: Uuid,
    #[serde(default)]
    pub vpcid: Option<Uuid>,
    #[serde(default)]
    pub linklocalip: Option<String>,
    /// Absent while the VR is stopped.
    #[serde(default)]
    pub hostid: Option<Uuid>,
    pub state: RouterState,
    #[serde(default)]
    pub redundantstate: Option<RedundantState>,
    #[serde(default)]
    pub isredundantrouter: bool,
    #[serde(default)]
    pub nic: Vec<RouterNic>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Host {
    pub id: Uuid,
    pub name: String,
    /// The hypervisor host's management address: the ssh jump host of its VRs.
    pub ipaddress: String,
    #[serde(default)]
    pub zoneid: Option<Uuid>,
    #[serde(default, rename = "type")]
    pub host_type: Option<String>,
}
