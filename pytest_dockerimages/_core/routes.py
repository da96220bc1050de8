"""Which requests a Docker release routes to a handler: the data is `routes_table` (from moby's routers).

The fake answers the routes it models; a route the release serves but the fake does not model gets
a 501 naming pytest-dockerimages, and only a path no handler of that release serves gets the
daemon's own `404 page not found`, so a test that strays off the modelled endpoints says so.
"""
from __future__ import annotations

import re
from functools import cache
from urllib.parse import unquote

from .routes_table import ROUTES

#: gorilla/mux's `{name}` and `{name:pattern}` variables in a path template.
_VARIABLE = re.compile(r"\{[A-Za-z0-9_]+(?::((?:[^{}]|\{[^{}]*\})*))?\}")
#: moby's versionMatcher, `/v{version:[0-9.]+}`, in front of every versioned route.
_VERSION_PREFIX = "(?:/v[0-9.]+)?"


def template_regex(template: str, versioned: bool) -> re.Pattern[str]:
    """A mux path template as an anchored regex (a bare variable matches one path segment)."""
    parts, last = [], 0
    for match in _VARIABLE.finditer(template):
        parts.append(re.escape(template[last:match.start()]))
        parts.append(f"(?:{match.group(1) or '[^/]+'})")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile((_VERSION_PREFIX if versioned else "") + "".join(parts))


@cache
def _compiled(release: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((method, template_regex(path, versioned)) for method, path, versioned in ROUTES[release])


def served(release: str, method: str, path: str) -> bool:
    """True when the release's API server routes `method path` (path with or without /vX.Y) to a handler.

    The mux matches the decoded path, as Go's `URL.Path` holds it."""
    decoded = unquote(path)
    return any((want in ("*", method)) and pattern.fullmatch(decoded)
               for want, pattern in _compiled(release))
