"""A server's backend as a backend of its own, for the in-process paths (httpx, requests)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.wire import Request, Response

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server


class CurrentBackend:
    """The server's backend at the time of each request: a test may swap `server.backend`."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def handle(self, request: Request) -> Response:
        return self.server.backend.handle(request)
