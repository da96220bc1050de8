"""The `platform` query parameter as the daemons read it: httputils.DecodePlatform's decoding and
errors, and containerd's platform matching (platforms.Only, OnlyStrict, moby's
OnlyPlatformWithFallback) with the names its errors print (platforms.FormatAll).

Why one module: GET /images/{name}/history and GET /images/{name}/json read `platform` the same
way (and the cassette key decodes it as they do). Pure.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping

from .errors import invalid_parameter, not_found
from .gojson import GoJSONError, check_syntax
from .gojson import _kind as _go_kind  # the JSON kind Go's type errors name
from .model import Image, Manifest
from .render import image_manifests

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
    """platforms.FormatAll: os[(os.version)]/architecture[/variant], "unknown" without an OS."""
    if not platform.get("os"):
        return "unknown"
    os_name = str(platform["os"])
    if platform.get("os.version"):
        os_name += f"({platform['os.version']})"
    return "/".join(str(p) for p in (os_name, platform.get("architecture"), platform.get("variant")) if p)


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


def strict_match(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """platforms.OnlyStrict(want).Match(have): the same platform once both are normalized."""
    return _normalize(have) == _normalize(want)


def _matches_with_fallback(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """images.OnlyPlatformWithFallback (graphdriver): Only, or the same OS and architecture when the
    image's platform has no variant."""
    if platform_rank(have, want) is not None:
        return True
    return not have.get("variant") and _normalize(have)[:2] == _normalize(want)[:2]


def check_image_platform(image: Image, name: str, want: Mapping[str, Any]) -> None:
    """The graphdriver store's GetImage with a platform: the image's own platform must match
    (OnlyPlatformWithFallback), else the daemon's 404."""
    have = {"os": image.os, "architecture": image.architecture}
    if not _matches_with_fallback(have, want):
        raise not_found(f"image with reference {name} was found but its platform ({format_platform(have)}) "
                        f"does not match the specified platform ({format_platform(want)})")


def best_manifest(image: Image, name: str, want: Mapping[str, Any], *, strict: bool,
                  usable: Callable[[Manifest], bool]) -> Manifest:
    """The image manifest of a containerd-store image that `usable` admits and the matcher ranks
    first (the index's order among equals): platforms.OnlyStrict when `strict`, else platforms.Only;
    without one, the daemon's 404."""
    ranked = []
    for position, m in enumerate(image_manifests(image)):
        if m.kind != "image" or not usable(m):
            continue
        rank = (0 if strict_match(m.platform, want) else None) if strict else platform_rank(m.platform, want)
        if rank is not None:
            ranked.append((rank, position, m))
    if not ranked:
        raise not_found(f"image with reference {name} was found but does not provide the specified "
                        f"platform ({format_platform(want)})")
    return min(ranked, key=lambda item: item[:2])[2]
