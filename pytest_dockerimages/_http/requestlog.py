"""What clients asked a server: every request, as a test wants to assert on it.

`RequestLog` wraps any backend (the fake daemon, a cassette's replay or recording) and keeps a
`LoggedRequest` per request it answered; `assert_images_requested` reads that log.
"""
from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable

from .._core.daemon import split_version
from .._core.errors import DaemonError
from .._core.profiles import Profile, get_profile
from .._core.query import canonical_filters, filters_from_json, parse_form
from .._core.wire import Backend, Request, Response

__all__ = ["LoggedRequest", "RequestLog"]


@dataclass(frozen=True)
class LoggedRequest:
    """One request the fake daemon answered, as a test wants to assert on it.

    `path` has no `/v1.xx` prefix (`api_version` holds it, None when unversioned); `query` maps
    each key to all its values, parsed as the daemon parses; `filters` is the canonical form of
    the `filters` parameter (key -> sorted values), the same whichever JSON form the client sent
    (`{"dangling":{"true":true}}` or `{"dangling":["true"]}`), `{}` when absent or unparsable.
    """

    method: str
    path: str
    api_version: str | None
    query: dict[str, list[str]] = field(hash=False)
    filters: dict[str, list[str]] = field(hash=False)
    status: int = 0
    target: str = ""


def _parse_logged(request: Request, profile: Profile, status: int) -> LoggedRequest:
    version, path = split_version(urllib.parse.unquote(request.path))
    raw = request.raw_query
    try:
        query = {k: list(v) for k, v in parse_form(raw).values.items()}
    except DaemonError:  # the daemon refuses it; still show what was sent
        query = {k: list(v) for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
    filters: dict[str, list[str]] = {}
    text = query.get("filters", [""])[0]
    if text:
        try:
            filters = canonical_filters(filters_from_json(text, profile))
        except DaemonError:
            filters = {}
    return LoggedRequest(request.method, path, version, query, filters, status, request.target)


class RequestLog:
    """A backend that records every request (after it is answered, with its status), thread-safe.

    `profile()` is the profile of the daemon the backend stands for (None: unknown); its rules
    parse the logged filters (the default profile's when unknown)."""

    def __init__(self, inner: Backend, profile: Callable[[], Profile | None]) -> None:
        self._inner = inner
        self._profile = profile
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    @property
    def profile(self) -> Profile | None:
        """The current backend's profile: what the server asks about the transport (h2c)."""
        return self._profile()

    def handle(self, request: Request) -> Response:
        status = 500
        try:
            response = self._inner.handle(request)
            status = 0 if response.drop_connection else response.status
            return response
        finally:
            entry = _parse_logged(request, self._profile() or get_profile(), status)
            with self._lock:
                self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
