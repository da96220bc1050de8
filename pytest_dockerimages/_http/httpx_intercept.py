"""httpx code aimed at our server's unix socket, answered in-process, with the code under test unchanged.

Code that builds its own `httpx.HTTPTransport(uds=...)` (or the async one) cannot be handed a
`DockerImagesTransport`. While `answered_in_process(path, backend)` is active, httpx transports
created with `uds=path` hand each request straight to `backend`, as vcrpy does for the clients it
patches: no socket, no server thread, the same bytes. Every other transport, and every transport
created before or after, goes through httpx untouched. The patch is on httpx's two transport
classes, is installed by the first active route and removed with the last.
"""
from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Callable

from .._core.wire import Backend
from .current import CurrentBackend
from .httpx_transport import DockerImagesTransport

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server

_lock = threading.Lock()
#: unix socket path -> the backends routed to it, innermost last
_routes: dict[str, list[Backend]] = {}
#: transport made while a route was active -> what answers it
_answered: weakref.WeakKeyDictionary[Any, DockerImagesTransport] = weakref.WeakKeyDictionary()
#: class -> its attributes (__init__ and the request method) as found before patching
_originals: dict[type, dict[str, Callable[..., Any]]] = {}


def _routing_init(original: Callable[..., None]) -> Callable[..., None]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        uds = signature.bind(self, *args, **kwargs).arguments.get("uds")
        backends = _routes.get(uds) if uds else None
        if backends:
            _answered[self] = DockerImagesTransport(backends[-1])

    return __init__


def _routing_sync(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def handle_request(self: Any, request: Any) -> Any:
        in_process = _answered.get(self)
        return original(self, request) if in_process is None else in_process.handle_request(request)

    return handle_request


def _routing_async(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def handle_async_request(self: Any, request: Any) -> Any:
        in_process = _answered.get(self)
        if in_process is None:
            return await original(self, request)
        return await in_process.handle_async_request(request)

    return handle_async_request


def _install() -> None:
    import httpx

    for cls, name, wrap in ((httpx.HTTPTransport, "handle_request", _routing_sync),
                            (httpx.AsyncHTTPTransport, "handle_async_request", _routing_async)):
        init, method = cls.__dict__["__init__"], cls.__dict__[name]
        _originals[cls] = {"__init__": init, name: method}
        for attribute, routing in (("__init__", _routing_init(init)), (name, wrap(method))):
            setattr(cls, attribute, routing)


def _uninstall() -> None:
    for cls, attributes in _originals.items():
        for attribute, original in attributes.items():
            setattr(cls, attribute, original)
    _originals.clear()


@contextmanager
def answered_in_process(unix_path: str, backend: Backend) -> Iterator[None]:
    """While active, httpx transports created with `uds=unix_path` are answered by `backend` in-process."""
    with _lock:
        if not _routes:
            _install()
        _routes.setdefault(unix_path, []).append(backend)
    try:
        yield
    finally:
        with _lock:
            backends = _routes[unix_path]
            backends.remove(backend)
            if not backends:
                del _routes[unix_path]
            if not _routes:
                _uninstall()


def answered_like(server: Server) -> AbstractContextManager[None]:
    """`answered_in_process` for a running unix-socket server: its socket, answered by its backend."""
    assert server.unix_path is not None, "answered_like needs a server listening on a unix socket"
    return answered_in_process(server.unix_path, CurrentBackend(server))
