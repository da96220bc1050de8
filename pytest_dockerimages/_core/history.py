"""`GET /images/{name}/history` as each daemon answers it (pure: store + request in, document out).

The entries are the image config's history, newest first. The first gets the image's id and the
following ones the ids of its ancestors, one per entry (the daemon walks ParentId, or on the
containerd store the classic builder's parent label); the rest are `<missing>`. `Tags` are the
references of that image: tags on the graphdriver store, every non-dangling name (digest
references too) on the containerd store; null when there are none.

An image without history data (`Image.history` is None: a marker dict, an older seed) gets one
entry per layer, as a daemon shows an image whose config lists one history entry per layer with
nothing but the image's creation time: `Created` the image's, `CreatedBy` and `Comment` empty,
`Size` the layer's size.

With `platform` (Docker 28+, API 1.48+) the graphdriver store answers 404 unless the image's own
platform matches; the containerd store answers the history of the index's best matching manifest
that is there (`Manifest.presence`), with containerd's platform matching (arm64 runs arm/v8 and
below, amd64 runs 386) and, for a manifest without its snapshots, the release's answer
(`Profile.history_missing_snapshot_error`).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any, Mapping, Sequence

from .errors import DaemonError, invalid_parameter, not_found
from .filters import resolve_image
from .gojson import GoJSONError, check_syntax
from .gojson import _kind as _go_kind  # the JSON kind Go's type errors name
from .model import HistoryEntry, Image, ImageStore, Manifest
from .profiles import Profile, at_least
from .reference import Reference
from .render import image_manifests
from .timestamps import unix_seconds

MISSING_ID = "<missing>"

# ocispec.Platform's JSON fields and their Go types (what json.Unmarshal checks)
_PLATFORM_FIELDS = {"architecture": "string", "os": "string", "os.version": "string",
                    "os.features": "[]string", "variant": "string"}


def _fails_go_type(value: Any, go_type: str) -> bool:
    if value is None:
        return False  # null leaves a Go field unchanged
    if go_type == "string":
        return not isinstance(value, str)
    return not isinstance(value, list)


def _platform_type_error(parsed: Any) -> str | None:
    """json.Unmarshal's first type error for an ocispec.Platform, None when it decodes."""
    if parsed is None:
        return None
    if not isinstance(parsed, dict):
        return f"json: cannot unmarshal {_go_kind(parsed)} into Go value of type v1.Platform"
    for key, value in parsed.items():
        field = key.lower()  # encoding/json matches field names case-insensitively
        if field not in _PLATFORM_FIELDS:
            continue
        go_type = _PLATFORM_FIELDS[field]
        if _fails_go_type(value, go_type):
            return (f"json: cannot unmarshal {_go_kind(value)} into Go struct field Platform.{field} "
                    f"of type {go_type}")
        if go_type == "[]string" and isinstance(value, list):
            bad = next((v for v in value if v is not None and not isinstance(v, str)), None)
            if bad is not None:
                return (f"json: cannot unmarshal {_go_kind(bad)} into Go struct field Platform.{field} "
                        "of type string")
    return None


def decode_platform(text: str) -> dict[str, Any]:
    """httputils.DecodePlatform: the `platform` parameter as a dict, or the daemon's 400."""
    try:
        check_syntax(text)
    except GoJSONError as exc:
        raise invalid_parameter(f"failed to parse platform: {exc}") from None
    parsed = json.loads(text)
    error = _platform_type_error(parsed)
    if error is not None:
        raise invalid_parameter(f"failed to parse platform: {error}")
    fields = {key.lower(): v for key, v in (parsed or {}).items() if key.lower() in _PLATFORM_FIELDS and v}
    optional = any(fields.get(k) for k in ("variant", "os.version", "os.features"))
    if not fields.get("os") and not fields.get("architecture") and optional:
        raise invalid_parameter("optional platform fields provided, but OS and Architecture are missing")
    if not fields.get("os") or not fields.get("architecture"):
        raise invalid_parameter("both OS and Architecture must be provided")
    return fields


def format_platform(platform: Mapping[str, Any]) -> str:
    """platforms.FormatAll: os/architecture[/variant]."""
    parts = [str(platform.get("os", "unknown")), str(platform.get("architecture", "unknown"))]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts)


def _normalize(platform: Mapping[str, Any]) -> tuple[str, str, str]:
    """platforms.Normalize: (os, architecture, variant) in their canonical spelling."""
    os_name = str(platform.get("os") or "linux").lower()  # "" is the host's OS: the daemons run on Linux
    os_name = "darwin" if os_name == "macos" else os_name
    arch, variant = str(platform.get("architecture") or "").lower(), str(platform.get("variant") or "").lower()
    if arch == "i386":
        arch, variant = "386", ""
    elif arch in ("x86_64", "x86-64", "amd64"):
        arch, variant = "amd64", "" if variant == "v1" else variant
    elif arch in ("aarch64", "arm64"):
        arch = "arm64"
        variant = {"8": "", "v8": "", "v8.0": "", "9": "v9", "9.0": "v9", "v9.0": "v9"}.get(variant, variant)
    elif arch in ("armhf", "armel"):
        arch, variant = "arm", "v7" if arch == "armhf" else "v6"
    elif arch == "arm":
        variant = {"": "v7", "7": "v7", "5": "v5", "6": "v6", "8": "v8"}.get(variant, variant)
    return os_name, arch, variant


def _older(variant: str, lowest: int) -> list[str]:
    """The variants below `vN` down to `v<lowest>` (none when strconv.Atoi refuses `N`). Capped: a
    variant thousands of versions up would make the daemon build as long a list, not the fake."""
    found = re.fullmatch(r"[+-]?[0-9]{1,18}", variant.removeprefix("v"))
    if found is None:
        return []
    top = min(int(found[0]), lowest + 1000)
    return [f"v{n}" for n in range(top - 1, lowest - 1, -1)]


def _arm64_variants(variant: str) -> list[str]:
    """platforms' arm64variantToVersion: an arm64 variant (v8 when none) and those it runs, best first."""
    found = re.fullmatch(r"v([89])(?:\.([0-9]))?", variant or "v8")
    if found is None or (found[1] == "9" and int(found[2] or 0) > 7):
        return []
    minor = int(found[2] or 0)
    steps = [(8, minor)] if found[1] == "8" else [(9, minor), (8, min(minor + 5, 9))]
    return [f"v{major}" if m == 0 else f"v{major}.{m}" for major, start in steps for m in range(start, -1, -1)]


def _platform_vector(os_name: str, arch: str, variant: str) -> list[tuple[str, str, str]]:
    """platforms.Only's platformVector: the platform and those it also runs, best first."""
    if arch == "amd64":
        return [(os_name, arch, variant), *((os_name, arch, v) for v in _older(variant, 1)), (os_name, "386", "")]
    if arch == "arm":
        return [(os_name, arch, variant), *((os_name, arch, v) for v in _older(variant, 5))]
    if arch == "arm64":
        variants = _arm64_variants(variant)  # an unknown variant runs nothing, not even itself
        return [(os_name, arch, v) for v in variants] + (_platform_vector(os_name, "arm", "v8") if variants else [])
    return [(os_name, arch, variant)]


def platform_rank(have: Mapping[str, Any], want: Mapping[str, Any]) -> int | None:
    """Where `have` comes in platforms.Only(want)'s order (0 best), None when it does not match."""
    normalized = _normalize(have)
    vector = [_normalize({"os": o, "architecture": a, "variant": v}) for o, a, v in _platform_vector(*_normalize(want))]
    return next((rank for rank, entry in enumerate(vector) if entry == normalized), None)


def _matches_with_fallback(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """images.OnlyPlatformWithFallback (graphdriver): Only, or the same OS and architecture when the
    image's platform has no variant."""
    if platform_rank(have, want) is not None:
        return True
    return not have.get("variant") and _normalize(have)[:2] == _normalize(want)[:2]


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """identity.ChainIDs: the snapshot name of each layer with those below it."""
    chains: list[str] = []
    for diff_id in diff_ids:
        chains.append(diff_id if not chains else
                      "sha256:" + hashlib.sha256(f"{chains[-1]} {diff_id}".encode()).hexdigest())
    return chains


def _unpacked_chains(store: ImageStore) -> frozenset[str]:
    """The snapshots the store holds: each image's layers and each unpacked manifest's diff ids."""
    chains: set[str] = set()
    for image in store.images:
        chains.update(chain_ids([layer.digest for layer in image.layers]))
        chains.update(c for m in image.manifests if m.found_as == "unpacked" for c in chain_ids(m.diff_ids))
    return frozenset(chains)


def _best_manifest(image: Image, name: str, want: Mapping[str, Any]) -> Manifest:
    """getBestPresentImageManifest: the present image manifest platforms.Only(want) ranks first
    (the index's order among equals), or the daemon's 404."""
    ranked = [(rank, n, m) for n, m in enumerate(image_manifests(image))
              if m.kind == "image" and m.found_as != "absent" and (rank := platform_rank(m.platform, want)) is not None]
    if not ranked:
        raise not_found(f"image with reference {name} was found but does not provide the specified "
                        f"platform ({format_platform(want)})")
    return min(ranked, key=lambda item: item[:2])[2]


def platform_entries(store: ImageStore, image: Image, name: str, want: Mapping[str, Any],
                     profile: Profile) -> tuple[HistoryEntry, ...]:
    """The history of the platform the client asked for, or the daemon's 404."""
    if not profile.is_containerd:
        have = {"os": image.os, "architecture": image.architecture}
        if not _matches_with_fallback(have, want):
            raise not_found(f"image with reference {name} was found but its platform ({format_platform(have)}) "
                            f"does not match the specified platform ({format_platform(want)})")
        return entries_of(image)
    manifest = _best_manifest(image, name, want)
    if manifest.found_as == "config":
        error = profile.history_missing_snapshot_error
        present = store.derived("unpacked_chains", _unpacked_chains)
        missing = next((c for c in chain_ids(manifest.diff_ids) if c not in present), None)
        if error is not None and missing is not None:
            raise not_found(error.format(chain=missing))
        if manifest.history is None:
            return tuple(replace(entry, size=0) for entry in entries_of(image))
    return manifest.history if manifest.history is not None else entries_of(image)


def entries_of(image: Image) -> tuple[HistoryEntry, ...]:
    """The image's history, oldest first; one entry per layer when the seed gave none."""
    if image.history is not None:
        return image.history
    return tuple(HistoryEntry(image.created_ns, "", "", layer.size) for layer in image.layers)


def history_tags(image: Image, profile: Profile) -> list[str] | None:
    """The `Tags` of one entry, in the order the daemon's store lists the references."""
    refs: tuple[Reference, ...] = image.tags + image.digests if profile.is_containerd else image.tags
    names = sorted(refs, key=lambda r: str(r))
    return [r.familiar for r in names] or None


def history_document(store: ImageStore, image: Image, profile: Profile,
                     entries: Sequence[HistoryEntry] | None = None) -> list[dict[str, Any]]:
    """The response body: HistoryResponseItem list, newest first, keys in Go struct order.
    `entries`: another platform's (default: the image's own)."""
    out = []
    for entry in reversed(entries_of(image) if entries is None else entries):
        out.append({"Comment": entry.comment,
                    "Created": unix_seconds(entry.created_ns) if entry.created_ns is not None else 0,
                    "CreatedBy": entry.created_by, "Id": MISSING_ID, "Size": entry.size, "Tags": None})
    current: Image | None = image
    for item in out:
        if current is None:
            break
        item["Id"] = current.id
        item["Tags"] = history_tags(current, profile)
        current = store.by_id.get(current.parent) if current.parent else None
    return out


def image_history(store: ImageStore, name: str, profile: Profile, api_version: str,
                  platform_text: str | None) -> list[dict[str, Any]]:
    """The route: the `platform` parameter (where the release reads it), then the image, then its history."""
    want = None
    if at_least(api_version, profile.history_platform_from) and platform_text:
        want = decode_platform(platform_text)
    image = resolve_image(store, name, profile)
    entries = None if want is None else platform_entries(store, image, name, want, profile)
    return history_document(store, image, profile, entries)


__all__ = ["DaemonError", "MISSING_ID", "chain_ids", "decode_platform", "entries_of", "history_document",
           "image_history", "platform_entries", "platform_rank"]
