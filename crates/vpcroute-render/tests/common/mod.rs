#![allow(dead_code)]

use vpcroute_render::*;

pub const MD5_KEY: &str = "s3cr3t-md5-Key%";
pub const PLAIN_KEY: &str = "pl41nK3y";

pub fn tier(name: &str, interface: &str, gateway: &str, cidr: &str) -> TierInterface {
    TierInterface {
        name: name.into(),
        interface: interface.into(),
        gateway: gateway.parse().unwrap(),
        cidr: cidr.parse().unwrap(),
    }
}

/// The small model the golden tests use: two tiers given out of order.
pub fn sample(auth: OspfAuth) -> RouterModel {
    RouterModel {
        hostname: "left-vr".into(),
        router_id: "10.255.0.5".parse().unwrap(),
        uplink: Uplink {
            interface: "eth1".into(),
            address: "192.168.100.2/24".parse().unwrap(),
        },
        ospf: OspfSettings {
            auth,
            ..OspfSettings::default()
        },
        area: AreaId(5),
        vpc_cidr: "10.5.0.0/16".parse().unwrap(),
        tiers: vec![
            tier("db", "eth3", "10.5.2.1", "10.5.2.0/24"),
            tier("web tier", "eth2", "10.5.1.1", "10.5.1.0/24"),
        ],
        md5_rotation: None,
    }
}

pub fn md5() -> OspfAuth {
    OspfAuth::Md5 {
        key_id: 7,
        key: Secret::new(MD5_KEY),
    }
}

pub fn plain() -> OspfAuth {
    OspfAuth::Plaintext {
        key: Secret::new(PLAIN_KEY),
    }
}
