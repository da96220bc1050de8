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
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from .errors import DaemonError, invalid_parameter, not_found
from .filters import resolve_image
from .gojson import GoJSONError, check_syntax
from .gojson import _kind as _go_kind  # the JSON kind Go's type errors name
from .model import HistoryEntry, Image, ImageStore
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


def _platform_matches(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    if have.get("os") != want["os"] or have.get("architecture") != want["architecture"]:
        return False
    return not want.get("variant") or have.get("variant", "") == want["variant"]


def check_platform(image: Image, name: str, want: Mapping[str, Any], profile: Profile) -> None:
    """404 when the image does not have the platform the client asked for."""
    if profile.is_containerd:
        platforms = [m.platform for m in image_manifests(image) if m.kind == "image" and m.available]
        if not any(_platform_matches(p, want) for p in platforms):
            raise not_found(f"image with reference {name} was found but does not provide the specified "
                            f"platform ({format_platform(want)})")
        return
    have = {"os": image.os, "architecture": image.architecture}
    if not _platform_matches(have, want):
        raise not_found(f"image with reference {name} was found but its platform ({format_platform(have)}) "
                        f"does not match the specified platform ({format_platform(want)})")


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


def history_document(store: ImageStore, image: Image, profile: Profile) -> list[dict[str, Any]]:
    """The response body: HistoryResponseItem list, newest first, keys in Go struct order."""
    out = []
    for entry in reversed(entries_of(image)):
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
    if want is not None:
        check_platform(image, name, want, profile)
    return history_document(store, image, profile)


__all__ = ["DaemonError", "MISSING_ID", "check_platform", "decode_platform", "entries_of", "history_document",
           "image_history"]
