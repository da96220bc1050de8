#!/usr/bin/env bash
# install-daemons.sh - make the real Docker daemons that tests/test_realdaemon.py and the
# `dockerimages_real_daemon` fixture start available on a Debian 12 (bookworm) machine.
# Idempotent: every step is skipped when its result is already there. Run as root.
#
#   1. Debian 12's own docker.io (Engine 20.10, API 1.41; /usr/sbin/dockerd, runc, containerd)
#      and docker-registry (for RepoDigests), installed with apt-get when missing.
#   2. Debian 13 (trixie)'s docker.io 26.1 (API 1.45, the only engine here with the containerd
#      image store) and trixie's containerd, downloaded as .deb files through a PRIVATE apt
#      configuration (the system's sources, lists and package state stay untouched) and
#      unpacked with `dpkg -x` under $DOCKERIMAGES_DOCKER_26_1_PREFIX
#      (default /opt/pytest-dockerimages/docker-26.1). They need only libc >= 2.34.
#
# The Debian mirror is read from this machine's apt configuration at run time
# (/etc/apt/sources.list.d/*.sources, then /etc/apt/sources.list); nothing else is contacted.
#
# Knobs (environment):
#   DOCKERIMAGES_DOCKER_26_1_PREFIX   where the trixie engine is unpacked
#   DOCKERIMAGES_SKIP_26_1=1          only do step 1
#   DOCKERIMAGES_TRIXIE_SUITE=trixie  the suite to take the 26.1 engine from
set -euo pipefail

PREFIX=${DOCKERIMAGES_DOCKER_26_1_PREFIX:-/opt/pytest-dockerimages/docker-26.1}
SUITE=${DOCKERIMAGES_TRIXIE_SUITE:-trixie}
APT_PACKAGES=(docker.io docker-registry)

log() { echo "[install-daemons] $*"; }
die() { echo "[install-daemons] ERROR: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f s", b-a}'; }

preflight() {
    # Why: apt-get and dpkg -x into /opt need root; a clear message beats a permission error.
    [ "$(id -u)" = 0 ] || die "must run as root (apt-get install and unpacking under $PREFIX)"
    command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian only"
    command -v dpkg >/dev/null || die "dpkg not found: this script supports Debian only"
}

install_apt_packages() {
    # Why: Debian's own packages give the 20.10 engine, runc (also used by 26.1) and the registry.
    local missing=() p t0
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "apt packages already installed: ${APT_PACKAGES[*]} (skipped)"
        return 0
    fi
    t0=$(now)
    log "apt-get update"
    apt-get update -qq || die "apt-get update failed"
    log "apt-get install ${missing[*]}"
    # policy-rc.d on such machines keeps the postinst from starting services; that is wanted:
    # the tests start their own private daemons.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
    log "installed ${missing[*]} in $(elapsed "$t0")"
}

distro_codename() {
    # Why: pick the stanza of the main archive (suite == codename), not -security or -updates.
    . /etc/os-release 2>/dev/null || true
    echo "${VERSION_CODENAME:-bookworm}"
}

mirror_from_deb822() {
    # Why: Debian 12 images keep their mirror in deb822 *.sources files. Prints the first URI of
    # the first stanza whose Suites contain the codename ($1); falls back to any stanza's URI
    # that is not a -security archive.
    local codename=$1 f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v cn="$codename" '
            function flush() {
                if (uri != "" && types ~ /(^| )deb( |$)/) {
                    if (first == "" && uri !~ /security/) first = uri
                    if (best == "" && (" " suites " ") ~ (" " cn " ")) best = uri
                }
                uri = ""; suites = ""; types = ""
            }
            /^[[:space:]]*$/ { flush(); next }
            /^[[:space:]]*#/ { next }
            tolower($1) == "uris:"   { uri = $2 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "types:"  { $1 = ""; types = $0 }
            END { flush(); if (best != "") print best; else if (first != "") print first }
        ' "$f" | head -n1
    done | head -n1
}

mirror_from_sources_list() {
    # Why: older or hand-made configurations use one-line "deb URI SUITE COMPONENTS" entries.
    local codename=$1 f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v cn="$codename" '
            $1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i+1) == cn) { print $i; exit }
            }' "$f"
    done | head -n1
}

debian_mirror() {
    local codename uri
    codename=$(distro_codename)
    uri=$(mirror_from_deb822 "$codename")
    [ -n "$uri" ] || uri=$(mirror_from_sources_list "$codename")
    [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    echo "${uri%/}"
}

engine_26_present() {
    [ -x "$PREFIX/usr/sbin/dockerd" ] && [ -x "$PREFIX/usr/bin/containerd" ] \
        && [ -x "$PREFIX/usr/bin/containerd-shim-runc-v2" ]
}

install_engine_26() {
    # Why: Debian 12 has no engine >= 24, and the containerd image store needs one. Trixie's
    # .debs run unchanged on bookworm; unpacking (not installing) keeps dpkg's database clean.
    if engine_26_present; then
        log "docker 26.1 engine already unpacked under $PREFIX (skipped)"
        return 0
    fi
    local t0 uri keyring tmp staging
    t0=$(now)
    uri=$(debian_mirror)
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || die "$keyring missing (install debian-archive-keyring)"
    tmp=$(mktemp -d)
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs" "$tmp/etc/preferences.d"
    echo "deb [signed-by=$keyring] $uri $SUITE main" >"$tmp/sources.list"
    local A=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=$tmp/etc"
             -o "Dir::Etc::PreferencesParts=$tmp/etc/preferences.d"
             -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
    log "downloading docker.io + containerd from $SUITE (mirror taken from the apt configuration)"
    apt-get "${A[@]}" update -qq \
        || { rm -rf "$tmp"; die "apt-get update for the private $SUITE configuration failed"; }
    (cd "$tmp/debs" && apt-get "${A[@]}" download docker.io containerd >/dev/null) \
        || { rm -rf "$tmp"; die "downloading docker.io/containerd from $SUITE failed"; }
    # Unpack into a staging dir next to the prefix, then rename: a half-finished unpack must
    # never look installed to the idempotency check above.
    mkdir -p "$(dirname "$PREFIX")"
    staging=$(mktemp -d "$(dirname "$PREFIX")/.staging.XXXXXX")
    local f
    for f in "$tmp"/debs/*.deb; do
        dpkg -x "$f" "$staging" || { rm -rf "$staging" "$tmp"; die "dpkg -x $f failed"; }
        dpkg-deb --show --showformat='${Package} ${Version}\n' "$f" >>"$staging/VERSIONS"
    done
    rm -rf "$tmp"
    rm -rf "$PREFIX"
    mv "$staging" "$PREFIX"
    chmod 755 "$PREFIX"
    engine_26_present || die "unpacked, but $PREFIX/usr/sbin/dockerd or containerd is missing"
    log "unpacked $(paste -sd',' "$PREFIX/VERSIONS" | sed 's/,/, /g') under $PREFIX in $(elapsed "$t0")"
}

report() {
    log "dockerd 20.10: $(/usr/sbin/dockerd --version 2>/dev/null || echo missing)"
    if engine_26_present; then
        log "dockerd 26.1:  $("$PREFIX/usr/sbin/dockerd" --version 2>/dev/null || echo "not runnable")"
    fi
    log "docker-registry: $(command -v docker-registry || echo missing)"
}

main() {
    local t0
    t0=$(now)
    preflight
    install_apt_packages
    if [ "${DOCKERIMAGES_SKIP_26_1:-0}" = 1 ]; then
        log "DOCKERIMAGES_SKIP_26_1=1: not unpacking the 26.1 engine"
    else
        install_engine_26
    fi
    report
    log "done in $(elapsed "$t0")"
}

main "$@"
