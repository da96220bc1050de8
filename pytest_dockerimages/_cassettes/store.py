"""Writing a cassette file safely: one writer at a time, and never a half-written file.

An exclusive ``fcntl.flock`` on a hidden lock file beside the cassette serialises writers (xdist
workers, several processes); under it each writer re-reads the file, merges, and replaces it
atomically (temp file, fsync, rename), so a writer killed at any moment leaves the old file or
the new one.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from .._files.atomicfile import atomic_write_bytes

__all__ = ["locked", "replace_locked"]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``.<name>.lock`` beside ``path`` (kept: deleting it would race)."""
    import fcntl

    lock_path = path.parent / f".{path.name}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def replace_locked(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` atomically; the caller holds :func:`locked` for it."""
    # Temp files are only made under this lock: any still there is a killed writer's.
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()
    atomic_write_bytes(target, data)
