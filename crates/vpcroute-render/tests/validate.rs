//! validate_settings boundaries, model errors, and secret hygiene.

mod common;

use common::*;
use vpcroute_render::*;

fn settings(hello: u16, dead: u32, rxmt: u16, delay: u16) -> OspfSettings {
    OspfSettings {
        hello_interval: hello,
        dead_interval: dead,
        retransmit_interval: rxmt,
        transmit_delay: delay,
        ..OspfSettings::default()
    }
}

fn with_auth(auth: OspfAuth) -> OspfSettings {
    OspfSettings {
        auth,
        ..OspfSettings::default()
    }
}

fn md5k(id: u8, k: &str) -> OspfAuth {
    OspfAuth::Md5 {
        key_id: id,
        key: Secret::new(k),
    }
}

fn plaink(k: &str) -> OspfAuth {
    OspfAuth::Plaintext {
        key: Secret::new(k),
    }
}

fn code(r: Result<(), SettingsError>) -> &'static str {
    r.unwrap_err().code()
}

#[test]
fn defaults_are_valid() {
    validate_settings(&OspfSettings::default()).unwrap();
}

#[test]
fn hello_boundaries() {
    assert_eq!(
        code(validate_settings(&settings(0, 40, 5, 1))),
        "settings.hello_interval_out_of_range"
    );
    validate_settings(&settings(1, 2, 5, 1)).unwrap();
    validate_settings(&settings(65534, 65535, 5, 1)).unwrap();
    // 65535 is in range, but no dead-interval can then exceed it.
    assert_eq!(
        validate_settings(&settings(65535, 65535, 5, 1)),
        Err(SettingsError::DeadNotGreaterThanHello {
            hello: 65535,
            dead: 65535
        })
    );
}

#[test]
fn dead_boundaries() {
    assert_eq!(
        code(validate_settings(&settings(10, 0, 5, 1))),
        "settings.dead_interval_out_of_range"
    );
    validate_settings(&settings(10, 65535, 5, 1)).unwrap();
    assert_eq!(
        validate_settings(&settings(10, 65536, 5, 1)),
        Err(SettingsError::DeadIntervalOutOfRange { value: 65536 })
    );
    assert_eq!(
        code(validate_settings(&settings(10, 10, 5, 1))),
        "settings.dead_not_greater_than_hello"
    );
    assert_eq!(
        code(validate_settings(&settings(10, 9, 5, 1))),
        "settings.dead_not_greater_than_hello"
    );
    validate_settings(&settings(10, 11, 5, 1)).unwrap();
}

#[test]
fn retransmit_boundaries_follow_frr_8_4() {
    // FRR 8.4: `ip ospf retransmit-interval (1-65535)` (checked with vtysh --dryrun).
    assert_eq!(
        validate_settings(&settings(10, 40, 0, 1)),
        Err(SettingsError::RetransmitIntervalOutOfRange { value: 0 })
    );
    validate_settings(&settings(10, 40, 1, 1)).unwrap();
    validate_settings(&settings(10, 40, 65535, 1)).unwrap();
}

#[test]
fn transmit_delay_boundaries() {
    assert_eq!(
        code(validate_settings(&settings(10, 40, 5, 0))),
        "settings.transmit_delay_out_of_range"
    );
    validate_settings(&settings(10, 40, 5, 1)).unwrap();
    validate_settings(&settings(10, 40, 5, 65535)).unwrap();
}

#[test]
fn key_boundaries() {
    validate_settings(&with_auth(md5k(1, "a"))).unwrap();
    validate_settings(&with_auth(md5k(255, "0123456789abcdef"))).unwrap();
    assert_eq!(
        validate_settings(&with_auth(md5k(1, "0123456789abcdefg"))),
        Err(SettingsError::KeyTooLong {
            kind: KeyKind::Md5,
            max: 16
        })
    );
    assert_eq!(
        validate_settings(&with_auth(md5k(0, "abc"))),
        Err(SettingsError::KeyIdOutOfRange { key_id: 0 })
    );
    validate_settings(&with_auth(plaink("12345678"))).unwrap();
    assert_eq!(
        validate_settings(&with_auth(plaink("123456789"))),
        Err(SettingsError::KeyTooLong {
            kind: KeyKind::Plaintext,
            max: 8
        })
    );
    assert_eq!(
        code(validate_settings(&with_auth(plaink("")))),
        "settings.key_empty"
    );
    assert_eq!(
        code(validate_settings(&with_auth(md5k(1, "")))),
        "settings.key_empty"
    );
    for bad in ["a b", "a\tb", "ab\n", "caf\u{e9}", "\u{7f}x", "x\u{0}"] {
        assert_eq!(
            validate_settings(&with_auth(md5k(1, bad))),
            Err(SettingsError::KeyInvalidCharacter { kind: KeyKind::Md5 }),
            "{bad:?}"
        );
        assert_eq!(
            code(validate_settings(&with_auth(plaink(bad)))),
            "settings.key_invalid_character"
        );
    }
    // Issue 11: '?' is read by vtysh's readline as a help request, '!' and
    // '#' start FRR comments: refused, wherever they are in the key.
    for bad in ["ab?c", "?", "ab!c", "#abc", "abc#"] {
        assert_eq!(
            validate_settings(&with_auth(md5k(1, bad))),
            Err(SettingsError::KeyInvalidCharacter { kind: KeyKind::Md5 }),
            "{bad:?}"
        );
    }
    // Every other printable non-space ASCII character is allowed.
    validate_settings(&with_auth(md5k(1, "~\"'`\\{}[];&|$%^*"))).unwrap();
    validate_settings(&with_auth(md5k(1, "()+,-./:<=>@_aZ9"))).unwrap();
    // A 16-character key made of multi-byte characters is rejected as invalid, not "too long".
    assert_eq!(
        code(validate_settings(&with_auth(md5k(
            1,
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"
        )))),
        "settings.key_invalid_character"
    );
}

#[test]
fn the_backbone_is_area_0() {
    let s = OspfSettings {
        backbone: AreaId(5),
        ..OspfSettings::default()
    };
    let e = validate_settings(&s).unwrap_err();
    assert_eq!(e.code(), "settings.backbone_not_zero");
    assert!(e.to_string().contains("backbone area 0.0.0.5"), "{e}");
    validate_settings(&OspfSettings::default()).unwrap();
}

fn render_err(m: &RouterModel) -> RenderError {
    render(m, Dialect::Frr).unwrap_err()
}

#[test]
fn model_errors() {
    let base = sample(md5());
    validate_model(&base).unwrap();

    let mut m = base.clone();
    m.tiers.push(tier("v6", "eth9", "fd00::1", "fd00::/64"));
    let e = render_err(&m);
    assert_eq!(e.code(), "render.ipv6_not_supported");
    assert!(
        matches!(e, RenderError::Ipv6NotSupported { ref field, .. } if field == "tiers[eth9].cidr")
    );

    let mut m = base.clone();
    m.tiers.push(tier("v6gw", "eth9", "fd00::1", "10.5.9.0/24"));
    assert_eq!(render_err(&m).code(), "render.ipv6_not_supported");

    let mut m = base.clone();
    m.vpc_cidr = "fd00::/48".parse().unwrap();
    assert!(
        matches!(render_err(&m), RenderError::Ipv6NotSupported { ref field, .. } if field == "vpc_cidr")
    );

    let mut m = base.clone();
    m.area = AreaId(0);
    assert_eq!(render_err(&m).code(), "render.vpc_area_is_backbone");
    // A backbone other than 0 is refused before the area is compared with
    // it (issue 11: the backbone is area 0 by definition).
    let mut m = base.clone();
    m.ospf.backbone = AreaId(5);
    assert_eq!(render_err(&m).code(), "settings.backbone_not_zero");

    let mut m = base.clone();
    m.tiers.push(tier("dup", "eth2", "10.5.9.1", "10.5.9.0/24"));
    assert_eq!(
        render_err(&m),
        RenderError::DuplicateInterface {
            interface: "eth2".into()
        }
    );
    let mut m = base.clone();
    m.tiers.push(tier("dup", "eth1", "10.5.9.1", "10.5.9.0/24"));
    assert_eq!(render_err(&m).code(), "render.duplicate_interface");

    let mut m = base.clone();
    m.tiers.push(tier("out", "eth9", "10.6.0.1", "10.6.0.0/24"));
    assert_eq!(render_err(&m).code(), "render.tier_outside_vpc");
    let mut m = base.clone();
    m.tiers
        .push(tier("wide", "eth9", "10.5.0.1", "10.4.0.0/15"));
    assert_eq!(render_err(&m).code(), "render.tier_outside_vpc");

    for gw in ["10.5.8.1", "10.5.9.0", "10.5.9.255"] {
        let mut m = base.clone();
        m.tiers.push(tier("gw", "eth9", gw, "10.5.9.0/24"));
        assert_eq!(render_err(&m).code(), "render.gateway_outside_tier", "{gw}");
    }
    let mut m = base.clone();
    m.tiers.push(tier("p2p", "eth9", "10.5.9.0", "10.5.9.0/31"));
    validate_model(&m).unwrap();

    let mut m = base.clone();
    m.tiers
        .push(tier("over", "eth9", "10.5.1.130", "10.5.1.128/25"));
    assert_eq!(
        render_err(&m),
        RenderError::TiersOverlap {
            a: "web tier".into(),
            b: "over".into()
        }
    );

    let mut m = base.clone();
    m.uplink.address = "10.5.200.2/24".parse().unwrap();
    assert_eq!(render_err(&m).code(), "render.uplink_overlaps_vpc");
    let mut m = base.clone();
    m.uplink.address = "10.0.0.2/8".parse().unwrap();
    assert_eq!(render_err(&m).code(), "render.uplink_overlaps_vpc");

    for h in ["", "left vr", "vr\nrouter ospf", &"x".repeat(64)] {
        let mut m = base.clone();
        m.hostname = h.to_string();
        assert_eq!(render_err(&m).code(), "render.invalid_hostname", "{h:?}");
    }
    for i in ["", "eth 1", "eth1\n", "0123456789abcdef", "a/b"] {
        let mut m = base.clone();
        m.uplink.interface = i.to_string();
        assert_eq!(
            render_err(&m).code(),
            "render.invalid_interface_name",
            "{i:?}"
        );
        let mut m = base.clone();
        m.tiers[0].interface = i.to_string();
        assert_eq!(
            render_err(&m).code(),
            "render.invalid_interface_name",
            "{i:?}"
        );
    }
    for rid in ["0.0.0.0", "255.255.255.255"] {
        let mut m = base.clone();
        m.router_id = rid.parse().unwrap();
        assert_eq!(render_err(&m).code(), "render.invalid_router_id");
    }

    let mut m = base.clone();
    m.ospf.hello_interval = 0;
    let e = render_err(&m);
    assert_eq!(e.code(), "settings.hello_interval_out_of_range");
    assert!(matches!(e, RenderError::Settings(_)));
}

#[test]
fn quagga_retransmit_minimum() {
    let mut m = sample(OspfAuth::None);
    m.ospf.retransmit_interval = 2;
    render(&m, Dialect::Frr).unwrap();
    let e = render(&m, Dialect::Quagga).unwrap_err();
    assert_eq!(e.code(), "render.unsupported_by_dialect");
    m.ospf.retransmit_interval = 3;
    render(&m, Dialect::Quagga).unwrap();
}

#[test]
fn secrets_never_leak_through_debug_or_display() {
    for auth in [md5(), plain()] {
        let m = sample(auth);
        let dbg = format!("{m:?}");
        let pretty = format!("{m:#?}");
        for s in [&dbg, &pretty] {
            assert!(!s.contains(MD5_KEY) && !s.contains(PLAIN_KEY), "{s}");
            assert!(s.contains("***"));
        }
        for d in [Dialect::Frr, Dialect::Quagga] {
            let r = render(&m, d).unwrap();
            let s = format!("{r:?} {r:#?}");
            assert!(!s.contains(MD5_KEY) && !s.contains(PLAIN_KEY), "{s}");
        }
    }
    let s = Secret::new("hunter22");
    assert_eq!(format!("{s}"), "***");
    assert_eq!(format!("{s:?}"), "***");
    assert_eq!(s.expose(), "hunter22");
    assert_eq!(serde_json::to_string(&s).unwrap(), "\"hunter22\"");
    assert_eq!(serde_json::from_str::<Secret>("\"hunter22\"").unwrap(), s);
}

#[test]
fn error_messages_never_contain_the_key() {
    // Keys that are invalid in every way, each distinctive enough that a
    // substring match means a leak.
    let keys = [
        "Zq9-too-long-md5-key-xx",
        "Zq9 has space",
        "Zq9\u{e9}accent",
        "Zq9plain9",
        "Zq9",
    ];
    for k in keys {
        for auth in [
            md5k(1, k),
            md5k(0, k),
            plaink(k),
            OspfAuth::Plaintext {
                key: Secret::new(k),
            },
        ] {
            for base in [
                settings(10, 40, 5, 1),
                settings(0, 40, 5, 1),
                settings(10, 5, 5, 1),
            ] {
                let s = OspfSettings {
                    auth: auth.clone(),
                    ..base
                };
                if let Err(e) = validate_settings(&s) {
                    for text in [e.to_string(), format!("{e:?}"), format!("{e:#?}")] {
                        assert!(!text.contains(k), "leak: {text}");
                    }
                }
                let mut m = sample(OspfAuth::None);
                m.ospf = s.clone();
                for bad in 0..4 {
                    let mut m = m.clone();
                    match bad {
                        1 => m.area = AreaId(0),
                        2 => m.tiers.push(tier("v6", "eth9", "fd00::1", "fd00::/64")),
                        3 => m.ospf.retransmit_interval = 1,
                        _ => {}
                    }
                    for d in [Dialect::Frr, Dialect::Quagga] {
                        if let Err(e) = render(&m, d) {
                            for text in [e.to_string(), format!("{e:?}")] {
                                assert!(!text.contains(k), "leak: {text}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn error_codes_are_distinct() {
    let errs = [
        SettingsError::HelloIntervalOutOfRange { value: 0 }.code(),
        SettingsError::DeadIntervalOutOfRange { value: 0 }.code(),
        SettingsError::RetransmitIntervalOutOfRange { value: 0 }.code(),
        SettingsError::TransmitDelayOutOfRange { value: 0 }.code(),
        SettingsError::DeadNotGreaterThanHello { hello: 1, dead: 1 }.code(),
        SettingsError::KeyEmpty { kind: KeyKind::Md5 }.code(),
        SettingsError::KeyTooLong {
            kind: KeyKind::Md5,
            max: 16,
        }
        .code(),
        SettingsError::KeyInvalidCharacter { kind: KeyKind::Md5 }.code(),
        SettingsError::KeyIdOutOfRange { key_id: 0 }.code(),
    ];
    let mut sorted = errs.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), errs.len());
}
