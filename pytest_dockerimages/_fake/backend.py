"""The fake backend: the pure daemon answering from an immutable store that can be swapped."""
from __future__ import annotations

import threading
import time
from typing import Callable

from .._core.daemon import respond
from .._core.model import ImageStore
from .._core.profiles import Profile
from .._core.wire import Request, Response


class FakeBackend:
    """Holds the current store; a request reads it once, so it sees one consistent state."""

    def __init__(self, store: ImageStore, profile: Profile, clock: Callable[[], int] = time.time_ns) -> None:
        self.store = store
        self.profile = profile
        self.clock = clock
        self.lock = threading.Lock()  # serialises writers; readers take the reference as it is

    def handle(self, request: Request) -> Response:
        store, profile = self.store, self.profile
        return respond(store, profile, request, self.clock())

    def update(self, change: Callable[[ImageStore], ImageStore]) -> ImageStore:
        """Apply a pure change to the store atomically (copy-on-write)."""
        with self.lock:
            self.store = change(self.store)
            return self.store
