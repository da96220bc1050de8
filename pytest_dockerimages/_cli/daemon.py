"""`dockerimages snapshot` and `dockerimages check`: a real daemon as a seed, and the fake against it.

`register(subparsers)` adds both subcommands to the `dockerimages` parser; each sets `func` to a
callable `(args) -> int`. Expected failures raise `CliError` (one sentence, exit 2).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable

__all__ = ["register"]

_SNAPSHOT_EPILOG = """\
examples:
  dockerimages snapshot --docker-host unix:///var/run/docker.sock -o seed.yaml
  dockerimages serve --seed seed.yaml        # the profile detected by the snapshot is in the file

Captures every image (a listing with all=1 plus an inspect of each): tags, digests, labels, parent
links, sizes and creation times to the nanosecond, and the detected profile (engine from /version,
image store from /info).
"""

_CHECK_EPILOG = """\
examples:
  dockerimages check --docker-host unix:///var/run/docker.sock
  dockerimages check --docker-host tcp://127.0.0.1:2375 --random 500 --random-seed 7

Snapshots the daemon, starts the fake on that seed with the detected profile, sends the same
requests to both (the image listing with every filter, both filter JSON forms, boolean spellings,
combinations, errors, every API version, the legacy filter parameter, plus N generated ones; the
history of every image by tag, id and short id, with `platform`; /system/df with every `type`
and `verbose`) and prints each difference. Exit code 0 when they agree, 1 when they differ, 2
when the check could not run.

--include-prune also sends a sequence of POST /images/prune to both sides, comparing the listing
and /system/df after each: it DELETES images on the daemon, so use a daemon of your own (a
throwaway one), never the one whose images you need.
"""


def _default_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _progress(enabled: bool) -> Callable[[str], None]:
    """A one-line progress display on a terminal; silent when stderr is not one."""
    if not enabled:
        return lambda _: None

    def show(text: str) -> None:
        sys.stderr.write("\r\033[K" + text)
        sys.stderr.flush()
    return show


def _done(enabled: bool) -> None:
    if enabled:
        sys.stderr.write("\r\033[K")


def _snapshot(args: argparse.Namespace) -> int:
    from .._files.seed import dump_seed
    from .._real.snapshot import SnapshotError, take_snapshot
    from .main import CliError

    tty = sys.stderr.isatty()
    try:
        snap = take_snapshot(args.docker_host, _progress(tty))
    except SnapshotError as exc:
        raise CliError(str(exc), "check --docker-host (or DOCKER_HOST) and that the daemon runs") from None
    finally:
        _done(tty)
    if snap.warning:
        print(f"warning: {snap.warning}", file=sys.stderr)
    path = dump_seed(snap.seed.images, args.output, profile=snap.seed.profile)
    print(f"{len(snap.seed.images)} images from Docker {snap.version.get('Version')} "
          f"(profile {snap.seed.profile}) written to {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from .._real.check import run_check
    from .._real.snapshot import SnapshotError
    from .main import CliError
    from .prune_flag import warn_prune

    if args.include_prune:
        warn_prune(args.docker_host, sys.stderr)
    tty = sys.stderr.isatty()
    try:
        report = run_check(args.docker_host, random_count=args.random, random_seed=args.random_seed,
                           include_prune=args.include_prune, progress=_progress(tty))
    except (SnapshotError, OSError) as exc:
        raise CliError(str(exc), "check --docker-host (or DOCKER_HOST) and that the daemon runs") from None
    finally:
        _done(tty)
    print(report.render())
    return 0 if report.ok else 1


def _add_docker_host(command: argparse.ArgumentParser) -> None:
    command.add_argument("--docker-host", default=_default_host(), metavar="URL",
                         help="the real daemon: unix:///path or tcp://host:port (default: $DOCKER_HOST, "
                              "else unix:///var/run/docker.sock)")


def register(subparsers: Any) -> None:
    """Add `snapshot` and `check` to the `dockerimages` subcommands."""
    from .main import add_command
    from .prune_flag import add_include_prune

    snapshot = add_command(
        subparsers, "snapshot", help="capture a real daemon's images as a seed file",
        description="Capture every image of a real daemon into a seed file the fake loads.", epilog=_SNAPSHOT_EPILOG)
    _add_docker_host(snapshot)
    snapshot.add_argument("-o", "--output", required=True, metavar="FILE", help="seed file to write (.yaml or .json)")
    snapshot.set_defaults(func=_snapshot)
    check = add_command(
        subparsers, "check", help="compare the fake with a real daemon, request by request",
        description="Differential check: the same requests to a real daemon and to the fake seeded from it.",
        epilog=_CHECK_EPILOG)
    _add_docker_host(check)
    check.add_argument("--random", type=int, default=0, metavar="N", help="also send N generated requests")
    check.add_argument("--random-seed", type=int, default=0, metavar="S", help="seed of the generated requests")
    add_include_prune(check)
    check.set_defaults(func=_check)
