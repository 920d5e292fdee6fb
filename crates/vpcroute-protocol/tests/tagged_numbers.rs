//! Internally tagged events with numeric fields must survive a round trip
//! through text and through `serde_json::Value` (the workspace enables
//! serde_json's `arbitrary_precision` for u128 counts, which is known to
//! interfere with buffered, tagged deserialisation).

use vpcroute_protocol::areas::{AreaEvent, AreaId, OspfAuth, OspfSettings, Secret};

#[test]
fn tagged_events_with_numbers_round_trip() {
    let events = vec![
        AreaEvent::AreaAssigned {
            vpc: "v".into(),
            zone: "z".into(),
            area_id: AreaId(7),
            ipam_seq: 42,
        },
        AreaEvent::ZoneOspfSet {
            zone: "z".into(),
            settings: OspfSettings {
                auth: OspfAuth::Md5 {
                    key_id: 3,
                    key: Secret::new("k"),
                },
                ..OspfSettings::default()
            },
        },
    ];
    for ev in events {
        let text = serde_json::to_string(&ev).unwrap();
        let back: AreaEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ev);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let back: AreaEvent = serde_json::from_value(value).unwrap();
        assert_eq!(back, ev);
    }
}

#[test]
fn auth_none_refuses_extra_fields() {
    use vpcroute_protocol::areas::AuthRequest;
    let ok: AuthRequest = serde_json::from_str(r#"{"type":"none"}"#).unwrap();
    assert_eq!(ok, AuthRequest::None {});
    assert_eq!(serde_json::to_string(&ok).unwrap(), r#"{"type":"none"}"#);
    assert!(serde_json::from_str::<AuthRequest>(r#"{"type":"none","key":"x"}"#).is_err());
}
