"""pytest_dockerimages.vcrpy with pytest-recording itself: code that talks to a Docker daemon over
TCP with requests and httpx, under @pytest.mark.vcr, records against the fake on loopback and
replays with this project's matching (CLI and SDK spellings of one query match) and scrubbing."""
from __future__ import annotations

from pathlib import Path

import pytest
from requires import require_module

from pytest_dockerimages import FakeDaemon
from pytest_dockerimages._cassettes.cassette import Cassette
from pytest_dockerimages._cassettes.keys import canonical_key
from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.wire import Request

require_module("pytest_recording", reason="needs pytest-recording (pip install pytest-recording)")
vcr = require_module("vcr")

CONFTEST = '''
import os

import pytest

from pytest_dockerimages import vcrpy as dockerimages_vcrpy


def pytest_recording_configure(config, vcr):
    dockerimages_vcrpy.register(vcr)


@pytest.fixture(scope="module")
def vcr_config():
    return {"match_on": dockerimages_vcrpy.MATCH_ON}


@pytest.fixture
def daemon_url():
    return os.environ["DAEMON_URL"]
'''

TESTS = '''
import json

import httpx
import pytest
import requests

FORM = __import__("os").environ["FILTER_FORM"]


def dangling_filters():
    # the docker SDK sends {"dangling": ["true"]}; the docker CLI {"dangling": {"true": true}}
    value = ["true"] if FORM == "sdk" else {"true": True}
    return json.dumps({"dangling": value})


@pytest.mark.vcr
def test_requests_lists_dangling_images(daemon_url):
    response = requests.get(f"{daemon_url}/v1.45/images/json", params={"filters": dangling_filters()},
                            headers={"Authorization": "Bearer s3cr3t-token", "X-Registry-Auth": "c2VjcmV0"})
    assert response.status_code == 200
    assert [image["RepoTags"] for image in response.json()] == [[], []]


@pytest.mark.vcr
def test_httpx_lists_everything(daemon_url):
    with httpx.Client(base_url=daemon_url) as client:
        response = client.get("/v1.45/images/json", params={"all": "1" if FORM == "sdk" else "true"})
    assert response.status_code == 200 and len(response.json()) == 6
'''


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url: str, form: str, *args: str
        ) -> pytest.RunResult:
    monkeypatch.setenv("DAEMON_URL", url)
    monkeypatch.setenv("FILTER_FORM", form)
    return pytester.runpytest("-p", "no:randomly", "-p", "no:dockerimages", *args)


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_daemon=TESTS)
    return pytester.path / "cassettes" / "test_daemon"


def test_record_against_the_fake_then_replay_other_spellings_offline(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    with FakeDaemon(images=default_images(), profile="docker-26.1", transport="tcp") as fake:
        url = fake.docker_host.replace("tcp://", "http://")
        run(pytester, monkeypatch, url, "sdk", "--record-mode=once").assert_outcomes(passed=2)
        assert [r.path for r in fake.requests] == ["/images/json", "/images/json"]
    files = sorted(p.name for p in project.iterdir() if not p.name.startswith("."))  # not the lock files
    assert files == ["test_httpx_lists_everything.yaml", "test_requests_lists_dangling_images.yaml"]
    recorded = Cassette.load(project / "test_requests_lists_dangling_images.yaml")  # our format, validated
    text = (project / "test_requests_lists_dangling_images.yaml").read_text()
    assert "s3cr3t-token" not in text and "c2VjcmV0" not in text and text.count("<redacted>") == 2
    assert not list(project.glob(".*.tmp"))  # written atomically
    (interaction,) = recorded.interactions
    assert interaction.status == 200

    # the fake is gone (nothing listens on that port), the spellings are the CLI's: still a match
    result = run(pytester, monkeypatch, url, "cli", "--record-mode=none")
    result.assert_outcomes(passed=2)
    cli_target = "/v1.45/images/json?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D"
    assert canonical_key("GET", cli_target) == interaction.key()
    # the same file serves any other client through the replay server (dockerimages serve --cassette)
    replayed = ReplayBackend.from_file(project / "test_requests_lists_dangling_images.yaml").handle(
        Request("GET", cli_target))
    assert (replayed.status, replayed.body) == (200, interaction.body)


def test_extra_cassettes_of_the_marker_still_replay(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    with FakeDaemon(images=default_images(), profile="docker-26.1", transport="tcp") as fake:
        url = fake.docker_host.replace("tcp://", "http://")
        run(pytester, monkeypatch, url, "sdk", "--record-mode=once", "-k", "requests").assert_outcomes(passed=1)
    (project / "test_requests_lists_dangling_images.yaml").rename(project / "shared.yaml")
    source = (pytester.path / "test_daemon.py").read_text()
    (pytester.path / "test_daemon.py").write_text(source.replace("@pytest.mark.vcr\ndef test_requests",
                                                                 '@pytest.mark.vcr("shared.yaml")\ndef test_requests'))
    run(pytester, monkeypatch, url, "cli", "--record-mode=none", "-k", "requests").assert_outcomes(passed=1)


def test_without_the_bridge_the_other_spelling_does_not_match(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    with FakeDaemon(images=default_images(), profile="docker-26.1", transport="tcp") as fake:
        url = fake.docker_host.replace("tcp://", "http://")
        run(pytester, monkeypatch, url, "sdk", "--record-mode=once").assert_outcomes(passed=2)
    (pytester.path / "conftest.py").write_text(CONFTEST.replace("dockerimages_vcrpy.MATCH_ON",
                                                                '["method", "path", "query"]'))
    run(pytester, monkeypatch, url, "cli", "--record-mode=none").assert_outcomes(failed=2)


def test_a_corrupt_cassette_is_an_error_naming_the_place(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    project.mkdir(parents=True)
    (project / "test_httpx_lists_everything.yaml").write_text("interactions:\n- request: [\n")
    result = run(pytester, monkeypatch, "http://127.0.0.1:9", "sdk", "--record-mode=once",
                 "-k", "httpx")
    result.assert_outcomes(errors=1)  # in the vcr fixture's set-up: not silently re-recorded
    result.stdout.fnmatch_lines(["*CassetteError: *test_httpx_lists_everything.yaml:3:1: invalid YAML*"])


def test_plain_vcrpy_with_the_bridge(tmp_path: Path) -> None:
    import requests

    from pytest_dockerimages import vcrpy as bridge

    recorder = bridge.register(vcr.VCR(match_on=bridge.MATCH_ON, record_mode="once"))
    path = tmp_path / "plain.yaml"
    with FakeDaemon(images=default_images(), transport="tcp") as fake:
        url = fake.docker_host.replace("tcp://", "http://")
        with recorder.use_cassette(str(path)):
            recorded = requests.get(f"{url}/images/json?all=1").content
    with recorder.use_cassette(str(path)) as cassette:
        assert requests.get(f"{url}/images/json?all=true").content == recorded
        assert cassette.play_count == 1
