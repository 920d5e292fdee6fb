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
lab_down() { :; }
cleanup() {
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    lab_down
}
trap cleanup EXIT INT TERM

# One NATS user per service, each allowed only its own subjects
# (deploy/nats-server.conf); passwords generated once, kept 0600.
mkdir -p "$STATE/secrets"
chmod 700 "$STATE/secrets"
for user in ipam area-registry config-renderer router-sync cloudstack cloudstack-adapter cloudstack-events; do
    f="$STATE/secrets/$user"
    [ -s "$f" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$f")
done
export VPCROUTE_PW_IPAM=$(cat "$STATE/secrets/ipam")
export VPCROUTE_PW_AREAS=$(cat "$STATE/secrets/area-registry")
export VPCROUTE_PW_CONFIG=$(cat "$STATE/secrets/config-renderer")
export VPCROUTE_PW_SYNC=$(cat "$STATE/secrets/router-sync")
export VPCROUTE_PW_CLOUDSTACK=$(cat "$STATE/secrets/cloudstack")
export VPCROUTE_PW_CLOUDSTACK_ADAPTER=$(cat "$STATE/secrets/cloudstack-adapter")
export VPCROUTE_PW_CLOUDSTACK_EVENTS=$(cat "$STATE/secrets/cloudstack-events")

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

# As root, the design article's network runs beside the services: a core
# router and two VRs with real FRR in network namespaces (scripts/lab.sh),
# managed by router-sync. The zone's OSPF key is generated once.
LAB=no
if [ "$(id -u)" -eq 0 ] && [ -x /usr/lib/frr/ospfd ]; then
    LAB=yes
    KEY="$STATE/secrets/ospf-key"
    [ -s "$KEY" ] || (umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=' | cut -c1-16 >"$KEY")
    scripts/lab.sh up --key-file "$KEY" >"$STATE/logs/lab.log" 2>&1
    lab_down() { scripts/lab.sh down >>"$STATE/logs/lab.log" 2>&1 || true; }
    start_service router-sync \
        --router "left-vr=$(scripts/lab.sh router-cmd left-vr)" \
        --nft "left-vr=$(scripts/lab.sh nft-cmd left-vr)" \
        --router "right-vr=$(scripts/lab.sh router-cmd right-vr)" \
        --nft "right-vr=$(scripts/lab.sh nft-cmd right-vr)"
fi

cat <<MSG
vpcroute is running.
  NATS:      $VPCROUTE_NATS_URL
  data:      $STATE
  logs:      $STATE/logs/
Try:
  export VPCROUTE_NATS_URL=$VPCROUTE_NATS_URL VPCROUTE_NATS_USER=cloudstack \\
         VPCROUTE_NATS_PASSWORD_FILE=$STATE/secrets/cloudstack
  export PATH=$BIN:\$PATH
MSG
if [ "$LAB" = yes ]; then
cat <<MSG
The lab (core router, left-vr, right-vr) is up. The design article's Figure 3:
  vpcctl zone enable z1 --super-cidr 10.1.0.0/16 --auth md5 --auth-key-file $KEY
  vpcctl vpc create left  --zone z1 --netmask 255.255.252.0 --router left-vr  --router-id 10.255.0.1 --uplink eth1=192.168.100.2/24
  vpcctl vpc create right --zone z1 --netmask 255.255.252.0 --router right-vr --router-id 10.255.0.2 --uplink eth1=192.168.100.3/24
  scripts/lab.sh tier add left-vr eth2 10.1.1.1/24; scripts/lab.sh tier add right-vr eth2 10.1.5.1/24
  vpcctl tier create left-tier  --vpc left  --gateway 10.1.1.1 --netmask 255.255.255.0 --interface eth2
  vpcctl tier create right-tier --vpc right --gateway 10.1.5.1 --netmask 255.255.255.0 --interface eth2
  vpcctl vm create left-vm1 --tier left-tier; vpcctl vm create right-vm1 --tier right-tier   # 10.1.1.2, 10.1.5.2
  scripts/lab.sh vm add left-vm1 left-vr eth2 10.1.1.2/24 10.1.1.1
  scripts/lab.sh vm add right-vm1 right-vr eth2 10.1.5.2/24 10.1.5.1
Look inside (adjacencies take about 40 s to form):
  vpcctl router status left-vr
  $(scripts/lab.sh router-cmd left-vr) -c 'show ip ospf neighbor'
  ip netns exec vpcr-left-vr ip route show proto ospf
Routed, yet closed: a tier with no ACL list lets nothing in. Open ICMP:
  vpcctl acl create right-acl --vpc right
  vpcctl acl rule add right-acl --number 10 --cidr 10.1.0.0/22 --protocol icmp --traffic ingress --action allow
  vpcctl tier set-acl right-tier right-acl
  ip netns exec vpcr-left-vm1 ping 10.1.5.2
  ip netns exec vpcr-right-vr nft list table inet vpcroute
MSG
else
cat <<MSG
  vpcctl zone enable z1 --super-cidr 10.1.0.0/16
  vpcctl vpc create left --zone z1 --netmask 255.255.252.0
  vpcctl show zone z1
(Run as root to get the FRR lab and router-sync too.)
MSG
fi
echo "Ctrl-C stops the stack."
wait -n "${pids[@]}" || true
echo "a process of the stack exited; stopping (see $STATE/logs/)" >&2
