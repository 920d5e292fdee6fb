//! `docker-compose.yml` and the `Dockerfile`: the file parses, every service
//! it runs from the workspace's image is a binary the workspace builds, and
//! the image copies exactly those binaries. (No Docker engine runs here:
//! this checks the files, not containers.)

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

fn compose() -> Yaml {
    let text = std::fs::read_to_string(workspace_root().join("docker-compose.yml")).unwrap();
    let mut docs = YamlLoader::load_from_str(&text).expect("docker-compose.yml parses as YAML");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

#[test]
fn compose_services_are_built_by_the_workspace() {
    let bins = workspace_binaries();
    for b in [
        "vpcroute-ipam",
        "vpcroute-area-registry",
        "vpcroute-config-renderer",
        "vpcroute-router-sync",
        "vpcctl",
    ] {
        assert!(bins.contains(b), "workspace does not build {b}: {bins:?}");
    }
    let doc = compose();
    let services = doc["services"].as_hash().expect("services mapping");
    let mut run = BTreeSet::new();
    for (name, svc) in services {
        let name = name.as_str().unwrap();
        if name == "nats" {
            assert!(svc["image"].as_str().unwrap().starts_with("nats:"));
            let cmd: Vec<&str> = svc["command"]
                .as_vec()
                .unwrap()
                .iter()
                .filter_map(|c| c.as_str())
                .collect();
            assert!(
                cmd.contains(&"/etc/nats/nats-server.conf"),
                "NATS runs with the repository's config"
            );
            continue;
        }
        // Services built from this workspace (YAML merge keys are resolved
        // by hand: `<<: *service` brings `build`).
        let build = if svc["build"].is_badvalue() {
            &svc["<<"]["build"]
        } else {
            &svc["build"]
        };
        assert_eq!(
            build["context"].as_str(),
            Some("."),
            "{name} is built from the workspace"
        );
        let target = build["target"].as_str().unwrap();
        let binary = match target {
            "service" => svc["command"].as_vec().unwrap()[0]
                .as_str()
                .unwrap()
                .to_string(),
            "router" => "vpcroute-router-sync".to_string(),
            other => panic!("{name}: unknown build target {other}"),
        };
        assert!(
            bins.contains(&binary),
            "{name} runs {binary}, which the workspace does not build"
        );
        run.insert(binary);
        // Every service connects to NATS with its own user.
        assert!(
            !svc["environment"]["VPCROUTE_NATS_USER"].is_badvalue(),
            "{name} has no NATS user"
        );
    }
    for b in [
        "vpcroute-ipam",
        "vpcroute-area-registry",
        "vpcroute-config-renderer",
        "vpcroute-router-sync",
    ] {
        assert!(run.contains(b), "docker-compose.yml runs no {b}");
    }
}

#[test]
fn the_image_copies_every_binary_it_runs() {
    let dockerfile = std::fs::read_to_string(workspace_root().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("cargo build --release --workspace --bins"));
    for b in workspace_binaries() {
        assert!(
            dockerfile.contains(&format!("target/release/{b}")),
            "the image does not copy {b}"
        );
    }
    for target in ["AS build", "AS service", "AS router"] {
        assert!(
            dockerfile.contains(target),
            "Dockerfile has no stage {target}"
        );
    }
}
