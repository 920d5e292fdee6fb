//! `vpcctl import` (issue 14, bulk creation): a file of ipam requests
//! pipelined into the real ipam. Every item is an ordinary request, so
//! each is durable and idempotent by request id; a second run acts on
//! nothing; a bad line refuses the whole file before anything is sent.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{json, Value};
use vpcroute_tests::{nats_or_skip, vpcctl, Client, Service, ServiceKind};

const VPCS: usize = 60;
const TIERS_PER_VPC: usize = 2;
const VMS_PER_TIER: usize = 10;

/// The import file of a zone of `VPCS` VPCs, lines shuffled so that the
/// phases, not the file order, give a tier its VPC first.
fn zone_file() -> Vec<Value> {
    let mut lines = Vec::new();
    for v in 0..VPCS {
        lines.push(json!({"op": "vpc.allocate", "request":
            {"vpc": format!("vpc{v}"), "zone": "z1", "prefix_length": 24}}));
        for t in 0..TIERS_PER_VPC {
            lines.push(json!({"op": "tier.allocate", "request":
                {"tier": format!("vpc{v}-t{t}"), "vpc": format!("vpc{v}"), "prefix_length": 27}}));
            for m in 0..VMS_PER_TIER {
                lines.push(json!({"op": "vm.allocate", "request":
                    {"vm": format!("vpc{v}-t{t}-vm{m}"), "tier": format!("vpc{v}-t{t}")}}));
            }
        }
    }
    lines.push(json!({"op": "acl.create", "request": {"acl": "web", "vpc": "vpc0"}}));
    lines.push(
        json!({"op": "acl.rule.add", "request": {"acl": "web", "number": 10,
        "cidrs": ["10.0.0.0/8"], "protocol": "tcp", "ports": "80",
        "traffic": "ingress", "action": "allow"}}),
    );
    lines.push(json!({"op": "tier.set_acl", "request": {"tier": "vpc0-t0", "acl": "web"}}));
    lines.reverse();
    lines
}

fn write_file(lines: &[Value]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f
}

/// Every VM's address, as ipam shows it.
async fn vm_addresses(client: &Client) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for v in 0..VPCS {
        let view = client.vpc_show(&format!("vpc{v}")).await.expect("vpc.show");
        let view = serde_json::to_value(view).unwrap();
        for tier in view["tiers"].as_array().unwrap() {
            for vm in tier["vms"].as_array().unwrap() {
                out.insert((
                    vm["vm"].as_str().unwrap().to_string(),
                    vm["ip"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_creates_everything_once_and_a_rerun_acts_on_nothing() {
    let nats = nats_or_skip!();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let _ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
    let client = Client::connect(&url).await;
    vpcctl(
        &url,
        &["zone", "enable", "z1", "--super-cidr", "10.8.0.0/16"],
    )
    .await
    .expect_ok();

    // A bad line refuses the whole file: nothing of the good lines before
    // it is sent (positive control below: the same lines do create).
    let mut lines = zone_file();
    let good = write_file(&lines);
    lines.insert(3, json!({"op": "vpc.explode", "request": {}}));
    let bad = write_file(&lines);
    let head_before = client.all_events().await.len();
    let out = vpcctl(&url, &["import", bad.path().to_str().unwrap()]).await;
    assert_eq!(out.error_code(), Some("invalid_request"), "{}", out.stdout);
    let msg = out.json["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("line 4") && msg.contains("vpc.explode"),
        "{msg}"
    );
    assert!(msg.contains("nothing was sent"), "{msg}");
    assert_eq!(client.all_events().await.len(), head_before);

    let out = vpcctl(&url, &["import", good.path().to_str().unwrap()]).await;
    assert!(out.ok(), "{}{}", out.stdout, out.stderr);
    let items = VPCS * (1 + TIERS_PER_VPC * (1 + VMS_PER_TIER)) + 3;
    assert_eq!(out.json["items"], items);
    assert_eq!(out.json["succeeded"], items, "{}", out.stdout);
    assert_eq!(
        out.json["per_op"]["vm.allocate"],
        VPCS * TIERS_PER_VPC * VMS_PER_TIER
    );
    let vms = vm_addresses(&client).await;
    assert_eq!(vms.len(), VPCS * TIERS_PER_VPC * VMS_PER_TIER);
    let ips: BTreeSet<&String> = vms.iter().map(|(_, ip)| ip).collect();
    assert_eq!(ips.len(), vms.len(), "two VMs share an address");
    let acl = vpcctl(&url, &["show", "acl", "web"]).await.expect_ok();
    assert_eq!(acl["tiers"], json!(["vpc0-t0"]));
    assert_eq!(acl["rules"].as_array().unwrap().len(), 1);
    let events = client.all_events().await.len();
    assert_eq!(events - head_before, items);

    // Run again: every item answered from ipam's record, nothing new in
    // the log, every address the same.
    let out = vpcctl(&url, &["import", good.path().to_str().unwrap()]).await;
    assert_eq!(out.json["succeeded"], items, "{}", out.stdout);
    assert_eq!(client.all_events().await.len(), events);
    assert_eq!(vm_addresses(&client).await, vms);

    // An item ipam refuses is listed with its line and code; the others go
    // in, and vpcctl exits non-zero.
    let refused = write_file(&[
        json!({"op": "vm.allocate", "request": {"vm": "extra-1", "tier": "vpc1-t1"}}),
        json!({"op": "vm.allocate", "request": {"vm": "extra-2", "tier": "no-such-tier"}}),
    ]);
    let out = vpcctl(&url, &["import", refused.path().to_str().unwrap()]).await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert_eq!(
        (&out.json["succeeded"], &out.json["failed"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(out.json["failures"][0]["line"], 2);
    assert_eq!(out.json["failures"][0]["error"]["code"], "unknown_tier");
    assert_eq!(client.all_events().await.len(), events + 1);
}
