"""An in-process httpx transport: the fake or a cassette answers httpx without a socket.

For code built on httpx (sync or async), `DockerImagesTransport(backend)` plays the same role as
vcrpy's patch or respx: the request goes straight to the backend (fake, replay or any `Backend`),
so nothing is patched process-wide and the answers are the daemon's, byte for byte. Clients that
cannot take a transport (the docker CLI, Go programs) use the server through DOCKER_HOST instead.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core.wire import Backend, Request

if TYPE_CHECKING:  # pragma: no cover
    import httpx


def _to_wire(request: httpx.Request, body: bytes) -> Request:
    target = request.url.raw_path.decode("ascii")
    return Request(request.method, target, tuple(request.headers.items()), body)


def _to_httpx(response: Any, request: httpx.Request) -> httpx.Response:
    import httpx

    if response.drop_connection:
        raise httpx.RemoteProtocolError("pytest-dockerimages: the fake dropped the connection", request=request)
    headers = [(k, v) for k, v in response.headers if k.lower() not in ("content-length", "transfer-encoding")]
    return httpx.Response(response.status, headers=headers, content=response.body, request=request)


class DockerImagesTransport:
    """`httpx.Client(transport=DockerImagesTransport(backend))` and the async twin, in one class."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _to_httpx(self.backend.handle(_to_wire(request, request.read())), request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return _to_httpx(self.backend.handle(_to_wire(request, await request.aread())), request)

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def __enter__(self) -> DockerImagesTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    async def __aenter__(self) -> DockerImagesTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass
