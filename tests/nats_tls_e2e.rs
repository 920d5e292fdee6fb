//! NATS over TLS with client certificates, against a real nats-server.
//!
//! Every binary takes `--nats-tls-ca`, `--nats-tls-cert`/`--nats-tls-key`
//! and `--nats-require-tls` (vpcroute-bus `connect`). Here a CA, a server
//! certificate for 127.0.0.1 and a client certificate are made with
//! `openssl`; nats-server requires TLS and verifies client certificates
//! (`--tlsverify`). ipam and vpcctl then talk through it, and each way a
//! client can be wrong is refused with an error that says so: no client
//! certificate, a CA that did not sign the server, TLS required of a
//! server that offers none.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use vpcroute_tests::{vpcctl, CliOutput, NatsServer, Service, ServiceKind};

/// Runs openssl, panicking with its stderr on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for IP 127.0.0.1 and a client certificate,
/// each key in `<name>.key` and certificate in `<name>.pem`.
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=vpcroute test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        let subj = format!("/CN=vpcroute {name}");
        let (key, csr, pem, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        std::fs::write(dir.join(&extfile), ext).unwrap();
        let mut req = vec!["req", "-subj", &subj];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-extfile",
                &extfile,
                "-out",
                &pem,
            ],
        );
    }
    // A second CA that signed nothing of ours.
    let mut other = vec!["req", "-x509", "-days", "2", "-subj", "/CN=someone else"];
    other.extend(ec);
    other.extend(["-keyout", "other-ca.key", "-out", "other-ca.pem"]);
    openssl(dir, &other);
}

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).to_str().unwrap().to_string()
}

/// vpcctl with the given NATS options before the command.
async fn vpcctl_with(url: &str, options: &[String], command: &[&str]) -> CliOutput {
    let mut args: Vec<&str> = options.iter().map(String::as_str).collect();
    args.extend(command);
    vpcctl(url, &args).await
}

fn tls_options(dir: &Path, ca: &str, client_cert: bool) -> Vec<String> {
    let mut o = vec!["--nats-tls-ca".to_string(), path(dir, ca)];
    if client_cert {
        o.extend([
            "--nats-tls-cert".to_string(),
            path(dir, "client.pem"),
            "--nats-tls-key".to_string(),
            path(dir, "client.key"),
        ]);
    }
    o
}

/// The refusal of a client that could not connect: vpcctl exits non-zero
/// with `unavailable`, and the message is about the connection.
fn assert_refused(out: &CliOutput, what: &str) {
    assert!(!out.ok(), "{what}: accepted\n{}", out.stdout);
    assert_eq!(
        out.error_code(),
        Some("unavailable"),
        "{what}: {}\n{}",
        out.stdout,
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn services_and_vpcctl_talk_over_tls_with_client_certificates() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let server_tls = [
        "--tlsverify".to_string(),
        "--tlscert".to_string(),
        path(certs.path(), "server.pem"),
        "--tlskey".to_string(),
        path(certs.path(), "server.key"),
        "--tlscacert".to_string(),
        path(certs.path(), "ca.pem"),
    ];
    let server_args: Vec<&str> = server_tls.iter().map(String::as_str).collect();
    let Some(nats) = NatsServer::start_with_args(&server_args) else {
        return;
    };
    let url = nats.url();
    let good = tls_options(certs.path(), "ca.pem", true);

    // ipam connects with the same options (its readiness is asked over
    // TLS too: the harness's own plain probe would be refused).
    let data = tempfile::tempdir().unwrap();
    let mut ipam_args: Vec<&str> = good.iter().map(String::as_str).collect();
    ipam_args.push("--nats-require-tls");
    let _ipam = Service::spawn(ServiceKind::Ipam, &url, data.path(), &ipam_args);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = vpcctl_with(&url, &good, &["show", "zone", "nowhere"]).await;
        if out.error_code() == Some("unknown_zone") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ipam never answered over TLS: {}\n{}",
            out.stdout,
            out.stderr
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut with_require = good.clone();
    with_require.push("--nats-require-tls".into());
    let enabled = vpcctl_with(
        &url,
        &with_require,
        &["zone", "enable", "z1", "--super-cidr", "10.1.0.0/16"],
    )
    .await;
    assert!(enabled.ok(), "{}\n{}", enabled.stdout, enabled.stderr);
    let shown = vpcctl_with(&url, &good, &["show", "zone", "z1"])
        .await
        .expect_ok();
    assert_eq!(shown["zone"], "z1", "{shown}");

    // Each wrong client is refused, and changes nothing.
    const CREATE: &[&str] = &[
        "vpc",
        "create",
        "v1",
        "--zone",
        "z1",
        "--prefix-length",
        "24",
    ];
    for (options, what) in [
        (
            tls_options(certs.path(), "ca.pem", false),
            "no client certificate",
        ),
        (
            tls_options(certs.path(), "other-ca.pem", true),
            "a CA that did not sign the server",
        ),
        (vec![], "no TLS options at all"),
    ] {
        assert_refused(&vpcctl_with(&url, &options, CREATE).await, what);
    }
    let after = vpcctl_with(&url, &good, &["show", "zone", "z1"])
        .await
        .expect_ok();
    assert_eq!(after, shown, "a refused client changed the zone");
    // Positive control for the refusals: the same command with the right
    // options goes through.
    let out = vpcctl_with(&url, &good, CREATE).await;
    assert!(out.ok(), "{}\n{}", out.stdout, out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn require_tls_refuses_a_server_without_tls() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let _ipam = Service::start(ServiceKind::Ipam, &nats.url(), data.path()).await;
    let plain = vpcctl(&nats.url(), &["show", "zone", "nowhere"]).await;
    assert_eq!(
        plain.error_code(),
        Some("unknown_zone"),
        "positive control: {}",
        plain.stdout
    );
    let required = vpcctl(
        &nats.url(),
        &["--nats-require-tls", "show", "zone", "nowhere"],
    )
    .await;
    assert_refused(&required, "--nats-require-tls against a plain server");
    let message = required.error_message().unwrap_or_default();
    assert!(
        message.to_lowercase().contains("tls"),
        "the refusal does not say why: {message}"
    );
}
