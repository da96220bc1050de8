"""Canonical keys: what the daemon reads from a request, as one hashable value.

Matching is semantic: :func:`canonical_key` reduces a request to what the daemon actually reads
(method, path with its version prefix, and for ``/images/json`` the parsed ``all``, filters in
either JSON form, and the version-gated ``shared-size``/``manifests``/``identity``; for
``/images/{name}/json`` ``manifests`` and the decoded ``platform``, for ``/images/{name}/history``
the decoded ``platform``, where the release reads them; for ``/system/df``
the set of ``type`` values and ``verbose``; for ``POST /images/prune`` its filters), so a docker CLI
request and a docker SDK request for the same thing give the same key, and replay is one dict
lookup.
"""
from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from typing import Any

from .._core.daemon import split_version
from .._core.errors import DaemonError
from .._core.platforms import decode_platform
from .._core.profiles import PROFILES, Profile, at_least, below, earliest_from, version_tuple
from .._core.query import Form, bool_value, canonical_filters, filters_from_json, parse_form
from .._core.system_df import USAGE_OBJECTS_FROM, requested_types

__all__ = ["Key", "canonical_key", "describe_key"]

_INSPECT = re.compile(r"^/images/(.+)/json$")
_HISTORY = re.compile(r"^/images/(.+)/history$")

#: An unknown API version (no profile, no default) counts every parameter: the newest any release speaks.
_NEWEST_API = max((p.api_max for p in PROFILES.values()), key=version_tuple)

Key = tuple[Any, ...]


def _effective_api(version: str | None, profile: Profile | None, default_api: str | None) -> str | None:
    if version is not None:
        return version
    if profile is not None:
        return profile.api_max
    return default_api


def _gate(api: str | None, floor: str | None) -> bool:
    """Does a parameter introduced at `floor` count at `api`? Unknown api: assume it does."""
    if floor is None:
        return False
    return api is None or at_least(api, floor)


def _filters(form: Form, profile: Profile | None) -> dict[str, dict[str, bool]] | None:
    """The ``filters`` parameter in either JSON form; None when the daemon cannot parse it."""
    try:
        return filters_from_json(form.get("filters"), profile or PROFILES["docker-26.1"])
    except DaemonError:
        return None


def _filters_part(form: Form, filters: dict[str, dict[str, bool]] | None) -> tuple[str, Any]:
    """Key and values sorted, whatever JSON form was sent; unparseable: the exact text (an error case)."""
    if filters is None:
        return ("filters!", form.get("filters"))
    return ("filters", tuple((k, tuple(v)) for k, v in canonical_filters(filters).items()))


def _images_json_query(form: Form, api: str | None, profile: Profile | None) -> tuple[Any, ...]:
    parts: list[tuple[str, Any]] = [("all", bool_value(form.get("all")))]
    filters = _filters(form, profile)
    if filters is None:
        parts.append(_filters_part(form, None))
    legacy = form.get("filter")
    if legacy:
        if profile is None:
            parts.append(("filter", legacy))
        elif filters is not None and api is not None and below(api, profile.legacy_filter_below) and not (
                profile.legacy_filter_needs_no_reference and "reference" in filters):
            filters.setdefault("reference", {})[legacy] = True  # what the daemon does with it
        elif filters is None:
            parts.append(("filter", legacy))
    if filters is not None:
        parts.append(_filters_part(form, filters))
    for name, field_name in (("shared-size", "shared_size_from"), ("manifests", "manifests_from"),
                             ("identity", "identity_from")):
        if _gate(api, _floor(profile, field_name)):
            parts.append((name, bool_value(form.get(name))))
    return tuple(parts)


def _prune_query(form: Form, profile: Profile | None) -> tuple[Any, ...]:
    """POST /images/prune reads only its filters (validated by the daemon after parsing)."""
    return (_filters_part(form, _filters(form, profile)),)


def _platform_part(form: Form, api: str | None, profile: Profile | None, floor: str) -> tuple[Any, ...]:
    """The decoded ``platform`` (field names lowercased, empty fields dropped) where the release reads
    it (`floor`: the profile field saying from which API version)."""
    text = form.get("platform")
    if not text or not _gate(api, _floor(profile, floor)):
        return ()
    platform = decode_platform(text)  # a DaemonError: the raw query is the key
    return (("platform", json.dumps(platform, sort_keys=True, separators=(",", ":"))),)


def _inspect_query(form: Form, api: str | None, profile: Profile | None) -> tuple[Any, ...]:
    """``manifests`` (API 1.48+) and ``platform`` (1.49+, Docker 28+) where the release reads them."""
    manifests = (("manifests", bool_value(form.get("manifests"))),) if _gate(
        api, _floor(profile, "inspect_manifests_from")) else ()
    return manifests + _platform_part(form, api, profile, "inspect_platform_from")


def _df_query(form: Form, raw_query: str, api: str | None, profile: Profile | None) -> tuple[Any, ...]:
    """The sections asked for (``type``, a set, from API 1.42; all without it) and Docker 29's ``verbose``."""
    parts: list[tuple[str, Any]] = [("type", tuple(sorted(requested_types(raw_query, api or _NEWEST_API))))]
    layout_reads_verbose = profile is None or profile.df_layout == "usage_objects"
    if layout_reads_verbose and _gate(api, USAGE_OBJECTS_FROM):
        parts.append(("verbose", bool_value(form.get("verbose"))))
    return tuple(parts)


def _floor(profile: Profile | None, field_name: str) -> str | None:
    """Where a parameter starts to count: the recorded daemon's profile field, else the earliest any release has."""
    return getattr(profile, field_name) if profile is not None else earliest_from(field_name)


def _query(method: str, route: str, raw_query: str, api: str | None, profile: Profile | None) -> tuple[Any, ...]:
    """The parameters the route reads, parsed as the daemon parses them (a DaemonError when it cannot)."""
    form = parse_form(raw_query)
    if route == "/images/json" and method == "GET":
        return _images_json_query(form, api, profile)
    if _INSPECT.match(route) and method == "GET":
        return _inspect_query(form, api, profile)
    if _HISTORY.match(route) and method == "GET":
        return _platform_part(form, api, profile, "history_platform_from")
    if route == "/system/df" and method == "GET":
        return _df_query(form, raw_query, api, profile)
    if route == "/images/prune" and method == "POST":
        return _prune_query(form, profile)
    return tuple(sorted(form.values.items()))


def canonical_key(method: str, target: str, body: bytes | None = b"", *,
                  profile: Profile | None = None, default_api: str | None = None) -> Key:
    """What the daemon reads from a request, as a hashable value.

    ``profile`` (the recorded daemon's) decides which version-gated parameters count and what the
    legacy ``filter`` parameter means; without one every known parameter counts. ``default_api``
    is the version of an unversioned request when no profile is known.
    """
    method = method.upper()
    raw_path, _, raw_query = target.partition("?")
    path = urllib.parse.unquote(raw_path)
    version, route = split_version(path)
    api = _effective_api(version, profile, default_api)
    query: tuple[Any, ...]
    try:
        query = () if route in ("/_ping", "/version") else _query(method, route, raw_query, api, profile)
    except DaemonError:
        query = (("raw", raw_query),)  # unparseable query: only the same bytes match
    digest = ""
    if method not in ("GET", "HEAD") and body:
        digest = hashlib.sha256(body).hexdigest()
    return (method, path, query, digest)


def describe_key(key: Key) -> str:
    """A one-line readable form of a key, for messages."""
    method, path, query, digest = key
    parts = [method, path]
    for name, value in query:
        if name == "filters":
            value = json.dumps({k: list(v) for k, v in value}, separators=(",", ":"))
        elif isinstance(value, tuple):
            value = ",".join(map(str, value))
        parts.append(f"{name}={value}")
    if digest:
        parts.append(f"body=sha256:{digest[:12]}")
    return " ".join(parts)
