"""`assert_images_requested`, `assert_prune_requested`, `assert_no_removal_requested`: what the code under
test sent, read from the request log of a FakeDaemon or a cassette, compared as the daemon reads it."""
from __future__ import annotations

import json
from typing import Any

from .._core.daemon import split_version
from .._core.errors import DaemonError
from .._core.profiles import Profile, get_profile, version_tuple
from .._core.query import bool_value, canonical_filters, filters_from_json
from .common import MAX_ITEMS, FiltersLike, filter_args, plain_version


def _query_values(request: Any) -> dict[str, list[str]]:
    query = getattr(request, "query", None) or {}
    out: dict[str, list[str]] = {}
    for key, value in dict(query).items():
        out[str(key)] = [value] if isinstance(value, str) else [str(v) for v in value]
    return out


def _request_filters(request: Any, profile: Profile) -> dict[str, list[str]] | None:
    """The canonical filters of a logged request: its own `.filters`, else parsed from its query."""
    logged = getattr(request, "filters", None)
    if logged is not None:
        return {str(k): sorted(str(v) for v in values) for k, values in dict(logged).items()}
    text = _query_values(request).get("filters", [""])[0]
    if not text:
        return {}
    try:
        return canonical_filters(filters_from_json(text, profile))
    except DaemonError:
        return None


def _route(request: Any) -> tuple[str, str | None]:
    """(path without a version prefix, api version) whether or not the log already split them."""
    prefixed, path = split_version(str(getattr(request, "path", "")).split("?", 1)[0])
    return path, getattr(request, "api_version", None) or prefixed


def _describe_request(request: Any, profile: Profile) -> str:
    """`GET /v1.45/images/json all=true filters={"dangling":["true"]} shared-size=1`: canonical, comparable."""
    path, version = _route(request)
    method = str(getattr(request, "method", "GET"))
    parts = [method, (f"/v{version}" if version else "") + path]
    query = _query_values(request)
    if "all" in query:
        parts.append(f"all={'true' if bool_value(query['all'][0]) else 'false'}")
    filters = _request_filters(request, profile)
    if filters is None:
        parts.append(f"filters=<unparsable {query.get('filters', [''])[0]!r}>")
    elif filters:
        parts.append("filters=" + json.dumps(filters, separators=(",", ":")))
    for key in sorted(query):
        if key not in ("all", "filters"):
            parts += [f"{key}={value}" for value in query[key]]
    return " ".join(parts)


def _seen(requests: list[Any], marked: list[Any], profile: Profile) -> list[str]:
    """Every request seen, canonical, the matching ones marked `*` (capped, so a long log stays readable)."""
    lines = [("  * " if r in marked else "  - ") + _describe_request(r, profile) for r in requests[:MAX_ITEMS]]
    if len(requests) > MAX_ITEMS:
        lines.append(f"  ... and {len(requests) - MAX_ITEMS} more")
    return lines or ["  (none)"]


def _source_profile(source: Any) -> Profile:
    """The profile the log's filters are read with: the source's own, else the default."""
    raw_profile = getattr(source, "profile", None)
    return get_profile(raw_profile) if isinstance(raw_profile, (str, Profile)) else get_profile()


def _assert_requested(source: Any, method: str, route: str, *, filters: FiltersLike, all: bool | str | None,
                      api_version: str | None, count: int | None) -> None:
    """One matcher for every `assert_*_requested`: method and route, then the parameters compared as
    the daemon reads them; on failure, every request seen in canonical form."""
    __tracebackhide__ = True
    requests = list(source.requests)
    profile = _source_profile(source)
    want_filters = canonical_filters(filter_args(filters, profile)) if filters is not None else None
    want_all = None if all is None else (bool_value(all) if isinstance(all, str) else bool(all))
    want_version = version_tuple(plain_version(api_version)) if api_version is not None else None

    def matches(request: Any) -> bool:
        path, version = _route(request)
        if str(getattr(request, "method", "GET")).upper() != method or path != route:
            return False
        if want_version is not None and (version is None or version_tuple(version) != want_version):
            return False
        query = _query_values(request)
        if want_all is not None and bool_value(query.get("all", [""])[0]) != want_all:
            return False
        return want_filters is None or _request_filters(request, profile) == want_filters

    found = [r for r in requests if matches(r)]
    if (count is None and found) or (count is not None and len(found) == count):
        return
    wanted = [f"{method} {route}"]
    if api_version is not None:
        wanted.append(f"API {plain_version(api_version)}")
    if want_all is not None:
        wanted.append(f"all={'true' if want_all else 'false'}")
    if want_filters is not None:
        wanted.append("filters=" + (json.dumps(want_filters, separators=(",", ":")) if want_filters else "<none>"))
    times = "at least once" if count is None else ("never" if count == 0 else f"exactly {count} time(s)")
    lines = [f"expected {' '.join(wanted)} {times}, found {len(found)} matching request(s); "
             f"{len(requests)} request(s) seen:"]
    raise AssertionError("\n".join(lines + _seen(requests, found, profile)))


def assert_images_requested(fake_or_cassette: Any, *, filters: FiltersLike = None, all: bool | str | None = None,
                            api_version: str | None = None, count: int | None = None) -> None:
    """The code under test sent `GET /images/json` with these filters / all / API version.

    Compared as the daemon reads them: either filters JSON form, any key or value order, and any
    spelling of a boolean (`all=1`, `all=True`) are the same request.  `filters={}` means "no
    filters"; None means "any".  `count`: exactly that many matching requests (default: at least one).
    """
    __tracebackhide__ = True
    _assert_requested(fake_or_cassette, "GET", "/images/json", filters=filters, all=all, api_version=api_version,
                      count=count)


def assert_prune_requested(fake_or_cassette: Any, *, filters: FiltersLike = None, api_version: str | None = None,
                           count: int | None = None) -> None:
    """The code under test sent `POST /images/prune` with these filters / API version.

    Filters compare as in `assert_images_requested` (`{"dangling": False}` is `{"dangling": ["false"]}`);
    `filters={}` means "no filters" (the daemon then prunes dangling images only), None "any".
    `count`: exactly that many matching requests (default: at least one).
    """
    __tracebackhide__ = True
    _assert_requested(fake_or_cassette, "POST", "/images/prune", filters=filters, all=None, api_version=api_version,
                      count=count)


def assert_no_removal_requested(fake_or_cassette: Any) -> None:
    """The code under test removed nothing: no `POST /images/prune` and no `DELETE /images/{name}`
    was sent (what a dry run must never send, whatever the daemon would have answered)."""
    __tracebackhide__ = True
    requests = list(fake_or_cassette.requests)
    profile = _source_profile(fake_or_cassette)
    removals = [r for r in requests if _removes(r)]
    if not removals:
        return
    lines = [f"expected no image removal (POST /images/prune, DELETE /images/{{name}}), found "
             f"{len(removals)}; {len(requests)} request(s) seen:"]
    raise AssertionError("\n".join(lines + _seen(requests, removals, profile)))


def _removes(request: Any) -> bool:
    path, _ = _route(request)
    method = str(getattr(request, "method", "GET")).upper()
    return (method == "POST" and path == "/images/prune") or (method == "DELETE" and path.startswith("/images/"))
