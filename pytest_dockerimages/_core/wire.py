"""The two values that cross the server edge: a parsed request and the response to write.

Everything behind the server (fake, replay, record) is a `Backend`: `handle(Request) -> Response`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol


def find_header(headers: Iterable[tuple[str, str]], name: str, default: str | None = None) -> str | None:
    """The first value of a header, case-insensitively (HTTP header names are)."""
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return default


def is_chunked(headers: Iterable[tuple[str, str]]) -> bool:
    """Transfer-Encoding says chunked: the body goes out in chunks, not after a Content-Length."""
    return any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)


@dataclass(frozen=True)
class Request:
    method: str  # "GET", "HEAD", ...
    target: str  # raw request target as sent: path plus "?query", still percent-encoded
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def raw_query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str, default: str | None = None) -> str | None:
        return find_header(self.headers, name, default)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)  # in the order the daemon sends them
    body: bytes = b""
    chunked: bool = False  # the daemon streams JSON bodies with Transfer-Encoding: chunked
    drop_connection: bool = False  # fault injection: close the connection without answering

    def header(self, name: str, default: str | None = None) -> str | None:
        return find_header(self.headers, name, default)


class Backend(Protocol):
    def handle(self, request: Request) -> Response: ...


def speaks_h2c(backend: object) -> bool:
    """Whether the daemon a backend stands for answers an HTTP/2 preface with HTTP/2 (h2c).

    Read from the backend's profile, so a swapped backend changes the answer too.
    """
    profile = getattr(backend, "profile", None)
    return bool(getattr(profile, "h2c_prior_knowledge", False))
