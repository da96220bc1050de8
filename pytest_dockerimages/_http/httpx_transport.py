"""An in-process httpx transport: the fake or a cassette answers httpx without a socket.

For code built on httpx (sync or async), `DockerImagesTransport(backend)` plays the same role as
vcrpy's patch or respx: the request goes straight to the backend (fake, replay or any `Backend`),
so nothing is patched process-wide and the answers are the daemon's, byte for byte. Clients that
cannot take a transport (the docker CLI, Go programs) use the server through DOCKER_HOST instead.

httpx is an optional dependency (the ``httpx`` extra): this module is only imported when
`DockerImagesTransport` is, and without httpx that import fails with the command that installs it.
"""
from __future__ import annotations

try:
    import httpx
except ImportError as exc:  # pragma: no cover - tested in a subprocess without httpx
    raise ModuleNotFoundError(
        "pytest_dockerimages.DockerImagesTransport needs httpx, which is not installed: "
        'pip install "pytest-dockerimages[httpx]"', name="httpx") from exc

from .._core.wire import Backend, Request, Response

__all__ = ["DockerImagesTransport"]


def _to_wire(request: httpx.Request, body: bytes) -> Request:
    target = request.url.raw_path.decode("ascii")
    return Request(request.method, target, tuple(request.headers.items()), body)


def _to_httpx(response: Response, request: httpx.Request) -> httpx.Response:
    if response.drop_connection:
        raise httpx.RemoteProtocolError("pytest-dockerimages: the fake dropped the connection", request=request)
    headers = [(k, v) for k, v in response.headers if k.lower() not in ("content-length", "transfer-encoding")]
    return httpx.Response(response.status, headers=headers, content=response.body, request=request)


class DockerImagesTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """`httpx.Client(transport=DockerImagesTransport(backend))` and the async twin, in one class.

    `backend` is what answers: `FakeDaemon.backend`, a cassette's, or anything with
    `handle(request) -> response`. Opening and closing (`with`, `close`, `aclose`) are httpx's own
    no-ops: the transport holds no connection.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _to_httpx(self.backend.handle(_to_wire(request, request.read())), request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return _to_httpx(self.backend.handle(_to_wire(request, await request.aread())), request)

    def __repr__(self) -> str:
        return f"<DockerImagesTransport backend={self.backend!r}>"
