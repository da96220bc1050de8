"""The plugin's extension hooks (pytest_dockerimages.hookspecs), implemented in a pytester conftest."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from pytest_dockerimages import FakeDaemon
from pytest_dockerimages._cassettes.cassette import Cassette

pytest_plugins = ["pytester"]

HTTP = """
import http.client, socket
from urllib.parse import urlsplit

def get(host, target):
    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(urlsplit(host).path)
    conn = Conn("localhost", timeout=10)
    conn.request("GET", target)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body
"""


@pytest.fixture
def upstream() -> Iterator[FakeDaemon]:
    """A daemon to record from: the fake itself, with two tagged images."""
    with FakeDaemon(images=[{"tags": ["a:1"]}, {"tags": ["b:2"]}], profile="docker-26.1") as daemon:
        yield daemon


def test_default_images_hook_replaces_the_builtin_set(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        def pytest_dockerimages_default_images(config):
            return [{"tags": ["from/conftest:1"]}]
    """)
    pytester.makepyfile(test_hook_images="""
        import pytest

        def test_default(dockerimages_fake):
            assert [t.familiar for i in dockerimages_fake.images for t in i.tags] == ["from/conftest:1"]

        @pytest.mark.dockerimages(images=[{"tags": ["marker:1"]}])
        def test_marker_still_wins(dockerimages_fake):
            assert [t.familiar for i in dockerimages_fake.images for t in i.tags] == ["marker:1"]
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_default_images_hook_none_keeps_the_builtin_set_and_applies_below_its_conftest(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        def pytest_dockerimages_default_images(config):
            return None
    """)
    sub = pytester.mkpydir("sub")
    (sub / "conftest.py").write_text("def pytest_dockerimages_default_images(config):\n    return []\n")
    (sub / "test_sub_empty.py").write_text("def test_empty(dockerimages_fake):\n    assert dockerimages_fake.images == []\n")
    pytester.makepyfile(test_top_builtin="""
        from pytest_dockerimages import default_images

        def test_builtin(dockerimages_fake):
            assert len(dockerimages_fake.images) == len(default_images())
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_default_profile_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        def pytest_dockerimages_default_profile(config):
            return "docker-20.10"
    """)
    pytester.makefile(".yaml", seeded="profile: docker-29.7\nimages: []\n", plain="images: []\n")
    pytester.makepyfile(test_hook_profile="""
        import pytest

        def test_hook_profile(dockerimages_fake):
            assert dockerimages_fake.profile.name == "docker-20.10"

        @pytest.mark.dockerimages(profile="docker-26.1")
        def test_marker_wins(dockerimages_fake):
            assert dockerimages_fake.profile.name == "docker-26.1"

        @pytest.mark.dockerimages(seed="seeded.yaml")
        def test_the_seeds_profile_wins(dockerimages_fake):
            assert dockerimages_fake.profile.name == "docker-29.7"

        @pytest.mark.dockerimages(seed="plain.yaml")
        def test_a_seed_without_profile_gets_the_hooks(dockerimages_fake):
            assert dockerimages_fake.profile.name == "docker-20.10"
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["dockerimages: profile docker-20.10"])
    result = pytester.runpytest("-p", "no:cacheprovider", "--dockerimages-profile=docker-26.1",
                                "test_hook_profile.py::test_hook_profile")
    result.assert_outcomes(failed=1)  # the option is more specific than the hook


def test_default_profile_hook_unknown_name_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("def pytest_dockerimages_default_profile(config):\n    return 'docker-0.1'\n")
    pytester.makepyfile(test_bad_profile="def test_x(dockerimages_fake):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*docker-0.1*"])


RECORDING_TESTS = HTTP + """
import pytest

@pytest.mark.dockerimages_cassette("rec", record_mode="once")
def test_record(dockerimages_cassette):
    host = dockerimages_cassette.docker_host
    assert get(host, "/_ping")[0] == 200
    assert get(host, "/v1.45/version")[0] == 200
    status, body = get(host, "/v1.45/images/json")
    assert status == 200 and b"a:1" in body
"""


def test_before_record_rewrites_and_drops(pytester: pytest.Pytester, upstream: FakeDaemon) -> None:
    pytester.makeconftest("""
        import dataclasses

        def pytest_dockerimages_before_record(interaction, cassette_path, config):
            assert cassette_path.name == "rec.yaml" and config is not None
            if interaction.target == "/_ping":
                return False                                   # drop
            if interaction.target.endswith("/images/json"):
                return dataclasses.replace(interaction, body=interaction.body.replace(b"a:1", b"scrubbed:1"))
            return None                                        # keep as is
    """)
    pytester.makepyfile(test_rec=RECORDING_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--dockerimages-docker-host={upstream.docker_host}")
    result.assert_outcomes(passed=1)
    saved = Cassette.load(pytester.path / "cassettes" / "rec.yaml", validate=False)
    targets = [i.target for i in saved.interactions]
    assert targets == ["/v1.45/version", "/v1.45/images/json"]
    assert b"scrubbed:1" in saved.interactions[1].body and b"a:1" not in saved.interactions[1].body


def test_before_record_implementations_chain(pytester: pytest.Pytester, upstream: FakeDaemon) -> None:
    """Two implementations (a plugin and the conftest): each gets the previous one's result, in
    pluggy's call order (the later registered conftest first)."""
    pytester.makepyfile(first_plugin="""
        import dataclasses

        def pytest_dockerimages_before_record(interaction):
            return dataclasses.replace(interaction, reason=interaction.reason + "+plugin")
    """)
    pytester.makeconftest("""
        import dataclasses

        def pytest_dockerimages_before_record(interaction):
            return dataclasses.replace(interaction, reason=interaction.reason + "+conftest")
    """)
    pytester.makepyfile(test_rec=RECORDING_TESTS)
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "first_plugin",
                                f"--dockerimages-docker-host={upstream.docker_host}")
    result.assert_outcomes(passed=1)
    saved = Cassette.load(pytester.path / "cassettes" / "rec.yaml", validate=False)
    assert len(saved.interactions) == 3 and {i.reason for i in saved.interactions} == {"OK+conftest+plugin"}


def test_before_record_bad_return_value_is_an_error(pytester: pytest.Pytester, upstream: FakeDaemon) -> None:
    pytester.makeconftest("def pytest_dockerimages_before_record(interaction):\n    return 'nope'\n")
    pytester.makepyfile(test_rec=RECORDING_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--dockerimages-docker-host={upstream.docker_host}")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*returned str; expected an Interaction, None (keep) or False (drop)*"])
    assert not (pytester.path / "cassettes" / "rec.yaml").exists()


def _write_cassette(path: Path, upstream: FakeDaemon) -> None:
    from pytest_dockerimages._cassettes.record import RecordingBackend
    from pytest_dockerimages._http.server import Server

    cassette = Cassette(path)
    backend = RecordingBackend(upstream.docker_host, cassette)
    with Server(backend) as proxy:
        ns: dict[str, object] = {}
        exec(HTTP, ns)
        get = ns["get"]
        assert get(proxy.docker_host, "/v1.45/images/json?all=1")[0] == 200  # type: ignore[operator]
    cassette.save(path)


MATCH_TESTS = HTTP + """
import pytest

@pytest.mark.dockerimages_cassette("replayed")
def test_other_version(dockerimages_cassette):
    status, body = get(dockerimages_cassette.docker_host, "/v1.41/images/json?all=1")
    assert status == 200 and b"a:1" in body
"""


def test_match_request_hook_picks_an_interaction(pytester: pytest.Pytester, upstream: FakeDaemon) -> None:
    _write_cassette(pytester.path / "cassettes" / "replayed.yaml", upstream)
    pytester.makepyfile(test_match=MATCH_TESTS)
    # without the hook: a miss (the recording is at API 1.45)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not found in cassette*"])
    pytester.makeconftest("""
        def pytest_dockerimages_match_request(request, candidates, config):
            # ignore the API version: match on what follows it
            wanted = request.target.split("/", 2)[2]
            for interaction in candidates:
                if interaction.target.split("/", 2)[2] == wanted:
                    return interaction
            return None
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_match_request_hook_returning_none_is_still_a_miss(pytester: pytest.Pytester, upstream: FakeDaemon) -> None:
    _write_cassette(pytester.path / "cassettes" / "replayed.yaml", upstream)
    pytester.makeconftest("""
        CALLS = []

        def pytest_dockerimages_match_request(request, candidates):
            CALLS.append((request.target, len(candidates)))
            return None

        def pytest_sessionfinish(session):
            assert CALLS == [("/v1.41/images/json?all=1", 1)], CALLS
            print("hook calls ok")
    """)
    pytester.makepyfile(test_match=MATCH_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*hook calls ok*"])
    result.stdout.fnmatch_lines(["*not found in cassette*"])


def test_hooks_work_when_the_plugin_is_loaded_twice(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        def pytest_dockerimages_default_images(config):
            return []
    """)
    pytester.makepyfile(test_twice="def test_x(dockerimages_fake):\n    assert dockerimages_fake.images == []\n")
    pytester.runpytest_subprocess("-p", "pytest_dockerimages.plugin").assert_outcomes(passed=1)
    pytester.runpytest_subprocess("-p", "dockerimages").assert_outcomes(passed=1)


def test_hookspecs_are_documented_and_registered(pytester: pytest.Pytester) -> None:
    from pytest_dockerimages import hookspecs

    for name in hookspecs.__all__:
        assert getattr(hookspecs, name).__doc__, name
    pytester.makeconftest(textwrap.dedent(f"""
        def pytest_configure(config):
            for name in {hookspecs.__all__!r}:
                assert getattr(config.hook, name).spec is not None, name
    """))
    pytester.makepyfile(test_x="def test_x(): pass")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_before_record_implementations_are_called_through_pluggy(pytester: pytest.Pytester,
                                                                  upstream: FakeDaemon) -> None:
    """pluggy calls each implementation (its hook call monitoring sees them), not the plugin directly."""
    pytester.makeconftest("""
        CALLS = []

        def pytest_configure(config):
            def before(hook_name, hook_impls, kwargs):
                if hook_name == "pytest_dockerimages_before_record":
                    CALLS.append([impl.plugin_name for impl in hook_impls])
            config.pluginmanager.add_hookcall_monitoring(before, lambda *args: None)

        def pytest_dockerimages_before_record(interaction):
            return None

        def pytest_sessionfinish(session):
            print("BEFORE_RECORD_CALLS", len(CALLS))
    """)
    pytester.makepyfile(test_rec=RECORDING_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", f"--dockerimages-docker-host={upstream.docker_host}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*BEFORE_RECORD_CALLS 3*"])  # once per recorded interaction
