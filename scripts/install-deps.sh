#!/usr/bin/env bash
# Installs what vpcroute needs from Debian's packages, only what is missing.
# Safe to run again; used by run.sh and test.sh.
set -euo pipefail

need=()
command -v nats-server >/dev/null || need+=(nats-server)
[ -x /usr/lib/frr/ospfd ] && command -v vtysh >/dev/null || need+=(frr)
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v jq >/dev/null || need+=(jq)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v ping >/dev/null || need+=(iputils-ping)
# The NATS TLS test makes its CA and certificates with openssl.
command -v openssl >/dev/null || need+=(openssl)
# vpcroute-cloudstack's AMQP tests run a private RabbitMQ (tests/harness/rabbitmq.rs).
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)

if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
    else
        SUDO=
    fi
    echo "install-deps: installing ${need[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    echo "install-deps: cargo not found; install a current Rust toolchain (https://rustup.rs)" >&2
    exit 1
fi
