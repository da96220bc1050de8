"""The cassette side of the CLI: built-in names, serve --fallback, validate, and record's hooks."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from requires import require_module
from test_cli_serve import first_line, run_cli, start_serve, stop

from pytest_dockerimages import FakeDaemon
from pytest_dockerimages._cassettes.cassette import Cassette
from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._files.resources import BUILTIN_CASSETTES, builtin_cassette
from pytest_dockerimages._http.unixhttp import request

LABELLED = "/v1.45/images/json?filters=%7B%22label%22%3A%5B%22org.example.kind%3Dapp%22%5D%7D"  # not recorded


def record(host: str, out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_dockerimages._cli.main", "record", "--docker-host", host,
                           "-o", str(out), *args], capture_output=True, text=True, timeout=120,
                          env=env or dict(os.environ))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cassette made by `dockerimages record` from the fake (Docker 26.1, the built-in images)."""
    out = tmp_path_factory.mktemp("recorded") / "mine.yaml"
    with FakeDaemon(images=default_images(), profile="docker-26.1") as fake:
        done = record(fake.docker_host, out, "--no-plugins")
    assert done.returncode == 0, done.stderr
    yield out


# --------------------------------------------------------------------------- serve


def test_serve_takes_a_builtin_cassette_name(served: list[subprocess.Popen[str]]) -> None:
    proc = start_serve("--cassette", "docker-26.1")
    served.append(proc)
    host = first_line(proc).split("=", 1)[1]
    status, headers, _ = request(host, "GET", "/_ping")
    assert status == 200 and dict(headers)["Server"].startswith("Docker/26.1")
    assert stop(proc) == 0


def test_an_unknown_cassette_name_lists_the_builtin_names() -> None:
    done = run_cli("serve", "--cassette", "docker-99")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "docker-99" in done.stderr and all(name in done.stderr for name in BUILTIN_CASSETTES)


def test_fallback_needs_a_cassette() -> None:
    done = run_cli("serve", "--fallback")
    assert done.returncode == 2 and "--cassette" in done.stderr


@pytest.mark.parametrize("fallback", [False, True])
def test_serve_fallback_answers_unrecorded_requests_from_the_seeded_fake(
        served: list[subprocess.Popen[str]], recorded: Path, fallback: bool) -> None:
    proc = start_serve("--cassette", str(recorded), *(["--fallback"] if fallback else []))
    served.append(proc)
    host = first_line(proc).split("=", 1)[1]
    status, _, body = request(host, "GET", LABELLED)
    if not fallback:
        assert status == 500 and b"no recorded interaction" in body
    else:
        # the marker's fallback=True path: the same backend answers the same bytes
        expected = ReplayBackend.from_file(recorded, fallback=True).handle(Request("GET", LABELLED, [], b""))
        assert (status, body) == (200, expected.body)
        assert {image["Id"] for image in json.loads(body)}  # the cassette's images, filtered
    assert stop(proc) == 0


def test_a_recorded_cassette_with_fallback_answers_every_sdk_and_cli_listing(
        served: list[subprocess.Popen[str]], recorded: Path) -> None:
    docker = require_module("docker", reason="needs the docker SDK (pip install docker)")
    proc = start_serve("--cassette", str(recorded), "--fallback")
    served.append(proc)
    host = first_line(proc).split("=", 1)[1]
    client = docker.APIClient(base_url=host, version="auto")
    try:
        for kwargs in ({}, {"all": True}, {"filters": {"label": "org.example.kind=app"}}, {"name": "example/*"},
                       {"filters": {"dangling": True, "before": "example/app:1.2.3"}}):
            assert isinstance(client.images(**kwargs), list), kwargs
    finally:
        client.close()
    cli = shutil.which("docker")
    if cli is not None:
        done = subprocess.run([cli, "images", "--filter", "label=org.example.kind=tool", "--format", "{{.ID}}"], capture_output=True,
                              text=True, timeout=60, env={"DOCKER_HOST": host, "PATH": os.environ.get("PATH", "")})
        assert done.returncode == 0, done.stderr
    assert stop(proc) == 0


# --------------------------------------------------------------------------- validate


def test_validate_checks_every_file_and_the_field_rules(tmp_path: Path) -> None:
    source = builtin_cassette("docker-26.1")
    assert source is not None
    text = source.read_text()
    assert '"SharedSize":-1' in text
    shared = tmp_path / "shared.yaml"
    shared.write_text(text.replace('"SharedSize":-1', '"SharedSize":5', 1))  # schema-valid, rule-broken
    broken = tmp_path / "broken.yaml"
    broken.write_text("interactions: [\n")
    done = run_cli("validate", str(shared), "docker-26.1", str(broken), "no-such-cassette")
    assert done.returncode == 1, done.stderr
    assert "docker-26.1.yaml: ok, " in done.stdout
    lines = done.stderr.splitlines()
    rule = [line for line in lines if line.startswith(f"{shared}: interaction ")]
    assert len(rule) == 1 and "SharedSize is 5, expected -1" in rule[0] and "(GET /" in rule[0]
    assert any(line.startswith(f"{broken}:") and "invalid YAML" in line for line in lines)
    assert any(line.startswith("no-such-cassette:") and "docker-20.10" in line for line in lines)
    assert lines[-1] == "dockerimages validate: 3 of 4 cassettes are invalid"


def test_validate_accepts_every_builtin_cassette() -> None:
    done = run_cli("validate", *BUILTIN_CASSETTES)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok, ") == len(BUILTIN_CASSETTES)


# --------------------------------------------------------------------------- record's before_record hooks

CONFTEST = '''
import dataclasses

def pytest_dockerimages_before_record(interaction, cassette_path, config):
    assert config is None and cassette_path.name == "hooked.yaml"
    if interaction.target.endswith("/_ping"):
        return False
    return dataclasses.replace(interaction, request_headers=(("X-Seen-By", "conftest"),))
'''

PLUGIN = '''
import dataclasses

def pytest_dockerimages_before_record(interaction):
    return dataclasses.replace(interaction, request_headers=interaction.request_headers + (("X-Seen-By", "plugin"),))
'''


def test_record_applies_the_conftest_hooks(tmp_path: Path) -> None:
    conftest = tmp_path / "conftest.py"
    conftest.write_text(CONFTEST)
    out = tmp_path / "hooked.yaml"
    with FakeDaemon(profile="docker-26.1") as fake:
        done = record(fake.docker_host, out, "--conftest", str(conftest), "--no-plugins")
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "/_ping" not in text and "X-Seen-By:\n      - conftest" in text
    assert text.count("X-Seen-By") == text.count("\n- request:")


def test_record_applies_installed_plugins_hooks(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "seen_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "seen_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: seen-plugin\n"
                                                                 "Version: 1.0\n")
    (site / "seen_plugin-1.0.dist-info" / "entry_points.txt").write_text("[pytest11]\nseen = seen_plugin\n")
    (site / "seen_plugin.py").write_text(PLUGIN)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    with FakeDaemon(profile="docker-26.1") as fake:
        with_plugins = record(fake.docker_host, tmp_path / "a.yaml", env=env)
        without = record(fake.docker_host, tmp_path / "b.yaml", "--no-plugins", env=env)
    assert with_plugins.returncode == 0 and without.returncode == 0, with_plugins.stderr + without.stderr
    assert "- plugin" in (tmp_path / "a.yaml").read_text()
    assert "X-Seen-By" not in (tmp_path / "b.yaml").read_text()


def test_record_reports_a_broken_conftest_in_one_line(tmp_path: Path) -> None:
    conftest = tmp_path / "conftest.py"
    conftest.write_text("raise RuntimeError('boom')\n")
    done = record("unix:///nonexistent/docker.sock", tmp_path / "x.yaml", "--conftest", str(conftest))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert str(conftest) in done.stderr and "boom" in done.stderr


# --------------------------------------------------------------------------- record's matrix and --include-prune


def test_record_holds_history_and_df_and_changes_nothing(recorded: Path) -> None:
    cassette = Cassette.load(recorded)
    routes = [i.target.split("?")[0] for i in cassette.interactions]
    listing = json.loads(next(i.body for i in cassette.interactions if i.target == "/v1.45/images/json?all=1"))
    assert {f"/v1.45/images/{e['Id']}/history" for e in listing} <= set(routes)  # every image by id
    assert "/v1.45/images/example/loaded:app/history" in routes and "/v1.45/system/df" in routes
    assert {i.method for i in cassette.interactions} == {"GET", "HEAD"}


def test_include_prune_warns_before_anything_is_sent(tmp_path: Path) -> None:
    done = record("unix:///nonexistent/docker.sock", tmp_path / "x.yaml", "--include-prune", "--no-plugins")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    warning, _, rest = done.stderr.partition("\n")
    assert warning == ("warning: --include-prune sends POST /images/prune to unix:///nonexistent/docker.sock: "
                       "images on that daemon will be DELETED")
    assert "cannot reach the daemon" in rest


def test_include_prune_records_the_prunes_last_and_replay_shows_what_they_did(tmp_path: Path) -> None:
    out = tmp_path / "pruned.yaml"
    with FakeDaemon(images=default_images(), profile="docker-26.1") as fake:
        before = {i.id for i in fake.images}
        done = record(fake.docker_host, out, "--include-prune", "--no-plugins")
        after = {i.id for i in fake.images}
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("warning: --include-prune sends POST /images/prune to ")
    assert after < before  # the daemon recorded from lost images
    interactions = Cassette.load(out).interactions
    writes = [n for n, i in enumerate(interactions) if i.method == "POST"]
    assert [interactions[n].target.split("?")[0] for n in writes] == ["/v1.45/images/prune"] * 4
    assert writes[0] > max(n for n, i in enumerate(interactions) if "/history" in i.target or "/system/df" in i.target)
    assert interactions[writes[0]].status == 400  # a refused filter first
    for n in writes[1:]:  # each prune is followed by the listings
        assert [i.target for i in interactions[n + 1:n + 3]] == ["/v1.45/images/json", "/v1.45/images/json?all=1"]
    # replay: the listing before the prune, the prune's report, the listing after it
    replay = ReplayBackend.from_file(out)
    listed = [e["Id"] for e in json.loads(replay.handle(Request("GET", "/v1.45/images/json?all=1")).body)]
    assert set(listed) == before
    for n in writes[1:]:
        replay.handle(Request("POST", interactions[n].target))
    assert {e["Id"] for e in json.loads(replay.handle(Request("GET", "/v1.45/images/json?all=1")).body)} == after
    assert replay.misses == []
