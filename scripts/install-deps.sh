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
# scripts/docker-base.sh builds the local Docker base image with debootstrap.
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v ping >/dev/null || need+=(iputils-ping)
# The NATS TLS test makes its CA and certificates with openssl.
command -v openssl >/dev/null || need+=(openssl)
# The lab tests capture the rogue routers' hellos with tcpdump (the
# positive control of "never became a neighbour").
command -v tcpdump >/dev/null || need+=(tcpdump)
# The CloudStack API simulator's signature check is proven with `cs` from
# PyPI (below), which needs python3 and pip.
python3 -m pip --version >/dev/null 2>&1 || need+=(python3 python3-pip)
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

# `cs`, an independent CloudStack API client (tests/cloudstack_api_e2e.rs
# signs requests with it against the simulator). Pinned: a signing change in
# a new release must be a deliberate upgrade.
CS_VERSION=5.2.0
if [ "$(cs --version 2>/dev/null)" != "$CS_VERSION" ]; then
    echo "install-deps: installing cs $CS_VERSION (pip)" >&2
    # Debian's own python3 refuses pip installs outside a venv (PEP 668)
    # unless told to; a pyenv or venv python takes the first form.
    python3 -m pip install --quiet "cs==$CS_VERSION" 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages "cs==$CS_VERSION"
    command -v pyenv >/dev/null && pyenv rehash || true
fi

if ! command -v cargo >/dev/null; then
    echo "install-deps: cargo not found; install a current Rust toolchain (https://rustup.rs)" >&2
    exit 1
fi
