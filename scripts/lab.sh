#!/usr/bin/env bash
# lab.sh: the design article's network with real FRR in network namespaces.
#
#   vpcr-phys        bridge br-phys = the shared physical segment 192.168.100.0/24
#   vpcr-core        core router (backbone), eth1 192.168.100.1, router-id 10.255.0.254
#   vpcr-left-vr     VR, eth1 192.168.100.2, FRR with a minimal config
#   vpcr-right-vr    VR, eth1 192.168.100.3, FRR with a minimal config
#   vpcr-<vm>        VMs, eth0 plugged into a VR's tier bridge
#
# Nothing is created in the root namespace: every link is created from inside
# a lab namespace. FRR runs one zebra + ospfd per namespace with its own
# pathspace (-N <ns>): config in /etc/frr/<ns>/, sockets, pid files and logs in
# /var/run/frr/<ns>/. Talk to it with:  ip netns exec <ns> vtysh -N <ns>
#
# Run `lab.sh help` for the subcommands. docs/frr-notes.md has what was learnt.
set -euo pipefail

PREFIX=vpcr-
PHYS_NS=vpcr-phys
PHYS_BR=br-phys
CORE_NS=vpcr-core
VRS=(left-vr right-vr)
declare -A ADDR=([core]=192.168.100.1 [left-vr]=192.168.100.2 [right-vr]=192.168.100.3)
PHYS_LEN=24
CORE_RID=10.255.0.254
FRR_BIN=/usr/lib/frr
FRR_ETC=/etc/frr
FRR_RUN=/var/run/frr
DAEMONS=(zebra ospfd)

die() { echo "lab.sh: error: $*" >&2; exit 1; }
note() { echo "lab.sh: $*" >&2; }

usage() {
    cat <<'EOF'
usage: lab.sh COMMAND [ARGS]

  up [--key-file F] [--key-id N] [--auth md5|plaintext|none]
     [--hello N] [--dead N] [--retransmit N] [--transmit-delay N]
        Build vpcr-phys (br-phys), vpcr-core (FRR, eth1 in area 0 with these
        timers/auth), vpcr-left-vr and vpcr-right-vr (FRR, minimal config).
        --auth defaults to md5 when --key-file is given, else none; --key-id
        defaults to 1. The key file's first line is the key (md5: 1-16
        chars, plaintext: 1-8 chars). Idempotent: re-running keeps what
        exists; a changed core config restarts the core's FRR.
  tier add VR IFACE GATEWAY/LEN   bridge IFACE (always has carrier) in the VR
  tier del VR IFACE               delete it (VM NICs on it go with it)
  vm add VM VR IFACE IP/LEN GATEWAY
                                  namespace vpcr-VM, eth0 plugged into IFACE
  vm del VM
  frr start NS | frr restart NS | frr stop NS
        restart = stop + start with the minimal config (a VR reboot); for
        vpcr-core the config written by `up`. `frr start` works in any lab
        namespace, e.g. a VM (a rogue ospfd).
  router add NAME ADDR/LEN
        one more router on the physical segment (namespace vpcr-NAME, eth1
        with ADDR) running FRR with the minimal config, e.g. a router with
        the wrong key in a test
  router-cmd VR   the command router-sync runs for that router's vtysh
  nft-cmd VR      the command router-sync runs for that router's nft
  status          namespaces, OSPF neighbours, how to look inside
  down            remove everything (daemons, namespaces, /etc/frr/vpcr-*,
                  /var/run/frr/vpcr-*)

VR, VM and NS accept the short name (left-vr) or the namespace (vpcr-left-vr).
EOF
}

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# ---------------------------------------------------------------- helpers

nsname() {
    local n=$1
    [[ $n == "$PREFIX"* ]] || n="$PREFIX$n"
    [[ $n =~ ^vpcr-[a-z0-9][a-z0-9-]*$ ]] || die "bad name '$1' (use [a-z0-9-])"
    echo "$n"
}
short() { echo "${1#"$PREFIX"}"; }
ns_exists() { [ -e "/run/netns/$1" ]; }
need_ns() { ns_exists "$1" || die "namespace $1 does not exist (run: lab.sh up)"; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
link_exists() { nsx "$1" ip link show dev "$2" >/dev/null 2>&1; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
check_iface() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$ ]] || die "bad interface name '$1' (1-15 chars)"
}
check_cidr() {
    [[ $1 =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] || die "bad address '$1' (want A.B.C.D/LEN)"
}
check_ip() {
    [[ $1 =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || die "bad address '$1' (want A.B.C.D)"
}

ensure_ns() {
    local ns=$1
    ns_exists "$ns" || ip netns add "$ns"
    nsx "$ns" ip link set lo up
}

router_sysctls() {
    nsx "$1" sysctl -qw net.ipv4.ip_forward=1
    # No IPv6 on lab links: keeps link-local noise out of captures.
    nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# veth NAME in NS whose peer PEER is a port of the bridge BR in BRNS.
# Created from inside NS so nothing ever appears in the root namespace.
plug() {
    local ns=$1 name=$2 brns=$3 peer=$4 br=$5
    if ! link_exists "$ns" "$name"; then
        link_exists "$brns" "$peer" && nsx "$brns" ip link del "$peer"
        nsx "$ns" ip link add "$name" type veth peer name "$peer" netns "$brns"
    fi
    nsx "$brns" ip link set "$peer" master "$br" up
    nsx "$ns" ip link set "$name" up
}

set_addr() { # NS IFACE A.B.C.D/LEN: make it the only IPv4 address of IFACE
    local ns=$1 dev=$2 cidr=$3
    if ! nsx "$ns" ip -4 -o addr show dev "$dev" | awk '{print $4}' | grep -qx "$cidr"; then
        nsx "$ns" ip -4 addr flush dev "$dev"
        nsx "$ns" ip addr add "$cidr" dev "$dev"
    fi
}

# ---------------------------------------------------------------- FRR

pid_of() { # NS DAEMON -> pid if that daemon runs in NS
    local f="$FRR_RUN/$1/$2.pid" p
    [ -r "$f" ] || return 1
    p=$(cat "$f" 2>/dev/null) || return 1
    is_uint "$p" || return 1
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] || return 1
    [ "$(ip netns identify "$p" 2>/dev/null)" = "$1" ] || return 1
    echo "$p"
}

frr_running() { pid_of "$1" zebra >/dev/null && pid_of "$1" ospfd >/dev/null; }

minimal_conf() {
    cat <<EOF
frr defaults traditional
hostname $(short "$1")
EOF
}

write_conf() { # NS < text: /etc/frr/NS/frr.conf (+ vtysh.conf)
    local dir="$FRR_ETC/$1"
    install -d -o frr -g frr -m 0750 "$dir"
    cat >"$dir/frr.conf.new"
    mv "$dir/frr.conf.new" "$dir/frr.conf"
    # empty vtysh.conf: integrated frr.conf is vtysh's default; a
    # `service integrated-vtysh-config` line here would show up in
    # `show running-config`.
    [ -e "$dir/vtysh.conf" ] || : >"$dir/vtysh.conf"
    chown frr:frr "$dir/frr.conf" "$dir/vtysh.conf"
    chmod 0640 "$dir/frr.conf" "$dir/vtysh.conf"
}

wait_socket() {
    local s=$1 i
    for i in $(seq 50); do [ -S "$s" ] && return 0; sleep 0.1; done
    die "timed out waiting for $s"
}

frr_start() { # NS: start zebra + ospfd (if not running), then load frr.conf
    local ns=$1 run="$FRR_RUN/$1" d p
    need_ns "$ns"
    [ -x "$FRR_BIN/ospfd" ] || die "FRR is not installed ($FRR_BIN/ospfd missing): apt-get install frr"
    [ -r "$FRR_ETC/$ns/frr.conf" ] || minimal_conf "$ns" | write_conf "$ns"
    install -d -o frr -g frr -m 0755 "$FRR_RUN"
    install -d -o frr -g frr -m 0755 "$run"
    local started=0
    for d in "${DAEMONS[@]}"; do
        if p=$(pid_of "$ns" "$d"); then continue; fi
        rm -f "$run/$d.pid" "$run/$d.vty"
        local extra=()
        [ "$d" = zebra ] && extra=(-s 90000000)
        # -P 0: no TCP vty at all (vtysh uses the unix sockets in $run).
        # The daemons share the host's UTS namespace on purpose: vtysh adds
        # its own uname hostname to `show running-config`, so a daemon with
        # another hostname would show two `hostname` lines.
        nsx "$ns" "$FRR_BIN/$d" -N "$ns" -d -F traditional -u frr -g frr -P 0 \
            --log "file:$run/$d.log" "${extra[@]}" >"$run/$d.stderr" 2>&1 9<&- ||
            { cat "$run/$d.stderr" >&2; die "$d did not start in $ns"; }
        wait_socket "$run/$d.vty"
        # the daemon keeps this file open: never a pipe, or callers hang
        grep -v 'Disabling MPLS support' "$run/$d.stderr" >&2 || true
        started=1
    done
    if [ $started = 1 ]; then
        # frrinit.sh does the same: daemons skip a missing <daemon>.conf when
        # frr.conf exists; vtysh -b pushes the integrated frr.conf into them.
        nsx "$ns" vtysh -N "$ns" -b >/dev/null || die "vtysh -N $ns -b failed"
        note "FRR (zebra, ospfd) running in $ns"
    fi
}

kill_pid() { # PID: TERM, wait up to 5 s, then KILL
    local p=$1 i
    kill -TERM "$p" 2>/dev/null || return 0
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
}

frr_stop() {
    local ns=$1 d p
    for d in ospfd zebra; do
        if p=$(pid_of "$ns" "$d"); then kill_pid "$p"; fi
        rm -f "$FRR_RUN/$ns/$d.pid" "$FRR_RUN/$ns/$d.vty"
    done
    rm -f "$FRR_RUN/$ns/zserv.api"
}

# ---------------------------------------------------------------- up

core_conf() {
    local auth=$1 keyid=$2 key=$3 hello=$4 dead=$5 rxmt=$6 tdelay=$7
    echo "frr defaults traditional"
    echo "hostname core"
    echo "!"
    echo "interface eth1"
    echo " ip ospf area 0.0.0.0"
    echo " ip ospf network broadcast"
    echo " ip ospf hello-interval $hello"
    echo " ip ospf dead-interval $dead"
    echo " ip ospf retransmit-interval $rxmt"
    echo " ip ospf transmit-delay $tdelay"
    case $auth in
        md5) echo " ip ospf authentication message-digest"
             echo " ip ospf message-digest-key $keyid md5 $key" ;;
        plaintext) echo " ip ospf authentication"
             echo " ip ospf authentication-key $key" ;;
    esac
    echo "exit"
    echo "!"
    echo "router ospf"
    echo " ospf router-id $CORE_RID"
    echo " log-adjacency-changes"
    echo "exit"
}

cmd_up() {
    local keyfile="" keyid=1 auth="" hello=10 dead=40 rxmt=5 tdelay=1 key=""
    while [ $# -gt 0 ]; do
        case $1 in
            --key-file) keyfile=${2:?--key-file needs a file}; shift 2 ;;
            --key-id) keyid=${2:?--key-id needs N}; shift 2 ;;
            --auth) auth=${2:?--auth needs md5|plaintext|none}; shift 2 ;;
            --hello) hello=${2:?}; shift 2 ;;
            --dead) dead=${2:?}; shift 2 ;;
            --retransmit) rxmt=${2:?}; shift 2 ;;
            --transmit-delay) tdelay=${2:?}; shift 2 ;;
            *) die "up: unknown option '$1'" ;;
        esac
    done
    for v in "$keyid" "$hello" "$dead" "$rxmt" "$tdelay"; do is_uint "$v" || die "up: '$v' is not a number"; done
    [ -n "$auth" ] || { [ -n "$keyfile" ] && auth=md5 || auth=none; }
    case $auth in
        md5|plaintext)
            [ -n "$keyfile" ] || die "up: --auth $auth needs --key-file"
            [ -r "$keyfile" ] || die "up: cannot read key file '$keyfile'"
            key=$(head -n1 "$keyfile" | tr -d '\r\n')
            [ -n "$key" ] || die "up: key file '$keyfile' is empty"
            [[ $key =~ [[:space:]] ]] && die "up: the key must not contain white space"
            if [ $auth = md5 ]; then
                [ ${#key} -le 16 ] || die "up: an md5 key has at most 16 characters"
                [ "$keyid" -ge 1 ] && [ "$keyid" -le 255 ] || die "up: --key-id must be 1-255"
            else
                [ ${#key} -le 8 ] || die "up: a plaintext key has at most 8 characters"
            fi ;;
        none) ;;
        *) die "up: --auth must be md5, plaintext or none" ;;
    esac
    [ "$hello" -ge 1 ] && [ "$hello" -le 65535 ] || die "up: --hello must be 1-65535"
    [ "$dead" -ge 1 ] && [ "$dead" -le 65535 ] || die "up: --dead must be 1-65535"
    [ "$rxmt" -ge 1 ] && [ "$rxmt" -le 65535 ] || die "up: --retransmit must be 1-65535"
    [ "$tdelay" -ge 1 ] && [ "$tdelay" -le 65535 ] || die "up: --transmit-delay must be 1-65535"

    # physical segment
    ensure_ns "$PHYS_NS"
    nsx "$PHYS_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    link_exists "$PHYS_NS" "$PHYS_BR" ||
        nsx "$PHYS_NS" ip link add "$PHYS_BR" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    nsx "$PHYS_NS" ip link set "$PHYS_BR" up

    # routers
    local r ns
    for r in core "${VRS[@]}"; do
        ns=$(nsname "$r")
        ensure_ns "$ns"
        router_sysctls "$ns"
        plug "$ns" eth1 "$PHYS_NS" "p-$r" "$PHYS_BR"
        set_addr "$ns" eth1 "${ADDR[$r]}/$PHYS_LEN"
    done

    # core FRR: restart it if its config changed
    local new old=""
    new=$(core_conf "$auth" "$keyid" "$key" "$hello" "$dead" "$rxmt" "$tdelay")
    [ -r "$FRR_ETC/$CORE_NS/frr.conf" ] && old=$(cat "$FRR_ETC/$CORE_NS/frr.conf")
    if [ "$new" != "$old" ]; then
        printf '%s\n' "$new" | write_conf "$CORE_NS"
        if frr_running "$CORE_NS"; then note "core config changed: restarting its FRR"; frr_stop "$CORE_NS"; fi
    fi
    frr_start "$CORE_NS"
    for r in "${VRS[@]}"; do
        ns=$(nsname "$r")
        frr_running "$ns" || minimal_conf "$ns" | write_conf "$ns"
        frr_start "$ns"
    done
    local kid=""; [ "$auth" = md5 ] && kid=" key-id=$keyid"
    note "up: auth=$auth$kid hello=$hello dead=$dead retransmit=$rxmt transmit-delay=$tdelay"
    note "configure a VR with: $(router_cmd left-vr) -c 'configure terminal' -c '...'"
}

# ---------------------------------------------------------------- tiers, VMs

cmd_tier() {
    local sub=${1:-}; shift || true
    case $sub in
        add)
            [ $# -eq 3 ] || die "usage: lab.sh tier add VR IFACE GATEWAY/LEN"
            local ns; ns=$(nsname "$1"); need_ns "$ns"
            check_iface "$2"; check_cidr "$3"
            local br=$2
            [ ${#br} -le 12 ] || die "tier interface name at most 12 chars"
            link_exists "$ns" "$br" || nsx "$ns" ip link add "$br" type bridge stp_state 0 forward_delay 0
            # An empty bridge has no carrier and zebra/ospfd then treat the
            # tier as down. A veth pair with one end in the bridge keeps it
            # up, like the VR's NIC for a tier that has no VM yet.
            if ! link_exists "$ns" "$br-a"; then
                nsx "$ns" ip link add "$br-a" type veth peer name "$br-b"
            fi
            nsx "$ns" ip link set "$br-a" master "$br" up
            nsx "$ns" ip link set "$br-b" up
            nsx "$ns" ip link set "$br" up
            set_addr "$ns" "$br" "$3"
            note "tier $br $3 up in $ns" ;;
        del)
            [ $# -eq 2 ] || die "usage: lab.sh tier del VR IFACE"
            local ns; ns=$(nsname "$1"); need_ns "$ns"; check_iface "$2"
            local br=$2 port
            link_exists "$ns" "$br" || { note "no $br in $ns"; return 0; }
            for port in $(nsx "$ns" ip -o link show master "$br" | awk -F': ' '{print $2}' | cut -d@ -f1); do
                [ "$port" = "$br-a" ] || note "deleting $port (a VM's NIC) with tier $br"
                nsx "$ns" ip link del "$port" 2>/dev/null || true
            done
            nsx "$ns" ip link del "$br"
            note "tier $br deleted from $ns" ;;
        *) die "usage: lab.sh tier add|del ..." ;;
    esac
}

vm_port() { # VM short name -> name of its NIC's peer in the VR (<=15 chars)
    local s=$1
    if [ ${#s} -le 13 ]; then echo "v-$s"; else echo "v-$(printf '%s' "$s" | md5sum | cut -c1-13)"; fi
}

cmd_vm() {
    local sub=${1:-}; shift || true
    case $sub in
        add)
            [ $# -eq 5 ] || die "usage: lab.sh vm add VM VR IFACE IP/LEN GATEWAY"
            local vm vr br=$3 cidr=$4 gw=$5
            vm=$(nsname "$1"); vr=$(nsname "$2")
            need_ns "$vr"; check_iface "$br"; check_cidr "$cidr"; check_ip "$gw"
            case " ${VRS[*]} core phys " in *" $(short "$vm") "*) die "'$1' is a router, not a VM";; esac
            link_exists "$vr" "$br" || die "no tier $br in $vr (lab.sh tier add $(short "$vr") $br GATEWAY/LEN)"
            ensure_ns "$vm"
            nsx "$vm" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
            plug "$vm" eth0 "$vr" "$(vm_port "$(short "$vm")")" "$br"
            set_addr "$vm" eth0 "$cidr"
            nsx "$vm" ip route replace default via "$gw" dev eth0
            note "VM $vm: eth0 $cidr via $gw on $(short "$vr") $br" ;;
        del)
            [ $# -eq 1 ] || die "usage: lab.sh vm del VM"
            local vm; vm=$(nsname "$1")
            ns_exists "$vm" || { note "no $vm"; return 0; }
            kill_ns "$vm"
            note "VM $vm deleted" ;;
        *) die "usage: lab.sh vm add|del ..." ;;
    esac
}

kill_ns() { # stop FRR and every process left in NS, remove its files, delete NS
    local ns=$1 p
    frr_stop "$ns"
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$p"; done
    ip netns del "$ns"
    rm -rf "${FRR_ETC:?}/$ns" "${FRR_RUN:?}/$ns"
}

# ---------------------------------------------------------------- frr, status, down

cmd_frr() {
    local sub=${1:-} ns
    [ $# -eq 2 ] || die "usage: lab.sh frr start|restart|stop NS"
    ns=$(nsname "$2"); need_ns "$ns"
    case $sub in
        start) frr_start "$ns" ;;
        stop) frr_stop "$ns"; note "FRR stopped in $ns" ;;
        restart)
            frr_stop "$ns"
            # the VR "reboots" with the minimal config; the core keeps its own
            [ "$ns" = "$CORE_NS" ] || minimal_conf "$ns" | write_conf "$ns"
            frr_start "$ns" ;;
        *) die "usage: lab.sh frr start|restart|stop NS" ;;
    esac
}

router_cmd() { local ns; ns=$(nsname "$1"); echo "ip netns exec $ns vtysh -N $ns"; }
nft_cmd() { local ns; ns=$(nsname "$1"); echo "ip netns exec $ns nft"; }

cmd_router() {
    [ $# -eq 3 ] && [ "$1" = add ] || die "usage: lab.sh router add NAME ADDR/LEN"
    local name ns
    name=$(short "$2"); ns=$(nsname "$2")
    check_cidr "$3"
    need_ns "$PHYS_NS"
    ensure_ns "$ns"
    router_sysctls "$ns"
    plug "$ns" eth1 "$PHYS_NS" "p-$name" "$PHYS_BR"
    set_addr "$ns" eth1 "$3"
    minimal_conf "$ns" | write_conf "$ns"
    frr_start "$ns"
    note "router $ns on the physical segment with $3"
}

cmd_status() {
    local ns any=0
    echo "== namespaces"
    for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX" | sort); do
        any=1
        local frr="-"
        frr_running "$ns" && frr="FRR running"
        printf '  %-22s %s\n' "$ns" "$frr"
    done
    [ $any = 1 ] || { echo "  (none: run lab.sh up)"; return 0; }
    for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX" | sort); do
        frr_running "$ns" || continue
        echo "== $ns: show ip ospf neighbor"
        nsx "$ns" vtysh -N "$ns" -c 'show ip ospf neighbor' | sed 's/^/  /' || true
    done
    cat <<EOF
== look inside
  $(router_cmd left-vr) -c 'show ip ospf neighbor'
  $(router_cmd left-vr) -c 'show running-config'
  $(router_cmd right-vr) -c 'show ip route ospf'
  ip netns exec vpcr-right-vr ip route
  ip netns exec vpcr-left-vm1 ping 10.1.5.2
  logs: $FRR_RUN/<ns>/{zebra,ospfd}.log
EOF
}

cmd_down() {
    local ns
    for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX" || true); do
        kill_ns "$ns"
    done
    # daemons whose namespace is already gone (pid files left behind)
    local f p d
    for f in "$FRR_RUN"/"$PREFIX"*/*.pid; do
        [ -e "$f" ] || continue
        d=$(basename "$f" .pid); p=$(cat "$f" 2>/dev/null || true)
        if is_uint "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$d" ] &&
            tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "-N $(basename "$(dirname "$f")") "; then
            kill_pid "$p"
        fi
    done
    rm -rf "${FRR_ETC:?}"/"$PREFIX"* "${FRR_RUN:?}"/"$PREFIX"*
    # FRR 8.4's ospfd writes its graceful-restart state to
    # /var/run/frr/ospfd-gr.json whatever -N says; ours made it unless a
    # host ospfd (one without -N vpcr-) runs.
    local other=0
    for p in $(pgrep -x ospfd || true); do
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "-N $PREFIX" || other=1
    done
    [ $other = 1 ] || rm -f "$FRR_RUN/ospfd-gr.json"
    # `ip netns add` bind-mounts /run/netns onto itself; undo that when no
    # namespace at all is left, so nothing of ours stays mounted.
    if [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
        umount /run/netns 2>/dev/null || true
        rmdir /run/netns 2>/dev/null || true
    fi
    note "down: no vpcr-* namespace, daemon or FRR directory left"
}

# ---------------------------------------------------------------- main

main() {
    local cmd=${1:-help}; shift || true
    case $cmd in
        help|-h|--help) usage; return 0 ;;
        router-cmd) [ $# -eq 1 ] || die "usage: lab.sh router-cmd VR"; router_cmd "$1"; return 0 ;;
        nft-cmd) [ $# -eq 1 ] || die "usage: lab.sh nft-cmd VR"; nft_cmd "$1"; return 0 ;;
    esac
    need_root
    # one lab.sh at a time (a lock on this script: leaves no file behind)
    exec 9<"${BASH_SOURCE[0]}"
    flock -w 60 9 || die "another lab.sh is running"
    command -v ip >/dev/null || die "iproute2 (ip) is missing"
    case $cmd in
        up) cmd_up "$@" ;;
        tier) cmd_tier "$@" ;;
        vm) cmd_vm "$@" ;;
        frr) cmd_frr "$@" ;;
        router) cmd_router "$@" ;;
        status) cmd_status ;;
        down) cmd_down ;;
        *) usage >&2; die "unknown command '$cmd'" ;;
    esac
}

main "$@"
