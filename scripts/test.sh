#!/usr/bin/env bash
# Runs every test of vpcroute: unit, property, replay and end-to-end tests
# against a real nats-server (and real FRR where a test needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Integration tests start the service binaries: build them first.
cargo build --workspace --bins
cargo test --workspace "$@"
