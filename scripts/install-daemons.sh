#!/usr/bin/env bash
# install-daemons.sh - make the real Docker daemons that tests/test_realdaemon.py and the
# `dockerimages_real_daemon` fixture start available on a Debian 12 (bookworm) machine.
# Idempotent: every step is skipped when its result is already there. Atomic: every unpack goes
# to a staging dir beside its prefix and is renamed into place only when complete. Run as root.
#
#   1. Debian 12's own docker.io (Engine 20.10, API 1.41; /usr/sbin/dockerd, runc, containerd)
#      and docker-registry (for RepoDigests), installed with apt-get when missing.
#   2. Debian 13 (trixie)'s docker.io 26.1 (API 1.45) and trixie's containerd 1.7, downloaded as
#      .deb files through a PRIVATE apt configuration (the system's sources, lists and package
#      state stay untouched) and unpacked with `dpkg -x` under $DOCKERIMAGES_DOCKER_26_1_PREFIX
#      (default /opt/pytest-dockerimages/docker-26.1). They need only libc >= 2.34.
#   3. The containerd and runc the newer engines use: Debian sid's containerd 2.1.9 and runc 1.3.6,
#      unpacked under $DOCKERIMAGES_CONTAINERD_2_1_PREFIX (default
#      /opt/pytest-dockerimages/containerd-2.1). (runc 1.3 needs libc 2.38 and does not run on
#      bookworm; dockerd only warns about it, and listing/loading/pushing images never runs it.)
#   4. Debian sid's docker.io 28.5.2 (API 1.51), unpacked under $DOCKERIMAGES_DOCKER_28_5_PREFIX
#      (default /opt/pytest-dockerimages/docker-28.5).
#   5. Docker Engine 28.1.1 (API 1.49) and 29.7.2 (API 1.55): static dockerd binaries built from
#      moby's release tags, unpacked to $DOCKERIMAGES_DOCKER_28_1_PREFIX/usr/sbin/dockerd and
#      $DOCKERIMAGES_DOCKER_29_7_PREFIX/usr/sbin/dockerd (defaults /opt/pytest-dockerimages/docker-28.1
#      and .../docker-29.7).
#
# Where steps 3-5 come from:
#   - the shared daemons folder, when it exists: $DOCKERIMAGES_SHARED_DAEMONS, else the folder
#     `shared/daemons` beside this checkout (`<this script>/../../shared/daemons`). It holds
#     dockerd-28.1.1.xz, dockerd-29.7.2.xz (sha256 of the unpacked binaries checked below) and
#     debs/*.deb with debs/SHA256SUMS (checked with sha256sum -c);
#   - otherwise sid's docker.io, containerd and runc are downloaded with the same private apt
#     configuration as step 2 (suite $DOCKERIMAGES_SID_SUITE, default sid). The docker.io taken
#     must be a 28.5 release (sid moves on; a different one is refused, nothing is unpacked).
#     Static 28.1/29.7 binaries cannot be downloaded from Debian: they are skipped with a message,
#     unless DOCKERIMAGES_DOCKERD_28_1 / DOCKERIMAGES_DOCKERD_29_7 point at your own dockerd, which
#     the harness then uses directly (this script only checks that it runs).
#
# The Debian mirror is read from this machine's apt configuration at run time
# (/etc/apt/sources.list.d/*.sources, then /etc/apt/sources.list); nothing else is contacted.
#
# Knobs (environment):
#   DOCKERIMAGES_DOCKER_26_1_PREFIX     where the trixie engine is unpacked
#   DOCKERIMAGES_SKIP_26_1=1            do not unpack the 26.1 engine
#   DOCKERIMAGES_TRIXIE_SUITE=trixie    the suite to take the 26.1 engine from
#   DOCKERIMAGES_SHARED_DAEMONS         the shared daemons folder (see above)
#   DOCKERIMAGES_CONTAINERD_2_1_PREFIX  where sid's containerd 2.1 and runc 1.3 are unpacked
#   DOCKERIMAGES_DOCKER_28_1_PREFIX     where dockerd 28.1.1 goes (as usr/sbin/dockerd)
#   DOCKERIMAGES_DOCKER_28_5_PREFIX     where sid's docker.io 28.5.2 is unpacked
#   DOCKERIMAGES_DOCKER_29_7_PREFIX     where dockerd 29.7.2 goes (as usr/sbin/dockerd)
#   DOCKERIMAGES_DOCKERD_28_1           your own dockerd 28.1.x: step 5 leaves 28.1 alone
#   DOCKERIMAGES_DOCKERD_29_7           your own dockerd 29.7.x: step 5 leaves 29.7 alone
#   DOCKERIMAGES_SKIP_28_1=1            do not install the 28.1 engine
#   DOCKERIMAGES_SKIP_28_5=1            do not install the 28.5 engine
#   DOCKERIMAGES_SKIP_29_7=1            do not install the 29.7 engine
#                                       (with all three skipped, step 3 is skipped too)
#   DOCKERIMAGES_SID_SUITE=sid          the suite to take 28.5, containerd 2.1 and runc 1.3 from
set -euo pipefail

PREFIX=${DOCKERIMAGES_DOCKER_26_1_PREFIX:-/opt/pytest-dockerimages/docker-26.1}
SUITE=${DOCKERIMAGES_TRIXIE_SUITE:-trixie}
APT_PACKAGES=(docker.io docker-registry)
CONTAINERD_PREFIX=${DOCKERIMAGES_CONTAINERD_2_1_PREFIX:-/opt/pytest-dockerimages/containerd-2.1}
PREFIX_28_1=${DOCKERIMAGES_DOCKER_28_1_PREFIX:-/opt/pytest-dockerimages/docker-28.1}
PREFIX_28_5=${DOCKERIMAGES_DOCKER_28_5_PREFIX:-/opt/pytest-dockerimages/docker-28.5}
PREFIX_29_7=${DOCKERIMAGES_DOCKER_29_7_PREFIX:-/opt/pytest-dockerimages/docker-29.7}
SID_SUITE=${DOCKERIMAGES_SID_SUITE:-sid}
# sha256 of the unpacked static binaries (shared/daemons/README.md); a mismatch stops the script
SHA256_28_1=9dce8deb90e7f6e56893ef890034b073c87ccb1f978b61d372148b30eaae5f7a
SHA256_29_7=f2b6fa1529be04c6d885570902ea9c12b125cc53ce4b9068ba93af05e13f55f6

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

# --------------------------------------------------------------------------- shared helpers

private_apt_download() {
    # private_apt_download SUITE DEST PACKAGE...: download the .debs of SUITE into DEST through a
    # private apt configuration (own sources, lists and cache; the system's stay untouched).
    local suite=$1 dest=$2; shift 2
    local uri keyring tmp
    uri=$(debian_mirror)
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || die "$keyring missing (install debian-archive-keyring)"
    tmp=$(mktemp -d)
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/etc/preferences.d"
    echo "deb [signed-by=$keyring] $uri $suite main" >"$tmp/sources.list"
    local A=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=$tmp/etc"
             -o "Dir::Etc::PreferencesParts=$tmp/etc/preferences.d"
             -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
    log "downloading $* from $suite (mirror taken from the apt configuration)"
    apt-get "${A[@]}" update -qq \
        || { rm -rf "$tmp"; die "apt-get update for the private $suite configuration failed"; }
    (cd "$dest" && apt-get "${A[@]}" download "$@" >/dev/null) \
        || { rm -rf "$tmp"; die "downloading $* from $suite failed"; }
    rm -rf "$tmp"
}

staging_dir() {
    # staging_dir PREFIX: a fresh dir beside PREFIX (same filesystem, so the final mv is a rename).
    mkdir -p "$(dirname "$1")"
    mktemp -d "$(dirname "$1")/.staging.XXXXXX"
}

commit_staging() {
    # commit_staging STAGING PREFIX: replace PREFIX with the finished STAGING dir.
    rm -rf "$2"
    mv "$1" "$2"
    chmod 755 "$2"
}

unpack_debs() {
    # unpack_debs PREFIX DEB...: dpkg -x every .deb into a staging dir, then rename it to PREFIX.
    # A half-finished unpack never looks installed to the idempotency checks.
    local prefix=$1 staging f; shift
    staging=$(staging_dir "$prefix")
    for f in "$@"; do
        dpkg -x "$f" "$staging" || { rm -rf "$staging"; die "dpkg -x $f failed"; }
        dpkg-deb --show --showformat='${Package} ${Version}\n' "$f" >>"$staging/VERSIONS"
    done
    commit_staging "$staging" "$prefix"
}

versions_of() { paste -sd',' "$1/VERSIONS" 2>/dev/null | sed 's/,/, /g'; }

# --------------------------------------------------------------------------- 26.1 (trixie)

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
    local t0 tmp
    t0=$(now)
    tmp=$(mktemp -d)
    private_apt_download "$SUITE" "$tmp" docker.io containerd
    unpack_debs "$PREFIX" "$tmp"/*.deb
    rm -rf "$tmp"
    engine_26_present || die "unpacked, but $PREFIX/usr/sbin/dockerd or containerd is missing"
    log "unpacked $(versions_of "$PREFIX") under $PREFIX in $(elapsed "$t0")"
}

# --------------------------------------------------------------------------- the newer engines

shared_daemons() {
    # The shared daemons folder, or nothing. The env var wins; a set but missing folder is an error
    # (a typo must not silently fall back to downloading).
    if [ -n "${DOCKERIMAGES_SHARED_DAEMONS:-}" ]; then
        [ -d "$DOCKERIMAGES_SHARED_DAEMONS" ] || die "DOCKERIMAGES_SHARED_DAEMONS=$DOCKERIMAGES_SHARED_DAEMONS is not a directory"
        (cd "$DOCKERIMAGES_SHARED_DAEMONS" && pwd)
        return 0
    fi
    local beside
    beside="$(cd "$(dirname "$0")" && pwd)/../../shared/daemons"
    if [ -d "$beside" ]; then (cd "$beside" && pwd); fi
}

want() { [ "${1:-0}" != 1 ]; }  # want "$DOCKERIMAGES_SKIP_X": true unless the skip knob is 1

containerd_present() {
    [ -x "$CONTAINERD_PREFIX/usr/bin/containerd" ] && [ -x "$CONTAINERD_PREFIX/usr/bin/containerd-shim-runc-v2" ] \
        && [ -x "$CONTAINERD_PREFIX/usr/sbin/runc" ]
}

engine_28_5_present() { [ -x "$PREFIX_28_5/usr/sbin/dockerd" ]; }

SID_DOWNLOADS=""  # .debs downloaded from sid in this run (removed on exit)
trap '[ -z "$SID_DOWNLOADS" ] || rm -rf "$SID_DOWNLOADS"' EXIT

sid_debs() {
    # sid_debs DEST PACKAGE...: the pinned .debs from the shared folder (checksums verified), or a
    # download from sid. Prints nothing; the .debs end up in DEST.
    local dest=$1 shared p f; shift
    shared=$(shared_daemons)
    if [ -n "$shared" ] && [ -f "$shared/debs/SHA256SUMS" ]; then
        log "verifying $shared/debs/SHA256SUMS"
        (cd "$shared/debs" && sha256sum --quiet -c SHA256SUMS) || die "checksum mismatch in $shared/debs"
        for p in "$@"; do
            f=$(ls "$shared/debs/${p}"_*.deb 2>/dev/null | head -n1)
            [ -n "$f" ] || die "no ${p}_*.deb in $shared/debs"
            grep -qF "  $(basename "$f")" "$shared/debs/SHA256SUMS" \
                || die "$(basename "$f") is not listed in $shared/debs/SHA256SUMS"
            cp "$f" "$dest/"
        done
    else
        # one download of all three, reused by the containerd and the 28.5 steps
        if [ -z "$SID_DOWNLOADS" ]; then
            SID_DOWNLOADS=$(mktemp -d)
            private_apt_download "$SID_SUITE" "$SID_DOWNLOADS" docker.io containerd runc
        fi
        for p in "$@"; do
            f=$(ls "$SID_DOWNLOADS/${p}"_*.deb 2>/dev/null | head -n1)
            [ -n "$f" ] || die "$p was not downloaded from $SID_SUITE"
            cp "$f" "$dest/"
        done
    fi
}

install_containerd_2_1() {
    # Why: dockerd 28.x/29.x need a containerd >= 1.7 (bookworm has 1.6); sid's 2.1 runs here.
    if containerd_present; then
        log "containerd 2.1 + runc already unpacked under $CONTAINERD_PREFIX (skipped)"
        return 0
    fi
    local t0 tmp
    t0=$(now)
    tmp=$(mktemp -d)
    sid_debs "$tmp" containerd runc
    unpack_debs "$CONTAINERD_PREFIX" "$tmp"/*.deb
    rm -rf "$tmp"
    containerd_present || die "unpacked, but containerd, its shim or runc is missing under $CONTAINERD_PREFIX"
    log "unpacked $(versions_of "$CONTAINERD_PREFIX") under $CONTAINERD_PREFIX in $(elapsed "$t0")"
}

install_engine_28_5() {
    # Why: the only packaged engine between 28.1 and 29.7 (API 1.51); sid's .deb runs on bookworm.
    if engine_28_5_present; then
        log "docker 28.5 engine already unpacked under $PREFIX_28_5 (skipped)"
        return 0
    fi
    local t0 tmp version
    t0=$(now)
    tmp=$(mktemp -d)
    sid_debs "$tmp" docker.io
    version=$(dpkg-deb --show --showformat='${Version}' "$tmp"/docker.io_*.deb)
    case "$version" in
        28.5.*) ;;
        *) rm -rf "$tmp"; die "docker.io from $SID_SUITE is $version, not 28.5: not unpacking it under $PREFIX_28_5" ;;
    esac
    unpack_debs "$PREFIX_28_5" "$tmp"/docker.io_*.deb
    rm -rf "$tmp"
    engine_28_5_present || die "unpacked, but $PREFIX_28_5/usr/sbin/dockerd is missing"
    log "unpacked $(versions_of "$PREFIX_28_5") under $PREFIX_28_5 in $(elapsed "$t0")"
}

install_static_engine() {
    # install_static_engine ENGINE RELEASE PREFIX SHA256: unpack shared/daemons/dockerd-RELEASE.xz
    # to PREFIX/usr/sbin/dockerd, unless DOCKERIMAGES_DOCKERD_<ENGINE> names the user's own dockerd.
    local engine=$1 release=$2 prefix=$3 sha=$4
    local var="DOCKERIMAGES_DOCKERD_${engine//./_}" own shared t0 staging got
    own=${!var:-}
    if [ -n "$own" ]; then
        [ -x "$own" ] || die "$var=$own is not an executable file"
        log "docker $engine: using your own dockerd from $var ($("$own" --version 2>/dev/null || echo "does not run"))"
        return 0
    fi
    if [ -x "$prefix/usr/sbin/dockerd" ]; then
        log "docker $engine engine already unpacked under $prefix (skipped)"
        return 0
    fi
    shared=$(shared_daemons)
    if [ -z "$shared" ] || [ ! -f "$shared/dockerd-$release.xz" ]; then
        log "docker $engine SKIPPED: no dockerd-$release.xz (no shared daemons folder; set DOCKERIMAGES_SHARED_DAEMONS)"
        log "  Debian does not package $release. Point $var at your own dockerd $engine.x (e.g. from"
        log "  Docker's static release tarball); the tests skip docker-$engine until one is there."
        return 0
    fi
    command -v xz >/dev/null || die "xz not found (apt-get install xz-utils)"
    t0=$(now)
    staging=$(staging_dir "$prefix")
    mkdir -p "$staging/usr/sbin"
    xz -dc "$shared/dockerd-$release.xz" >"$staging/usr/sbin/dockerd" \
        || { rm -rf "$staging"; die "xz -d $shared/dockerd-$release.xz failed"; }
    got=$(sha256sum "$staging/usr/sbin/dockerd" | cut -d' ' -f1)
    [ "$got" = "$sha" ] || { rm -rf "$staging"; die "dockerd-$release: sha256 $got, expected $sha"; }
    chmod 755 "$staging/usr/sbin/dockerd"
    echo "dockerd $release (static, moby tag; sha256 $sha)" >"$staging/VERSIONS"
    commit_staging "$staging" "$prefix"
    log "unpacked dockerd $release under $prefix in $(elapsed "$t0")"
}

install_newer_engines() {
    local any=0
    want "${DOCKERIMAGES_SKIP_28_1:-}" && any=1
    want "${DOCKERIMAGES_SKIP_28_5:-}" && any=1
    want "${DOCKERIMAGES_SKIP_29_7:-}" && any=1
    if [ $any = 0 ]; then
        log "DOCKERIMAGES_SKIP_28_1/28_5/29_7=1: no newer engine, no containerd 2.1"
        return 0
    fi
    local shared
    shared=$(shared_daemons)
    if [ -n "$shared" ]; then
        log "newer engines from the shared daemons folder $shared"
    else
        log "no shared daemons folder: containerd 2.1, runc and docker.io 28.5 come from $SID_SUITE"
    fi
    install_containerd_2_1
    if want "${DOCKERIMAGES_SKIP_28_5:-}"; then install_engine_28_5; else log "DOCKERIMAGES_SKIP_28_5=1 (skipped)"; fi
    if want "${DOCKERIMAGES_SKIP_28_1:-}"; then
        install_static_engine 28.1 28.1.1 "$PREFIX_28_1" "$SHA256_28_1"
    else
        log "DOCKERIMAGES_SKIP_28_1=1 (skipped)"
    fi
    if want "${DOCKERIMAGES_SKIP_29_7:-}"; then
        install_static_engine 29.7 29.7.2 "$PREFIX_29_7" "$SHA256_29_7"
    else
        log "DOCKERIMAGES_SKIP_29_7=1 (skipped)"
    fi
}

# --------------------------------------------------------------------------- summary

report() {
    log "dockerd 20.10: $(/usr/sbin/dockerd --version 2>/dev/null || echo missing)"
    if engine_26_present; then
        log "dockerd 26.1:  $("$PREFIX/usr/sbin/dockerd" --version 2>/dev/null || echo "not runnable")"
    fi
    local engine prefix var bin
    for engine in 28.1 28.5 29.7; do
        case $engine in 28.1) prefix=$PREFIX_28_1 ;; 28.5) prefix=$PREFIX_28_5 ;; 29.7) prefix=$PREFIX_29_7 ;; esac
        var="DOCKERIMAGES_DOCKERD_${engine//./_}"
        bin=${!var:-$prefix/usr/sbin/dockerd}
        if [ -x "$bin" ]; then
            log "dockerd $engine:  $("$bin" --version 2>/dev/null || echo "not runnable")"
        else
            log "dockerd $engine:  missing (docker-$engine variants will skip)"
        fi
    done
    if containerd_present; then
        log "containerd 2.1: $("$CONTAINERD_PREFIX/usr/bin/containerd" --version 2>/dev/null || echo "not runnable")"
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
    install_newer_engines
    report
    log "done in $(elapsed "$t0")"
}

main "$@"
