"""`FakeDaemon`: the fake Docker daemon as one object a test can start, change and inspect.

Why this layer exists: `Server` only speaks HTTP and `FakeBackend` only answers from a store.
A test needs more: change the images while clients talk to the daemon (without any request
ever seeing half a change), make the next request fail, stall or lose its connection, see what
clients asked for, and delete images the way `docker rmi` does.  Each of those is a small
wrapper backend, stacked in front of the `FakeBackend`:

    Server -> RequestLog -> _FaultInjector -> stateful_backend(State) -> FakeBackend

(`stateful.py` holds the state and the routes that change it, shared with a cassette's fallback.)

State changes are copy-on-write, so a request reads one immutable `ImageStore` from start to end,
whatever another thread changes meanwhile.
"""
from __future__ import annotations

import fnmatch
import os
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Iterable, Literal, Mapping, TypeVar, Union
from urllib.parse import unquote

from .._core.daemon import error_response, split_version
from .._core.deletion import delete_image
from .._core.errors import DaemonError
from .._core.filters import resolve_image
from .._core.model import Image, ImageStore
from .._core.profiles import DEFAULT_PROFILE, Profile, get_profile
from .._core.reference import ReferenceError, parse_normalized
from .._core.wire import Backend, Request, Response
from .._files.seed import Seed, load_seed
from .._http.requestlog import LoggedRequest, RequestLog
from .._http.server import Server
from .backend import FakeBackend
from .stateful import State, stateful_backend

__all__ = [
    "FakeDaemon",
    "LoggedRequest",
    "NoSuchImage",
    "ImageLike",
]

ImageLike = Union[Image, Mapping[str, Any]]
SeedLike = Union[str, "os.PathLike[str]", Seed]
ProfileLike = Union[str, Profile]
Clock = Callable[[], int]
_T = TypeVar("_T")


class NoSuchImage(DaemonError, LookupError):
    """A helper (`remove`, `tag`) was given a reference no image has: a 404 as the daemon says it."""


# --------------------------------------------------------------------------- faults


@dataclass
class _Fault:
    kind: Literal["fail", "delay", "drop"]
    remaining: int
    path: str | None
    status: int = 500
    message: str = ""
    seconds: float = 0.0
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path == path or fnmatch.fnmatchcase(path, self.path)


class _FaultInjector:
    """Makes the next matching requests fail, stall or lose their connection.

    A rule with `path=None` matches any request (the clients' `/_ping` too); otherwise the
    unversioned path must equal it or match it as a glob (`/images/*`); `method` (e.g.
    "DELETE") narrows it further.  A delay and a
    failure may both apply to the same request; the delay comes first.
    """

    def __init__(self, inner: Backend, state: State) -> None:
        self._inner = inner
        self._state = state
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self.cancel = threading.Event()  # set on stop: pending delays end at once

    def add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def _take(self, method: str, path: str, kinds: tuple[str, ...]) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def handle(self, request: Request) -> Response:
        version, path = split_version(unquote(request.path))
        delay = self._take(request.method, path, ("delay",))
        if delay is not None:
            self.cancel.wait(delay.seconds)
        fault = self._take(request.method, path, ("fail", "drop"))
        if fault is None:
            return self._inner.handle(request)
        if fault.kind == "drop":
            return Response(500, drop_connection=True)
        profile = self._state.fake.profile
        return error_response(profile, version, DaemonError(fault.status, fault.message))


# --------------------------------------------------------------------------- FakeDaemon


def _coerce_image(value: ImageLike, where: str) -> Image:
    if isinstance(value, Image):
        return value
    if isinstance(value, Mapping):
        return Image.from_dict(value, where)
    raise TypeError(f"{where}: expected an Image or a dict of Image fields, got {type(value).__name__}")


def _read_seed(seed: SeedLike) -> Seed:
    return seed if isinstance(seed, Seed) else load_seed(seed)


class FakeDaemon:
    """A fake Docker daemon on a private unix socket (or loopback TCP port) for one test run.

    `FakeDaemon(images=[...], seed="seed.yaml", profile="docker-26.1")`; use it as a context
    manager or call `start()`/`stop()`.  Point clients at `.docker_host`.  The profile is the
    one given, else the seed's, else `DEFAULT_PROFILE`; `images` are added after the seed's.
    `clock` returns nanoseconds since the epoch (the `until` filter and containerd record times
    read it); it defaults to `time.time_ns`.
    """

    def __init__(self, images: Iterable[ImageLike] | None = None, seed: SeedLike | None = None,
                 profile: ProfileLike | None = None, transport: Literal["unix", "tcp"] = "unix",
                 unix_path: str | os.PathLike[str] | None = None, clock: Clock | None = None, *,
                 host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False) -> None:
        self._explicit_profile = get_profile(profile) if profile is not None else None
        self._clock: Clock = clock or time.time_ns
        self._state = State(self._build(images, seed, None))
        self._faults = _FaultInjector(stateful_backend(self._state), self._state)
        self._log = RequestLog(self._faults, lambda: self._state.fake.profile)
        self._server = Server(self._log, transport=transport, unix_path=unix_path, host=host, port=port,
                              allow_remote=allow_remote)

    # ---- configuration ------------------------------------------------------------------

    def _build(self, images: Iterable[ImageLike] | None, seed: SeedLike | None,
               profile: ProfileLike | None) -> FakeBackend:
        """A fresh backend: the seed's images, then `images`; profile given > explicit > seed > default."""
        loaded = _read_seed(seed) if seed is not None else None
        found = list(loaded.images) if loaded is not None else []
        found += [_coerce_image(image, f"images[{i}]") for i, image in enumerate(images or ())]
        if profile is not None:
            chosen = get_profile(profile)
        elif self._explicit_profile is not None:
            chosen = self._explicit_profile
        else:
            chosen = get_profile(loaded.profile if loaded is not None and loaded.profile else DEFAULT_PROFILE)
        return FakeBackend(ImageStore(found, loaded_at_ns=self._clock()), chosen, self._clock)

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeDaemon:
        """Listen; returns once clients can connect."""
        self._faults.cancel.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving: end pending delays, join every thread, remove the socket. Idempotent."""
        self._faults.cancel.set()
        self._server.stop()

    def __enter__(self) -> FakeDaemon:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server.running

    @property
    def docker_host(self) -> str:
        """`unix:///...sock` or `tcp://127.0.0.1:PORT`: the value for DOCKER_HOST."""
        return self._server.docker_host

    @property
    def base_url(self) -> str:
        """URL prefix for `unixhttp.session_for` (and plain HTTP clients over TCP)."""
        return self._server.base_url

    @property
    def server(self) -> Server:
        return self._server

    @property
    def backend(self) -> Backend:
        """What answers this fake's requests, for an in-process client: `DockerImagesTransport(fake.backend)`.

        The same answers as the socket gives (injected faults, the request log, image deletion and
        the listing all apply), without a socket or a server thread; the fake need not be started.
        """
        return self._server.backend

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while answering requests (each was answered with a 500)."""
        return self._server.errors

    def check_errors(self) -> None:
        """Re-raise the first exception raised in a server thread, if any."""
        self._server.check_errors()

    # ---- state --------------------------------------------------------------------------

    @property
    def profile(self) -> Profile:
        return self._state.fake.profile

    @property
    def clock(self) -> Clock:
        """Nanoseconds since the epoch: the time `until` durations and containerd record times read."""
        return self._clock

    @property
    def store(self) -> ImageStore:
        """The current immutable store (one consistent snapshot)."""
        return self._state.fake.store

    @property
    def images(self) -> list[Image]:
        """The images held now, in store order."""
        return list(self._state.fake.store.images)

    def add(self, *images: ImageLike) -> list[Image]:
        """Add images (an `Image` or a dict of its fields); a tag another image had moves here."""
        parsed = [_coerce_image(image, f"images[{i}]") for i, image in enumerate(images)]
        self._state.change(lambda store, _p: (store.added(*parsed), None))
        return parsed

    def remove(self, ref: str) -> list[dict[str, str]]:
        """Remove like `docker rmi --force --no-prune`; returns the daemon's records.

        An id or short id removes the image with all its references; a reference removes that
        reference only, and the image with it when nothing else refers to it (an image with
        child images then stays, untagged).  Unknown -> `NoSuchImage`; an image with child
        images named by id -> `DaemonError` 409."""
        def change(store: ImageStore, profile: Profile) -> tuple[ImageStore, list[dict[str, str]]]:
            return delete_image(store, ref, profile, force=True, prune=False)

        return self._change_or_raise(change)

    def tag(self, ref: str, new_ref: str) -> Image:
        """`docker tag ref new_ref`: the tag moves here from any image that had it."""
        try:
            target = parse_normalized(new_ref).with_default_tag()
        except ReferenceError as exc:
            raise ValueError(f"{new_ref!r}: {exc}") from None
        if target.digest is not None:
            raise ValueError(f"{new_ref!r}: refusing to create a tag with a digest reference")

        def change(store: ImageStore, profile: Profile) -> tuple[ImageStore, Image]:
            image = resolve_image(store, ref, profile)
            new_store = store.tagged(image, target)
            return new_store, new_store.by_id[image.id]

        return self._change_or_raise(change)

    def clear(self) -> None:
        """Remove every image (the profile stays)."""
        self._state.change(lambda store, _p: (ImageStore((), store.loaded_at_ns), None))

    def load_seed(self, path: SeedLike) -> None:
        """Replace the images with a seed's; its profile applies only if none was given."""
        with self._state.lock:
            current = self._state.fake.profile
            loaded = _read_seed(path)
            keep = self._explicit_profile is None and not loaded.profile
            self._state.replace(self._build(None, loaded, current if keep else None))

    def reset(self, images: Iterable[ImageLike] | None = None, *, seed: SeedLike | None = None,
              profile: ProfileLike | None = None) -> None:
        """Fresh state without restarting the server: new images and profile, no pending
        faults, an empty request log and no recorded server errors."""
        backend = self._build(images, seed, profile)
        with self._state.lock:
            self._faults.clear()
            self._state.replace(backend)
            self._log.clear()
            self._server.errors.clear()
            self._server.backend = self._log  # undo a test's swap of server.backend

    def _change_or_raise(self, fn: Callable[[ImageStore, Profile], tuple[ImageStore, _T]]) -> _T:
        try:
            return self._state.change(fn)
        except DaemonError as err:
            if err.status == 404:
                raise NoSuchImage(404, err.message) from None
            raise

    # ---- faults -------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, message: str = "fake daemon: injected failure",
                  path: str | None = None, *, method: str | None = None) -> None:
        """Answer the next `n` matching requests with `status` and the daemon's error body.

        `path` is the unversioned path or a glob (`/images/*`), None for any request (the
        clients' `/_ping` too); `method` (e.g. "DELETE") narrows the match."""
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status}")
        self._faults.add(_Fault("fail", _count(n), path, status=status, message=message, method=_method(method)))

    def delay_next(self, seconds: float, n: int = 1, path: str | None = None, *,
                   method: str | None = None) -> None:
        """Hold the next `n` matching requests for `seconds` before answering (stop ends it)."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        self._faults.add(_Fault("delay", _count(n), path, seconds=float(seconds), method=_method(method)))

    def drop_next(self, n: int = 1, path: str | None = None, *, method: str | None = None) -> None:
        """Close the connection of the next `n` matching requests without any answer."""
        self._faults.add(_Fault("drop", _count(n), path, method=_method(method)))

    @property
    def pending_faults(self) -> int:
        """How many injected faults have not been used yet."""
        return self._faults.pending()

    # ---- request log --------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request answered since start/reset/clear_requests, oldest first."""
        return self._log.entries()

    def clear_requests(self) -> None:
        self._log.clear()

    def __repr__(self) -> str:
        where = self.docker_host if self.running else "stopped"
        return f"<FakeDaemon {where} profile={self.profile.name} images={len(self.store)}>"


def _method(method: str | None) -> str | None:
    return method.upper() if method else None


def _count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return n
