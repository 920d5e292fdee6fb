# The vpcroute services, NATS and the FRR routers as container images.
#
# Every base is an ARG, so the same file builds with the standard images
# (the defaults, for `docker compose up --build` anywhere) or with local
# ones on a machine that reaches no registry (scripts/docker.sh build:
# BASE_IMAGE from scripts/docker-base.sh, binaries built on the host).
#
# Targets: service / router / nats build everything in a Rust stage;
# service-prebuilt / router-prebuilt copy the binaries the host built into
# target/docker/bin (scripts/docker.sh), and nats-local installs Debian's
# nats-server. The prebuilt and local stages come first: the classic
# builder (Docker without BuildKit) builds every stage before its target, so
# none of them may follow a stage FROM an image this machine cannot pull.
ARG BASE_IMAGE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1-bookworm
ARG NATS_IMAGE=nats:2.10

# ---- what every service image holds: an unprivileged user and its data
FROM ${BASE_IMAGE} AS service-base
RUN useradd --system --home /var/lib/vpcroute vpcroute \
 && install -d -o vpcroute -m 0700 /var/lib/vpcroute
ENV VPCROUTE_DATA_DIR=/var/lib/vpcroute
VOLUME /var/lib/vpcroute

# ---- a router: FRR (zebra + ospfd), nft, ip and ping. The same image runs
# a VPC virtual router (with router-sync), the core router and a VM
# (deploy/router-entrypoint.sh, ROLE).
FROM ${BASE_IMAGE} AS router-base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      frr iproute2 nftables iputils-ping \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/router-entrypoint.sh /usr/local/bin/router-entrypoint.sh
ENV VPCROUTE_DATA_DIR=/var/lib/vpcroute
ENTRYPOINT ["/usr/local/bin/router-entrypoint.sh"]

# ---- NATS from Debian's nats-server (no registry needed)
FROM ${BASE_IMAGE} AS nats-local
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/*
# (the package adds the system user nats)
COPY deploy/nats-entrypoint.sh /usr/local/bin/nats-entrypoint.sh
USER nats
ENTRYPOINT ["/usr/local/bin/nats-entrypoint.sh"]

# ---- the binaries the host built (scripts/docker.sh stages them)
FROM service-base AS service-prebuilt
COPY target/docker/bin/ /usr/local/bin/
USER vpcroute

FROM router-base AS router-prebuilt
COPY target/docker/bin/vpcroute-router-sync target/docker/bin/vpcctl /usr/local/bin/

# ---- everywhere else: build every binary of the workspace once
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins \
 && mkdir /out \
 && cp target/release/vpcroute-ipam target/release/vpcroute-area-registry \
       target/release/vpcroute-config-renderer target/release/vpcroute-router-sync \
       target/release/vpcctl target/release/vpcroute-cloudstack /out/

# ---- the four services, vpcctl and vpcroute-cloudstack
FROM service-base AS service
COPY --from=build /out/ /usr/local/bin/
USER vpcroute

FROM router-base AS router
COPY --from=build /out/vpcroute-router-sync /out/vpcctl /usr/local/bin/

# ---- NATS: the official image's server with the entrypoint that reads the
# passwords from compose secrets (the official image has no shell)
FROM ${NATS_IMAGE} AS nats-upstream
FROM service-base AS nats
COPY --from=nats-upstream /nats-server /usr/local/bin/nats-server
COPY deploy/nats-entrypoint.sh /usr/local/bin/nats-entrypoint.sh
USER vpcroute
ENTRYPOINT ["/usr/local/bin/nats-entrypoint.sh"]
