//! vpcctl's edges: NATS options on either side of the subcommand, the
//! address family of a VPC inferred when only one fits, and the exact bytes
//! of `router status`'s human output.

use std::time::{Duration, Instant};

use vpcroute_tests::{binary, nats_or_skip, vpcctl, Service, ServiceKind};

/// Runs vpcctl with exactly `args` (no `--json` or `--nats-url` added) and
/// no NATS settings from the environment: (exit code, stdout, stderr).
fn vpcctl_raw(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = std::process::Command::new(binary("vpcctl"))
        .args(args)
        .env_remove("VPCROUTE_NATS_URL")
        .env_remove("VPCROUTE_NATS_USER")
        .output()
        .expect("run vpcctl");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_options_are_taken_before_and_after_the_subcommand() {
    let nats = nats_or_skip!();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let _ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
    vpcctl(
        &url,
        &["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"],
    )
    .await
    .expect_ok();
    // The server listens on a free port, not the default 4222: an answer
    // proves the option given was used.
    for args in [
        vec!["--nats-url", &url, "show", "zone", "z1", "--json"],
        vec!["show", "zone", "z1", "--json", "--nats-url", &url],
        vec!["show", "--nats-url", &url, "zone", "z1"],
    ] {
        let (code, stdout, stderr) = vpcctl_raw(&args);
        let stdout = String::from_utf8_lossy(&stdout);
        assert_eq!(code, 0, "vpcctl {args:?}: {stdout}{stderr}");
        assert!(stdout.contains("10.1.0.0/16"), "vpcctl {args:?}: {stdout}");
    }
    // Positive control of the option being applied after the subcommand:
    // TLS required of a server that offers none fails the connection.
    let (code, stdout, stderr) = vpcctl_raw(&[
        "show",
        "zone",
        "z1",
        "--nats-url",
        &url,
        "--nats-require-tls",
    ]);
    assert_ne!(code, 0, "{}", String::from_utf8_lossy(&stdout));
    assert!(stderr.contains("(unavailable)"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpc_family_is_inferred_when_only_one_fits() {
    let nats = nats_or_skip!();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let _ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
    vpcctl(&url, &["zone", "enable", "z6", "--super-cidr", "fd00::/40"])
        .await
        .expect_ok();
    vpcctl(
        &url,
        &[
            "zone",
            "enable",
            "zboth",
            "--super-cidr",
            "10.2.0.0/16",
            "--super-cidr",
            "fd01::/40",
        ],
    )
    .await
    .expect_ok();
    let create = |args: &str| {
        let url = url.clone();
        let args = format!("vpc create {args}");
        async move {
            let a: Vec<&str> = args.split_whitespace().collect();
            vpcctl(&url, &a).await
        }
    };
    // IPv6-only zone: /56 without --family is IPv6.
    let v = create("six --zone z6 --prefix-length 56").await.expect_ok();
    assert_eq!(v["cidr"], "fd00::/56", "{v}");
    // Both families: a /24 could be either, so the family must be given.
    let o = create("amb --zone zboth --prefix-length 24").await;
    assert_eq!(o.error_code(), Some("invalid_request"), "{}", o.stdout);
    assert!(
        o.error_message().is_some_and(|m| m.contains("--family")),
        "{}",
        o.stdout
    );
    let v = create("amb --zone zboth --prefix-length 24 --family ipv4")
        .await
        .expect_ok();
    assert_eq!(v["cidr"], "10.2.0.0/24", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_status_human_output_is_exact_and_ends_with_a_newline() {
    let nats = nats_or_skip!();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    // A vtysh with an empty configuration that answers every JSON show
    // with an empty object, and each of router-sync's marker lines as
    // vtysh does (crates/vpcroute-sync/src/session.rs): the router (in no
    // VPC) settles in `no_config` with nothing counted.
    let vtysh = dir.path().join("empty-vtysh.sh");
    std::fs::write(
        &vtysh,
        "#!/bin/sh\n\
         while IFS= read -r line; do\n\
           echo \"r9# $line\"\n\
           case \"$line\" in\n\
             vpcroute-sync-mark-*) echo \"% Unknown command: $line\";;\n\
             *json) echo '{}';;\n\
           esac\n\
         done\n",
    )
    .unwrap();
    let router = format!("r9=/bin/sh {}", vtysh.display());
    let _config = Service::start(
        ServiceKind::ConfigRenderer,
        &url,
        &dir.path().join("config"),
    )
    .await;
    // Spawned without the harness's readiness probe: the status answer
    // below is what proves it up.
    let _sync = Service::spawn(
        ServiceKind::RouterSync,
        &url,
        &dir.path().join("sync"),
        &["--router", &router, "--drift-interval", "300ms"],
    );
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let o = vpcctl(&url, &["router", "status", "r9"]).await;
        if o.json["state"] == "no_config" {
            break;
        }
        assert!(
            Instant::now() < end,
            "r9 never reached no_config: {}",
            o.stdout
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, stdout, stderr) = vpcctl_raw(&["--nats-url", &url, "router", "status", "r9"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        "router r9: no_config  desired version -, applied -, firewall not managed\n  \
         applies 0, repairs 0, failures 0; 0 OSPF routes\n"
    );
}

/// `vpcctl ping SERVICE` (the containers' healthcheck, docker-compose.yml):
/// answered by a running service with its name, an error and a non-zero
/// exit for a service nobody runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_answers_for_a_running_service_only() {
    let nats = nats_or_skip!();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let _ipam = Service::start(ServiceKind::Ipam, &url, &dir.path().join("ipam")).await;
    let pong = vpcctl(&url, &["ping", "vpcroute-ipam", "--json"])
        .await
        .expect_ok();
    assert_eq!(pong["name"], "vpcroute-ipam", "{pong}");
    let none = vpcctl(&url, &["ping", "vpcroute-nobody", "--json"]).await;
    assert_ne!(none.code, 0, "{}", none.json);
    assert_eq!(none.json["error"]["code"], "unavailable", "{}", none.json);
}
