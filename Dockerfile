# The vpcroute services and FRR virtual routers as containers.
# Build: docker compose build   (see docker-compose.yml)

# ---- build every binary of the workspace once
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins \
 && mkdir /out \
 && cp target/release/vpcroute-ipam target/release/vpcroute-area-registry \
       target/release/vpcroute-config-renderer target/release/vpcroute-router-sync \
       target/release/vpcctl target/release/vpcroute-cloudstack /out/

# ---- the four services, vpcctl and vpcroute-cloudstack
FROM debian:bookworm-slim AS service
RUN useradd --system --home /var/lib/vpcroute vpcroute \
 && install -d -o vpcroute -m 0700 /var/lib/vpcroute
COPY --from=build /out/ /usr/local/bin/
USER vpcroute
ENV VPCROUTE_DATA_DIR=/var/lib/vpcroute
VOLUME /var/lib/vpcroute

# ---- a VPC virtual router: FRR (zebra + ospfd) with router-sync beside it
FROM debian:bookworm-slim AS router
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends frr iproute2 nftables \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/vpcroute-router-sync /out/vpcctl /usr/local/bin/
COPY deploy/router-entrypoint.sh /usr/local/bin/router-entrypoint.sh
ENV VPCROUTE_DATA_DIR=/var/lib/vpcroute
ENTRYPOINT ["/usr/local/bin/router-entrypoint.sh"]
