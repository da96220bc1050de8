"""Snapshot: everything a real daemon holds, as a seed the fake loads, with the detected profile.

`build_images` and `detect_profile` are pure; `take_snapshot` does the HTTP at the edge.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from .._core.model import Image
from .._core.profiles import PROFILES, Profile, at_least, version_tuple
from .._files.seed import Seed

NONE_TAG, NONE_DIGEST = "<none>:<none>", "<none>@<none>"
CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"


class SnapshotError(RuntimeError):
    """The daemon could not be read; the message says which request failed."""


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


def _layer_sizes(images: Sequence[tuple[tuple[str, ...], int]]) -> dict[tuple[str, ...], int]:
    """Size of each layer chain prefix: known where some image ends exactly there, else inferred.

    The API exposes only each image's total size; a layer's own size is the difference between the
    totals of the images ending at it and at its parent chain.
    """
    totals = {layers: size for layers, size in images}
    sizes: dict[tuple[str, ...], int] = {}
    for layers, _size in images:
        previous_total = 0
        for k in range(1, len(layers) + 1):
            prefix = layers[:k]
            total = totals.get(prefix)
            if total is None:
                continue
            sizes.setdefault(prefix, max(total - previous_total, 0))
            previous_total = total
    return sizes


def build_images(listing: Sequence[Mapping[str, Any]], inspects: Mapping[str, Mapping[str, Any]],
                 store: str, containers: Mapping[str, Sequence[str]] | None = None) -> list[Image]:
    """Images from an all=1 listing (with manifests=1 where the daemon has it) plus the inspect
    document of each (keyed by Id), and the containers that use each image (`containers_by_image`)."""
    chains: list[tuple[tuple[str, ...], int]] = []
    for summary in listing:
        layers = tuple((inspects.get(summary["Id"], {}).get("RootFS") or {}).get("Layers") or ())
        chains.append((layers, int(summary.get("Size", 0))))
    chain_sizes = _layer_sizes(chains)
    images = []
    for summary, (layers, size) in zip(listing, chains, strict=False):
        inspect = inspects.get(summary["Id"], {})
        tags = [t for t in summary.get("RepoTags") or [] if t != NONE_TAG]
        if store == "containerd":
            digests = [t for t in tags if "@" in t]
            tags = [t for t in tags if "@" not in t]
        else:
            digests = [d for d in summary.get("RepoDigests") or [] if d != NONE_DIGEST]
        layer_list: list[dict[str, Any]] = []
        for k in range(1, len(layers) + 1):
            layer_list.append({"digest": layers[k - 1], "size": chain_sizes.get(layers[:k], 0)})
        known = sum(layer["size"] for layer in layer_list)
        if layer_list and known != size:  # put what no other image explains on the top layer
            layer_list[-1]["size"] = max(layer_list[-1]["size"] + size - known, 0)
        images.append(Image(
            id=summary["Id"], tags=tags, digests=digests, labels=summary.get("Labels"),
            created=_created(summary, inspect), parent=summary.get("ParentId") or "", size=size,
            layers=layer_list or None, os=inspect.get("Os", "linux"), architecture=inspect.get("Architecture", "amd64"),
            containers=(containers or {}).get(summary["Id"]),
            descriptor=summary.get("Descriptor") if store == "containerd" else None,
            manifests=[_manifest(m) for m in summary.get("Manifests") or ()] if store == "containerd" else None,
        ))
    return images


GO_ZERO_TIME_UNIX = -62135596800  # time.Time{}.Unix(): January 1, year 1


def _created(summary: Mapping[str, Any], inspect: Mapping[str, Any]) -> Any:
    """The image config's creation time, or None when the config has none.

    Without a `created` field, Docker 20.10 holds Go's zero time, a real time (listed as
    -62135596800, inspected as 0001-01-01T00:00:00Z) that before/since compare; later releases
    hold no time (listed as 0, left out of inspect) and before/since skip the image."""
    listed = summary.get("Created", 0)
    if listed == GO_ZERO_TIME_UNIX:
        return "0001-01-01T00:00:00Z"
    if not inspect:
        return listed
    text = inspect.get("Created")
    return None if not text or text == "0001-01-01T00:00:00Z" else text


def _manifest(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A seed `manifests` entry from one ImageManifestSummary of a manifests=1 listing."""
    descriptor = summary.get("Descriptor") or {}
    sizes = summary.get("Size") or {}
    data = summary.get("ImageData") or {}
    entry: dict[str, Any] = {
        "id": summary["ID"], "kind": summary.get("Kind", "image"), "available": bool(summary.get("Available", True)),
        "media_type": descriptor.get("mediaType", ""), "size": int(descriptor.get("size", 0)),
        "content_size": max(int(sizes.get("Content", 0)) - int(descriptor.get("size", 0)), 0),
        "unpacked_size": int((data.get("Size") or {}).get("Unpacked", 0)), "descriptor": dict(descriptor),
        "containers": list(data.get("Containers") or ()),
    }
    if data.get("Platform") is not None:
        entry["platform"] = dict(data["Platform"])
    if data.get("Identity") is not None:
        entry["identity"] = data["Identity"]
    attested = (summary.get("AttestationData") or {}).get("For")
    if attested:
        entry["attestation_for"] = attested
    return entry


def containers_by_image(containers: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """{image id: [container ids]} from a /containers/json?all=1 listing (ImageID names the image)."""
    out: dict[str, list[str]] = {}
    for container in containers:
        out.setdefault(str(container.get("ImageID", "")), []).append(str(container["Id"]))
    return out


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
    inspects = {}
    for n, summary in enumerate(listing, 1):
        progress(f"inspect {n}/{len(listing)}")
        inspects[summary["Id"]] = fetch(f"/v{api}/images/{summary['Id']}/json")
    containers = containers_by_image(fetch(f"/v{api}/containers/json?all=1"))
    images = build_images(listing, inspects, store, containers)
    return Snapshot(Seed(tuple(images), profile), version, info, api, warning)


def _listing_query(api: str, profile: Profile) -> str:
    """all=1, with every flag that adds to the listing at this API version: shared-size (1.42),
    manifests (containerd store) and identity (its ImageData.Identity)."""
    flags = ["all=1"]
    if version_tuple(api) >= (1, 42):
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
            raise SnapshotError(f"GET {path} on {docker_host} answered {status}: {body[:200]!r}")
        return json.loads(body)

    return snapshot_with(fetch, progress)
