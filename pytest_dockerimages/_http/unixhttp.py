"""Talk HTTP to a ``DOCKER_HOST`` (``unix://`` or ``tcp://``) without the docker SDK.

Tests and helpers need a client that reaches the fake daemon the way Docker clients do, but
``http.client`` and ``requests`` only know TCP.  This module adds the unix-socket connection
they lack: :class:`UnixHTTPConnection` for ``http.client``, :func:`session_for` for
``requests`` (mounted on ``http+unix://``, the scheme requests-unixsocket made common), and a
one-shot :func:`request`.  ``requests`` is imported lazily so the plugin does not pay for it
unless it is used.
"""
from __future__ import annotations

import http.client
import socket
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .._core.wire import find_header

if TYPE_CHECKING:
    import requests

__all__ = [
    "DockerHost",
    "UnixHTTPConnection",
    "UnixSocketAdapter",  # noqa: F822 - built on first access by the module __getattr__
    "base_url_for",
    "connection_for",
    "parse_docker_host",
    "request",
    "session_for",
]

#: Host header sent over unix sockets; the docker CLI sends ``api.moby.localhost``.
UNIX_HOST_HEADER = "localhost"


@dataclass(frozen=True)
class DockerHost:
    """A parsed ``DOCKER_HOST``: either ``unix_path`` or ``host``/``port`` is set."""

    unix_path: str | None = None
    host: str | None = None
    port: int | None = None

    @property
    def base_url(self) -> str:
        if self.unix_path is not None:
            return "http+unix://" + urllib.parse.quote(self.unix_path, safe="")
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_docker_host(docker_host: str) -> DockerHost:
    """Parse ``unix:///path``, ``tcp://host:port``, ``http://host:port`` or ``http+unix://<quoted>``."""
    if docker_host.startswith("unix://"):
        path = docker_host[len("unix://"):]
        if not path.startswith("/"):
            raise ValueError(f"unix DOCKER_HOST needs an absolute path: {docker_host!r}")
        return DockerHost(unix_path=path)
    if docker_host.startswith("http+unix://"):
        quoted = docker_host[len("http+unix://"):].split("/", 1)[0]
        return DockerHost(unix_path=urllib.parse.unquote(quoted))
    parts = urllib.parse.urlsplit(docker_host)
    if parts.scheme in ("tcp", "http") and parts.hostname:
        return DockerHost(host=parts.hostname, port=parts.port or 2375)
    raise ValueError(f"unsupported DOCKER_HOST {docker_host!r} (want unix:// or tcp://)")


def base_url_for(docker_host: str) -> str:
    """URL prefix that :func:`session_for` sessions (and plain requests, for TCP) understand."""
    return parse_docker_host(docker_host).base_url


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client.HTTPConnection`` over a unix stream socket instead of TCP."""

    def __init__(
        self,
        unix_path: str,
        timeout: float | None = 10.0,
        host: str = UNIX_HOST_HEADER,
    ) -> None:
        super().__init__(host, timeout=timeout)
        self.unix_path = unix_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def connection_for(docker_host: str, timeout: float | None = 10.0) -> http.client.HTTPConnection:
    """An unopened ``http.client`` connection to ``docker_host`` (unix or TCP)."""
    target = parse_docker_host(docker_host)
    if target.unix_path is not None:
        return UnixHTTPConnection(target.unix_path, timeout=timeout)
    assert target.host is not None
    return http.client.HTTPConnection(target.host, target.port, timeout=timeout)


def request(
    docker_host: str,
    method: str,
    path: str,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    timeout: float = 10.0,
    body: bytes | None = None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on a fresh connection: ``(status, headers in order, decoded body)``."""
    conn = connection_for(docker_host, timeout=timeout)
    try:
        items = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in items:
            conn.putheader(name, value)
        if body is not None and find_header(items, "content-length") is None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------- requests support

_ADAPTER_CLASS: type[Any] | None = None
_SESSION_CLASS: type[Any] | None = None


def _build_requests_classes() -> tuple[type[Any], type[Any]]:
    """Define the adapter and session classes on first use, so ``requests`` stays optional."""
    global _ADAPTER_CLASS, _SESSION_CLASS
    if _ADAPTER_CLASS is not None and _SESSION_CLASS is not None:
        return _ADAPTER_CLASS, _SESSION_CLASS

    import requests
    import requests.adapters
    import urllib3.connection
    import urllib3.connectionpool

    class _UnixConnection(urllib3.connection.HTTPConnection):
        def __init__(self, unix_path: str, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._unix_path = unix_path

        def _new_conn(self) -> socket.socket:
            # urllib3 1.x and 2.x both build the socket here and keep the rest of connect().
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout if isinstance(self.timeout, (int, float)) else None)
                sock.connect(self._unix_path)
            except BaseException:
                sock.close()
                raise
            return sock

    class _UnixPool(urllib3.connectionpool.HTTPConnectionPool):
        def __init__(self, unix_path: str, **kwargs: Any) -> None:
            super().__init__(UNIX_HOST_HEADER, **kwargs)
            self._unix_path = unix_path

        def _new_conn(self) -> urllib3.connection.HTTPConnection:
            self.num_connections += 1
            return _UnixConnection(
                self._unix_path, host=self.host, port=None, timeout=self.timeout.connect_timeout
            )

    class Adapter(requests.adapters.HTTPAdapter):
        """Sends ``http+unix://<percent-encoded socket path>/path`` URLs over that unix socket."""

        def __init__(self, pool_maxsize: int = 10) -> None:
            super().__init__(pool_connections=1, pool_maxsize=pool_maxsize)
            self._pools: dict[str, _UnixPool] = {}
            self._maxsize = pool_maxsize

        def _pool(self, url: str) -> _UnixPool:
            unix_path = urllib.parse.unquote(urllib.parse.urlsplit(url).netloc)
            pool = self._pools.get(unix_path)
            if pool is None:
                pool = _UnixPool(unix_path, maxsize=self._maxsize)
                self._pools[unix_path] = pool
            return pool

        # requests >= 2.32.2 calls this one; older versions call get_connection.
        def get_connection_with_tls_context(
            self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
        ) -> _UnixPool:
            return self._pool(request.url)

        def get_connection(self, url: Any, proxies: Any = None) -> _UnixPool:
            return self._pool(str(url))

        def request_url(self, request: Any, proxies: Any) -> str:
            # Never a proxy over a unix socket: send the origin-form path.
            return str(request.path_url)

        def close(self) -> None:
            super().close()
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()

    class DockerHostSession(requests.Session):
        """A Session that also accepts paths (``"/images/json"``) relative to its ``base_url``."""

        base_url: str = ""

        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(url, str) and url.startswith("/"):
                url = self.base_url + url
            return super().request(method, url, *args, **kwargs)

    _ADAPTER_CLASS, _SESSION_CLASS = Adapter, DockerHostSession
    return Adapter, DockerHostSession


def __getattr__(name: str) -> Any:
    """``UnixSocketAdapter`` is built on first access (importing ``requests`` only then)."""
    if name == "UnixSocketAdapter":
        return _build_requests_classes()[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def session_for(docker_host: str) -> "requests.Session":
    """A ``requests.Session`` reaching ``docker_host``; relative paths are joined to it.

    ``session_for(host).get("/images/json")`` works for unix and TCP hosts; full
    ``http+unix://`` URLs work too.  ``trust_env`` is off: proxy variables from the
    environment must not divert traffic meant for a local fake daemon.
    """
    adapter_class, session_class = _build_requests_classes()
    session = session_class()
    session.trust_env = False
    session.base_url = base_url_for(docker_host)
    session.mount("http+unix://", adapter_class())
    return session  # type: ignore[no-any-return]
