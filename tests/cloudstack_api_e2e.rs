//! The CloudStack API client (`vpcroute-cloudstack-api`) against the
//! CloudStack API simulator (`harness/cloudstack_sim`), and the simulator's
//! signature check against an independent client: `cs` from PyPI, installed
//! by scripts/install-deps.sh. A request `cs` signs must pass and the same
//! with a wrong secret must get CloudStack's 401; only then does "the client
//! passes the simulator" mean "the client signs as CloudStack verifies".

use std::path::{Path, PathBuf};
use std::process::Command;

use vpcroute_cloudstack_api::{
    AclAction, AclTrafficType, ApiError, Client, Credentials, Filter, NetworkMode, NicTrafficType,
    RedundantState, RouterState, SecretKey,
};
use vpcroute_tests::cloudstack_sim::*;

const API_KEY: &str = "sim-api-key-Qx7-0";
const SECRET: &str = "sim-secret-Zm9vYmFy_test-only";
const WRONG_SECRET: &str = "sim-secret-WRONG_test-only";

/// `cs` if it runs (`cs --version`; a pyenv shim outlives an uninstall),
/// or None (after saying why) outside CI; a failure in CI.
fn cs_or_skip() -> Option<PathBuf> {
    let runs = Command::new("cs")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        vpcroute_testkit::skip_unless_ci(
            "the `cs` CloudStack client (scripts/install-deps.sh installs it with pip)",
        );
        return None;
    }
    Some(PathBuf::from("cs"))
}

struct CsRun {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `cs COMMAND ARGS...` against `endpoint` with the key pair in a 0600
/// config file named by CLOUDSTACK_CONFIG, so the (test-only) secret is not
/// put in the child's environment; HOME and the working directory are a
/// fresh directory so no other cloudstack.ini is read.
fn run_cs(
    cs: &Path,
    endpoint: &str,
    secret: &str,
    expiration: Option<i64>,
    args: &[&str],
) -> CsRun {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("cs.ini");
    let mut conf =
        format!("[cloudstack]\nendpoint = {endpoint}\nkey = {API_KEY}\nsecret = {secret}\n");
    if let Some(e) = expiration {
        conf.push_str(&format!("expiration = {e}\n"));
    }
    std::fs::write(&ini, conf).unwrap();
    std::fs::set_permissions(&ini, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = Command::new(cs);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_string();
        if name.starts_with("CLOUDSTACK_") || name.to_ascii_lowercase().ends_with("_proxy") {
            cmd.env_remove(name);
        }
    }
    let out = cmd
        .args(args)
        .env("CLOUDSTACK_CONFIG", &ini)
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .output()
        .expect("run cs");
    CsRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A zone with everything the list calls return: two offerings (ROUTED,
/// NATTED), two VPCs, a tier with an ACL list of two items, a VM with a NIC,
/// a VR with control/public/guest NICs on a host.
fn small_cloud() -> Model {
    let mut m = Model::with_keypair(API_KEY, SECRET);
    let zone = new_uuid();
    m.zones.push(SimZone {
        id: zone.clone(),
        name: "zone-1".into(),
        networktype: "Advanced".into(),
        allocationstate: "Enabled".into(),
    });
    let routed = new_uuid();
    let natted = new_uuid();
    m.vpc_offerings.push(SimVpcOffering {
        id: routed.clone(),
        name: "Routed VPC".into(),
        networkmode: "ROUTED".into(),
        routingmode: Some("Static".into()),
        state: "Enabled".into(),
    });
    m.vpc_offerings.push(SimVpcOffering {
        id: natted.clone(),
        name: "Default VPC offering".into(),
        networkmode: "NATTED".into(),
        routingmode: None,
        state: "Enabled".into(),
    });
    let vpc = |name: &str, cidr: &str, offering: &str| SimVpc {
        id: new_uuid(),
        name: name.into(),
        zoneid: zone.clone(),
        cidr: cidr.into(),
        vpcofferingid: offering.into(),
        state: "Enabled".into(),
        redundantvpcrouter: false,
        account: "admin".into(),
        domainid: new_uuid(),
    };
    m.vpcs.push(vpc("web tier+1/é*", "10.1.0.0/16", &routed));
    m.vpcs.push(vpc("natted", "10.2.0.0/16", &natted));
    let vpc_id = m.vpcs[0].id.clone();
    let acl = new_uuid();
    m.acl_lists.push(SimAclList {
        id: acl.clone(),
        name: "allow-icmp".into(),
        description: "icmp and ssh".into(),
        vpcid: Some(vpc_id.clone()),
    });
    m.acl_items.push(SimAclItem {
        id: new_uuid(),
        aclid: acl.clone(),
        number: 1,
        cidrlist: "0.0.0.0/0".into(),
        protocol: "icmp".into(),
        startport: None,
        endport: None,
        icmptype: Some(-1),
        icmpcode: Some(-1),
        traffictype: "Ingress".into(),
        action: "Allow".into(),
        state: "Active".into(),
    });
    m.acl_items.push(SimAclItem {
        id: new_uuid(),
        aclid: acl.clone(),
        number: 2,
        cidrlist: "10.0.0.0/8,192.168.0.0/16".into(),
        protocol: "tcp".into(),
        startport: Some("22".into()),
        endport: Some("23".into()),
        icmptype: None,
        icmpcode: None,
        traffictype: "Egress".into(),
        action: "Deny".into(),
        state: "Active".into(),
    });
    let tier = new_uuid();
    m.networks.push(SimNetwork {
        id: tier.clone(),
        name: "tier-a".into(),
        zoneid: zone.clone(),
        vpcid: Some(vpc_id.clone()),
        cidr: Some("10.1.1.0/24".into()),
        gateway: Some("10.1.1.1".into()),
        netmask: Some("255.255.255.0".into()),
        aclid: Some(acl),
        traffictype: "Guest".into(),
        network_type: "Isolated".into(),
    });
    let vm = new_uuid();
    m.vms.push(SimVm {
        id: vm.clone(),
        name: "vm-1".into(),
        zoneid: zone.clone(),
        state: "Running".into(),
        nic: vec![SimNic {
            id: new_uuid(),
            networkid: tier.clone(),
            ipaddress: Some("10.1.1.10".into()),
            macaddress: guest_mac(10),
            isdefault: true,
            virtualmachineid: vm,
        }],
    });
    let host = new_uuid();
    m.hosts.push(SimHost {
        id: host.clone(),
        name: "kvm-1".into(),
        ipaddress: "192.0.2.11".into(),
        zoneid: zone.clone(),
        host_type: "Routing".into(),
        state: "Up".into(),
    });
    let public_net = new_uuid();
    let rnic = |net: &str, traffic: &str, ip: &str, mac: String| SimRouterNic {
        id: new_uuid(),
        networkid: net.into(),
        traffictype: traffic.into(),
        ipaddress: Some(ip.into()),
        macaddress: mac,
        isdefault: traffic == "Public",
    };
    m.routers.push(SimRouter {
        id: new_uuid(),
        name: "r-7-VM".into(),
        zoneid: zone,
        vpcid: Some(vpc_id),
        linklocalip: Some("169.254.3.7".into()),
        hostid: Some(host),
        state: "Running".into(),
        redundantstate: "UNKNOWN".into(),
        isredundantrouter: false,
        nic: vec![
            rnic(
                &new_uuid(),
                "Control",
                "169.254.3.7",
                "0e:00:a9:fe:03:07".into(),
            ),
            rnic(
                &public_net,
                "Public",
                "203.0.113.5",
                "1e:00:5a:00:00:05".into(),
            ),
            rnic(&tier, "Guest", "10.1.1.1", guest_mac(1)),
        ],
    });
    m
}

fn client(sim: &CloudStackSim, secret: &str) -> Client {
    Client::new(
        &sim.url(),
        Credentials::new(API_KEY.into(), SecretKey::new(secret.into())),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cs_signed_requests_pass_and_a_wrong_secret_gets_401() {
    let Some(cs) = cs_or_skip() else { return };
    let sim = CloudStackSim::start(small_cloud()).await;
    let (zone, vpc, vpc_name) = {
        let m = sim.model();
        (
            m.zones[0].id.clone(),
            m.vpcs[0].id.clone(),
            m.vpcs[0].name.clone(),
        )
    };
    let url = sim.url();
    let cs_path = cs.clone();
    let keyword = format!("keyword={vpc_name}");
    let runs = tokio::task::spawn_blocking(move || {
        let cs = cs_path.as_path();
        vec![
            // cs's default: signatureVersion=3 and expires.
            run_cs(cs, &url, SECRET, None, &["listZones"]),
            // Without expiry (expiration < 0): the plain signature.
            run_cs(cs, &url, SECRET, Some(-1), &["listZones"]),
            // A value with a space, '+', '/', non-ASCII and '*' (encoded as
            // URLEncoder does), and a capitalised name (sorted before
            // `apiKey` by Java's case-sensitive sort, as by cs's sorted()).
            run_cs(
                cs,
                &url,
                SECRET,
                None,
                &["listVPCs", &keyword, "Listall=true"],
            ),
            run_cs(cs, &url, WRONG_SECRET, None, &["listZones"]),
            run_cs(cs, &url, WRONG_SECRET, Some(-1), &["listZones"]),
            // expires = now, cut to the second: already past when checked.
            run_cs(cs, &url, SECRET, Some(0), &["listZones"]),
        ]
    })
    .await
    .unwrap();
    for (i, run) in runs[..3].iter().enumerate() {
        assert!(run.ok, "cs run {i} refused: {}\n{}", run.stdout, run.stderr);
    }
    assert!(runs[0].stdout.contains(&zone), "{}", runs[0].stdout);
    assert!(runs[1].stdout.contains(&zone), "{}", runs[1].stdout);
    let listed: serde_json::Value = serde_json::from_str(&runs[2].stdout).unwrap();
    assert_eq!(listed["count"], 1, "{listed}");
    assert_eq!(listed["vpc"][0]["id"], vpc.as_str(), "{listed}");
    for (i, run) in runs.iter().enumerate().skip(3) {
        assert!(
            !run.ok,
            "cs run {i} (wrong secret or expired) was accepted: {}",
            run.stdout
        );
        assert!(run.stderr.contains("HTTP 401"), "{}", run.stderr);
        assert!(
            run.stdout
                .contains("unable to verify user credentials and/or request signature"),
            "{}",
            run.stdout
        );
    }
    let rec = sim.recorded();
    assert_eq!(rec.len(), 6, "{rec:#?}");
    assert_eq!(rec[0].param("signatureVersion"), Some("3"));
    assert_eq!(rec[1].param("signatureVersion"), None);
    assert_eq!(rec[2].param("keyword"), Some(vpc_name.as_str()));
    assert!(
        rec[..3]
            .iter()
            .all(|r| r.status == 200 && r.refused.is_none()),
        "{rec:#?}"
    );
    assert!(
        rec[3..5]
            .iter()
            .all(|r| r.status == 401 && r.refused == Some(verify::Refused::SignatureMismatch)),
        "{rec:#?}"
    );
    assert_eq!(
        (rec[5].status, &rec[5].refused),
        (401, &Some(verify::Refused::Expired))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reads_every_list_call_typed() {
    let sim = CloudStackSim::start(small_cloud()).await;
    let m = sim.model().clone();
    let c = client(&sim, SECRET);
    let uuid = |s: &str| s.parse::<uuid::Uuid>().unwrap();

    let zones = c.list_zones(&Filter::new()).await.unwrap();
    assert_eq!(zones.len(), 1);
    assert_eq!(
        (zones[0].id, zones[0].name.as_str()),
        (uuid(&m.zones[0].id), "zone-1")
    );

    let offerings = c.list_vpc_offerings(&Filter::new()).await.unwrap();
    let modes: Vec<_> = offerings
        .iter()
        .map(|o| (o.id, o.networkmode.clone()))
        .collect();
    assert_eq!(
        modes,
        vec![
            (uuid(&m.vpc_offerings[0].id), Some(NetworkMode::Routed)),
            (uuid(&m.vpc_offerings[1].id), Some(NetworkMode::Natted)),
        ]
    );

    let vpcs = c
        .list_vpcs(&Filter::new().zone(uuid(&m.zones[0].id)))
        .await
        .unwrap();
    let got: Vec<_> = vpcs
        .iter()
        .map(|v| (v.id, v.cidr.as_str(), v.vpcofferingid, v.redundantvpcrouter))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                uuid(&m.vpcs[0].id),
                "10.1.0.0/16",
                uuid(&m.vpc_offerings[0].id),
                false
            ),
            (
                uuid(&m.vpcs[1].id),
                "10.2.0.0/16",
                uuid(&m.vpc_offerings[1].id),
                false
            ),
        ]
    );
    // A filter value with a space, '+', '/', non-ASCII and '*' is signed as
    // the server re-encodes it.
    let by_name = c
        .list_vpcs(&Filter::new().keyword(&m.vpcs[0].name))
        .await
        .unwrap();
    assert_eq!(
        by_name.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![uuid(&m.vpcs[0].id)]
    );

    let nets = c
        .list_networks(&Filter::new().vpc(uuid(&m.vpcs[0].id)))
        .await
        .unwrap();
    assert_eq!(nets.len(), 1);
    let n = &nets[0];
    assert_eq!(
        (
            n.id,
            n.vpcid,
            n.cidr.as_deref(),
            n.gateway.as_deref(),
            n.netmask.as_deref(),
            n.aclid
        ),
        (
            uuid(&m.networks[0].id),
            Some(uuid(&m.vpcs[0].id)),
            Some("10.1.1.0/24"),
            Some("10.1.1.1"),
            Some("255.255.255.0"),
            Some(uuid(&m.acl_lists[0].id))
        )
    );

    let vms = c
        .list_virtual_machines(&Filter::new().network(n.id))
        .await
        .unwrap();
    assert_eq!(vms.len(), 1);
    let nic = &vms[0].nic[0];
    assert_eq!(
        (
            nic.networkid,
            nic.ipaddress.as_deref(),
            nic.macaddress.as_deref()
        ),
        (n.id, Some("10.1.1.10"), Some(guest_mac(10).as_str()))
    );
    let nics = c.list_nics(vms[0].id, &Filter::new()).await.unwrap();
    // By VPC: through the VM's NICs' networks.
    for (vpc, want) in [(&m.vpcs[0].id, vec![vms[0].id]), (&m.vpcs[1].id, vec![])] {
        let in_vpc = c
            .list_virtual_machines(&Filter::new().vpc(uuid(vpc)))
            .await
            .unwrap();
        assert_eq!(in_vpc.iter().map(|v| v.id).collect::<Vec<_>>(), want);
    }
    assert_eq!(nics, vms[0].nic);

    let lists = c
        .list_network_acl_lists(&Filter::new().vpc(uuid(&m.vpcs[0].id)))
        .await
        .unwrap();
    assert_eq!(
        lists
            .iter()
            .map(|l| (l.id, l.name.as_str()))
            .collect::<Vec<_>>(),
        vec![(uuid(&m.acl_lists[0].id), "allow-icmp")]
    );
    let items = c
        .list_network_acls(&Filter::new().acl(lists[0].id))
        .await
        .unwrap();
    let got: Vec<_> = items
        .iter()
        .map(|i| {
            (
                i.number,
                i.cidrlist.clone(),
                i.protocol.as_str(),
                i.startport,
                i.endport,
                i.icmptype,
                i.icmpcode,
                i.traffictype,
                i.action,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                1,
                vec!["0.0.0.0/0".to_string()],
                "icmp",
                None,
                None,
                Some(-1),
                Some(-1),
                AclTrafficType::Ingress,
                AclAction::Allow
            ),
            (
                2,
                vec!["10.0.0.0/8".to_string(), "192.168.0.0/16".to_string()],
                "tcp",
                Some(22),
                Some(23),
                None,
                None,
                AclTrafficType::Egress,
                AclAction::Deny
            ),
        ]
    );

    let routers = c
        .list_routers(&Filter::new().vpc(uuid(&m.vpcs[0].id)))
        .await
        .unwrap();
    assert_eq!(routers.len(), 1);
    let r = &routers[0];
    assert_eq!(
        (
            r.linklocalip.as_deref(),
            r.hostid,
            &r.state,
            r.redundantstate.clone(),
            r.isredundantrouter
        ),
        (
            Some("169.254.3.7"),
            Some(uuid(&m.hosts[0].id)),
            &RouterState::Running,
            Some(RedundantState::Unknown),
            false
        )
    );
    let nics: Vec<_> = r
        .nic
        .iter()
        .map(|n| {
            (
                n.traffictype.clone(),
                n.networkid,
                n.ipaddress.as_deref(),
                n.macaddress.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        nics[1..],
        [
            (
                NicTrafficType::Public,
                uuid(&m.routers[0].nic[1].networkid),
                Some("203.0.113.5"),
                Some("1e:00:5a:00:00:05")
            ),
            (
                NicTrafficType::Guest,
                n.id,
                Some("10.1.1.1"),
                Some(guest_mac(1).as_str())
            ),
        ]
    );
    assert_eq!(nics[0].0, NicTrafficType::Control);

    let hosts = c
        .list_hosts(&Filter::new().id(r.hostid.unwrap()))
        .await
        .unwrap();
    assert_eq!(
        hosts
            .iter()
            .map(|h| h.ipaddress.as_str())
            .collect::<Vec<_>>(),
        vec!["192.0.2.11"]
    );

    // An empty answer ({} in CloudStack: no count, no array) is an empty list.
    let none = c
        .list_routers(&Filter::new().vpc(uuid(&m.vpcs[1].id)))
        .await
        .unwrap();
    assert!(none.is_empty());

    // Every request above was signed with v3 and verified; the account-owned
    // lists asked for listall.
    let rec = sim.recorded();
    assert!(
        rec.iter()
            .all(|r| r.status == 200 && r.param("signatureVersion") == Some("3")),
        "{rec:#?}"
    );
    for r in &rec {
        let all_accounts = matches!(
            r.command.as_deref(),
            Some(
                "listVPCs"
                    | "listNetworks"
                    | "listVirtualMachines"
                    | "listNetworkACLLists"
                    | "listNetworkACLs"
                    | "listRouters"
            )
        );
        assert_eq!(r.param("listall") == Some("true"), all_accounts, "{r:?}");
    }
}

fn many_vpcs(n: usize) -> Model {
    let mut m = Model::with_keypair(API_KEY, SECRET);
    let (zone, offering) = (new_uuid(), new_uuid());
    for i in 0..n {
        m.vpcs.push(SimVpc {
            id: new_uuid(),
            name: format!("vpc-{i}"),
            zoneid: zone.clone(),
            cidr: format!("10.{}.{}.0/24", i / 256, i % 256),
            vpcofferingid: offering.clone(),
            state: "Enabled".into(),
            redundantvpcrouter: false,
            account: "admin".into(),
            domainid: new_uuid(),
        });
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_pages_through_1234_vpcs() {
    for (vpcs, page_size, pages) in [(1234, 500, 3), (1234, 100, 13), (1000, 500, 2), (0, 500, 1)] {
        let sim = CloudStackSim::start(many_vpcs(vpcs)).await;
        let c = client(&sim, SECRET).with_page_size(page_size);
        let got = c.list_vpcs(&Filter::new()).await.unwrap();
        let want: Vec<uuid::Uuid> = sim
            .model()
            .vpcs
            .iter()
            .map(|v| v.id.parse().unwrap())
            .collect();
        assert_eq!(
            got.iter().map(|v| v.id).collect::<Vec<_>>(),
            want,
            "{vpcs} VPCs at {page_size}"
        );
        let asked: Vec<(Option<String>, Option<String>)> = sim
            .recorded()
            .iter()
            .map(|r| {
                (
                    r.param("page").map(str::to_string),
                    r.param("pagesize").map(str::to_string),
                )
            })
            .collect();
        let expected: Vec<_> = (1..=pages)
            .map(|p| (Some(p.to_string()), Some(page_size.to_string())))
            .collect();
        assert_eq!(asked, expected, "{vpcs} VPCs at {page_size}");
    }
    // A page past the end: CloudStack gives the count and no array key.
    let sim = CloudStackSim::start(many_vpcs(1000)).await;
    let past = client(&sim, SECRET)
        .call(
            "listVPCs",
            &Filter::new().set("page", 3).set("pagesize", 500),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(past),
        serde_json::json!({"count": 1000})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_a_typed_auth_error_without_the_secret() {
    let sim = CloudStackSim::start(small_cloud()).await;
    // Positive control: the right pair is let in by the same simulator.
    assert_eq!(
        client(&sim, SECRET)
            .list_zones(&Filter::new())
            .await
            .unwrap()
            .len(),
        1
    );
    let wrong_secret = client(&sim, WRONG_SECRET)
        .list_zones(&Filter::new())
        .await
        .unwrap_err();
    let unknown_key = Client::new(
        &sim.url(),
        Credentials::new("nobody".into(), SecretKey::new(SECRET.into())),
    )
    .unwrap()
    .list_vpcs(&Filter::new())
    .await
    .unwrap_err();
    for err in [&wrong_secret, &unknown_key] {
        assert!(
            matches!(err, ApiError::Unauthorized { http_status: 401, errortext, .. } if errortext == "unable to verify user credentials and/or request signature"),
            "{err:?}"
        );
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(
                !text.contains(SECRET) && !text.contains(WRONG_SECRET),
                "{text}"
            );
            assert!(!text.contains("signature="), "{text}");
        }
    }
    let c = client(&sim, WRONG_SECRET);
    assert!(!format!("{c:?}").contains(WRONG_SECRET));
    let rec = sim.recorded();
    assert_eq!(
        rec.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200, 401, 401]
    );
    assert_eq!(rec[2].refused, Some(verify::Refused::UnknownApiKey));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudstack_error_answers_are_typed() {
    let sim = CloudStackSim::start(small_cloud()).await;
    let c = client(&sim, SECRET);
    let missing = c.call("listNics", &Filter::new()).await.unwrap_err();
    assert!(
        matches!(&missing, ApiError::Api { http_status: 431, errorcode: 431, cserrorcode: Some(4350), errortext, .. } if errortext.contains("virtualmachineid")),
        "{missing:?}"
    );
    let too_big = c
        .call(
            "listVPCs",
            &Filter::new().set("page", 1).set("pagesize", 501),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&too_big, ApiError::Api { errorcode: 431, errortext, .. } if errortext.contains("500")),
        "{too_big:?}"
    );
    // A command CloudStack does not have is refused by verifyRequest: 401.
    let unknown = c.call("listEverything", &Filter::new()).await.unwrap_err();
    assert!(
        matches!(unknown, ApiError::Unauthorized { .. }),
        "{unknown:?}"
    );
    let bad_name = c
        .call("listZones", &Filter::new().set("zöne", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(bad_name, ApiError::BadParameter { .. }),
        "{bad_name:?}"
    );
    assert_eq!(
        sim.recorded().len(),
        3,
        "the bad name never left the client"
    );
}
