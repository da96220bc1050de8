"""Canonical keys: what the daemon reads from a request, as one hashable value.

Matching is semantic: :func:`canonical_key` reduces a request to what the daemon actually reads
(method, path with its version prefix, and for ``/images/json`` the parsed ``all``, filters in
either JSON form, and the version-gated ``shared-size``/``manifests``/``identity``), so a docker CLI
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
from .._core.profiles import PROFILES, Profile, at_least, below, earliest_from
from .._core.query import bool_value, canonical_filters, filters_from_json, parse_form

__all__ = ["Key", "canonical_key", "describe_key"]

_INSPECT = re.compile(r"^/images/(.+)/json$")

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


def _images_json_query(raw_query: str, api: str | None, profile: Profile | None) -> tuple[Any, ...]:
    form = parse_form(raw_query)
    parts: list[tuple[str, Any]] = [("all", bool_value(form.get("all")))]
    raw_filters = form.get("filters")
    try:
        filters = filters_from_json(raw_filters, profile or PROFILES["docker-26.1"])
    except DaemonError:
        parts.append(("filters!", raw_filters))  # an error case: keep the exact text
        filters = None
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
        parts.append(("filters", tuple((k, tuple(v)) for k, v in canonical_filters(filters).items())))
    for name, field_name in (("shared-size", "shared_size_from"), ("manifests", "manifests_from"),
                             ("identity", "identity_from")):
        if _gate(api, _floor(profile, field_name)):
            parts.append((name, bool_value(form.get(name))))
    return tuple(parts)


def _floor(profile: Profile | None, field_name: str) -> str | None:
    """Where a parameter starts to count: the recorded daemon's profile field, else the earliest any release has."""
    return getattr(profile, field_name) if profile is not None else earliest_from(field_name)


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
        if route == "/images/json" and method == "GET":
            query = _images_json_query(raw_query, api, profile)
        elif route in ("/_ping", "/version"):
            query = ()
        elif _INSPECT.match(route) and method == "GET":
            form = parse_form(raw_query)
            counts = _gate(api, _floor(profile, "inspect_manifests_from"))
            query = (("manifests", bool_value(form.get("manifests"))),) if counts else ()
        else:
            form = parse_form(raw_query)
            query = tuple(sorted(form.values.items()))
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
