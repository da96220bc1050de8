"""Shared by the tests/test_reliability_*.py modules: CI detection, hypothesis settings, small
socket helpers. Nothing here talks to anything but loopback and unix sockets."""
from __future__ import annotations

import os
import socket
import threading
from typing import Any

from hypothesis import HealthCheck, settings

from pytest_dockerimages._core.timestamps import NANOS

#: Set in CI: hypothesis keeps no example database there (skipping is governed by DOCKERIMAGES_STRICT).
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
#: Multiplies every example count (e.g. DOCKERIMAGES_FUZZ_SCALE=10 for a long local soak).
SCALE = float(os.environ.get("DOCKERIMAGES_FUZZ_SCALE", "1") or 1)
#: The fixed clock of every fuzzed daemon, so answers are comparable byte for byte.
NOW = 1_790_000_000 * NANOS


def fuzz_settings(examples: int, **extra: Any) -> settings:
    """Bounded, deadline-free settings; no example database in CI."""
    options: dict[str, Any] = dict(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )
    if IN_CI:
        options["database"] = None
    options.update(extra)
    return settings(**options)


class ConnectionSentinel:
    """A listener (unix socket or loopback TCP) that only counts who connects to it: the stand-in
    for a real Docker daemon that a fake or replay session must never contact."""

    def __init__(self, unix_path: str | None = None) -> None:
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.docker_host = "unix://" + unix_path
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.docker_host = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sentinel", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def __enter__(self) -> "ConnectionSentinel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
