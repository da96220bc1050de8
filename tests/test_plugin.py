"""The pytest plugin, exercised through pytester: options, ini, marker, fixtures, env, xdist."""
from __future__ import annotations

import importlib.util
import os
import sys
import textwrap

import pytest

from pytest_dockerimages._real.fixture import skip_or_fail

pytest_plugins = ["pytester"]

SEED = """\
profile: docker-20.10
images:
  - tags: ["seeded:1"]
    created: "2024-01-01T00:00:00Z"
"""


def test_precedence_marker_over_option_over_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndockerimages_profile = docker-20.10\n")
    pytester.makepyfile(textwrap.dedent("""
        import os, pytest

        def test_profile(dockerimages_fake):
            assert dockerimages_fake.profile.name == os.environ["EXPECTED_PROFILE"]

        @pytest.mark.dockerimages(profile="docker-29.7")
        def test_marker_wins(dockerimages_fake):
            assert dockerimages_fake.profile.name == "docker-29.7"
    """))
    os.environ["EXPECTED_PROFILE"] = "docker-20.10"
    try:
        pytester.runpytest().assert_outcomes(passed=2)  # ini
        os.environ["EXPECTED_PROFILE"] = "docker-26.1"
        pytester.runpytest("--dockerimages-profile=docker-26.1").assert_outcomes(passed=2)  # option > ini
        os.environ["EXPECTED_PROFILE"] = "docker-28.1"
        pytester.runpytest().assert_outcomes(passed=1, failed=1)  # the check can fail
    finally:
        del os.environ["EXPECTED_PROFILE"]


def test_seed_from_ini_option_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", seed=SEED)
    sub = pytester.mkdir("other")
    (sub / "seed2.yaml").write_text("images:\n  - tags: ['second:1']\n")
    pytester.makeini("[pytest]\ndockerimages_seed = seed.yaml\n")
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        def tags(fake):
            return sorted(t.familiar for i in fake.images for t in i.tags)

        def test_ini_seed_and_its_profile(dockerimages_fake):
            assert tags(dockerimages_fake) == ["seeded:1"]
            assert dockerimages_fake.profile.name == "docker-20.10"

        @pytest.mark.dockerimages(images=[{"tags": ["extra:1"]}])
        def test_marker_images_are_added_after_the_seed(dockerimages_fake):
            assert tags(dockerimages_fake) == ["extra:1", "seeded:1"]
            assert [i.tags[0].familiar for i in dockerimages_fake.images] == ["seeded:1", "extra:1"]

        @pytest.mark.dockerimages(seed="other/seed2.yaml", profile="docker-26.1")
        def test_marker_seed_relative_to_the_test_file(dockerimages_fake):
            assert tags(dockerimages_fake) == ["second:1"]
            assert dockerimages_fake.profile.name == "docker-26.1"
    """))
    pytester.runpytest().assert_outcomes(passed=3)


def test_defaults_and_fresh_state_per_test_on_one_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        import pytest
        from pytest_dockerimages._core.defaults import default_images
        from pytest_dockerimages._http.unixhttp import request

        hosts = []

        def test_change_everything(dockerimages_fake):
            hosts.append(dockerimages_fake.docker_host)
            assert len(dockerimages_fake.images) == len(default_images())
            dockerimages_fake.add({"tags": ["leak:1"]})
            dockerimages_fake.fail_next(3)
            request(dockerimages_fake.docker_host, "GET", "/_ping")

        def test_next_test_is_fresh(dockerimages_fake):
            hosts.append(dockerimages_fake.docker_host)
            assert len(dockerimages_fake.images) == len(default_images())
            assert dockerimages_fake.pending_faults == 0 and dockerimages_fake.requests == []
            assert request(dockerimages_fake.docker_host, "GET", "/_ping")[0] == 200

        @pytest.mark.dockerimages(images=[])
        def test_empty_images_means_empty(dockerimages_fake):
            hosts.append(dockerimages_fake.docker_host)
            assert dockerimages_fake.images == []

        def test_same_server_reused():
            assert len(hosts) == 3 and len(set(hosts)) == 1
    """))
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


def test_unknown_marker_keyword_fails_that_test_only(pytester: pytest.Pytester) -> None:
    """Neither a usage error that stops the run, nor one when the test is deselected."""
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        @pytest.mark.dockerimages(imagez=[])
        def test_x(dockerimages_fake):
            pass

        @pytest.mark.dockerimages(imagez=[])
        def test_without_the_fixture():
            pass

        def test_other(dockerimages_fake):
            pass
    """))
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_x*",
                                 "@pytest.mark.dockerimages(...) got unknown keyword(s) imagez; known: images, seed, profile"])
    result.stdout.no_fnmatch_line("*Traceback*")
    deselected = pytester.runpytest("-k", "test_other")
    deselected.assert_outcomes(passed=1, deselected=2)


@pytest.mark.parametrize(("name", "meant"), [("dockerimage", "dockerimages"), ("docker_images", "dockerimages"),
                                             ("dockerimages_casette", "dockerimages_cassette")])
def test_misspelt_marker_fails_with_did_you_mean(pytester: pytest.Pytester, name: str, meant: str) -> None:
    pytester.makepyfile(textwrap.dedent(f"""
        import pytest

        @pytest.mark.{name}(images=[])
        def test_x(dockerimages_fake):
            pass

        @pytest.mark.slowish
        def test_unrelated_marker():
            pass
    """))
    result = pytester.runpytest("-rA", "-W", "ignore::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*@pytest.mark.{name} is not a pytest-dockerimages marker*"
                                 f"did you mean @pytest.mark.{meant}?*"])


def test_a_registered_marker_close_to_ours_is_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    dockerimage: the project's own marker\n")
    pytester.makepyfile("import pytest\n\n@pytest.mark.dockerimage\ndef test_x():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(("images", "expected"), [
    ('[{"tags": ["shop/app:"]}]', "*images[[]0[]]: tags[[]0[]]: 'shop/app:': invalid reference format: "
                                  "invalid tag format: the tag after ':' is empty"),
    ('[{"tags": ["shop/App:1"]}]', "*'shop/App:1': invalid reference format: repository name (shop/App) must be "
                                   "lowercase"),
    ('[{"tags": ["shop/app@sha256:" + "a" * 64]}]', "*has a digest: put it in 'digests'"),
    ('[{"created": "last week"}]', "*created: parsing time \"last week\"*; expected unix seconds*RFC 3339 text*"),
    ('[{"size": -1}]', "*images[[]0[]]: size: expected an integer >= 0, got -1"),
    ('["alpine"]', "*images[[]0[]]: expected an Image or a dict of Image fields, got str"),
    ('"alpine"', "*images= must be a list of Image objects or dicts, got str"),
])
def test_bad_marker_images_fail_in_one_line(pytester: pytest.Pytester, images: str, expected: str) -> None:
    pytester.makepyfile(textwrap.dedent(f"""
        import pytest

        @pytest.mark.dockerimages(images={images})
        def test_x(dockerimages_fake):
            pass
    """))
    result = pytester.runpytest("-rA")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*@pytest.mark.dockerimages*{expected.lstrip('*')}*"])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*model.py*")


def test_unknown_profile_and_missing_seed_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--dockerimages-profile=docker-1.0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown profile 'docker-1.0'*docker-20.10*"])
    result = pytester.runpytest("--dockerimages-seed=missing.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*seed file *missing.yaml does not exist*"])


def test_bad_marker_seed_fails_the_test_with_the_file_name(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", bad="images: [{tags: 3}]\n")
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        @pytest.mark.dockerimages(seed="bad.yaml")
        def test_x(dockerimages_fake):
            pass
    """))
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*dockerimages: *bad.yaml: images[[]0[]]: tags*"])


def test_dockerimages_host_sets_and_restores_the_environment(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        import os

        CLEARED = ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION")

        def test_inside(dockerimages_host, dockerimages_fake):
            assert dockerimages_host == dockerimages_fake.docker_host
            assert os.environ["DOCKER_HOST"] == dockerimages_host
            assert dockerimages_host.startswith("unix://")
            assert not [name for name in CLEARED if name in os.environ]

        def test_after():
            assert os.environ["DOCKER_HOST"] == "tcp://203.0.113.1:2375"
            assert os.environ["DOCKER_CONTEXT"] == "elsewhere"
            assert os.environ["DOCKER_API_VERSION"] == "1.12"
    """))
    env = {"DOCKER_HOST": "tcp://203.0.113.1:2375", "DOCKER_CONTEXT": "elsewhere", "DOCKER_TLS_VERIFY": "1",
           "DOCKER_CERT_PATH": "/nonexistent", "DOCKER_API_VERSION": "1.12"}
    mp = pytest.MonkeyPatch()
    try:
        for key, value in env.items():
            mp.setenv(key, value)
        pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)
    finally:
        mp.undo()


def test_dockerimages_host_follows_the_cassette_marker(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(textwrap.dedent("""
        import types, pytest

        def pytest_configure(config):
            config.addinivalue_line("markers", "dockerimages_cassette: replay")

        @pytest.fixture
        def dockerimages_cassette():
            return types.SimpleNamespace(docker_host="unix:///cassette.sock")
    """))
    pytester.makepyfile(textwrap.dedent("""
        import os, pytest

        @pytest.mark.dockerimages_cassette
        def test_cassette(dockerimages_host, request):
            assert dockerimages_host == "unix:///cassette.sock" == os.environ["DOCKER_HOST"]
            assert "dockerimages_fake" not in request.fixturenames

        def test_fake(dockerimages_host):
            assert dockerimages_host != "unix:///cassette.sock"
    """))
    pytester.runpytest("--strict-markers").assert_outcomes(passed=2)


@pytest.mark.parametrize("strict", ["", "1"])
@pytest.mark.parametrize(("fixture", "module", "reason"), [
    ("dockerimages_client", "docker", "the docker SDK for Python is not installed (pip install docker)"),
    # in fnmatch, [[] and []] are a literal [ and ]
    ("dockerimages_httpx", "httpx", 'httpx is not installed (pip install "pytest-dockerimages[[]httpx[]]")'),
])
def test_fixture_without_its_library_skips_unless_strict(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                        strict: str, fixture: str, module: str, reason: str) -> None:
    """A downstream CI (CI=true) without the library skips; only DOCKERIMAGES_STRICT=1 fails."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("DOCKERIMAGES_STRICT", strict)
    pytester.makepyfile(f"""
        import sys

        def test_it(monkeypatch, request):
            monkeypatch.setitem(sys.modules, "{module}", None)  # as if it were not installed
            request.getfixturevalue("{fixture}")
    """)
    result = pytester.runpytest("-p", "dockerimages", "-rsf")
    result.assert_outcomes(**({"failed": 1} if strict else {"skipped": 1}))
    result.stdout.fnmatch_lines([f"*{reason}*"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_dockerimages_client_lists_the_fake_images(pytester: pytest.Pytester) -> None:
    if importlib.util.find_spec("docker") is None:
        skip_or_fail("the docker SDK is not installed (pip install docker)")
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        @pytest.mark.dockerimages(images=[{"tags": ["a:1"]}, {"tags": ["b:1"], "labels": {"k": "v"}}],
                                  profile="docker-26.1")
        def test_client(dockerimages_client, dockerimages_fake):
            assert sorted(t for i in dockerimages_client.images.list() for t in i.tags) == ["a:1", "b:1"]
            assert [i.tags for i in dockerimages_client.images.list(filters={"label": "k=v"})] == [["b:1"]]
            assert dockerimages_client.api.api_version == "1.45"
            assert dockerimages_fake.requests[-1].path.startswith("/images/")

        def test_from_env(dockerimages_host):
            import docker
            client = docker.from_env()
            try:
                assert len(client.images.list(all=True)) == 6
            finally:
                client.close()
    """))
    # a subprocess: an inline run would import docker/requests afresh and pytester's
    # sys.modules restore would leave the outer process with two copies of http.cookiejar
    pytester.runpytest_subprocess().assert_outcomes(passed=2)


def test_server_errors_fail_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        from pytest_dockerimages._http.unixhttp import request

        class Boom:
            def handle(self, req):
                raise RuntimeError("backend exploded")

        def test_boom(dockerimages_fake, monkeypatch):
            monkeypatch.setattr(dockerimages_fake.server, "backend", Boom())
            status, _, _ = request(dockerimages_fake.docker_host, "GET", "/images/json")
            assert status == 500  # the client only saw a 500 ...

        def test_next_one_is_clean(dockerimages_fake):
            assert request(dockerimages_fake.docker_host, "GET", "/_ping")[0] == 200
    """))
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)  # ... but the test fails with the server's exception
    result.stdout.fnmatch_lines(["*RuntimeError: backend exploded*", "FAILED *test_boom*"])


@pytest.mark.parametrize(("autoload", "args", "conftest", "outcome"), [
    (False, ["-p", "dockerimages"], False, "passed"),
    (False, [], False, "errors"),  # without -p, the fixture really is absent
    (False, ["-p", "dockerimages", "-p", "pytest_dockerimages.plugin"], False, "passed"),  # both names
    (False, ["-p", "pytest_dockerimages.plugin", "-p", "dockerimages"], False, "passed"),
    (True, ["-p", "dockerimages"], False, "passed"),  # entry point + -p
    (True, ["-p", "pytest_dockerimages.plugin"], False, "passed"),  # entry point + module name
    (True, ["-p", "pytest_dockerimages.plugin", "-p", "dockerimages"], False, "passed"),  # all three
    (True, [], True, "passed"),  # entry point + conftest
    (False, [], True, "passed"),  # conftest only
], ids=lambda value: " ".join(value) if isinstance(value, list) else str(value))
def test_loaded_once_whichever_way_and_however_often(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                    autoload: bool, args: list[str], conftest: bool,
                                                    outcome: str) -> None:
    """The entry point, `-p` with either name and `pytest_plugins` in a conftest, in any mix: the
    plugin (and the modules it registers) loads once, or, with none of them, not at all."""
    pytester.makepyfile(test_x=textwrap.dedent("""
        import pytest

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_x(dockerimages_fake, dockerimages_cassette):
            pass
    """))
    if conftest:
        pytester.makeconftest('pytest_plugins = ["pytest_dockerimages.plugin"]\n')
    if not autoload:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.runpytest_subprocess(*args).assert_outcomes(**{outcome: 1})


def test_xdist_gives_each_worker_its_own_daemon(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("xdist") is None:
        skip_or_fail("pytest-xdist is not installed")
    pytester.makepyfile(textwrap.dedent("""
        import os, pathlib, pytest

        @pytest.mark.parametrize("n", range(6))
        def test_x(dockerimages_fake, n, tmp_path_factory):
            dockerimages_fake.add({"tags": [f"n:{n}"]})
            assert len(dockerimages_fake.images) == 7
            out = pathlib.Path(os.environ["HOSTS_DIR"]) / f"{n}.txt"
            out.write_text(os.environ["PYTEST_XDIST_WORKER"] + " " + dockerimages_fake.docker_host)
    """))
    hosts_dir = pytester.mkdir("hosts")
    monkeypatch.setenv("HOSTS_DIR", str(hosts_dir))
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=6)
    pairs = {tuple(p.read_text().split()) for p in hosts_dir.iterdir()}
    workers = {w for w, _ in pairs}
    assert len(workers) == 2 and len({h for _, h in pairs}) == 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
