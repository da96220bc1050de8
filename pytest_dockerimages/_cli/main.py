"""`dockerimages` command line: serve a fake Docker daemon outside pytest (and cassette tools).

Why a CLI: to point any client (a shell script, a Go program, `docker images` itself) at the
fake without writing Python.  `serve` prints `DOCKER_HOST=<url>` as its first line once it
accepts connections, so a wrapper can `read` that line and export it.

Every expected failure is one sentence with what to do next, exit code 2; `--debug` shows the
traceback instead.  Subcommands set `func` (via `set_defaults`) to a callable `(args) -> int`.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import signal
import sys
import threading
from types import FrameType
from typing import Any, Callable, Sequence

__all__ = ["CliError", "main", "build_parser"]

EXIT_USAGE = 2

_SERVE_EPILOG = """\
examples:
  dockerimages serve                               # built-in images, private unix socket
  dockerimages serve --seed images.yaml --profile docker-26.1
  dockerimages serve --tcp 127.0.0.1:2375
  dockerimages serve --cassette docker-26.1        # a cassette shipped with pytest-dockerimages
  dockerimages serve --cassette mine.yaml --fallback   # unrecorded requests: the fake seeded from it
  dockerimages serve --unix /tmp/fake.sock &       # then, in the same shell:
  DOCKER_HOST=unix:///tmp/fake.sock docker images

The first line on stdout is DOCKER_HOST=<url>; stop with Ctrl-C or SIGTERM.
"""

_SCHEMA_EPILOG = """\
examples:
  dockerimages schema seed > seed.schema.json        # seed files (YAML or JSON)
  dockerimages schema images-json --api 1.45         # a GET /images/json body at API 1.45
  dockerimages schema image-inspect --api 1.49 --strict
"""

_PROFILES_EPILOG = """\
example:
  dockerimages profiles        # name, engine version, store, API versions
"""


class CliError(Exception):
    """An expected failure: `message` says what went wrong, `hint` what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        text = self.message.rstrip(".")
        return f"{text}; {self.hint}" if self.hint else text


# --------------------------------------------------------------------------- serve


def _parse_tcp(value: str) -> tuple[str, int]:
    """`HOST:PORT` or `[v6]:PORT` -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:2375), got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"port {number} is out of range (0-65535)")
    return host, number


def _build_cassette_server(args: argparse.Namespace, where: dict[str, Any]) -> Any:
    if args.seed or args.profile:
        raise CliError("--cassette replays recorded answers and cannot be combined with --seed or --profile",
                       "drop --seed/--profile")
    from .._cassettes.replay import ReplayBackend
    from .._files.resources import cassette_file
    from .._http.server import Server

    try:
        backend = ReplayBackend.from_file(cassette_file(args.cassette), fallback=args.fallback)
    except FileNotFoundError as exc:
        raise CliError(str(exc), "give a cassette file or one of the built-in names") from None
    except OSError as exc:
        text = (f"cannot read cassette {args.cassette}: {exc.strerror}" if exc.strerror
                else f"cannot read cassette: {exc}")
        raise CliError(text, "check the path") from exc
    except ValueError as exc:  # the cassette module's errors name the file and the problem
        raise CliError(f"invalid cassette: {exc}", "re-record it or run 'dockerimages validate' on it") from exc
    return Server(backend, **where)


def _build_fake(args: argparse.Namespace, where: dict[str, Any]) -> Any:
    from .._core.defaults import default_images
    from .._core.profiles import UnknownProfile
    from .._fake.fakedaemon import FakeDaemon
    from .._files.seed import SeedError

    images = None if args.seed else default_images()
    try:
        return FakeDaemon(images=images, seed=args.seed, profile=args.profile, **where)
    except SeedError as exc:
        raise CliError(f"bad seed file: {exc}", "fix the file or run without --seed") from exc
    except UnknownProfile as exc:
        raise CliError(str(exc), "pick one of those names") from exc


def _serve(args: argparse.Namespace) -> int:
    from .._http.server import RemoteHostRefused, ServerError

    where: dict[str, Any] = {}
    if args.allow_remote and args.tcp is None:
        raise CliError("--allow-remote applies to --tcp only", "add --tcp HOST:PORT or drop --allow-remote")
    if args.tcp is not None:
        where = {"transport": "tcp", "host": args.tcp[0], "port": args.tcp[1], "allow_remote": args.allow_remote}
    elif args.unix is not None:
        where = {"transport": "unix", "unix_path": args.unix}
    if args.fallback and not args.cassette:
        raise CliError("--fallback answers what a cassette did not record and needs --cassette",
                       "add --cassette FILE or drop --fallback")
    try:
        daemon = _build_cassette_server(args, where) if args.cassette else _build_fake(args, where)
        daemon.start()
    except RemoteHostRefused as exc:
        raise CliError(exc.reason, "add --allow-remote if you really mean it (anyone who reaches the port "
                                   "can use the fake daemon)") from exc
    except (ServerError, ValueError, OSError) as exc:
        raise CliError(f"cannot listen: {exc}", "choose another --unix path or --tcp port") from exc
    stop = threading.Event()
    previous = _install_stop_handlers(stop)
    try:
        print(f"DOCKER_HOST={daemon.docker_host}", flush=True)
        profile = getattr(daemon, "profile", None)
        if profile is not None:
            print(f"dockerimages: serving {len(daemon.images)} images as {profile.name}; "
                  "stop with Ctrl-C", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        daemon.stop()
        _restore_handlers(previous)
    for error in getattr(daemon, "errors", ()):
        print(f"dockerimages: a request failed inside the fake daemon: {type(error).__name__}: {error}",
              file=sys.stderr)
    return 0


_Handler = Callable[[int, FrameType | None], Any] | int | None


def _install_stop_handlers(stop: threading.Event) -> dict[int, _Handler]:
    """SIGINT and SIGTERM end the serve loop (and so remove the socket) instead of killing us."""
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, _Handler] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handler)
    return previous


def _restore_handlers(previous: dict[int, _Handler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _profiles(args: argparse.Namespace) -> int:
    from .._core.profiles import DEFAULT_PROFILE, PROFILES

    for name, profile in PROFILES.items():
        mark = " (default)" if name == DEFAULT_PROFILE else ""
        print(f"{name}\tDocker {profile.engine_version}\t{profile.store}\t"
              f"API {profile.api_min}-{profile.api_max}\tchecked against {profile.checked_against}{mark}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    import json

    from .._files.schema import schema_for, seed_schema_text

    if args.name == "seed":
        sys.stdout.write(seed_schema_text())
        return 0
    if not args.api:
        raise CliError(f"the {args.name} schema depends on the API version", "add --api VERSION, e.g. --api 1.45")
    try:
        document = schema_for(args.name, args.api, strict=args.strict)
    except ValueError as exc:
        raise CliError(str(exc), "pick a version in that range") from None
    sys.stdout.write(json.dumps(document, indent=1) + "\n")
    return 0


# --------------------------------------------------------------------------- parser


def add_command(subparsers: Any, name: str, *, help: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand with `--debug` and an example epilog shown as written (shared by every cli module)."""
    command: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=description, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show the traceback of an error")
    return command


def build_parser() -> argparse.ArgumentParser:
    from .._files.resources import BUILTIN_CASSETTES

    parser = argparse.ArgumentParser(
        prog="dockerimages", parents=[], description="A fake Docker daemon for GET /images/json.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  dockerimages serve --seed images.yaml\n\n"
               "Run 'dockerimages <command> --help' for a command's options.")
    parser.add_argument("--debug", action="store_true", default=False, help="show the traceback of an error")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    subparsers.required = True

    serve = add_command(
        subparsers, "serve", help="serve a fake daemon until Ctrl-C/SIGTERM",
        description="Serve a fake Docker daemon; prints DOCKER_HOST=<url> first.", epilog=_SERVE_EPILOG)
    serve.add_argument("--seed", metavar="FILE", help="seed file (YAML or JSON) with the images to serve")
    serve.add_argument("--profile", metavar="NAME", help="daemon profile (see 'dockerimages profiles')")
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--unix", metavar="PATH", help="unix socket path (default: a private temp dir)")
    where.add_argument("--tcp", metavar="HOST:PORT", type=_parse_tcp, help="loopback TCP address instead")
    serve.add_argument("--allow-remote", action="store_true",
                       help="let --tcp listen on a non-loopback address (the fake has no authentication)")
    serve.add_argument("--cassette", metavar="FILE",
                       help="replay a recorded cassette instead of fake data: a file, or a built-in name ("
                            + ", ".join(BUILTIN_CASSETTES) + ")")
    serve.add_argument("--fallback", action="store_true",
                       help="with --cassette: answer unrecorded requests with the fake daemon seeded from the "
                            "cassette's images and profile (as the marker's fallback=True)")
    serve.set_defaults(func=_serve)

    profiles = add_command(
        subparsers, "profiles", help="list the daemon profiles",
        description="List the daemon profiles the fake can answer as.", epilog=_PROFILES_EPILOG)
    profiles.set_defaults(func=_profiles)

    schema = add_command(
        subparsers, "schema", help="print a JSON Schema shipped with the package",
        description="Print the JSON Schema of seed files, or of a GET /images/json or image inspect body.",
        epilog=_SCHEMA_EPILOG)
    schema.add_argument("name", choices=("seed", "images-json", "image-inspect"),
                        help="seed: seed files; images-json / image-inspect: response bodies (need --api)")
    schema.add_argument("--api", metavar="VERSION", help="API version of a response body schema, e.g. 1.45")
    schema.add_argument("--strict", action="store_true",
                        help="the strict variant: no fields beyond the swagger's (response bodies only)")
    schema.set_defaults(func=_schema)

    for module in ("pytest_dockerimages._cli.cassette", "pytest_dockerimages._cli.daemon"):
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 usage or input error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        if isinstance(exc, CliError):
            text = str(exc)
        else:
            text = (f"{type(exc).__name__}: {exc}; run again with --debug for the traceback "
                    "and report it if it looks like a bug")
        print(f"dockerimages {args.command}: error: {' '.join(text.split())}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    # run the imported module's main, so CliError raised by sibling modules is the same class
    from pytest_dockerimages._cli.main import main as _main

    sys.exit(_main())
