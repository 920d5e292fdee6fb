#!/usr/bin/env bash
# Benchmarks 6 and 7: live FRR apply (bench-frr-apply) and the lab end to end
# (bench-lab), in the namespace lab of scripts/lab.sh. Needs root, FRR,
# ping and nats-server. Builds release, runs both, prints their JSON lines
# on stdout (progress on stderr). The lab is always taken down at the end.
#
#   scripts/lab-bench.sh                 # run both, JSON lines on stdout
#   scripts/lab-bench.sh --render FILE   # BENCHMARKS.md sections 6-7 from them
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# ------------------------------------------------------------------ render
# lab-bench.sh --render FILE: the Markdown of BENCHMARKS.md sections 6 and 7
# from FILE (the JSON lines this script printed). scripts/bench.sh calls it.
render() {
    local f=$1 F L
    F=$(grep '"bench":"frr_apply"' "$f" | tail -1 || true)
    L=$(grep '"bench":"lab"' "$f" | tail -1 || true)
    N=$(grep '"bench":"lab_new_vr_full"' "$f" | tail -1 || true)
    yn() { if [ "$1" = true ]; then echo "**met**"; else echo "**missed**"; fi; }
    row() { # label json-stats
        jq -r --arg l "$1" '"| \($l) | \(.p50_ms) ms | \(.p95_ms) ms | \(.max_ms) ms | \(.mean_ms) ms |"' <<<"$2"
    }
    echo "## 6. Live FRR apply: one tier added/removed on a router holding 100 tiers"
    echo
    if [ -z "$F" ]; then echo "_bench-frr-apply produced no figures in this run._"; echo; else
    jq -r '"left-vr of the lab (real zebra + ospfd 8.4), Full with the core over MD5, \(.tiers) passive tiers in area \(.area) with `area \(.area) range \(.range)`. Change: \(.change), \(.iterations) times per method. (a) router-sync'"'"'s way, with its own code: `plan()` against the running configuration read back by the previous apply, then one exchange with the vtysh it keeps running (`ip netns exec vpcr-left-vr vtysh -N vpcr-left-vr`, started once; `Vtysh::configure_and_show` in `services/router-sync/src/vtysh.rs`): the script (\(.planner.commands_per_change[0]) commands per change), `show running-config` and `show ip ospf database summary json`, each followed by a marker line; then its two checks on what was read back (nothing left to plan: \(.planner.commands_left_after) commands left in total; the range'"'"'s summary in the backbone: \(.planner.summary_in_read_back)/\(.iterations)). (c) router-sync before this: `show running-config` + parse + plan, the script on stdin, one vtysh process each, no read-back. (b) `/usr/lib/frr/frr-reload.py --reload --pathspace vpcr-left-vr` run in the namespace, its target file being the router'"'"'s own running config in the target state (the reference'"'"'s best case). During every apply a sampler reads `show ip ospf neighbor json` every 50 ms (the core'"'"'s entry must stay `Full` with a growing `upTimeInMsec`); it competes for the 2 cores, so the same applies were also timed with no sampler (\"quiet\")."' <<<"$F"
    echo
    echo "| method | p50 | p95 | max | mean |"
    echo "|---|---:|---:|---:|---:|"
    row "(a) router-sync (session, read-back included), sampler running" "$(jq -c .planner.total <<<"$F")"
    row "(c) one vtysh process per call (before), sampler running" "$(jq -c .per_process.total <<<"$F")"
    row "(b) frr-reload.py, sampler running" "$(jq -c .frr_reload.total <<<"$F")"
    row "(a) router-sync (session, read-back included), quiet" "$(jq -c .quiet.planner <<<"$F")"
    row "(c) one vtysh process per call (before), quiet" "$(jq -c .quiet.per_process <<<"$F")"
    row "(b) frr-reload.py, quiet" "$(jq -c .quiet.frr_reload <<<"$F")"
    echo
    jq -r '"Ratio frr-reload / router-sync (p50): **\(.ratio_reload_vs_planner_p50)×** with the sampler, **\(.quiet.ratio_p50)×** quiet. Breakdown of (a) (sampler running, p50): plan + script \(.planner.plan_script.p50_ms) ms, the vtysh exchange (apply + both read-backs) \(.planner.vtysh_exchange.p50_ms) ms, parsing and checking the read-back \(.planner.parse_check_read_back.p50_ms) ms; of (c): `show running-config` \(.per_process.show_running_config.p50_ms) ms, vtysh apply \(.per_process.vtysh_apply.p50_ms) ms. Cost of the tools alone on this machine (quiet, p50): `show running-config` on the running session \(.reference.session_show_running_config.p50_ms) ms, starting a session (a new vtysh) and one `show version` \(.reference.session_start_and_show_version.p50_ms) ms, `ip netns exec NS true` \(.reference.ip_netns_exec_true.p50_ms) ms, `vtysh -N NS -c \"show running-config\"` \(.reference.vtysh_show_running_config_without_ip_netns_exec.p50_ms) ms without / \(.reference.vtysh_show_running_config.p50_ms) ms with `ip netns exec`, vtysh with an empty `configure terminal`/`end` script \(.reference.vtysh_empty_configure.p50_ms) ms, `python3 -c pass` \(.reference.python3_startup.p50_ms) ms."' <<<"$F"
    echo
    jq -r '"Adjacency with the core: \(.planner.adjacency_samples) samples during (a), \(.per_process.adjacency_samples) during (c), \(.frr_reload.adjacency_samples) during (b); resets (a) \(.planner.adjacency_resets), (c) \(.per_process.adjacency_resets), (b) \(.frr_reload.adjacency_resets); samples not Full (a) \(.planner.not_full_samples), (c) \(.per_process.not_full_samples), (b) \(.frr_reload.not_full_samples); core'"'"'s own view never reset: \(.core_view_never_reset). Every method left nothing to do (planner commands left after (a): \(.planner.commands_left_after), after (c): \(.per_process.commands_left_after), after (b): \(.frr_reload.planner_commands_left_after); frr-reload runs that succeeded: \(.frr_reload.succeeded)/\(.iterations))."' <<<"$F"
    echo
    echo "Targets: ≤ 50 ms per apply: $(yn "$(jq .target.planner_le_50ms <<<"$F")") with the sampler, $(yn "$(jq .target.planner_quiet_le_50ms <<<"$F")") quiet; faster than the reference: $(yn "$(jq .target.planner_faster_than_reload <<<"$F")"); zero adjacency resets: $(yn "$(jq .target.zero_resets <<<"$F")")."
    echo
    echo "What bounds (a): almost nothing of vtysh is left in it. Starting vtysh costs 25-40 ms of CPU (it builds its whole command tree before it connects to any daemon); a command on a running vtysh costs the daemons' answer, about a millisecond. router-sync now starts one vtysh per router and keeps it (started again when it exits, times out or reports a daemon lost), so an apply is one exchange: the plan against the configuration read back last time (no read first), the script, the two read-backs. What is left is the daemons applying the commands and printing a 100-tier running configuration, parsing it, and this machine's 2 shared cores (the 50 ms sampler alone starts a vtysh 20 times a second). docs/frr-notes.md §9 has how the session delimits answers."
    echo
    fi
    echo "## 7. The lab end to end: a new tier, from \`vpcctl tier create\` to the router"
    echo
    if [ -z "$L" ]; then echo "_bench-lab produced no figures in this run._"; echo; else
    jq -r '"NATS + the four release services, router-sync managing left-vr and right-vr (FRR and nftables: `--nft`, as `scripts/run.sh` starts it; right-tier on `default_allow` so the new VMs can ping RightVM1) with `--drift-interval \(.drift_interval_s)`, Figure 3 set up as in `tests/lab_e2e.rs` (set-up \(.setup_s) s, both VRs Full after \(.full_after_s) s). \(.iterations) iterations: the NIC and a VM are plugged first (`lab.sh tier add left-vr ethN 10.1.S.1/24`, `lab.sh vm add`), then `vpcctl tier create` (gateway + netmask, fresh interface each time, S alternating 2 and 3; the tier is deleted again after each iteration because the /22 VPC has room for two more /24 tiers only). Timed from `vpcctl tier create` returning to (a) the first `vpcroute.sync.status.left-vr` with the new version as `desired_version == applied_version == firewall_version` (then `interface ethN` checked in `show running-config`: \(.running_config_has_iface_every_time)); (b) right-vr'"'"'s kernel routing the new VM'"'"'s address via left-vr (`ip route get`) AND the VM pinging RightVM1."' <<<"$L"
    echo
    echo "| from \`vpcctl tier create\` returning to | p50 | p95 | max | mean |"
    echo "|---|---:|---:|---:|---:|"
    row "**(a) configuration verified on left-vr (status seen)**" "$(jq -c .a_to_verified_status <<<"$L")"
    row "**(b) new VM reaches RightVM1 (route + ping)**" "$(jq -c .b_reachable_from_right <<<"$L")"
    row "(b) route on right-vr only" "$(jq -c .b_route_on_right_vr <<<"$L")"
    row "renderer logs \"router configuration versioned\"" "$(jq -c .breakdown_from_create_return.renderer_versioned_log <<<"$L")"
    row "\`vpcroute.config.updated.left-vr\` seen by a subscriber" "$(jq -c .breakdown_from_create_return.updated_announcement_seen <<<"$L")"
    row "router-sync logs \"configuration applied and verified\"" "$(jq -c .breakdown_from_create_return.router_sync_verified_log <<<"$L")"
    row "(span) announcement → verified (router-sync)" "$(jq -c .breakdown_from_create_return.router_sync_updated_to_verified <<<"$L")"
    row "(span) verified → status seen" "$(jq -c .breakdown_from_create_return.verified_to_status_seen <<<"$L")"
    row "(not in the figures) \`vpcctl tier create\` itself" "$(jq -c .vpcctl_tier_create <<<"$L")"
    echo
    echo "Steps timed by hand on left-vr (20 runs each, p50 / max):"
    echo
    jq -r '.by_hand | to_entries[] | "* `\(.key)`: \(.value.p50_ms) / \(.value.max_ms) ms"' <<<"$L"
    echo
    jq -r 'if .loadavg_at_start then "Load average (1/5/15 min) of this 2-core machine at the start / end of the run: \(.loadavg_at_start) / \(.loadavg_at_end) (other work shares the cores; every vtysh run above is CPU-bound, so these figures move with it)." else empty end' <<<"$L"
    echo
    echo "Target: (a) ≤ 100 ms: $(yn "$(jq .target.a_p50_le_100ms <<<"$L")") (p50 $(jq .a_to_verified_status.p50_ms <<<"$L") ms)."
    echo
    jq -r '"(b) was reachable before the tier was even created in \([.iterations_detail[] | select(.reachable_before_create)] | length) of \(.iterations) iterations: a tier inside the left VPC'"'"'s /22 adds no route anywhere (the /22 is already announced, right-vr routes it to left-vr, and left-vr'"'"'s kernel has the tier'"'"'s connected route as soon as the NIC has its address), so (b) measures `ip route get` + one ping, not the control plane."' <<<"$L"
    echo
    echo "Where (a) goes, in order: ipam commits the tier (fsync) and answers vpcctl; the config-renderer gets the ipam event live (not at its 1 s poll), renders, commits (fsync) and announces \`vpcroute.config.updated.left-vr\`; router-sync's left-vr task wakes at once (not at its drift tick, unless a drift pass is running: it finishes first, a few ms now), asks the renderer for the text (one NATS request), plans against the running configuration it read back last time, and makes one exchange with the vtysh it keeps running for left-vr — the plan, \`show running-config\` (verify 1), \`show ip ospf database summary json\` (verify 2) —, logs \"applied and verified\", publishes the status, and only then refreshes neighbours and routes (one more exchange) for the next status. So (a) ≈ 2 fsync'd commits + 2 NATS hops + one vtysh exchange, with no vtysh start-up on the path."
    echo
    echo "By hand above: \`session_configure_1_line_and_read_back\` is router-sync's own \`Vtysh::configure_and_show\` on a running session (a one-line change and both read-backs); the \`vtysh_*\` lines are one new vtysh process each, what every step cost before the session."
    echo
    fi
    echo "## 7b. A new VR with fast timers: time to Full with the core"
    echo
    if [ -z "$N" ]; then echo "_bench-lab produced no new-VR figures in this run._"; echo; else
    jq -r '"A lab of its own (`lab.sh up --hello \(.hello_s) --dead \(.dead_s)`, the core alone on the segment with left-vr). left-vr is restarted empty (`lab.sh frr restart`), then gets its configuration in one vtysh script as router-sync sends it (`plan()` of the rendered text against an empty router, `router ospf` first); timed from the script to `show ip ospf neighbor json` saying Full (polled). \(.tries) tries each, alternating. Reference, same run: the same script with the uplink'"'"'s `ip ospf area` before its timers, the order before issue 11 item 6 (FRR starts the wait timer from the dead interval in force when the interface joins: docs/frr-notes.md §10)."' <<<"$N"
    echo
    echo "| uplink order | min | median | max | bound (3 dead intervals) |"
    echo "|---|---:|---:|---:|---:|"
    jq -r '"| **area last (now)** | \(.area_last.min_s) s | \(.area_last.median_s) s | \(.area_last.max_s) s | \(.bound_3_dead_intervals_s) s |\n| area first (before) | \(.area_first_before_the_fix.min_s) s | \(.area_first_before_the_fix.median_s) s | \(.area_first_before_the_fix.max_s) s | \(.bound_3_dead_intervals_s) s |"' <<<"$N"
    echo
    fi
    echo "Raw lines:"
    echo
    echo '```json'
    [ -n "$F" ] && echo "$F"
    [ -n "$L" ] && echo "$L"
    [ -n "$N" ] && echo "$N"
    echo '```'
}
if [ "${1:-}" = --render ]; then
    render "${2:?usage: lab-bench.sh --render FILE}"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "lab-bench.sh: must run as root (network namespaces, FRR)" >&2; exit 1; }
[ -x /usr/lib/frr/ospfd ] || { echo "lab-bench.sh: FRR is not installed" >&2; exit 1; }
command -v ping >/dev/null || { echo "lab-bench.sh: ping is missing (apt-get install iputils-ping)" >&2; exit 1; }

trap 'scripts/lab.sh down >/dev/null 2>&1 || true' EXIT

echo "== lab-bench: building (release)" >&2
# services on their own, as the test harness builds them (building them in
# one invocation with the benches unifies features and relinks them all)
cargo build --release -p vpcroute-ipam-service -p vpcroute-area-registry-service \
    -p vpcroute-config-renderer-service -p vpcroute-router-sync-service -p vpcctl >&2
cargo build --release -p vpcroute-benches >&2
BIN="$ROOT/target/release"
export VPCROUTE_BIN_DIR="$BIN"

status=0
for b in bench-frr-apply bench-lab; do
    echo "== lab-bench: $b" >&2
    t0=$SECONDS
    echo "   load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    if out=$("$BIN/$b"); then
        printf '%s\n' "$out" | grep '^{'
    else
        echo "lab-bench.sh: $b failed" >&2
        status=1
    fi
    echo "   ($b took $((SECONDS - t0)) s)" >&2
    scripts/lab.sh down >/dev/null 2>&1 || true
done
exit $status
