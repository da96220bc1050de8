"""pytest surface of record/replay: the ``dockerimages_cassette`` marker, fixture and options.

``@pytest.mark.dockerimages_cassette(name=None, record_mode=None, fallback=None)`` (the name may
be positional) picks the cassette; the ``dockerimages_cassette`` fixture runs a replay (or
recording) server for the test: ``.docker_host``, ``.interactions``, ``.path``, ``.mode``, and
``.requests`` (what clients asked, as ``FakeDaemon.requests``).

Record modes: ``none`` (default: replay only, never touches a daemon, never writes), ``once``
(record when the file does not exist yet, else replay), ``new_episodes`` (replay what is
recorded, record the rest), ``all`` (forward and record everything). Precedence: command line
``--dockerimages-record-mode`` > marker > ini ``dockerimages_record_mode`` > ``none``.

Where: a built-in name (``docker-20.10``, ``docker-26.1``, ``docker-26.1-containerd``) replays
the shipped cassette (always replay-only: re-record those with ``python
scripts/record_cassettes.py``); any other name is ``<cassette folder>/<name>.yaml``; no name is
``<cassette folder>/<test module>/<test name>.yaml``. The cassette folder is
``--dockerimages-cassette-dir`` (relative to the invocation dir), else ini
``dockerimages_cassette_dir`` (relative to the ini file), else ``cassettes/`` beside the test file.

Recording talks to ``--dockerimages-docker-host``, else ``DOCKER_HOST``, else
``unix:///var/run/docker.sock``. A test that fails while recording does not save its cassette
unless ``--dockerimages-save-failed`` is given. A request the cassette does not hold is answered
with a 500 and fails the test with the nearest recorded interactions and the command that records
it; with ``fallback=True`` (or ini ``dockerimages_cassette_fallback``) the fake daemon answers it
instead, seeded with the images the cassette recorded.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generator, Iterator

import pytest

from .._files.resources import BUILTIN_CASSETTES, builtin_cassette
from .._options import CASSETTE_MARKER, option_group
from .._options import ini as _ini
from .._options import option as _opt
from .hooks import before_record

__all__ = ["dockerimages_cassette", "CassetteHandle", "RECORD_MODES", "MARKER", "MARKER_KWARGS", "record_mode",
           "cassette_folder", "safe_file_name"]

RECORD_MODES = ("none", "once", "new_episodes", "all")
MARKER = CASSETTE_MARKER
MARKER_KWARGS = ("name", "record_mode", "fallback")
MARKER_LINE = (
    "dockerimages_cassette(name=None, record_mode=None, fallback=None): replay (or record) the Docker daemon "
    "interactions of this test from a cassette through the dockerimages_cassette fixture; name: a built-in "
    f"cassette ({', '.join(BUILTIN_CASSETTES)}) or a file in the cassette folder (default: "
    "cassettes/<module>/<test>.yaml); record_mode: one of none, once, new_episodes, all; fallback: answer "
    "unrecorded requests with the fake daemon seeded from the cassette's images"
)

OPT_MODE = "dockerimages_record_mode"
OPT_DIR = "dockerimages_cassette_dir"
OPT_HOST = "dockerimages_docker_host"
OPT_SAVE_FAILED = "dockerimages_save_failed"
INI_FALLBACK = "dockerimages_cassette_fallback"
INI_PSEUDONYMS = "dockerimages_pseudonyms"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = option_group(parser)
    group.addoption("--dockerimages-record-mode", dest=OPT_MODE, default=None, choices=RECORD_MODES,
                    help="cassette record mode for every test, over markers and ini: none (replay only, "
                         "the default), once, new_episodes, all (ini: dockerimages_record_mode)")
    group.addoption("--dockerimages-cassette-dir", dest=OPT_DIR, default=None, metavar="DIR",
                    help="folder of the cassettes (default: cassettes/ beside each test file; "
                         "ini: dockerimages_cassette_dir)")
    group.addoption("--dockerimages-docker-host", dest=OPT_HOST, default=None, metavar="URL",
                    help="real daemon to record from (unix:// or tcp://; default: DOCKER_HOST, else "
                         "unix:///var/run/docker.sock)")
    group.addoption("--dockerimages-save-failed", dest=OPT_SAVE_FAILED, action="store_true", default=False,
                    help="save the cassettes of tests that fail while recording (default: discard them)")
    parser.addini(OPT_MODE, "cassette record mode: none (default), once, new_episodes, all", default="")
    parser.addini(OPT_DIR, "folder of the cassettes, relative to the ini file", default="")
    parser.addini(INI_FALLBACK, "answer requests a cassette lacks with the fake daemon", type="bool", default=False)
    parser.addini(INI_PSEUDONYMS, "registry host pseudonyms for recording, one 'real.host=stand-in' a line",
                  type="linelist", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_LINE)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The run's record mode (command line, else ini, else none)."""
    from_option = _opt(config, OPT_MODE)
    from_ini = str(_ini(config, OPT_MODE) or "").strip()
    line = f"dockerimages: record mode {from_option or from_ini or 'none'}"
    if from_option:
        line += " (--dockerimages-record-mode, over markers)"
    elif from_ini:
        line += " (ini, markers may override)"
    return [line]


# --------------------------------------------------------------------------- settings


@dataclass
class _Settings:
    name: str | None
    mode: str
    fallback: bool
    path: Path
    builtin: bool


def _marker_args(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return {}
    kwargs = dict(marker.kwargs)
    unknown = sorted(set(kwargs) - set(MARKER_KWARGS))
    if unknown:
        pytest.fail(f"@pytest.mark.{MARKER}(...) got unknown keyword(s) {', '.join(unknown)}; "
                    f"known: {', '.join(MARKER_KWARGS)}", pytrace=False)
    if len(marker.args) > 1:
        pytest.fail(f"@pytest.mark.{MARKER}(...) takes at most one positional argument (the cassette name), "
                    f"got {len(marker.args)}", pytrace=False)
    if marker.args:
        if "name" in kwargs:
            pytest.fail(f"@pytest.mark.{MARKER}(...) got the name both positionally and as name=", pytrace=False)
        kwargs["name"] = marker.args[0]
    name = kwargs.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        pytest.fail(f"@pytest.mark.{MARKER}(name=...) must be a non-empty string, got {name!r}", pytrace=False)
    fallback = kwargs.get("fallback")
    if fallback is not None and not isinstance(fallback, bool):
        pytest.fail(f"@pytest.mark.{MARKER}(fallback=...) must be True or False, got {fallback!r}", pytrace=False)
    return kwargs


def _check_mode(value: Any, source: str) -> str:
    mode = str(value).strip().lower()
    if mode not in RECORD_MODES:
        pytest.fail(f"dockerimages: record mode {value!r} from {source} is not one of {', '.join(RECORD_MODES)}",
                    pytrace=False)
    return mode


def record_mode(config: pytest.Config, marker_mode: Any = None) -> str:
    """Command line > marker > ini > "none"."""
    option = _opt(config, OPT_MODE)
    if option:
        return _check_mode(option, "--dockerimages-record-mode")
    if marker_mode is not None:
        return _check_mode(marker_mode, f"@pytest.mark.{MARKER}(record_mode=...)")
    ini = str(_ini(config, OPT_MODE) or "").strip()
    if ini:
        return _check_mode(ini, "ini dockerimages_record_mode")
    return "none"


def cassette_folder(config: pytest.Config, test_path: Path) -> Path:
    option = _opt(config, OPT_DIR)
    if option:
        return Path(config.invocation_params.dir, os.path.expanduser(option))
    ini = str(_ini(config, OPT_DIR) or "").strip()
    if ini:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return Path(base, os.path.expanduser(ini))
    return test_path.parent / "cassettes"


_UNSAFE = re.compile(r"[^A-Za-z0-9._\-\[\]=,+]+")
_MAX_NAME = 120


def safe_file_name(text: str) -> str:
    """A portable file name for a test name: odd characters become ``_``; long names are cut and
    made unique with a hash of the whole name."""
    name = _UNSAFE.sub("_", text).strip("._") or "test"
    if len(name) > _MAX_NAME:
        import hashlib  # here, not at start-up: importing it is ~6 ms of the plugin's load time

        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
        name = name[:_MAX_NAME - 13].rstrip("._") + "-" + digest
    return name


def _test_name(request: pytest.FixtureRequest) -> str:
    """``Class.test_name[params]``: the node id after the file, so classes do not collide."""
    nodeid = request.node.nodeid
    parts = nodeid.split("::")[1:] or [request.node.name]
    return ".".join(parts)


def _settings(request: pytest.FixtureRequest) -> _Settings:
    marker = _marker_args(request)
    name = marker.get("name")
    mode = record_mode(request.config, marker.get("record_mode"))
    fallback = marker.get("fallback")
    if fallback is None:
        fallback = bool(_ini(request.config, INI_FALLBACK))
    builtin = builtin_cassette(name) if name is not None else None
    if builtin is not None:
        return _Settings(name, "none", fallback, builtin, True)
    folder = cassette_folder(request.config, Path(str(request.path)))
    if name is not None:
        path = folder / os.path.expanduser(name)
        if path.suffix not in (".yaml", ".yml"):
            path = path.with_name(path.name + ".yaml")
    else:
        path = folder / safe_file_name(Path(str(request.path)).stem) / (safe_file_name(_test_name(request)) + ".yaml")
    return _Settings(name, mode, fallback, path, False)


def _pseudonyms(config: pytest.Config) -> dict[str, str]:
    out = {}
    for line in _ini(config, INI_PSEUDONYMS) or []:
        real, sep, fake = line.partition("=")
        if not sep or not real.strip() or not fake.strip():
            pytest.fail(f"dockerimages: ini dockerimages_pseudonyms line {line!r} is not 'real.host=stand-in'",
                        pytrace=False)
        out[real.strip()] = fake.strip()
    return out


# --------------------------------------------------------------------------- the handle


@dataclass
class CassetteHandle:
    """What the fixture gives a test: the server (``docker_host``), the cassette behind it, and
    ``requests``, what clients asked (as ``FakeDaemon.requests``)."""

    server: Any
    backend: Any
    log: Any
    path: Path
    mode: str
    recording: bool
    cassette: Any
    record_command: str
    reported: int = 0
    _errors_seen: int = field(default=0, repr=False)

    @property
    def docker_host(self) -> str:
        return str(self.server.docker_host)

    @property
    def requests(self) -> list[Any]:
        """Every request answered so far (``LoggedRequest``), oldest first: replayed, missed or recorded."""
        return list(self.log.entries())

    @property
    def interactions(self) -> list[Any]:
        """Replay: the cassette's recorded interactions; recording: those recorded so far."""
        return list(self.cassette.interactions)

    @property
    def misses(self) -> list[Any]:
        replay = self._replay()
        return list(replay.misses) if replay is not None else []

    def _replay(self) -> Any:
        from .replay import ReplayBackend

        if isinstance(self.backend, ReplayBackend):
            return self.backend
        playback = getattr(self.backend, "playback", None)
        return getattr(playback, "__self__", None)

    def problems(self) -> str | None:
        """A report of what went wrong since the last call (misses, unreachable daemon), or None."""
        lines = []
        replay = self._replay()
        if replay is not None and len(replay.misses) > self.reported and not self.recording:
            lines.append(replay.miss_report(replay.misses[self.reported:]))
            self.reported = len(replay.misses)
        errors = getattr(self.backend, "errors", [])
        if len(errors) > self._errors_seen:
            lines += errors[self._errors_seen:]
            self._errors_seen = len(errors)
        return "\n".join(lines) if lines else None

    def __repr__(self) -> str:
        return f"<dockerimages cassette {self.path} mode={self.mode} host={self.docker_host}>"


_HANDLE = pytest.StashKey[CassetteHandle]()
_REPORTS = pytest.StashKey[dict[str, Any]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keeps each phase's report on the item: a test that failed while recording saves no cassette."""
    report: pytest.TestReport = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test itself when it sent a request its cassette lacks (the client may have hidden the
    500); when the test failed anyway, the cassette's report is added to its own."""
    handle = item.stash.get(_HANDLE, None)  # the fixture left it there during setup
    try:
        yield
    except BaseException:
        if handle is not None and (problem := handle.problems()) is not None:
            item.add_report_section("call", "dockerimages cassette", problem)
        raise
    if handle is not None and (problem := handle.problems()) is not None:
        pytest.fail(f"dockerimages cassette: {problem}", pytrace=False)


def _command_for(request: pytest.FixtureRequest, settings: _Settings, mode: str) -> str:
    host = _opt(request.config, OPT_HOST) or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if settings.builtin:  # read-only, shipped in the package: record a cassette of the test's own
        return (f"pytest {shlex.quote(request.node.nodeid)} --dockerimages-record-mode=once "
                f"--dockerimages-docker-host={shlex.quote(host)}, after giving "
                f"@pytest.mark.{MARKER} a file name of your own instead of the built-in {settings.name!r}")
    return (f"pytest {shlex.quote(request.node.nodeid)} --dockerimages-record-mode={mode} "
            f"--dockerimages-docker-host={shlex.quote(host)}")


def _matcher(request: pytest.FixtureRequest) -> Any:
    """Replay's fallback matcher: the ``pytest_dockerimages_match_request`` hook of this test."""
    hook = request.node.ihook.pytest_dockerimages_match_request
    config = request.config

    def match(wire_request: Any, candidates: list[Any]) -> Any:
        return hook(request=wire_request, candidates=candidates, config=config)

    return match


def _start(request: pytest.FixtureRequest, settings: _Settings) -> CassetteHandle:
    from .._http.requestlog import RequestLog
    from .._http.server import Server
    from .cassette import Cassette
    from .format import CassetteError
    from .record import RecordError, RecordingBackend, default_docker_host
    from .replay import ReplayBackend

    mode = settings.mode
    exists = settings.path.is_file()
    replay_only = settings.builtin or mode == "none" or (mode == "once" and exists)
    try:
        if replay_only:
            if not exists:
                pytest.fail(f"dockerimages: cassette {settings.path} does not exist (record mode {mode}, nothing "
                            f"is recorded); record it with: {_command_for(request, settings, 'once')}; or name a "
                            f"built-in cassette: {', '.join(BUILTIN_CASSETTES)}", pytrace=False)
            command = _command_for(request, settings, "new_episodes")
            backend: Any = ReplayBackend.from_file(settings.path, fallback=settings.fallback, record_command=command,
                                                   matcher=_matcher(request))
            cassette = backend.cassette
            recording = False
        else:
            upstream = default_docker_host(_opt(request.config, OPT_HOST))
            replay = None
            if mode == "new_episodes" and exists:
                replay = ReplayBackend.from_file(settings.path, record_command="", matcher=_matcher(request))
            cassette = Cassette(path=settings.path, metadata=dict(replay.cassette.metadata) if replay else {})
            backend = RecordingBackend(upstream, cassette, pseudonyms=_pseudonyms(request.config),
                                       playback=replay.playback if replay else None)
            command = ""
            recording = True
    except CassetteError as exc:
        pytest.fail(f"dockerimages: {exc}", pytrace=False)
    except RecordError as exc:
        pytest.fail(f"dockerimages: record mode {mode}: {exc}", pytrace=False)
    log = RequestLog(backend, lambda: getattr(backend, "profile", None))
    server = Server(log).start()
    return CassetteHandle(server, backend, log, settings.path, mode, recording, cassette, command)


@pytest.fixture
def dockerimages_cassette(request: pytest.FixtureRequest) -> Iterator[CassetteHandle]:
    """A replay (or, in a record mode, recording) Docker daemon for this test.

    Configure with ``@pytest.mark.dockerimages_cassette(name, record_mode=..., fallback=...)``.
    Point clients at ``.docker_host`` (or use ``dockerimages_host``, which also sets DOCKER_HOST);
    ``.interactions`` and ``.path`` describe the cassette; ``.requests`` is what clients asked (for
    ``assert_images_requested``). A request the cassette lacks fails the test, naming the nearest
    recorded interactions and the command that records it.
    """
    settings = _settings(request)
    handle = _start(request, settings)
    request.node.stash[_HANDLE] = handle
    try:
        yield handle
    finally:
        handle.server.stop()
        errors = list(handle.server.errors)
        request.node.stash[_HANDLE] = None
    if errors:
        raise errors[0]
    if handle.recording:
        _save(request, handle)
    problem = handle.problems()
    if problem is not None:
        pytest.fail(f"dockerimages cassette: {problem}", pytrace=False)


def _save(request: pytest.FixtureRequest, handle: CassetteHandle) -> None:
    reports = request.node.stash.get(_REPORTS, {})
    failed = any(r.failed for r in reports.values())
    if failed and not _opt(request.config, OPT_SAVE_FAILED):
        request.node.add_report_section(
            "teardown", "dockerimages cassette",
            f"not saving {handle.path}: the test failed while recording (use --dockerimages-save-failed to keep it)")
        return
    handle.cassette.interactions = before_record(request.config.pluginmanager, handle.cassette.interactions,
                                                 handle.path, request.config,
                                                 hook=request.node.ihook.pytest_dockerimages_before_record)
    if not handle.cassette.interactions:
        return
    handle.cassette.save(handle.path, mode="replace_keys" if handle.mode == "all" else "merge")
