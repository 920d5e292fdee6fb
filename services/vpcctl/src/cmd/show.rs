//! `vpcctl show`: read-only views. A zone and a VPC are shown as ipam
//! holds them, with what the area registry and the config-renderer add.

use std::fmt::Write;

use clap::Subcommand;
use vpcroute_bus::subjects;
use vpcroute_protocol::areas::{AreaId, VpcArea, ZoneOspfView};
use vpcroute_protocol::config::{self, KeyRotationPhase, KeyRotationView};
use vpcroute_protocol::ipam::{Show, Usage, VmShow, VmView, VpcView, ZoneView};
use vpcroute_protocol::ErrorBody;

use crate::output::{record, Output};
use crate::Ctx;

#[derive(Debug, Subcommand)]
pub enum ShowCmd {
    /// A zone: super-CIDRs, VPCs, tiers, VMs, utilisation.
    Zone { zone: String },
    /// One VPC with its tiers and VMs.
    Vpc { vpc: String },
    /// One VM: its address, tier, VPC and zone.
    Vm { vm: String },
    /// A network ACL list (same as `acl show`).
    Acl { acl: String },
}

impl ShowCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<Output, ErrorBody> {
        match self {
            ShowCmd::Zone { zone } => show_zone(ctx, zone).await,
            ShowCmd::Vpc { vpc } => {
                let v: VpcView = ctx
                    .call(subjects::ipam::VPC_SHOW, &Show { name: vpc.clone() })
                    .await?;
                let area: Option<VpcArea> = ctx
                    .call(subjects::areas::VPC_SHOW, &Show { name: vpc })
                    .await
                    .ok();
                Ok(vpc_view(&v, area.map(|a| a.area_id)))
            }
            ShowCmd::Vm { vm } => {
                let v: VmView = ctx.call(subjects::ipam::VM_SHOW, &VmShow { vm }).await?;
                Ok(vm_view(&v))
            }
            ShowCmd::Acl { acl } => super::acl::show(ctx, acl).await,
        }
    }
}

async fn show_zone(ctx: &Ctx, zone: String) -> Result<Output, ErrorBody> {
    let v: ZoneView = ctx
        .call(subjects::ipam::ZONE_SHOW, &Show { name: zone.clone() })
        .await?;
    // OSPF settings come from the area registry; show the zone without
    // them if the registry does not answer.
    let ospf: Option<ZoneOspfView> = ctx
        .call(subjects::areas::ZONE_SHOW, &Show { name: zone.clone() })
        .await
        .ok();
    // A key rotation in progress is the config-renderer's to know (it
    // follows the routers' reports); any router of the zone carries it.
    let routers: Vec<config::RouterSummary> = ctx
        .call(
            subjects::config::ROUTER_LIST,
            &config::RouterList { zone: Some(zone) },
        )
        .await
        .unwrap_or_default();
    let rotation = routers.into_iter().find_map(|r| r.key_rotation);
    Ok(zone_view(&v, ospf.as_ref(), rotation.as_ref()))
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
fn zone_view(
    z: &ZoneView,
    ospf: Option<&ZoneOspfView>,
    rotation: Option<&KeyRotationView>,
) -> Output {
    let mut s = String::new();
    let cidrs: Vec<String> = z.super_cidrs.iter().map(|c| c.to_string()).collect();
    let _ = writeln!(s, "zone {}  super-CIDRs {}", z.zone, cidrs.join(", "));
    if let Some(o) = ospf {
        let _ = writeln!(s, "{}", super::zone::ospf_line(o));
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
fn vpc_view(v: &VpcView, area: Option<AreaId>) -> Output {
    let mut s = String::new();
    write_vpc(&mut s, v, area);
    let mut out = record(v, s);
    out.json["area_id"] = serde_json::to_value(area).expect("json");
    out
}

/// `show vm`: the reply as it came in JSON, one line for people.
fn vm_view(v: &VmView) -> Output {
    record(
        v,
        format!(
            "vm {}  {}  tier {}  vpc {}  zone {}",
            v.vm, v.ip, v.tier, v.vpc, v.zone
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(ip: &str) -> VmView {
        VmView {
            vm: "vm-0001".into(),
            tier: "tier-web".into(),
            ip: ip.parse().unwrap(),
            vpc: "vpc-blue".into(),
            zone: "zone-1".into(),
        }
    }

    #[test]
    fn show_vm_prints_one_line_and_the_reply_as_json() {
        let out = vm_view(&view("10.1.0.10"));
        assert_eq!(
            out.human,
            "vm vm-0001  10.1.0.10  tier tier-web  vpc vpc-blue  zone zone-1"
        );
        assert_eq!(
            out.json,
            serde_json::json!({
                "vm": "vm-0001", "tier": "tier-web", "ip": "10.1.0.10",
                "vpc": "vpc-blue", "zone": "zone-1",
            })
        );
        // An IPv6 address prints as written, compressed.
        let out = vm_view(&view("fd00:0:0:1::a"));
        assert_eq!(
            out.human,
            "vm vm-0001  fd00:0:0:1::a  tier tier-web  vpc vpc-blue  zone zone-1"
        );
    }
}
