#!/usr/bin/env bash
# Runs the whole vpcroute stack in the foreground: a NATS server on a free
# loopback port and every service, with their data in ./.vpcroute/.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --workspace --bins

STATE=${VPCROUTE_STATE:-$PWD/.vpcroute}
mkdir -p "$STATE/logs"
chmod 700 "$STATE"
BIN=$PWD/target/release

free_port() {
    python3 - <<'PY' 2>/dev/null || echo 4222
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}
PORT=${VPCROUTE_NATS_PORT:-4222}
if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then PORT=$(free_port); fi
export VPCROUTE_NATS_URL=nats://127.0.0.1:$PORT

pids=()
cleanup() {
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# One NATS user per service, each allowed only its own subjects
# (deploy/nats-server.conf); passwords generated once, kept 0600.
mkdir -p "$STATE/secrets"
chmod 700 "$STATE/secrets"
for user in ipam area-registry config-renderer router-sync cloudstack; do
    f="$STATE/secrets/$user"
    [ -s "$f" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$f")
done
export VPCROUTE_PW_IPAM=$(cat "$STATE/secrets/ipam")
export VPCROUTE_PW_AREAS=$(cat "$STATE/secrets/area-registry")
export VPCROUTE_PW_CONFIG=$(cat "$STATE/secrets/config-renderer")
export VPCROUTE_PW_SYNC=$(cat "$STATE/secrets/router-sync")
export VPCROUTE_PW_CLOUDSTACK=$(cat "$STATE/secrets/cloudstack")

nats-server -c deploy/nats-server.conf -a 127.0.0.1 -p "$PORT" >"$STATE/logs/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

start_service() { # NAME [ARGS...]
    local svc=$1; shift
    "$BIN/vpcroute-$svc" --data-dir "$STATE/$svc" \
        --nats-user "$svc" --nats-password-file "$STATE/secrets/$svc" "$@" \
        >"$STATE/logs/$svc.log" 2>&1 &
    pids+=($!)
}
for svc in ipam area-registry config-renderer; do start_service "$svc"; done

cat <<MSG
vpcroute is running.
  NATS:      $VPCROUTE_NATS_URL
  data:      $STATE
  logs:      $STATE/logs/
Try:
  export VPCROUTE_NATS_URL=$VPCROUTE_NATS_URL VPCROUTE_NATS_USER=cloudstack \\
         VPCROUTE_NATS_PASSWORD_FILE=$STATE/secrets/cloudstack
  $BIN/vpcctl zone enable z1 --super-cidr 10.1.0.0/16
  $BIN/vpcctl vpc create left --zone z1 --netmask 255.255.252.0
  $BIN/vpcctl show zone z1
Ctrl-C stops the stack.
MSG
wait -n "${pids[@]}" || true
echo "a process of the stack exited; stopping (see $STATE/logs/)" >&2
