#!/bin/sh
# One image, three roles (ROLE), as docker-compose.yml runs them:
#   vr    a VPC virtual router: FRR (zebra + ospfd) starting empty, and
#         router-sync managing it through the local vtysh and nft. ROUTER
#         names it as given to `vpcctl vpc create --router`.
#   core  the physical network's core router: FRR with area 0 on its
#         backbone interface, MD5 key id 1 from /run/secrets/ospf_key.
#   vm    a VM on a tier: its default route via GATEWAY (its VR), then idle.
# Docker names a container's interfaces eth0, eth1... in an order compose
# does not promise, so the routers rename theirs by the address compose
# gave them: UPLINK_ADDR becomes bb0 and TIER_ADDR tier0, the names the VPC
# is created with (`--uplink bb0=...`, `tier create --interface tier0`).
set -eu

# Renames the interface holding IPv4 address $1 to $2.
name_interface() {
    dev=$(ip -o -4 addr show | awk -v a="$1" 'index($4, a "/") == 1 { print $2; exit }')
    [ -n "$dev" ] || { echo "router-entrypoint: no interface has $1" >&2; exit 1; }
    [ "$dev" = "$2" ] && return 0
    ip link set dev "$dev" down
    ip link set dev "$dev" name "$2"
    ip link set dev "$2" up
}

start_frr() {
    install -d -o frr -g frr /var/run/frr
    printf 'service integrated-vtysh-config\n' > /etc/frr/vtysh.conf
    chown frr:frr /etc/frr/frr.conf
    /usr/lib/frr/zebra -d -u frr -g frr -f /etc/frr/frr.conf
    /usr/lib/frr/ospfd -d -u frr -g frr -f /etc/frr/frr.conf
}

case ${ROLE:-vr} in
vr)
    : "${ROUTER:?set ROUTER to the router name}"
    name_interface "${UPLINK_ADDR:?}" bb0
    name_interface "${TIER_ADDR:?}" tier0
    printf 'hostname %s\n' "$ROUTER" > /etc/frr/frr.conf
    start_frr
    exec vpcroute-router-sync --router "$ROUTER=vtysh" --nft "$ROUTER=nft" "$@"
    ;;
core)
    name_interface "${UPLINK_ADDR:?}" bb0
    key=$(cat /run/secrets/ospf_key)
    cat > /etc/frr/frr.conf <<CONF
frr defaults traditional
hostname core
interface bb0
 ip ospf area 0.0.0.0
 ip ospf network broadcast
 ip ospf authentication message-digest
 ip ospf message-digest-key 1 md5 $key
exit
router ospf
 ospf router-id ${ROUTER_ID:?}
 log-adjacency-changes
exit
CONF
    chmod 0600 /etc/frr/frr.conf
    start_frr
    exec sleep infinity
    ;;
vm)
    ip route replace default via "${GATEWAY:?}"
    exec sleep infinity
    ;;
*)
    echo "router-entrypoint: unknown ROLE '$ROLE' (vr, core or vm)" >&2
    exit 1
    ;;
esac
