#!/usr/bin/env bash
# The compose stack on a machine that reaches no image registry.
#
#   scripts/docker.sh build        the one command that builds every image
#   scripts/docker.sh COMPOSE-ARGS  docker compose with the same settings,
#                                   e.g. `scripts/docker.sh up -d`
#
# `build`: the Debian base image (scripts/docker-base.sh: debootstrap from
# this machine's apt sources), the workspace's binaries on the host (cargo,
# PROFILE=debug|release, default debug), stripped copies of them in
# target/docker/bin (the only part of target/ in the build context, see
# .dockerignore), NATS secrets in ./secrets (VPCROUTE_SECRETS) when absent,
# then `compose build` of the prebuilt and local targets. Anywhere with a
# registry, plain `docker compose up --build` uses the standard images.
set -euo pipefail
cd "$(dirname "$0")/.."

. /etc/os-release
export VPCROUTE_BASE_IMAGE=${VPCROUTE_BASE_IMAGE:-vpcroute-base:$VERSION_CODENAME}
export VPCROUTE_SERVICE_TARGET=service-prebuilt
export VPCROUTE_ROUTER_TARGET=router-prebuilt
export VPCROUTE_NATS_TARGET=nats-local
export VPCROUTE_SECRETS=${VPCROUTE_SECRETS:-$PWD/secrets}

# `docker compose` (v2) where the CLI has it, else docker-compose (v1).
compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose "$@"
    else
        docker-compose "$@"
    fi
}

# One random secret per file the compose file names, never overwritten.
# Files are 0644 in a 0700 directory: compose (outside swarm) bind-mounts
# each as it is, and the services read theirs as a non-root user.
make_secrets() {
    install -d -m 0700 "$VPCROUTE_SECRETS"
    local name
    for name in nats-ipam nats-areas nats-config nats-sync nats-cloudstack \
        nats-cloudstack-adapter nats-cloudstack-events ospf-key; do
        [ -s "$VPCROUTE_SECRETS/$name" ] && continue
        # OSPF MD5 keys are at most 16 characters.
        (umask 022 && openssl rand -hex 8 >"$VPCROUTE_SECRETS/$name")
    done
}

build() {
    scripts/docker-base.sh "$VPCROUTE_BASE_IMAGE"
    local profile=${PROFILE:-debug} flag=()
    [ "$profile" = release ] && flag=(--release)
    cargo build "${flag[@]}" -p vpcroute-ipam-service -p vpcroute-area-registry-service \
        -p vpcroute-config-renderer-service -p vpcroute-router-sync-service -p vpcctl \
        -p vpcroute-cloudstack-service
    rm -rf target/docker/bin
    install -d target/docker/bin
    local b
    for b in vpcroute-ipam vpcroute-area-registry vpcroute-config-renderer vpcroute-router-sync vpcctl \
        vpcroute-cloudstack; do
        # Debug info is most of a debug binary; the images need none.
        strip -o "target/docker/bin/$b" "target/$profile/$b"
    done
    make_secrets
    compose build
}

case ${1:-} in
build) build ;;
"") echo "usage: scripts/docker.sh build | COMPOSE-ARGS..." >&2; exit 2 ;;
*) make_secrets; compose "$@" ;;
esac
