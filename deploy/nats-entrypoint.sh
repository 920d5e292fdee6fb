#!/bin/sh
# Starts nats-server with the given arguments after reading the seven NATS
# passwords from compose secrets (/run/secrets/nats_*, one file each) into
# the variables deploy/nats-server.conf names. nats-server resolves a
# config variable only from the same file or its own environment (a
# variable defined in an included file is not seen by a sibling include), so
# the secret files reach it as its environment, and no other process's.
# nats-server parses a variable's value as a config value: a bare password
# starting with a digit ("6e3f...") fails to parse ("Expected a top-level
# value to end with a new line ..."), so each is handed over quoted, which
# leaves the password as written (seen with nats-server 2.9.10).
set -eu
for pair in IPAM:nats_ipam AREAS:nats_areas CONFIG:nats_config SYNC:nats_sync CLOUDSTACK:nats_cloudstack \
    CLOUDSTACK_ADAPTER:nats_cloudstack_adapter CLOUDSTACK_EVENTS:nats_cloudstack_events; do
    var=VPCROUTE_PW_${pair%%:*}
    file=/run/secrets/${pair#*:}
    [ -r "$file" ] || { echo "nats-entrypoint: cannot read $file" >&2; exit 1; }
    value=$(cat "$file")
    case $value in
    *'"'* | *'\'*)
        echo "nats-entrypoint: $file holds a quote or backslash, which a quoted NATS config value cannot" >&2
        exit 1
        ;;
    esac
    export "$var=\"$value\""
done
exec nats-server "$@"
