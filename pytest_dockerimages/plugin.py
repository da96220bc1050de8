"""pytest plugin: options, markers and fixtures that put a fake Docker daemon behind DOCKER_HOST.

Thin wiring only.  The daemon lives in `fakedaemon`; everything heavier than pytest itself is
imported inside hooks and fixtures, so merely having the plugin installed costs (almost)
nothing in test runs that never use it.  The cassette and real-daemon modules are plugins of
their own, registered through `pytest_plugins`, each with its options, markers and fixtures.

Configuration, most specific first, key by key: `@pytest.mark.dockerimages(...)`, then the
command-line options, then the ini keys, then the built-in defaults (`DEFAULT_PROFILE`, the
`default_images()` set when neither a seed nor `images=` is given).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from ._core.profiles import DEFAULT_PROFILE
from ._options import CASSETTE_MARKER, FAKE_MARKER, option_group

if TYPE_CHECKING:
    from ._fake.fakedaemon import FakeDaemon

# Before anything imports them: assertion helpers get pytest's rewritten, itemised assert messages.
pytest.register_assert_rewrite(f"{__package__}.assertions", f"{__package__}._assertions")

#: The cassette marker, fixture and options, and the real-daemon fixture and option: plugins of
#: their own, registered with this one.
pytest_plugins = ["pytest_dockerimages._cassettes.fixtures", "pytest_dockerimages._real.fixture"]

MARKER = FAKE_MARKER
MARKER_KEYWORDS = ("images", "seed", "profile")
PROFILE_KEY = "dockerimages_profile"
SEED_KEY = "dockerimages_seed"
#: Variables that would send clients elsewhere than DOCKER_HOST, or pin another API version.
CLEARED_ENV = ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION")

_MARKER_LINE = (
    "dockerimages(images=None, seed=None, profile=None): configure the fake Docker daemon of "
    "dockerimages_fake for this test: images (Image objects or dicts) added after the seed file's, "
    "seed (path, relative to the test file), profile (e.g. docker-26.1)"
)


# --------------------------------------------------------------------------- options


#: Names this module can be registered under: the entry point, and the module path that
#: `-p pytest_dockerimages.plugin` or `pytest_plugins = [...]` in a conftest would use.
_ALIASES = ("dockerimages", __name__)


class _Alias:
    """Holds one of this plugin's names while the module is registered under the other one."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<pytest-dockerimages: {self.name} is an alias of the loaded plugin>"


def _claim_other_aliases(pluginmanager: pytest.PytestPluginManager) -> None:
    """Loading this module a second time under its other name would make pluggy raise
    "Plugin already registered under a different name".  A stand-in registered under the name
    not in use makes pytest skip that second import silently, even for an explicit `-p NAME`
    (which unblocks a blocked name, but never replaces a registered one)."""
    for alias in _ALIASES:
        if pluginmanager.get_plugin(alias) is None and not pluginmanager.is_blocked(alias):
            pluginmanager.register(_Alias(alias), alias)


def pytest_plugin_registered(plugin: object, manager: pytest.PytestPluginManager) -> None:
    """Runs right after this module is registered, whichever way it was loaded."""
    if plugin is sys.modules[__name__]:
        _claim_other_aliases(manager)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register this plugin's own hooks (see `hookspecs`), once even when loaded under two names."""
    from . import hookspecs

    caller = getattr(pluginmanager.hook, hookspecs.__all__[0], None)
    if caller is None or caller.spec is None:
        pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = option_group(parser)
    group.addoption(
        "--dockerimages-profile", dest=PROFILE_KEY, default=None, metavar="NAME",
        help=f"daemon profile the fake answers as (default: {DEFAULT_PROFILE}; ini: dockerimages_profile)",
    )
    group.addoption(
        "--dockerimages-seed", dest=SEED_KEY, default=None, metavar="FILE",
        help="seed file (YAML/JSON) with the images the fake holds (ini: dockerimages_seed)",
    )
    parser.addini(PROFILE_KEY, "daemon profile the fake Docker daemon answers as", default="")
    parser.addini(SEED_KEY, "seed file for the fake Docker daemon, relative to the ini file", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER_LINE)
    profile = _configured_profile(config)
    if profile is not None:
        from ._core.profiles import PROFILES

        if profile not in PROFILES:
            raise pytest.UsageError(
                f"dockerimages: unknown profile {profile!r} (from --dockerimages-profile or ini "
                f"dockerimages_profile); choose one of: {', '.join(PROFILES)}")
    seed = _configured_seed(config)
    if seed is not None and not seed.is_file():
        raise pytest.UsageError(
            f"dockerimages: seed file {seed} does not exist (from --dockerimages-seed or ini "
            "dockerimages_seed); fix the path or drop the option")


def _configured_profile(config: pytest.Config) -> str | None:
    """Option, then ini; None when neither is set."""
    value = config.getoption(PROFILE_KEY, default=None) or config.getini(PROFILE_KEY)
    text = str(value or "").strip()
    return text or None


def _configured_seed(config: pytest.Config) -> Path | None:
    """Option (relative to the invocation dir), then ini (relative to the ini file)."""
    option = config.getoption(SEED_KEY, default=None)
    if option:
        return Path(config.invocation_params.dir, os.path.expanduser(option))
    ini = str(config.getini(SEED_KEY) or "").strip()
    if ini:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return Path(base, os.path.expanduser(ini))
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    profile = (_configured_profile(config) or config.hook.pytest_dockerimages_default_profile(config=config)
               or DEFAULT_PROFILE)
    line = f"dockerimages: profile {profile}"
    seed = _configured_seed(config)
    if seed is not None:
        line += f", seed {seed}"
    return [line]


# --------------------------------------------------------------------------- marker checks


def _marker_problem(marker: pytest.Mark) -> str | None:
    if marker.args:
        return "takes keyword arguments only (images=, seed=, profile=)"
    unknown = sorted(set(marker.kwargs) - set(MARKER_KEYWORDS))
    if unknown:
        return f"got unknown keyword(s) {', '.join(unknown)}; known: {', '.join(MARKER_KEYWORDS)}"
    images = marker.kwargs.get("images")
    if images is not None and (isinstance(images, (str, bytes)) or not isinstance(images, (list, tuple))):
        return f"images= must be a list of Image objects or dicts, got {type(images).__name__}"
    from collections.abc import Mapping

    from ._core.model import Image

    for index, image in enumerate(images or ()):
        if not isinstance(image, (Image, Mapping)):
            return f"images[{index}]: expected an Image or a dict of Image fields, got {type(image).__name__}"
    return None


def _registered_markers(config: pytest.Config) -> set[str]:
    """Names of the markers registered by plugins and the ini `markers` key."""
    return {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}


def _misspelt_marker(item: pytest.Item) -> str | None:
    """A marker on `item` whose unregistered name is close to one of ours: its did-you-mean message."""
    ours = (MARKER, CASSETTE_MARKER)
    others = {mark.name for mark in item.iter_markers()} - set(ours)
    if not others:
        return None
    import difflib

    for name in sorted(others - _registered_markers(item.config)):
        close = difflib.get_close_matches(name, ours, n=1, cutoff=0.8)
        if close:
            return (f"@pytest.mark.{name} is not a pytest-dockerimages marker (it would be ignored); "
                    f"did you mean @pytest.mark.{close[0]}?")
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail this test, and only this one, when its marker is misspelt or has a bad argument:
    a typo must not silently mean defaults, nor stop a run in which the test is deselected."""
    problem = _misspelt_marker(item)
    marker = item.get_closest_marker(MARKER)
    if problem is None and marker is not None:
        found = _marker_problem(marker)
        problem = None if found is None else f"@pytest.mark.{MARKER}(...) {found}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)


# --------------------------------------------------------------------------- fixtures

#: Where dockerimages_fake leaves its daemon on the test item, for the call-phase error check.
_DAEMON_KEY = pytest.StashKey["FakeDaemon"]()


@pytest.fixture(scope="session")
def _dockerimages_session_daemon() -> Iterator[FakeDaemon]:
    """The one fake daemon server of this session (of this xdist worker): started once, reset per test."""
    from ._fake.fakedaemon import FakeDaemon

    daemon = FakeDaemon()
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def _test_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """reset() arguments for this test: marker > option > ini > default, key by key."""
    marker = request.node.get_closest_marker(MARKER)
    kwargs = dict(marker.kwargs) if marker is not None else {}
    profile = kwargs.get("profile") or _configured_profile(request.config)
    seed: Any = kwargs.get("seed")
    if seed is not None and isinstance(seed, (str, os.PathLike)):
        seed = Path(request.path.parent, os.path.expanduser(os.fspath(seed)))
    elif seed is None:
        seed = _configured_seed(request.config)
    images = kwargs.get("images")
    if images is None and seed is None:
        images = request.node.ihook.pytest_dockerimages_default_images(config=request.config)
        if images is None:
            from ._core.defaults import default_images

            images = default_images()
    return {"images": images, "seed": seed, "profile": profile}


def _default_profile(request: pytest.FixtureRequest, config: dict[str, Any]) -> None:
    """No profile from marker, option or ini: the seed's, else the hook's, else the built-in one.

    Loads a seed path into a `Seed` (passed on, so it is read once) to see whether it names one."""
    if config["profile"] is not None:
        return
    seed = config["seed"]
    if seed is not None:
        from ._files.seed import Seed, load_seed

        if not isinstance(seed, Seed):
            seed = config["seed"] = load_seed(seed)
        if seed.profile:
            return
    config["profile"] = request.node.ihook.pytest_dockerimages_default_profile(config=request.config)


@pytest.fixture
def dockerimages_fake(_dockerimages_session_daemon: FakeDaemon, request: pytest.FixtureRequest) -> Iterator[FakeDaemon]:
    """A running fake Docker daemon (`FakeDaemon`) with fresh state for this test.

    Configure with `@pytest.mark.dockerimages(images=[...], seed="seed.yaml", profile="docker-26.1")`,
    `--dockerimages-profile/--dockerimages-seed` or the ini keys.  Without a seed or images it holds
    the built-in `default_images()`.  Change it with `.add/.remove/.tag/.clear`, inject faults with
    `.fail_next/.delay_next/.drop_next`, read `.requests`.  The server is shared by the session and
    reset before each test; an exception inside it fails the test.
    """
    daemon = _dockerimages_session_daemon
    request.node.stash[_DAEMON_KEY] = daemon
    config = _test_config(request)
    from ._core.model import ModelError
    from ._core.profiles import UnknownProfile
    from ._files.seed import SeedError

    try:
        _default_profile(request, config)
        daemon.reset(**config)
    except (SeedError, UnknownProfile) as exc:
        pytest.fail(f"dockerimages: {exc}", pytrace=False)
    except ModelError as exc:
        marker = request.node.get_closest_marker(MARKER)
        source = f"@pytest.mark.{MARKER}(images=...)" if marker and "images" in marker.kwargs else "dockerimages:"
        pytest.fail(f"{source} {exc}", pytrace=False)
    try:
        yield daemon
    finally:
        errors = list(daemon.errors)
        daemon.errors.clear()
        daemon.reset(images=())  # drop faults and state; nothing leaks into the next test
    if errors:
        raise errors[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test itself (not only its teardown) when the fake daemon raised while serving it."""
    result = yield
    daemon = item.stash.get(_DAEMON_KEY, None)
    if daemon is not None and daemon.errors:
        error = daemon.errors[0]
        daemon.errors.clear()
        raise error
    return result


def _target(request: pytest.FixtureRequest) -> Any:
    """The cassette for tests marked `dockerimages_cassette`, else the fake (each has .server)."""
    if request.node.get_closest_marker(CASSETTE_MARKER) is not None:
        return request.getfixturevalue("dockerimages_cassette")
    return request.getfixturevalue("dockerimages_fake")


def _target_host(request: pytest.FixtureRequest) -> str:
    return str(_target(request).docker_host)


@pytest.fixture
def dockerimages_host(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST of the fake daemon (or of the cassette, for tests marked dockerimages_cassette).

    For the test's duration DOCKER_HOST is set to it and DOCKER_CONTEXT, DOCKER_TLS_VERIFY,
    DOCKER_CERT_PATH and DOCKER_API_VERSION are removed, so `docker` and `docker.from_env()`
    reach the fake; everything is restored afterwards.
    """
    host = _target_host(request)
    monkeypatch.setenv("DOCKER_HOST", host)
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    return host


@pytest.fixture
def dockerimages_httpx(dockerimages_host: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """`dockerimages_host`, and httpx transports made with `uds=<its socket>` answered in-process.

    For code under test that builds its own `httpx.HTTPTransport(uds=...)` (sync or async): the
    requests reach the same backend without the socket, as vcrpy's patch does. Other transports
    are untouched; everything is restored afterwards.
    """
    try:
        import httpx  # noqa: F401
    except ImportError:
        from ._real.fixture import skip_or_fail

        skip_or_fail('httpx is not installed (pip install "pytest-dockerimages[httpx]")')
    from ._http.httpx_intercept import answered_like

    with answered_like(_target(request).server):
        yield dockerimages_host


@pytest.fixture
def dockerimages_client(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A `docker.DockerClient` talking to the fake daemon (API version negotiated, as `auto`).

    Skips when the docker SDK is not installed (fails instead under DOCKERIMAGES_STRICT=1).
    """
    try:
        import docker
    except ImportError:
        from ._real.fixture import skip_or_fail

        skip_or_fail("the docker SDK for Python is not installed (pip install docker)")
    client = docker.DockerClient(base_url=_target_host(request), version="auto", timeout=30)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def dockerimages_requests_adapter(request: pytest.FixtureRequest) -> Any:
    """A requests transport adapter (`DockerImagesAdapter`) answered in-process by the test's backend:
    the fake, or the cassette for tests marked dockerimages_cassette.

    `dockerimages_requests_adapter.mount(client)` on any `docker.APIClient`/`DockerClient` (or
    requests session with a ``base_url``) sends its requests there without the socket.
    """
    from ._http.current import CurrentBackend

    try:
        from ._http.requests_adapter import DockerImagesAdapter
    except ImportError:
        from ._real.fixture import skip_or_fail

        skip_or_fail("requests is not installed (pip install 'pytest-dockerimages[docker]')")
    return DockerImagesAdapter(CurrentBackend(_target(request).server))


@pytest.fixture
def dockerimages_client_in_process(dockerimages_client: Any, dockerimages_requests_adapter: Any) -> Any:
    """`dockerimages_client` (the same client) with `dockerimages_requests_adapter` mounted: after
    the API version handshake made when it was created, every request is answered in-process
    instead of through the socket. Skips without the docker SDK, as `dockerimages_client` does.
    """
    return dockerimages_requests_adapter.mount(dockerimages_client)
