//! `docker-compose.yml`, the `Dockerfile` and `.dockerignore` as files:
//! every service built from the workspace runs a binary the workspace
//! builds, the images copy exactly those binaries, bases are build
//! arguments with the standard defaults, secrets are files and not
//! environment variables, capabilities are the documented ones. That the
//! stack really runs is tests/docker_compose_e2e.rs.

use std::collections::BTreeSet;

use vpcroute_tests::bins::workspace_root;
use yaml_rust2::{Yaml, YamlLoader};

/// Every `[[bin]]` name of the workspace's service packages.
fn workspace_binaries() -> BTreeSet<String> {
    let mut bins = BTreeSet::new();
    for entry in std::fs::read_dir(workspace_root().join("services")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        for b in doc
            .get("bin")
            .and_then(|b| b.as_array())
            .into_iter()
            .flatten()
        {
            bins.insert(b["name"].as_str().unwrap().to_string());
        }
    }
    bins
}

fn read(file: &str) -> String {
    std::fs::read_to_string(workspace_root().join(file)).unwrap()
}

fn compose() -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read("docker-compose.yml"))
        .expect("docker-compose.yml parses as YAML");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// `map[key]`, following YAML merge keys (`<<: *anchor`) by hand, as
/// yaml_rust2 leaves them unresolved.
fn field<'a>(map: &'a Yaml, key: &str) -> &'a Yaml {
    let own = &map[key];
    if own.is_badvalue() && !map["<<"].is_badvalue() {
        return field(&map["<<"], key);
    }
    own
}

/// The default of a compose interpolation `${VAR:-default}`, or the text.
fn default_of(value: &str) -> &str {
    match value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        Some(inner) => inner.split_once(":-").expect("${VAR:-default}").1,
        None => value,
    }
}

fn strings(list: &Yaml) -> Vec<&str> {
    list.as_vec()
        .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn compose_services_are_built_by_the_workspace() {
    let bins = workspace_binaries();
    let doc = compose();
    let services = doc["services"].as_hash().expect("services mapping");
    let mut run = BTreeSet::new();
    for (name, svc) in services {
        let name = name.as_str().unwrap();
        let build = field(svc, "build");
        assert_eq!(
            build["context"].as_str(),
            Some("."),
            "{name} is built from the workspace"
        );
        let target = default_of(build["target"].as_str().unwrap());
        let role = field(field(svc, "environment"), "ROLE").as_str();
        let binary = match (target, role) {
            ("nats", _) => {
                assert!(
                    strings(&svc["command"]).contains(&"/etc/nats/nats-server.conf"),
                    "NATS runs with the repository's config"
                );
                continue;
            }
            ("service", _) => strings(field(svc, "command"))[0].to_string(),
            ("router", Some("vr")) => "vpcroute-router-sync".to_string(),
            ("router", Some("core" | "vm")) => continue,
            other => panic!("{name}: unknown build target and role {other:?}"),
        };
        // vpcctl is run by the healthchecks and `docker compose exec ctl`.
        let binary = if binary == "sleep" {
            "vpcctl".to_string()
        } else {
            binary
        };
        assert!(
            bins.contains(&binary),
            "{name} runs {binary}, which the workspace does not build"
        );
        run.insert(binary);
        assert!(
            !field(field(svc, "environment"), "VPCROUTE_NATS_USER").is_badvalue(),
            "{name} has no NATS user"
        );
    }
    for b in [
        "vpcroute-ipam",
        "vpcroute-area-registry",
        "vpcroute-config-renderer",
        "vpcroute-router-sync",
        "vpcctl",
    ] {
        assert!(run.contains(b), "docker-compose.yml runs no {b}");
    }
}

#[test]
fn secrets_are_files_and_capabilities_are_the_needed_ones() {
    let doc = compose();
    let declared: BTreeSet<&str> = doc["secrets"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    for (name, svc) in doc["services"].as_hash().unwrap() {
        let name = name.as_str().unwrap();
        let env = field(svc, "environment");
        let mounted = strings(field(svc, "secrets"));
        if let Some(env) = env.as_hash() {
            for (k, _) in env {
                let k = k.as_str().unwrap();
                assert!(
                    !k.ends_with("PASSWORD") && !k.starts_with("VPCROUTE_PW_"),
                    "{name}: a password in the environment ({k})"
                );
            }
        }
        if let Some(path) = field(env, "VPCROUTE_NATS_PASSWORD_FILE").as_str() {
            let secret = path
                .strip_prefix("/run/secrets/")
                .expect("a compose secret");
            assert!(
                mounted.contains(&secret),
                "{name} reads {secret} but does not mount it"
            );
        }
        for s in &mounted {
            assert!(declared.contains(s), "{name} mounts undeclared secret {s}");
        }
        assert_eq!(
            field(svc, "restart").as_str(),
            Some("unless-stopped"),
            "{name}"
        );
        assert!(
            name == "nats" || !field(svc, "healthcheck").is_badvalue(),
            "{name} has no healthcheck"
        );
        // SYS_ADMIN only where FRR's zebra runs (it refuses to start without).
        let caps = strings(field(svc, "cap_add"));
        let role = field(env, "ROLE").as_str();
        assert_eq!(
            caps.contains(&"SYS_ADMIN"),
            matches!(role, Some("vr" | "core")),
            "{name}: SYS_ADMIN is for FRR only ({caps:?})"
        );
        if caps.is_empty() {
            assert_eq!(
                strings(field(svc, "cap_drop")),
                ["ALL"],
                "{name} drops every capability"
            );
        }
    }
    // Every NATS user a service connects as exists in the server config.
    let conf = read("deploy/nats-server.conf");
    for user in [
        "ipam",
        "area-registry",
        "config-renderer",
        "router-sync",
        "cloudstack",
    ] {
        assert!(
            conf.contains(&format!("user: {user}\n")),
            "nats-server.conf has no user {user}"
        );
    }
}

#[test]
fn the_image_copies_every_binary_it_runs() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("cargo build --release --workspace --bins"));
    let staging = read("scripts/docker.sh");
    for b in workspace_binaries() {
        assert!(
            dockerfile.contains(&format!("target/release/{b}")),
            "the image does not copy {b}"
        );
        assert!(
            staging.contains(b.as_str()),
            "scripts/docker.sh does not stage {b}"
        );
    }
    for arg in [
        "ARG BASE_IMAGE=debian:bookworm-slim",
        "ARG RUST_IMAGE=rust:1-bookworm",
        "ARG NATS_IMAGE=nats:2.10",
    ] {
        assert!(dockerfile.contains(arg), "Dockerfile has no {arg}");
    }
    // The classic builder builds every stage before its target: the local
    // and prebuilt targets must precede every stage FROM an image that only
    // a registry has.
    let stages: Vec<(&str, &str)> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .map(|l| l.split_once(" AS ").expect("every stage is named"))
        .collect();
    let position = |name: &str| {
        stages
            .iter()
            .position(|(_, n)| *n == name)
            .unwrap_or_else(|| panic!("no stage {name}"))
    };
    let first_registry_only = stages
        .iter()
        .position(|(from, _)| *from == "${RUST_IMAGE}" || *from == "${NATS_IMAGE}")
        .unwrap();
    for local in ["service-prebuilt", "router-prebuilt", "nats-local"] {
        assert!(
            position(local) < first_registry_only,
            "{local} follows a registry-only stage"
        );
    }
    for (from, name) in &stages {
        assert!(
            from.starts_with("${") || stages.iter().any(|(_, n)| n == from),
            "stage {name} is FROM {from}, neither a build argument nor a stage"
        );
    }
    for target in ["build", "service", "router", "nats"] {
        position(target);
    }
}

#[test]
fn the_build_context_leaves_target_out_but_the_staged_binaries() {
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    assert!(lines.contains(&"target/*"), "{ignore}");
    assert!(lines.contains(&"!target/docker"), "{ignore}");
    assert!(read("Dockerfile").contains("COPY target/docker/bin/"));
}
