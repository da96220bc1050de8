"""The fake's state and the routes that change it, in one stack a FakeDaemon and a cassette's fallback share.

Why its own module: the pure daemon (`_core.daemon.respond`) only reads a store. Deleting and pruning
images change it, and whoever serves the fake (a `FakeDaemon`, or a replay that falls back to the fake
for requests its cassette lacks) needs the same routes in front of the same state:

    ImagePruneRoute -> ImageDeleteRoute -> FakeBackend        (see `stateful_backend`)

State changes are copy-on-write (`FakeBackend.update`), so a request reads one immutable
`ImageStore` from start to end, whatever another thread changes meanwhile.
"""
from __future__ import annotations

import re
import threading
from typing import Callable, TypeVar
from urllib.parse import unquote

from .._core.daemon import base_headers, error_response, split_version, version_error
from .._core.deletion import delete_image
from .._core.errors import DaemonError
from .._core.model import ImageStore
from .._core.profiles import Profile
from .._core.prune import prune_images
from .._core.query import bool_value, parse_form
from .._core.render import encode
from .._core.wire import Backend, Request, Response
from .backend import FakeBackend

__all__ = ["State", "stateful_backend"]

_T = TypeVar("_T")

_DELETE_ROUTE = re.compile(r"^/images/(.+)$")


# --------------------------------------------------------------------------- state holder


class State:
    """The current `FakeBackend`, replaceable as a whole (reset) or changed in place (update).

    One lock orders every change, so an `add` cannot land on a backend a concurrent `reset`
    has just thrown away.  Readers (requests) take `self.fake` once and never lock.
    """

    def __init__(self, fake: FakeBackend) -> None:
        self.fake = fake
        self.lock = threading.RLock()

    def change(self, fn: Callable[[ImageStore, Profile], tuple[ImageStore, _T]]) -> _T:
        """Apply a pure change `fn(store, profile) -> (new_store, result)`; return `result`.

        If `fn` raises, the store is left as it was."""
        with self.lock:
            fake = self.fake
            box: list[_T] = []

            def apply(store: ImageStore) -> ImageStore:
                new_store, result = fn(store, fake.profile)
                box.append(result)
                return new_store

            fake.update(apply)
            return box[0]

    def replace(self, fake: FakeBackend) -> None:
        with self.lock:
            self.fake = fake


# --------------------------------------------------------------------------- DELETE /images


class _ImageDeleteRoute:
    """Adds `DELETE /images/{name}?force=&noprune=` (the daemon routes only read images)."""

    def __init__(self, state: State) -> None:
        self._state = state

    def handle(self, request: Request) -> Response:
        version, route = split_version(request.path)
        match = _DELETE_ROUTE.match(route) if request.method == "DELETE" else None
        if match is None:
            return self._state.fake.handle(request)
        profile = self._state.fake.profile
        error = version_error(profile, version or profile.api_max)
        if error is not None:
            return error_response(profile, version, error, experimental=False)
        try:
            form = parse_form(request.raw_query)
            force = bool_value(form.get("force"))
            prune = not bool_value(form.get("noprune"))
            name = unquote(match.group(1))
            records = self._state.change(
                lambda store, prof: delete_image(store, name, prof, force=force, prune=prune))
        except DaemonError as err:
            return error_response(profile, version, err)
        headers = base_headers(profile) + [("Docker-Experimental", "false"), ("Content-Type", "application/json")]
        return Response(200, sorted(headers, key=lambda h: h[0]), encode(records))


class _ImagePruneRoute:
    """Adds `POST /images/prune?filters=` as a state change: the next listing shows the result."""

    def __init__(self, inner: Backend, state: State) -> None:
        self._inner = inner
        self._state = state

    def handle(self, request: Request) -> Response:
        version, route = split_version(request.path)
        if request.method != "POST" or route != "/images/prune":
            return self._inner.handle(request)
        fake = self._state.fake
        profile = fake.profile
        error = version_error(profile, version or profile.api_max)
        if error is not None:
            return error_response(profile, version, error, experimental=False)
        try:
            text = parse_form(request.raw_query).get("filters")
            now_ns = fake.clock()
            report = self._state.change(lambda store, prof: prune_images(store, text, prof, now_ns))
        except DaemonError as err:
            return error_response(profile, version, err)
        headers = base_headers(profile) + [("Docker-Experimental", "false"), ("Content-Type", "application/json")]
        return Response(200, sorted(headers, key=lambda h: h[0]), encode(report))


def stateful_backend(state: State) -> Backend:
    """The state-changing routes (`DELETE /images/{name}`, `POST /images/prune`) in front of the state's
    current FakeBackend: what answers a FakeDaemon's requests under its faults and request log, and a
    cassette's fallback."""
    return _ImagePruneRoute(_ImageDeleteRoute(state), state)
