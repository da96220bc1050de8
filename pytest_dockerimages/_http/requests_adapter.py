"""An in-process requests transport adapter: the fake or a cassette answers requests (and so the
docker SDK, which is built on requests) without a socket.

`DockerImagesAdapter(backend)` is a `requests.adapters.BaseAdapter`: mounted on a session, every
request under its prefix goes straight to the backend (fake, replay or any `Backend`), the way
`DockerImagesTransport` serves httpx. The docker SDK sends unix-socket requests to
``http+docker://localhost`` and TCP ones to ``http://host:port``; `adapter.mount(client)` mounts
on whichever the client uses. Nothing is patched process-wide.
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Mapping

try:
    import requests
    from requests.adapters import BaseAdapter
    from requests.structures import CaseInsensitiveDict
    from requests.utils import get_encoding_from_headers
    from urllib3 import HTTPResponse
    from urllib3._collections import HTTPHeaderDict  # public as urllib3.HTTPHeaderDict from 2.0 only
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("DockerImagesAdapter needs requests: pip install 'pytest-dockerimages[docker]'",
                      name=exc.name) from exc

from .._core.wire import Backend, Request
from .server import response_buffers

if TYPE_CHECKING:  # pragma: no cover
    from requests import PreparedRequest

__all__ = ["DockerImagesAdapter"]



def _body(request: PreparedRequest) -> bytes:
    body: Any = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(part.encode("utf-8") if isinstance(part, str) else bytes(part) for part in body)


class DockerImagesAdapter(BaseAdapter):
    """`DockerImagesAdapter(backend).mount(docker_client)`, or `session.mount(prefix, adapter)`;
    see the module docstring."""

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend

    def send(self, request: PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Mapping[str, str] | None = None) -> requests.Response:
        wire = Request(str(request.method or "GET"), request.path_url, tuple(request.headers.items()),
                       _body(request))
        answer = self.backend.handle(wire)
        if answer.drop_connection:
            raise requests.ConnectionError("pytest-dockerimages: the fake dropped the connection", request=request)
        # the status line and headers exactly as the server writes them (Date, framing), one home
        buffers = response_buffers(answer, method=wire.method, http10=False, close=False)
        status_line, *lines = buffers[0].decode("latin-1").rstrip("\r\n").split("\r\n")
        headers = HTTPHeaderDict()
        for line in lines:
            name, _, value = line.partition(": ")
            headers.add(name, value)
        body = answer.body if len(buffers) > 1 else b""  # no body for HEAD, 1xx, 204, 304
        raw = HTTPResponse(body=io.BytesIO(body), headers=headers, status=answer.status,
                           reason=status_line.split(" ", 2)[2], preload_content=False, decode_content=False,
                           request_method=wire.method, request_url=request.url)
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(raw.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.reason = raw.reason or ""
        response.url = str(request.url)
        response.request = request
        response.connection = self  # type: ignore[assignment]  # requests' stubs say HTTPAdapter
        if not stream:
            response.content  # noqa: B018 - read now, as requests does, so the answer is complete
        return response

    def close(self) -> None:
        pass

    def mount(self, client: Any) -> Any:
        """Mount on a `docker.APIClient` or `docker.DockerClient` (its `.api`), or any requests
        session with a ``base_url``, for the prefix the client sends to (``http+docker://localhost``
        on a unix socket, ``http://host:port`` on TCP); returns the client."""
        session = getattr(client, "api", client)
        scheme, _, rest = str(session.base_url).partition("://")
        session.mount(f"{scheme}://{rest.split('/', 1)[0]}", self)
        return client
