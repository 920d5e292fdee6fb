//! How vpcctl prints: JSON for programs (`--json`), aligned text for people.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;
use vpcroute_protocol::acl::{AclView, Traffic};
use vpcroute_protocol::areas::{AreaId, ZoneOspfView};
use vpcroute_protocol::config::{ConfigText, KeyRotationPhase, KeyRotationView, RouterConfig};
use vpcroute_protocol::ipam::{Usage, VpcView, ZoneRecord, ZoneView};
use vpcroute_protocol::{ErrorBody, ErrorCode};

use crate::Output;

pub fn print_ok(out: &Output, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(&out.json).expect("json"));
    } else {
        println!("{}", out.human.trim_end());
    }
}

/// Failures go to stdout as JSON with `--json` (so a caller parses one
/// stream), to stderr as text otherwise.
pub fn print_err(e: &ErrorBody, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "error": e })).expect("json")
        );
    } else {
        eprintln!("vpcctl: error: {} ({})", e.message, e.code);
    }
}

pub fn record<T: Serialize>(r: &T, human: String) -> Output {
    Output {
        json: serde_json::to_value(r).expect("json"),
        human,
    }
}

pub fn zone_record(r: &ZoneRecord, ospf: Option<&ZoneOspfView>) -> Output {
    let cidrs: Vec<String> = r.super_cidrs.iter().map(|c| c.to_string()).collect();
    let mut out = record(
        r,
        format!("zone {} super-CIDRs {}", r.zone, cidrs.join(", ")),
    );
    if let Some(o) = ospf {
        out.json["ospf"] = serde_json::to_value(o).expect("json");
        out.human.push('\n');
        out.human.push_str(&ospf_line(o));
    }
    out
}

fn ospf_line(o: &ZoneOspfView) -> String {
    let key = o.key_id.map(|k| format!(" key id {k}")).unwrap_or_default();
    format!(
        "  OSPF: backbone {}, hello {}s, dead {}s, retransmit {}s, transmit delay {}s, auth {}{key} (revision {})",
        o.backbone, o.hello_interval, o.dead_interval, o.retransmit_interval, o.transmit_delay, o.auth, o.revision
    )
}

/// What an operator of an unmanaged router (the core) needs: which key
/// ids to have configured and which one to sign with now.
fn rotation_line(r: &KeyRotationView) -> String {
    let (phase, core) = match r.phase {
        KeyRotationPhase::AddNew => (
            "1/3 add_new",
            "unmanaged routers: have the new key, still signing with the old one",
        ),
        KeyRotationPhase::SendNew => (
            "2/3 send_new",
            "unmanaged routers: sign with the new key now; remove the old one once no rotation is shown",
        ),
    };
    let waiting = if r.waiting_for.is_empty() {
        "nobody".to_string()
    } else {
        r.waiting_for.join(", ")
    };
    let until = r
        .old_key_kept_until_ms
        .map(|ms| format!("; old key kept at least until {ms} ms since the epoch"))
        .unwrap_or_default();
    format!(
        "  MD5 key rotation {phase}: key id {} -> {}, routers sign with {}; waiting for {waiting}{until} ({core})",
        r.old_key_id, r.new_key_id, r.sending_key_id
    )
}

fn usage_line(u: &Usage) -> String {
    let pct = if u.total == 0 {
        0.0
    } else {
        u.used as f64 * 100.0 / u.total as f64
    };
    let largest = u
        .largest_free
        .map(|n| format!(", largest free block {n}"))
        .unwrap_or_default();
    format!(
        "{} of {} addresses used ({pct:.1}%){largest}",
        u.used, u.total
    )
}

fn write_vpc(s: &mut String, v: &VpcView, area: Option<AreaId>) {
    let area = area.map(|a| format!(" area {a}")).unwrap_or_default();
    let _ = writeln!(
        s,
        "  vpc {} {}{area}  [{}]",
        v.vpc,
        v.cidr,
        usage_line(&v.usage)
    );
    if let Some(r) = &v.router {
        let _ = writeln!(
            s,
            "    router {} id {} uplink {} {}",
            r.name, r.router_id, r.uplink_interface, r.uplink_address
        );
    }
    if !v.acls.is_empty() {
        let _ = writeln!(s, "    acl lists: {}", v.acls.join(", "));
    }
    for t in &v.tiers {
        let iface = t
            .interface
            .as_deref()
            .map(|i| format!(" on {i}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "    tier {} {} gateway {}{iface} acl {}  [{}]",
            t.tier,
            t.cidr,
            t.gateway,
            t.acl.as_deref().unwrap_or(vpcroute_protocol::acl::NO_LIST),
            usage_line(&t.usage)
        );
        for vm in &t.vms {
            let _ = writeln!(s, "      vm {} {}", vm.vm, vm.ip);
        }
    }
}

/// `show zone`: ipam's view, the OSPF settings, and the MD5 key rotation
/// in progress (`key_rotation` in JSON; absent when none).
pub fn zone_view(
    z: &ZoneView,
    ospf: Option<&ZoneOspfView>,
    rotation: Option<&KeyRotationView>,
) -> Output {
    let mut s = String::new();
    let cidrs: Vec<String> = z.super_cidrs.iter().map(|c| c.to_string()).collect();
    let _ = writeln!(s, "zone {}  super-CIDRs {}", z.zone, cidrs.join(", "));
    if let Some(o) = ospf {
        let _ = writeln!(s, "{}", ospf_line(o));
    }
    if let Some(r) = rotation {
        let _ = writeln!(s, "{}", rotation_line(r));
    }
    let area_of =
        |vpc: &str| ospf.and_then(|o| o.areas.iter().find(|a| a.vpc == vpc).map(|a| a.area_id));
    if z.usage_ipv4.total > 0 {
        let _ = writeln!(s, "  IPv4: {}", usage_line(&z.usage_ipv4));
    }
    if z.usage_ipv6.total > 0 {
        let _ = writeln!(s, "  IPv6: {}", usage_line(&z.usage_ipv6));
    }
    for v in &z.vpcs {
        write_vpc(&mut s, v, area_of(&v.vpc));
    }
    let mut out = record(z, s);
    if let Some(r) = rotation {
        out.json["key_rotation"] = serde_json::to_value(r).expect("json");
    }
    if let Some(o) = ospf {
        out.json["ospf"] = serde_json::to_value(o).expect("json");
        if let Some(vpcs) = out.json["vpcs"].as_array_mut() {
            for v in vpcs {
                let area = v["vpc"].as_str().and_then(area_of);
                v["area_id"] = serde_json::to_value(area).expect("json");
            }
        }
    }
    out
}

/// `show vpc`: the ipam view plus `area_id` (null while the area registry
/// has not assigned one, or does not answer).
pub fn vpc_view(v: &VpcView, area: Option<AreaId>) -> Output {
    let mut s = String::new();
    write_vpc(&mut s, v, area);
    let mut out = record(v, s);
    out.json["area_id"] = serde_json::to_value(area).expect("json");
    out
}

/// A list as a table, one line per rule in evaluation order, then the
/// defaults that apply after the last rule.
pub fn acl_view(v: &AclView) -> Output {
    let mut s = format!("acl {} (vpc {})\n", v.acl, v.vpc);
    let _ = writeln!(
        s,
        "  {:>6}  {:<8} {:<6} {:<5} {:<11} cidrs",
        "number", "traffic", "action", "proto", "ports/icmp"
    );
    for r in &v.rules {
        let detail = match (r.ports, r.icmp_type, r.icmp_code) {
            (Some(p), _, _) => p.to_string(),
            (None, Some(t), Some(c)) => format!("type {t}/{c}"),
            (None, Some(t), None) => format!("type {t}"),
            _ => "-".to_string(),
        };
        let cidrs: Vec<String> = r.cidrs.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            s,
            "  {:>6}  {:<8} {:<6} {:<5} {:<11} {}",
            r.number,
            format!("{:?}", r.traffic).to_lowercase(),
            format!("{:?}", r.action).to_lowercase(),
            r.protocol.to_string(),
            detail,
            cidrs.join(",")
        );
    }
    let has_egress = v.rules.iter().any(|r| r.traffic == Traffic::Egress);
    let _ = writeln!(
        s,
        "  then: ingress deny, egress {}",
        if has_egress { "deny" } else { "allow" }
    );
    if !v.tiers.is_empty() {
        let _ = writeln!(s, "  tiers: {}", v.tiers.join(", "));
    }
    record(v, s)
}

pub fn router_config(c: &RouterConfig, firewall: bool) -> Output {
    if firewall {
        return record(c, c.firewall.file.clone());
    }
    let human = match &c.config {
        ConfigText::Frr(text) => text.clone(),
        ConfigText::Quagga { zebra, ospfd } => {
            format!("! ---- zebra.conf ----\n{zebra}\n! ---- ospfd.conf ----\n{ospfd}")
        }
    };
    record(c, human)
}

/// `vpcctl log verify`: every `*.sqlite` log in the directory.
pub fn verify_logs(dir: &Path) -> Result<Output, ErrorBody> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| {
            ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!("cannot read {}: {e}", dir.display()),
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("no event log (*.sqlite) in {}", dir.display()),
        ));
    }
    let mut report = Vec::new();
    let mut human = String::new();
    for f in files {
        match vpcroute_eventlog::verify_file(&f) {
            Ok(r) => {
                let _ = writeln!(
                    human,
                    "{}: ok, {} events, head {}",
                    f.display(),
                    r.events_checked,
                    r.head
                );
                report.push(serde_json::json!({
                    "file": f.display().to_string(), "ok": true,
                    "events": r.events_checked, "head": r.head,
                }));
            }
            Err(vpcroute_eventlog::Error::Corrupt { seq, reason }) => {
                return Err(ErrorBody::new(
                    ErrorCode::CorruptLog,
                    format!("{}: event {seq} {reason}", f.display()),
                ))
            }
            Err(e) => {
                return Err(ErrorBody::new(
                    ErrorCode::CorruptLog,
                    format!("{}: {e}", f.display()),
                ))
            }
        }
    }
    Ok(Output {
        json: serde_json::json!({ "logs": report }),
        human,
    })
}

pub fn router_status(st: &vpcroute_protocol::sync::RouterStatus) -> Output {
    let v = |x: Option<u64>| x.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    let mut s = format!(
        "router {}: {}{}  desired version {}, applied {}, firewall {}\n  applies {}, repairs {}, failures {}; {} OSPF routes\n",
        st.router,
        st.state,
        st.error_code.map(|c| format!(" ({c})")).unwrap_or_default(),
        v(st.desired_version),
        v(st.applied_version),
        st.firewall_version
            .map(|n| n.to_string())
            .unwrap_or_else(|| "not managed".into()),
        st.applies,
        st.repairs,
        st.failures,
        st.ospf_routes
    );
    if !st.waiting_for.is_empty() {
        let _ = writeln!(s, "  waiting for: {}", st.waiting_for.join(", "));
    }
    if let Some(e) = &st.last_error {
        let _ = writeln!(s, "  last error: {e}");
    }
    for n in &st.neighbors {
        let _ = writeln!(
            s,
            "  neighbour {} {} {}",
            n.router_id,
            n.state,
            n.interface.as_deref().unwrap_or("")
        );
    }
    record(st, s)
}
