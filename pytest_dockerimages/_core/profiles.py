"""Engine profiles: one row of data per Docker release and image store.

Every behaviour difference between daemons is a field here; the pure functions in
query/filters/render read the fields and never test a release name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Literal

Store = Literal["graphdriver", "containerd"]


_INT64_MAX = 2**63 - 1


def _atoi(piece: str) -> int:
    """strconv.Atoi as versions.compare uses it (errors ignored): not a number is 0, a number
    beyond int64 is the int64 maximum. Never int() on thousands of digits (Python refuses those)."""
    if not piece.isascii() or not piece.isdigit():
        return 0
    digits = piece.lstrip("0")
    return _INT64_MAX if len(digits) > 19 else min(int(digits or "0"), _INT64_MAX)


@lru_cache(maxsize=1024)
def version_tuple(version: str) -> tuple[int, ...]:
    """Compare API versions numerically per component (`1.041` == `1.41`), as the daemon does.
    Cached: every request compares its version with a dozen profile fields."""
    parts = []
    for piece in version.split("."):
        parts.append(_atoi(piece))
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def at_least(version: str, floor: str | None) -> bool:
    """True when `floor` is set and `version` >= `floor`."""
    return floor is not None and version_tuple(version) >= version_tuple(floor)


def below(version: str, ceiling: str | None) -> bool:
    return ceiling is not None and version_tuple(version) < version_tuple(ceiling)


@dataclass(frozen=True)
class Profile:
    """One release and image store. Each field says what differs; API versions are strings ("1.44"),
    a `*_from` field is where something starts (None: never), a `*_below` field where it ends (None: it
    never does)."""

    name: str
    engine_version: str  # what /version and the Server header say
    store: Store
    api_max: str
    api_min: str
    description: str
    checked_against: str  # the real daemon the project's CI proves this row against
    # --- filters ---
    filter_keys: frozenset[str]
    invalid_filter_word: str  # "Invalid filter" (<= 22) or "invalid filter"
    malformed_filters_go_error: bool  # 20.10: 500 with Go's JSON error; later: 400 "invalid filter"
    dangling_exact_match: bool  # <= 23: only "true"/"false"; empty or both -> true
    before_since_and: bool  # >= 24: several values are ANDed; before that the last one walked wins
    lowercase_error_names_repo: bool  # distribution/reference >= 0.5 (Docker 25+)
    until_error_status: int  # 500 (v25 - v29.3) or 400 (v29.4+)
    until_error_prefix: str  # "" or "invalid value for 'until' filter: " (v29.4+)
    label_negation: bool  # containerd: label=k!=v and label!
    negated_label_matches_missing: bool  # v29.4.1+: label=k!=v keeps images without k
    bad_glob_is_error: bool  # graphdriver: 500 "syntax error in pattern"; containerd: no match
    reference_matches_canonical: bool  # v29.5+: canonical names match too
    dangling_record_name: str | None  # containerd: untagged records are "moby-dangling@<digest>"
    # --- query parameters ---
    legacy_filter_below: str  # the singular `filter` parameter is honoured below this API version
    legacy_filter_needs_no_reference: bool  # v29+: only when `filters` has no reference key
    shared_size_from: str | None
    manifests_from: str | None
    identity_from: str | None
    inspect_manifests_from: str | None  # GET /images/{name}/json reads `manifests` (containerd store data)
    # --- rendering ---
    none_placeholders_below: str | None  # "<none>:<none>" below this API version (None: always)
    virtual_size_below: str | None  # VirtualSize is sent below this API version (None: at every version)
    virtual_size_omits_zero: bool  # 26.1-28.x: omitempty, so no VirtualSize when it is 0
    descriptor_from: str | None
    containers_from: str | None
    labels_when_none: Literal["null", "empty"]
    plain_text_errors_through: str | None  # 20.10 and 28+ answer errors for API <= 1.23 as text/plain
    ping_builder_swarm: bool  # Builder-Version and Swarm headers on /_ping (daemon 23+)
    # --- routing ---
    router_release: str  # the moby tag whose API routes this daemon serves: a key of routes_table.ROUTES
    # --- /version ---
    go_version: str = "go1.22.0"
    git_commit: str = "0000000"
    components: tuple[tuple[str, str, str], ...] = field(default=())  # (name, version, commit)
    # /version BuildTime: hack/make.sh formats SOURCE_DATE_EPOCH; the Debian rows' are what those packages
    # report, the moby rows' the tag's commit time (what a reproducible build of the tag sets)
    build_time: str = ""
    h2c_prior_knowledge: bool = False  # v29+: an HTTP/2 preface gets HTTP/2 (h2c); before: the router's 301
    # --- Go's HTTP/1 server (_core/gohttp.py): what it refuses itself, before dockerd's router ---
    # Go >= 1.20: net/textproto refuses a bad header name or value with a plain "400 Bad Request"; Go 1.19
    # reads it, skips an empty name, then answers "400 Bad Request: invalid header name" (or value)
    strict_header_syntax: bool = True
    # Go >= 1.21.5 and 1.23.8: a chunk-size line ends in CRLF only, and chunk extensions are bounded; on
    # a body Go 1.19 reads, later Go gives up and closes the connection after answering
    strict_chunk_lines: bool = True
    # an empty Content-Length means no body (GODEBUG httplaxcontentlength=1: Go < 1.22, or a GO111MODULE=off
    # build as moby's Dockerfile makes up to v28); v29 builds as a module of go 1.26.3 and answers 400
    empty_content_length_ok: bool = True
    # /version: the top-level key order (types.Version up to v28, api/types/system.VersionResponse from v29)
    version_key_order: tuple[str, ...] = ("Platform", "Components", "Version", "ApiVersion", "MinAPIVersion",
                                          "GitCommit", "GoVersion", "Os", "Arch", "KernelVersion", "BuildTime")
    version_module: tuple[str, str] | None = None  # v29+: Engine Details "Module" and "ModuleVersion"
    # --- image history, system df, image prune ---
    history_platform_from: str | None = None  # v28+: GET /images/{name}/history reads `platform` from API 1.48
    # containerd: the history of a platform whose config is there but not a snapshot of its layers. v28.1.1
    # (daemon/containerd/image_history.go) returns the snapshotter's error, this message ({chain}: the first
    # missing chain id) with 404; None: v28.5.2+ count that layer's size 0 (26.1 reads no `platform`)
    history_missing_snapshot_error: str | None = None
    # --- image inspect ---
    # v28+: GET /images/{name}/json reads `platform` from API 1.49 (api/server/router/image/image_routes.go
    # getImagesByName); the graphdriver store checks the image's own platform, the containerd store answers
    # the index's manifest of that platform (platforms.OnlyStrict)
    inspect_platform_from: str | None = None
    # containerd v29 (daemon/containerd/image_list.go multiPlatformSummary): a manifest whose content is not all
    # there can answer a platform too; v28 takes only manifests whose content is Available
    inspect_platform_any_manifest: bool = False
    inspect_identity_from: str | None = None  # containerd v29: inspect's Identity (router: API 1.53+)
    prune_counts_snapshots: bool = False  # containerd v29+: SpaceReclaimed adds the removed snapshots' sizes
    # GET /system/df: 20.10's types.DiskUsage with BuilderSize; 26.1-28.x's with `type` (1.42+) and null
    # sections; v29's legacyDiskUsage (omitted sections) plus the usage objects from API 1.52
    df_layout: Literal["builder_size", "disk_usage", "usage_objects"] = "disk_usage"
    shared_size_over_listed: bool = False  # 20.10 (daemon/images/images.go): layers shared among the listed images only
    # 26.1 and 28.1 (api/server/router/system/system_routes.go): `type=build-cache` alone below API 1.44 reads
    # the images of a disk usage never computed (nil): the handler panics and the connection closes unanswered
    df_build_cache_alone_drops_below: str | None = None
    # containerd 26.1-28.1 (daemon/containerd/image_prune.go pruneAll): every content blob a prune removed is
    # reported `Deleted` (configs, layers); from v28.5.2 only manifests and indexes. No API shows those digests
    prune_reports_every_blob: bool = False
    # containerd v29 (daemon/containerd/image_list.go computeSharedSize): SharedSize adds the content blobs
    # (compressed layers) images share to the shared snapshots; no API shows a blob's size
    shared_size_counts_content: bool = False

    @property
    def is_containerd(self) -> bool:
        return self.store == "containerd"

    def supports(self, api_version: str) -> bool:
        return version_tuple(self.api_min) <= version_tuple(api_version) <= version_tuple(self.api_max)


_BASE_KEYS = frozenset({"dangling", "label", "before", "since", "reference"})

_DOCKER_20_10 = Profile(
    name="docker-20.10", engine_version="20.10.24+dfsg1", store="graphdriver", api_max="1.41", api_min="1.12",
    description="Docker 20.10 (Debian 12 docker.io), classic graphdriver store",
    checked_against="Debian 12 docker.io 20.10.24+dfsg1-1+deb12u1",
    filter_keys=_BASE_KEYS, invalid_filter_word="Invalid filter", malformed_filters_go_error=True,
    dangling_exact_match=True, before_since_and=False, lowercase_error_names_repo=False,
    until_error_status=500, until_error_prefix="", label_negation=False, negated_label_matches_missing=False,
    bad_glob_is_error=True, reference_matches_canonical=False, dangling_record_name=None,
    legacy_filter_below="1.41", legacy_filter_needs_no_reference=False,
    shared_size_from="1.42", manifests_from=None, identity_from=None, inspect_manifests_from=None,
    none_placeholders_below=None, virtual_size_below=None, virtual_size_omits_zero=False, descriptor_from=None,
    containers_from=None,
    labels_when_none="null", plain_text_errors_through="1.23", ping_builder_swarm=False,
    router_release="v20.10.24",
    go_version="go1.19.8", git_commit="5d6db84", build_time="2026-05-07T21:09:36.000000000+00:00",
    strict_header_syntax=False, strict_chunk_lines=False,  # Go 1.19
    df_layout="builder_size", shared_size_over_listed=True,
    components=(("containerd", "1.6.20~ds1", "1.6.20~ds1-1+deb12u3"), ("runc", "1.1.5+ds1", "1.1.5+ds1-1+deb12u1"),
                ("docker-init", "0.19.0", "")),
)

_DOCKER_26_1 = Profile(
    name="docker-26.1", engine_version="26.1.5+dfsg1", store="graphdriver", api_max="1.45", api_min="1.24",
    description="Docker 26.1 (Debian 13 docker.io), classic graphdriver store",
    checked_against="Debian 13 docker.io 26.1.5+dfsg1-9+deb13u1",
    filter_keys=_BASE_KEYS | {"until"}, invalid_filter_word="invalid filter", malformed_filters_go_error=False,
    dangling_exact_match=False, before_since_and=True, lowercase_error_names_repo=True,
    until_error_status=500, until_error_prefix="", label_negation=False, negated_label_matches_missing=False,
    bad_glob_is_error=True, reference_matches_canonical=False, dangling_record_name=None,
    legacy_filter_below="1.41", legacy_filter_needs_no_reference=False,
    shared_size_from="1.42", manifests_from=None, identity_from=None, inspect_manifests_from=None,
    none_placeholders_below="1.43", virtual_size_below="1.44", virtual_size_omits_zero=True, descriptor_from=None,
    containers_from=None,
    labels_when_none="null", plain_text_errors_through=None, ping_builder_swarm=True,
    router_release="v26.1.5", df_build_cache_alone_drops_below="1.44",
    go_version="go1.24.4", git_commit="411e817", build_time="2026-08-13T05:35:48.000000000+00:00",
    components=(("containerd", "1.7.24~ds1", "1.7.24~ds1-6+deb13u1"), ("runc", "1.1.5+ds1", "1.1.5+ds1-1+deb12u1"),
                ("docker-init", "0.19.0", "")),
)


def _containerd(base: Profile, **changes: object) -> Profile:
    """The containerd-store twin of a graphdriver row."""
    fields = dict(base.__dict__)
    fields.update(
        name=base.name + "-containerd", store="containerd",
        description=base.description.replace("classic graphdriver store", "containerd image store"),
        checked_against=base.checked_against + ", containerd image store",
        filter_keys=base.filter_keys | {"label!"}, label_negation=True, bad_glob_is_error=False,
        dangling_record_name="moby-dangling",
    )
    fields.update(changes)
    return Profile(**fields)


def _evolve(base: Profile, **changes: object) -> Profile:
    fields = dict(base.__dict__)
    fields.update(changes)
    return Profile(**fields)


_DOCKER_28_1 = _evolve(
    _DOCKER_26_1, name="docker-28.1", engine_version="28.1.1", api_max="1.49",
    description="Docker 28.1, classic graphdriver store", manifests_from="1.47", inspect_manifests_from="1.48",
    descriptor_from=None, checked_against="dockerd 28.1.1 built from moby's tag v28.1.1 (01f442b)",
    plain_text_errors_through="1.23",  # v28+: api/server/server.go writes errors for /v1.23 and older as text
    router_release="v28.1.1",
    history_platform_from="1.48",  # api/server/router/image/image_routes.go getImagesHistory at v28.1.1
    inspect_platform_from="1.49",
    go_version="go1.23.8", git_commit="01f442b", build_time="2025-04-18T04:25:23.000000000+00:00",
    components=(("containerd", "1.7.27", "05044ec0a9a75232cad458027ca83437aae3f4da"),
                ("runc", "1.2.5", "v1.2.5-0-g59923ef"), ("docker-init", "0.19.0", "de40ad0")),
)

_DOCKER_28_5 = _evolve(
    _DOCKER_28_1, name="docker-28.5", engine_version="28.5.2+dfsg4", api_max="1.51",
    description="Docker 28.5 (Debian sid docker.io), classic graphdriver store",
    checked_against="Debian sid docker.io 28.5.2+dfsg4-5", containers_from="1.51", router_release="v28.5.2",
    df_build_cache_alone_drops_below=None,  # v28.5.2 checks systemDiskUsage != nil
    go_version="go1.27.1", git_commit="3ef3c07c883be49a2e8097bcf6d2952fce1d70eb",
    build_time="2026-09-15T11:02:57.000000000+00:00",
    components=(("containerd", "2.1.9+unknown", ""), ("docker-init", "0.19.0", "")),
)

_DOCKER_29_7 = _evolve(
    _DOCKER_28_1, name="docker-29.7", engine_version="29.7.2", api_max="1.55", api_min="1.40",
    description="Docker 29.7, classic graphdriver store (the newest release covered)",
    checked_against="dockerd 29.7.2 built from moby's tag docker-v29.7.2 (6a43e3d)",
    until_error_status=400, until_error_prefix="invalid value for 'until' filter: ",
    reference_matches_canonical=True, legacy_filter_below="1.25", legacy_filter_needs_no_reference=True,
    identity_from="1.54", virtual_size_omits_zero=False, containers_from="1.51",
    router_release="docker-v29.7.2",
    go_version="go1.26.5", git_commit="6a43e3d", build_time="2026-08-05T18:24:27.000000000+00:00",
    h2c_prior_knowledge=True,
    empty_content_length_ok=False,  # go.mod says go 1.26.3: GODEBUG httplaxcontentlength=0
    version_key_order=("Platform", "Version", "ApiVersion", "MinAPIVersion", "Os", "Arch", "Components",
                       "GitCommit", "GoVersion", "KernelVersion", "BuildTime"),
    version_module=("github.com/moby/moby/v2", "v2.0.0+unknown"),  # daemon/info.go at the tag
    df_layout="usage_objects",  # daemon/server/router/system/system_routes.go getDiskUsage at the tag
    # The official packages' containerd is released apart from moby, so no 29.7.2 value is known; these are
    # the versions moby's Dockerfile pins at the tag (CONTAINERD_VERSION, RUNC_VERSION, TINI_VERSION) with
    # the commits of those tags in containerd/containerd, opencontainers/runc and krallin/tini, written as
    # the 28.1 row's official values are (runc's GitCommit is its `git describe`).
    components=(("containerd", "2.3.3", "aad11006b869517fcd3009450b6f82da282e1a9b"),
                ("runc", "1.4.3", "v1.4.3-0-gbb14dab"), ("docker-init", "0.19.0", "de40ad0")),
    df_build_cache_alone_drops_below=None,
)

PROFILES: dict[str, Profile] = {
    p.name: p for p in (
        _DOCKER_20_10,
        _DOCKER_26_1,
        _containerd(_DOCKER_26_1, prune_reports_every_blob=True),
        _DOCKER_28_1,
        _containerd(_DOCKER_28_1, descriptor_from="1.48", prune_reports_every_blob=True,
                    history_missing_snapshot_error="NotFound: snapshot {chain} does not exist: not found"),
        _DOCKER_28_5,
        _containerd(_DOCKER_28_5, descriptor_from="1.48"),
        _DOCKER_29_7,
        _containerd(_DOCKER_29_7, descriptor_from="1.48", labels_when_none="empty", negated_label_matches_missing=True,
                    prune_counts_snapshots=True,  # daemon/containerd/image_prune.go at docker-v29.7.2
                    shared_size_counts_content=True, inspect_platform_any_manifest=True, inspect_identity_from="1.53"),
    )
}

#: What a new installation of Docker's own packages runs today: Docker 29 with the containerd image store.
DEFAULT_PROFILE = "docker-29.7-containerd"


@cache
def earliest_from(field: str) -> str | None:
    """The lowest API version any profile gives a `*_from` field: from there on some release has that
    parameter or document field. The threshold of a rule that is given no release."""
    values = [value for p in PROFILES.values() if (value := getattr(p, field)) is not None]
    return min(values, key=version_tuple, default=None)


@cache
def latest_below(field: str) -> str | None:
    """The highest API version any profile gives a `*_below` field: below it some release still does
    the old thing. The threshold of a rule that is given no release."""
    values = [value for p in PROFILES.values() if (value := getattr(p, field)) is not None]
    return max(values, key=version_tuple, default=None)


class UnknownProfile(ValueError):
    pass


def get_profile(name: str | Profile | None = None) -> Profile:
    """Look a profile up by name (None: the default); a clear error lists the known names."""
    if isinstance(name, Profile):
        return name
    key = name or DEFAULT_PROFILE
    try:
        return PROFILES[key]
    except KeyError:
        raise UnknownProfile(f"unknown profile {key!r}; known profiles: {', '.join(PROFILES)}") from None
