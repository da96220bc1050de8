"""Snapshot: everything a real daemon holds, as a seed the fake loads, with the detected profile.

`detect_profile` and `_core.listed.build_images` are pure; `take_snapshot` does the HTTP at the edge.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import quote

from .._core.listed import build_images, containers_by_image, platform_fields, platforms_to_read
from .._core.profiles import PROFILES, Profile, at_least, version_tuple
from .._files.seed import Seed

CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"


class SnapshotError(RuntimeError):
    """The daemon could not be read; the message says which request failed."""


class NotOk(SnapshotError):
    """The daemon answered, with another status than 200 (unlike a daemon that cannot be reached)."""


def image_store_of(info: Mapping[str, Any]) -> str:
    """/info -> "containerd" when the containerd snapshotter serves images, else "graphdriver"."""
    status = info.get("DriverStatus") or []
    for pair in status:
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and str(pair[0]).lower() == "driver-type" \
                and CONTAINERD_SNAPSHOTTER in str(pair[1]):
            return "containerd"
    if "containerd" in str(info.get("Driver", "")):
        return "containerd"
    return "graphdriver"


# Engine release (major, minor) from which a profile applies; the newest row not above the engine wins.
def _release(engine_version: str) -> tuple[int, int]:
    """(major, minor) of an engine version such as "26.1.5+dfsg1"."""
    numbers = [int(p) for p in engine_version.split("+")[0].split("-")[0].split(".")[:2] if p.isdigit()]
    return (numbers + [0, 0])[0], (numbers + [0, 0])[1]


def nearest_profile(engine_version: str, store: str) -> tuple[str, str | None]:
    """The profile nearest to an engine release and image store, and a warning unless it is that release.

    Releases are compared as major*100+minor; a tie goes to the newer profile. A daemon between two
    profiles (28.3, 29.2) gets a warning that names both.
    """
    release = _release(engine_version)
    rows = [p for p in PROFILES.values() if p.store == store] or list(PROFILES.values())
    rows.sort(key=lambda p: _release(p.engine_version))

    def distance(p: Profile) -> tuple[int, int]:
        major, minor = _release(p.engine_version)
        return abs((release[0] - major) * 100 + release[1] - minor), -(major * 100 + minor)

    best = min(rows, key=distance)
    if _release(best.engine_version) == release:
        return best.name, None
    older = [p for p in rows if _release(p.engine_version) < release]
    newer = [p for p in rows if _release(p.engine_version) > release]
    shown = f"Docker {engine_version}"
    if older and newer:
        why = f"{shown} falls between profiles {older[-1].name} and {newer[0].name}"
    elif older:
        why = f"{shown} is newer than every profile (newest: {older[-1].name})"
    else:
        why = f"{shown} is older than every profile (oldest: {newer[0].name})"
    return best.name, f"{why}; using {best.name}, the nearest"


def profile_name_for(engine_version: str, store: str) -> str:
    """The profile closest to an engine release ("26.1.5+dfsg1") and image store."""
    return nearest_profile(engine_version, store)[0]


def detect_profile(version: Mapping[str, Any], info: Mapping[str, Any]) -> str:
    """The profile closest to a daemon, from its /version and /info documents."""
    return detect_profile_with_warning(version, info)[0]


def detect_profile_with_warning(version: Mapping[str, Any], info: Mapping[str, Any]) -> tuple[str, str | None]:
    """`detect_profile`, and the warning to show when the daemon's release has no profile of its own."""
    return nearest_profile(str(version.get("Version", "0")), image_store_of(info))


@dataclass(frozen=True)
class Snapshot:
    seed: Seed
    version: Mapping[str, Any]
    info: Mapping[str, Any]
    api_version: str
    warning: str | None = None  # the daemon's release has no profile of its own (see nearest_profile)


Fetch = Callable[[str], Any]


def snapshot_with(fetch: Fetch, progress: Callable[[str], None] = lambda _: None) -> Snapshot:
    """Read a daemon through `fetch(path) -> parsed JSON`; pure apart from what fetch does."""
    version = fetch("/version")
    info = fetch("/info")
    api = str(version.get("ApiVersion", "1.41"))
    store = image_store_of(info)
    profile, warning = detect_profile_with_warning(version, info)
    listing = fetch(f"/v{api}/images/json?{_listing_query(api, PROFILES[profile])}")
    legacy = _legacy_api(version)
    by_name = PROFILES[profile].is_containerd and at_least(api, PROFILES[profile].descriptor_from)
    inspects, legacy_inspects, histories, descriptors = {}, {}, {}, {}
    for n, summary in enumerate(listing, 1):
        progress(f"inspect {n}/{len(listing)}")
        image_id = summary["Id"]
        inspects[image_id] = fetch(f"/v{api}/images/{image_id}/json")
        if legacy is not None:
            legacy_inspects[image_id] = fetch(f"/v{legacy}/images/{image_id}/json")
        if by_name:  # the Descriptor is the record's that a name resolves to
            descriptors[image_id] = {name: fetch(f"/v{api}/images/{quote(name, safe='/:@')}/json").get("Descriptor")
                                     for name in summary.get("RepoTags") or () if name != "<none>:<none>"}
        histories[image_id] = fetch(f"/v{api}/images/{image_id}/history")
    containers: dict[str, list[str]] | None
    try:
        containers = containers_by_image(fetch(f"/v{api}/containers/json?all=1"))
    except SnapshotError:  # a daemon without container routes (the fake): system df names its containers
        try:
            containers = containers_by_image(fetch(f"/v{api}/system/df").get("Containers") or [])
        except SnapshotError:  # nor that: the listed counts are all there is
            containers = None
    manifest_fields = {}
    if PROFILES[profile].is_containerd and at_least(api, PROFILES[profile].history_platform_from):
        for summary in listing:
            manifest_fields[summary["Id"]] = _read_platforms(fetch, api, summary)
    images = build_images(listing, inspects, store, containers, histories=histories, manifest_fields=manifest_fields,
                          legacy_inspects=legacy_inspects, descriptors=descriptors)
    return Snapshot(Seed(tuple(images), profile), version, info, api, warning)


def _legacy_api(version: Mapping[str, Any]) -> str | None:
    """API 1.44, where inspect still shows Container, ContainerConfig and every Config field, when
    the daemon's newest version is past it and it still speaks it (None: the newest shows them)."""
    newest, oldest = str(version.get("ApiVersion", "1.41")), str(version.get("MinAPIVersion", "1.12"))
    return "1.44" if version_tuple(newest) > (1, 44) and version_tuple(oldest) <= (1, 44) else None


def _read_platforms(fetch: Fetch, api: str, summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each platform of a multi-platform image: its history and inspect with `platform` (an error
    answer is data here: which platform the daemon finds, and how)."""
    def answer(path: str) -> Any:
        try:
            return fetch(path)
        except NotOk:
            return None

    by_id = {str(m.get("ID")): m for m in summary.get("Manifests") or ()}
    out = {}
    for manifest_id, platform in platforms_to_read(summary).items():
        query = "platform=" + quote(json.dumps(platform, separators=(",", ":")), safe="")
        out[manifest_id] = platform_fields(by_id[manifest_id],
                                           answer(f"/v{api}/images/{summary['Id']}/history?{query}"),
                                           answer(f"/v{api}/images/{summary['Id']}/json?{query}"))
    return out


def _listing_query(api: str, profile: Profile) -> str:
    """all=1, with every flag that adds to the listing at this API version: shared-size (1.42),
    manifests (containerd store) and identity (its ImageData.Identity)."""
    flags = ["all=1"]
    if at_least(api, profile.shared_size_from):
        flags.append("shared-size=1")
    if profile.is_containerd and at_least(api, profile.manifests_from):
        flags.append("manifests=1")
        if at_least(api, profile.identity_from):
            flags.append("identity=1")
    return "&".join(flags)


def take_snapshot(docker_host: str, progress: Callable[[str], None] = lambda _: None) -> Snapshot:
    """Snapshot the daemon at `docker_host` (unix:// or tcp://)."""
    from .._http.unixhttp import request

    def fetch(path: str) -> Any:
        try:
            status, _, body = request(docker_host, "GET", path, timeout=60)
        except OSError as exc:
            raise SnapshotError(f"cannot reach the daemon at {docker_host}: {exc}") from None
        if status != 200:
            raise NotOk(f"GET {path} on {docker_host} answered {status}: {body[:200]!r}")
        return json.loads(body)

    return snapshot_with(fetch, progress)
