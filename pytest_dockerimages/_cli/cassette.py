"""`dockerimages record` and `dockerimages validate`: cassette tools for the command line.

`register(subparsers)` adds both subcommands to the `dockerimages` parser (see cli.py); each sets
`func` to a callable `(args) -> int`. Expected failures raise `CliError` (one sentence, exit 2).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .prune_flag import add_include_prune, warn_prune

__all__ = ["register"]

_RECORD_EPILOG = """\
examples:
  dockerimages record --docker-host unix:///var/run/docker.sock -o cassettes/mine.yaml
  dockerimages record --docker-host tcp://127.0.0.1:2375 -o out.yaml --pseudonym registry.corp:5000=registry.example
  dockerimages record --docker-host unix:///var/run/docker.sock -o mine.yaml --conftest conftest.py
  dockerimages record --docker-host tcp://127.0.0.1:2375 -o mine.yaml --include-prune   # a daemon of your own

Records the standard request matrix (GET /images/json in its many forms, /_ping, /version, image
history and system df in the forms clients send, and the inspect and history of every image) into
a vcrpy-format cassette, written atomically. Nothing in it changes the daemon. --include-prune adds
POST /images/prune last, each followed by the listing: it DELETES images, so point it at a daemon of
your own. Authorization, X-Registry-Auth, Cookie and Set-Cookie values are redacted. Then the
pytest_dockerimages_before_record hooks of installed pytest plugins and of --conftest FILE rewrite or
drop interactions (config is None).
"""

_VALIDATE_EPILOG = """\
examples:
  dockerimages validate cassettes/*.yaml
  dockerimages validate docker-26.1            # a cassette shipped with pytest-dockerimages

Checks every file given: it loads as a cassette, and each GET /images/json body matches the schema
and the field rules of its recorded query, API version and daemon profile (SharedSize -1 unless
shared-size was asked, placeholders, VirtualSize, ...). Prints "FILE: ok" per good file and one
line per problem (file, interaction, image, rule); exit code 0 when all are valid, 1 otherwise.
"""


def _error(message: str, hint: str = "") -> Exception:
    from .main import CliError

    return CliError(message, hint)


def _pair(text: str) -> tuple[str, str]:
    real, sep, fake = text.partition("=")
    if not sep or not real or not fake:
        raise argparse.ArgumentTypeError(
            f"expected REAL=STAND-IN (e.g. registry.corp:5000=registry.example), got {text!r}")
    return real, fake


def _record(args: argparse.Namespace) -> int:
    from .._cassettes.cassette import Cassette
    from .._cassettes.format import CassetteError
    from .._cassettes.hooks import HookLoadError, before_record, record_hooks
    from .._cassettes.record import RecordError, RecordingBackend, is_tty, record_matrix
    from .._real.matrix import MATRICES, prune_matrix

    out = Path(args.output)
    if out.is_dir():
        raise _error(f"-o {out} is a folder", "give a file name such as cassettes/mine.yaml")
    if args.include_prune:
        warn_prune(args.docker_host, sys.stderr)
    try:
        hooks = record_hooks(Path(args.conftest) if args.conftest else None, plugins=not args.no_plugins)
    except HookLoadError as exc:
        raise _error(str(exc), "fix it, or record with --no-plugins / without --conftest") from None
    cassette = Cassette(path=out)
    try:
        backend = RecordingBackend(args.docker_host, cassette, pseudonyms=dict(args.pseudonym or []))
        api = str((cassette.metadata.get("daemon") or {}).get("ApiVersion") or "")
        if not api:
            raise _error(f"the daemon at {args.docker_host} did not say its API version in /version",
                         "is it a Docker daemon?")
        registry = (args.registry,) if args.registry else ()
        requests = MATRICES[args.matrix](api, *registry)
        prunes = prune_matrix(api, *registry) if args.include_prune else []
        progress = sys.stderr if is_tty(sys.stderr) and not args.quiet else None
        record_matrix(backend, requests, last=prunes, progress=progress)
        try:
            cassette.interactions = before_record(hooks, cassette.interactions, out, None)
        except Exception as exc:
            raise _error(f"a pytest_dockerimages_before_record hook failed: {type(exc).__name__}: {exc}") from None
        count = len(cassette.interactions)
        cassette.validate(str(out))
        cassette.save(out, mode="overwrite")
    except RecordError as exc:
        raise _error(str(exc), "check --docker-host and that the daemon is running") from None
    except CassetteError as exc:
        raise _error(f"the recording does not validate: {exc}") from None
    except OSError as exc:
        raise _error(f"cannot write {out}: {exc.strerror or exc}", "check the folder's permissions") from None
    if not args.quiet:
        daemon = cassette.metadata.get("daemon", {})
        print(f"{out}: {count} interactions from Docker {daemon.get('Version')} "
              f"(API {daemon.get('ApiVersion')}, {daemon.get('image_store')} store)")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .._cassettes.cassette import Cassette
    from .._cassettes.format import CassetteError
    from .._files.resources import cassette_file

    bad = 0
    for name in args.files:
        try:
            path = cassette_file(name)
            cassette = Cassette.load(path, validate=False)
        except (FileNotFoundError, CassetteError) as exc:
            problems = [str(exc)]
        else:
            problems = cassette.problems(str(path), rules=True)
        if problems:
            bad += 1
            for problem in problems:
                print(problem, file=sys.stderr)
            continue
        daemon = cassette.metadata.get("daemon") or {}
        what = f"Docker {daemon['Version']}" if daemon.get("Version") else "no dockerimages metadata"
        print(f"{path}: ok, {len(cassette.interactions)} interactions ({what})")
    if bad and len(args.files) > 1:
        print(f"dockerimages validate: {bad} of {len(args.files)} cassettes are invalid", file=sys.stderr)
    return 1 if bad else 0


def register(subparsers: Any) -> None:
    """Add `record` and `validate` to the `dockerimages` subcommands."""
    from .main import add_command

    record = add_command(
        subparsers, "record", help="record a real daemon's answers into a cassette",
        description="Record the standard request matrix from a real Docker daemon into a cassette.",
        epilog=_RECORD_EPILOG)
    record.add_argument("--docker-host", required=True, metavar="URL",
                        help="the daemon to record: unix:///path/docker.sock or tcp://127.0.0.1:2375")
    record.add_argument("-o", "--output", required=True, metavar="FILE", help="cassette file to write (YAML)")
    record.add_argument("--matrix", default="standard", choices=["standard"], help="request set (default: standard)")
    record.add_argument("--registry", metavar="HOST", default=None,
                        help="registry host used in the matrix's registry reference filter (default: localhost:5000)")
    record.add_argument("--pseudonym", action="append", type=_pair, metavar="REAL=STAND-IN",
                        help="replace a registry host name in recorded references (repeatable)")
    record.add_argument("--conftest", metavar="FILE", default=None,
                        help="a conftest.py whose pytest_dockerimages_before_record hooks rewrite or drop "
                             "interactions before the cassette is written (called with config=None)")
    record.add_argument("--no-plugins", action="store_true",
                        help="do not call the before_record hooks of installed pytest plugins (entry point "
                             "group pytest11)")
    add_include_prune(record)
    record.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary")
    record.set_defaults(func=_record)

    validate = add_command(
        subparsers, "validate", help="check cassettes: format, schema and field rules of every listing",
        description="Validate cassette files.", epilog=_VALIDATE_EPILOG)
    validate.add_argument("files", nargs="+", metavar="FILE",
                          help="cassette files, or built-in cassette names such as docker-26.1")
    validate.set_defaults(func=_validate)
