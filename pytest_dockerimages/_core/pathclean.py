"""The path cleaning every dockerd's router (gorilla/mux) applies before it routes a request.

A path that is not in canonical form (``//images/json``, ``/v1.45/./images/json``,
``/images/../_ping``, or the ``*`` of an HTTP/2 preface sent to a daemon that does not speak
h2c) is answered ``301 Moved Permanently`` with the cleaned path, query kept, in ``Location``.
Cleaning is Go's ``path.Clean`` with a trailing slash kept; the location is escaped as Go's
``url.URL.String`` escapes a path.
"""
from __future__ import annotations

from urllib.parse import unquote

from .wire import Request, Response

#: Bytes Go's url package leaves unescaped in a path (unreserved, plus the sub-delims it allows there).
_PATH_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~$&+,/:;=@")


def go_path_clean(path: str) -> str:
    """Go's ``path.Clean`` of a rooted path: one slash between names, no ``.`` or ``..`` names."""
    names: list[str] = []
    for name in path.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            if names:
                names.pop()
            continue
        names.append(name)
    return "/" + "/".join(names)


def clean_path(path: str) -> str:
    """gorilla/mux's ``cleanPath``: rooted, Go-cleaned, and a trailing slash kept."""
    if not path:
        return "/"
    rooted = path if path.startswith("/") else "/" + path
    cleaned = go_path_clean(rooted)
    if rooted.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def escape_path(path: str) -> str:
    """A decoded path as Go's ``url.URL.String`` writes it."""
    return "".join(chr(b) if b in _PATH_SAFE else f"%{b:02X}" for b in path.encode("utf-8"))


def redirect_to_clean(request: Request) -> Response | None:
    """The router's 301 for a path that is not clean, or None when it is."""
    path = request.path
    if path[:1] == "/" and "%" not in path and "//" not in path and "/." not in path:
        return None  # no empty, "." or ".." name and nothing escaped: clean as sent (every client's case)
    path = unquote(path)
    cleaned = clean_path(path)
    if cleaned == path:
        return None
    location = escape_path(cleaned) + ("?" + request.raw_query if request.raw_query else "")
    return Response(301, [("Location", location)], b"")  # the server frames it as Go does (no length on HEAD)
