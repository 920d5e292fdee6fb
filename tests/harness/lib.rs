//! Test harness: starts a real nats-server and the services on free loopback ports.
//!
//! Every test builds its own world: one [`NatsServer`] on a fresh port, one
//! temporary data directory per service, so tests run in parallel without
//! sharing anything.
//!
//! The service binaries (`vpcroute-ipam`, `vpcctl`) belong to other packages
//! of the workspace, and cargo only builds a package's *own* binaries for its
//! integration tests (`env!("CARGO_BIN_EXE_..")` does not work across
//! packages). `cargo test --workspace` happens to build every package's
//! binaries, but `cargo test -p vpcroute-tests` does not, and either may
//! leave a stale binary behind. [`bins::binary`] therefore runs
//! `cargo build -p vpcroute-ipam-service -p vpcctl` once per test process
//! (same target directory and profile as the test binary, found by walking
//! up from `current_exe()` to `target/<profile>/`), so tests always run
//! against fresh binaries; if that build fails (e.g. someone is mid-edit)
//! existing binaries are used with a warning. Set `VPCROUTE_BIN_DIR` to use
//! prebuilt binaries from a directory instead (no build is attempted).
//!
//! Modules: [`nats`] (a real nats-server, stop/restart on the same port),
//! [`service`] (spawn, SIGKILL, restart, wait until it answers), [`cli`]
//! (the real `vpcctl --json`), [`client`] (typed requests for workloads),
//! [`progress`] (`wait_processed`: every consumer has handled what its
//! producers hold, the marker before any "nothing happened" check),
//! [`wiretap`] (records requests, replies and events on the wire),
//! [`schema`] (validates captured messages against `schemas/`), [`diff`]
//! (line diffs for golden files), [`lab`] (the namespace lab), [`packets`]
//! (real TCP, UDP and ICMP probes between the lab's VMs).
//!
//! Tests need `nats-server` on `PATH` (or `NATS_SERVER_BIN`). Without it a
//! test prints why and returns early (`NatsServer::start()` gives `None`),
//! except when `CI=true`, where a missing server is a failure.

pub mod bins;
pub mod cli;
pub mod client;
pub mod cloudstack;
pub mod cloudstack_sim;
pub mod diff;
pub mod lab;
pub mod nats;
pub mod packets;
pub mod progress;
pub mod rabbitmq;
pub mod schema;
pub mod service;
pub mod wiretap;

pub use bins::binary;
pub use cli::{vpcctl, vpcctl_in, CliOutput};
pub use client::Client;
pub use nats::NatsServer;
pub use progress::{service_status, wait_processed, Running};
pub use schema::SchemaSet;
pub use service::{Service, ServiceKind};
pub use wiretap::{Captured, Wiretap};

/// Starts NATS for a test, or returns from the test (skipping it) when
/// `nats-server` is not installed and `CI` is not `true`.
#[macro_export]
macro_rules! nats_or_skip {
    () => {
        match $crate::NatsServer::start() {
            Some(n) => n,
            None => return,
        }
    };
}
