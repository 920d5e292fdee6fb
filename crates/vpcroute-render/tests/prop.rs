//! Any valid model renders, in both dialects, deterministically.

mod common;

use proptest::prelude::*;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use vpcroute_render::*;

fn auth() -> impl Strategy<Value = OspfAuth> {
    prop_oneof![
        Just(OspfAuth::None),
        // Printable ASCII but '!' (0x21), '#' (0x23) and '?' (0x3f).
        "[\\x22\\x24-\\x3e\\x40-\\x7e]{1,8}".prop_map(|k| OspfAuth::Plaintext {
            key: Secret::new(k)
        }),
        (1u8..=255, "[\\x22\\x24-\\x3e\\x40-\\x7e]{1,16}").prop_map(|(id, k)| OspfAuth::Md5 {
            key_id: id,
            key: Secret::new(k)
        }),
    ]
}

fn settings() -> impl Strategy<Value = OspfSettings> {
    (1u16..=65534, 1u16..=65535, 1u16..=65535, auth()).prop_flat_map(|(hello, rx, td, auth)| {
        (u32::from(hello) + 1..=65535).prop_map(move |dead| OspfSettings {
            backbone: AreaId(0),
            hello_interval: hello,
            dead_interval: dead,
            retransmit_interval: rx,
            transmit_delay: td,
            auth: auth.clone(),
        })
    })
}

fn model() -> impl Strategy<Value = RouterModel> {
    (
        "[a-z][a-z0-9-]{0,20}",
        1u32..u32::MAX,
        1u32..=u32::MAX,
        settings(),
        0u8..=255,
        2u8..=254,
        prop::collection::btree_set(0u8..=255, 0..10),
        ".{0,12}",
    )
        .prop_flat_map(|(host, rid, area, ospf, x, up_host, octets, tname)| {
            let octets: Vec<u8> = octets
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let tiers: Vec<TierInterface> = octets
                .iter()
                .enumerate()
                .map(|(i, o)| TierInterface {
                    name: format!("{tname}{i}"),
                    interface: format!("eth{}", i + 2),
                    gateway: Ipv4Addr::new(10, x, *o, 1).into(),
                    cidr: format!("10.{x}.{o}.0/24").parse().unwrap(),
                })
                .collect();
            let m = RouterModel {
                hostname: host,
                router_id: Ipv4Addr::from(rid),
                uplink: Uplink {
                    interface: "eth1".into(),
                    address: format!("192.168.100.{up_host}/24").parse().unwrap(),
                },
                ospf,
                area: AreaId(area),
                vpc_cidr: format!("10.{x}.0.0/16").parse().unwrap(),
                tiers: vec![],
                md5_rotation: None,
            };
            Just(tiers).prop_shuffle().prop_map(move |t| RouterModel {
                tiers: t,
                ..m.clone()
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_models_render_deterministically(m in model()) {
        validate_model(&m).unwrap();
        for d in [Dialect::Frr, Dialect::Quagga] {
            let r = match render(&m, d) {
                Ok(r) => r,
                Err(e) => {
                    // The only dialect-specific refusal.
                    prop_assert_eq!(d, Dialect::Quagga);
                    prop_assert!(m.ospf.retransmit_interval < QUAGGA_RETRANSMIT_MIN);
                    prop_assert_eq!(e.code(), "render.unsupported_by_dialect");
                    continue;
                }
            };
            prop_assert_eq!(&render(&m, d).unwrap(), &r);
            let mut rev = m.clone();
            rev.tiers.reverse();
            let r2 = render(&rev, d).unwrap();
            prop_assert_eq!(&r2, &r);
            prop_assert_eq!(r2.fingerprint(), r.fingerprint());
            let all: String = r.files().iter().map(|(_, t)| *t).collect();
            // Every tier is present and passive; one summary for the VPC.
            for t in &m.tiers {
                match d {
                    Dialect::Frr => {
                        let block = format!(
                            "interface {}\n description vpcroute tier ", t.interface);
                        prop_assert!(all.contains(&block));
                    }
                    Dialect::Quagga => {
                        let p = format!(" passive-interface {}\n", t.interface);
                        prop_assert!(all.contains(&p));
                    }
                }
            }
            if d == Dialect::Frr {
                prop_assert_eq!(all.matches(" ip ospf passive\n").count(), m.tiers.len());
            }
            let range = format!(" area {} range {}\n", m.area, m.vpc_cidr);
            prop_assert_eq!(all.matches(&range).count(), 1);
            // Output is ASCII lines; no stray blank lines or CR.
            prop_assert!(all.is_ascii());
            prop_assert!(!all.contains('\r'));
            prop_assert!(!all.contains("\n\n"));
            let dbg = format!("{:?}", r);
            prop_assert!(!dbg.contains("ip ospf"));
        }
    }

    #[test]
    fn settings_errors_never_contain_key(k in "[\\PC\\s]{0,30}", id in any::<u8>(), plain in any::<bool>()) {
        let key = format!("Zq9{k}");
        let auth = if plain {
            OspfAuth::Plaintext { key: Secret::new(key.clone()) }
        } else {
            OspfAuth::Md5 { key_id: id, key: Secret::new(key.clone()) }
        };
        let s = OspfSettings { auth, ..OspfSettings::default() };
        let dbg = format!("{:?}", s);
        prop_assert!(!dbg.contains(&key));
        if let Err(e) = validate_settings(&s) {
            let (msg, dbg) = (e.to_string(), format!("{:?}", e));
            prop_assert!(!msg.contains(&key));
            prop_assert!(!dbg.contains(&key));
        }
    }
}
