#!/bin/sh
# Starts nats-server with the given arguments after reading the five NATS
# passwords from compose secrets (/run/secrets/nats_*, one file each) into
# the variables deploy/nats-server.conf names. nats-server resolves a
# config variable only from the same file or its own environment (a
# variable defined in an included file is not seen by a sibling include), so
# the secret files reach it as its environment, and no other process's.
set -eu
for pair in IPAM:nats_ipam AREAS:nats_areas CONFIG:nats_config SYNC:nats_sync CLOUDSTACK:nats_cloudstack; do
    var=VPCROUTE_PW_${pair%%:*}
    file=/run/secrets/${pair#*:}
    [ -r "$file" ] || { echo "nats-entrypoint: cannot read $file" >&2; exit 1; }
    export "$var=$(cat "$file")"
done
exec nats-server "$@"
