#!/usr/bin/env bash
# Builds the local Debian base image for machines that reach no image
# registry: debootstrap (minbase) from the Debian mirror this machine's apt
# sources name, then `docker import`. The image's own apt sources are the
# same Debian entries (suite, -updates, -security), so Dockerfile stages that
# `apt-get install` on it fetch from the same mirror.
#
#   scripts/docker-base.sh [TAG]     (default vpcroute-base:<codename>)
#
# Does nothing when TAG exists already; REBUILD=1 builds it again.
set -euo pipefail

. /etc/os-release
codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
tag=${1:-vpcroute-base:$codename}

if [ -z "${REBUILD:-}" ] && docker image inspect "$tag" >/dev/null 2>&1; then
    echo "docker-base: $tag exists" >&2
    exit 0
fi
command -v debootstrap >/dev/null || {
    echo "docker-base: debootstrap missing (scripts/install-deps.sh installs it)" >&2
    exit 1
}

# "URI SUITE" for every Debian entry of the apt sources, one-line (.list)
# and deb822 (.sources) formats alike; third-party repositories (their
# suites are not this release's) are left out.
debian_entries() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); next }
            tolower($1) == "uris:" { uris = substr($0, index($0, $2)) }
            tolower($1) == "suites:" { suites = substr($0, index($0, $2)) }
            tolower($1) == "types:" { deb = ($0 ~ /(^|[[:space:]])deb([[:space:]]|$)/) }
            function flush(  u, s, nu, ns, i, j) {
                if (deb && uris != "" && suites != "") {
                    nu = split(uris, u); ns = split(suites, s)
                    for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
                }
                uris = ""; suites = ""; deb = 0
            }
            END { flush() }
        ' "$f"
    done
}

entries=$(debian_entries | awk -v c="$codename" '$2 == c || $2 == c "-updates" || $2 == c "-security"' | sort -u)
mirror=$(awk -v c="$codename" '$2 == c { print $1; exit }' <<<"$entries")
[ -n "$mirror" ] || {
    echo "docker-base: no apt source for $codename in /etc/apt/sources.list*" >&2
    exit 1
}

root=$(mktemp -d /var/tmp/vpcroute-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "docker-base: debootstrap $codename from $mirror" >&2
debootstrap --variant=minbase --components=main "$codename" "$root" "$mirror" >&2
awk '{ print "deb", $1, $2, "main" }' <<<"$entries" >"$root/etc/apt/sources.list"
# As in Debian's own slim images: no package caches, no recommends.
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
printf 'APT::Install-Recommends "false";\n' >"$root/etc/apt/apt.conf.d/90vpcroute-norecommends"
tar -C "$root" --numeric-owner -c . |
    docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$tag" >/dev/null
echo "docker-base: imported $tag" >&2
