//! The simulated cloud: what CloudStack's list calls return, field by field
//! as its `*Response` classes name them. Ids are UUID strings. `None` fields
//! are left out of the JSON, as Gson leaves out nulls.

use serde::Serialize;

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// One API key pair of a user allowed to call the API.
#[derive(Clone, Debug)]
pub struct KeyPair {
    pub api_key: String,
    pub secret_key: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimZone {
    pub id: String,
    pub name: String,
    pub networktype: String,
    pub allocationstate: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimVpcOffering {
    pub id: String,
    pub name: String,
    /// `ROUTED` or `NATTED` (4.20).
    pub networkmode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routingmode: Option<String>,
    pub state: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimVpc {
    pub id: String,
    pub name: String,
    pub zoneid: String,
    pub cidr: String,
    pub vpcofferingid: String,
    pub state: String,
    pub redundantvpcrouter: bool,
    /// Fields vpcroute does not read, as a real answer has them.
    pub account: String,
    pub domainid: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimNetwork {
    pub id: String,
    pub name: String,
    pub zoneid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpcid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netmask: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aclid: Option<String>,
    pub traffictype: String,
    #[serde(rename = "type")]
    pub network_type: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimNic {
    pub id: String,
    pub networkid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipaddress: Option<String>,
    pub macaddress: String,
    pub isdefault: bool,
    /// listNics answers carry the VM id; listVirtualMachines' nic entries do not.
    #[serde(skip)]
    pub virtualmachineid: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimVm {
    pub id: String,
    pub name: String,
    pub zoneid: String,
    pub state: String,
    pub nic: Vec<SimNic>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimAclList {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpcid: Option<String>,
}

/// NetworkACLItemResponse: ports are strings, `cidrlist` one
/// comma-separated string.
#[derive(Clone, Debug, Serialize)]
pub struct SimAclItem {
    pub id: String,
    pub aclid: String,
    pub number: u32,
    pub cidrlist: String,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmptype: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmpcode: Option<i32>,
    /// `Ingress` or `Egress`.
    pub traffictype: String,
    /// `Allow` or `Deny`.
    pub action: String,
    pub state: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimRouterNic {
    pub id: String,
    pub networkid: String,
    /// `Control`, `Public` or `Guest`.
    pub traffictype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipaddress: Option<String>,
    pub macaddress: String,
    pub isdefault: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimRouter {
    pub id: String,
    pub name: String,
    pub zoneid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpcid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linklocalip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostid: Option<String>,
    pub state: String,
    pub redundantstate: String,
    pub isredundantrouter: bool,
    pub nic: Vec<SimRouterNic>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimHost {
    pub id: String,
    pub name: String,
    pub ipaddress: String,
    pub zoneid: String,
    #[serde(rename = "type")]
    pub host_type: String,
    pub state: String,
}

/// Everything the simulated management server knows.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub keypairs: Vec<KeyPair>,
    pub zones: Vec<SimZone>,
    pub vpc_offerings: Vec<SimVpcOffering>,
    pub vpcs: Vec<SimVpc>,
    pub networks: Vec<SimNetwork>,
    pub vms: Vec<SimVm>,
    pub acl_lists: Vec<SimAclList>,
    pub acl_items: Vec<SimAclItem>,
    pub routers: Vec<SimRouter>,
    pub hosts: Vec<SimHost>,
}

impl Model {
    /// A model with one key pair.
    pub fn with_keypair(api_key: &str, secret_key: &str) -> Self {
        Self {
            keypairs: vec![KeyPair {
                api_key: api_key.into(),
                secret_key: secret_key.into(),
            }],
            ..Self::default()
        }
    }

    pub fn secret_of(&self, api_key: &str) -> Option<String> {
        self.keypairs
            .iter()
            .find(|k| k.api_key == api_key)
            .map(|k| k.secret_key.clone())
    }
}

/// A CloudStack-style guest NIC MAC (`02:00:` + 4 bytes).
pub fn guest_mac(n: u32) -> String {
    let b = n.to_be_bytes();
    format!("02:00:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}
