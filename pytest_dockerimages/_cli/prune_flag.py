"""`--include-prune`: the one flag that lets `check` and `record` send `POST /images/prune` to a daemon.

Why one home: prune deletes images on the daemon it is sent to. Both commands are safe against
`/var/run/docker.sock` as written, and only this flag changes that, with the same warning.
"""
from __future__ import annotations

import argparse
from typing import TextIO

__all__ = ["add_include_prune", "warn_prune"]


def add_include_prune(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--include-prune", action="store_true",
        help="also send POST /images/prune to the daemon: this DELETES images there (use a daemon of "
             "your own, never one whose images you need)")


def warn_prune(docker_host: str, stream: TextIO) -> None:
    """Say, before anything is sent, that images will be deleted and where."""
    stream.write(f"warning: --include-prune sends POST /images/prune to {docker_host}: "
                 "images on that daemon will be DELETED\n")
    stream.flush()
