#!/bin/sh
# Starts FRR's zebra and ospfd with an empty configuration, then
# router-sync managing this router through the local vtysh. ROUTER names
# the router as given to `vpcctl vpc create --router`.
set -eu
: "${ROUTER:?set ROUTER to the router name}"
install -d -o frr -g frr /var/run/frr
printf 'service integrated-vtysh-config\n' > /etc/frr/vtysh.conf
printf 'hostname %s\n' "$ROUTER" > /etc/frr/frr.conf
chown frr:frr /etc/frr/frr.conf
sysctl -w net.ipv4.ip_forward=1 >/dev/null 2>&1 || true
/usr/lib/frr/zebra -d -u frr -g frr -f /etc/frr/frr.conf
/usr/lib/frr/ospfd -d -u frr -g frr -f /etc/frr/frr.conf
exec vpcroute-router-sync --router "$ROUTER=vtysh" --nft "$ROUTER=nft" "$@"
