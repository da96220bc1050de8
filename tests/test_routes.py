"""Routes a release serves but the fake does not model answer 501 naming pytest-dockerimages;
paths no handler serves keep the daemon's `404 page not found`. The table comes from moby's routers."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._core.profiles import PROFILES, get_profile
from pytest_dockerimages._core.routes import served
from pytest_dockerimages._core.routes_table import ROUTES
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._http.unixhttp import request
from pytest_dockerimages._real.fixture import skip_or_fail

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
NOT_MODELLED = "pytest-dockerimages does not model"


def answer(profile: str, method: str, target: str) -> tuple[int, dict[str, str]]:
    response = respond(ImageStore([]), get_profile(profile), Request(method, target), 0)
    return response.status, json.loads(response.body)


def test_every_profile_names_a_row_of_the_route_table() -> None:
    assert {p.router_release for p in PROFILES.values()} <= set(ROUTES)


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize(("method", "target"), [
    ("GET", "/containers/json"), ("GET", "/v1.41/containers/json?all=1"), ("GET", "/volumes"),
    ("GET", "/networks"), ("POST", "/containers/create"), ("DELETE", "/networks/bridge"), ("GET", "/services/x"),
])
def test_served_but_unmodelled_is_501_naming_the_endpoint(profile: str, method: str, target: str) -> None:
    status, body = answer(profile, method, target)
    route = target.split("?")[0].removeprefix("/v1.41")
    assert status == 501 and body["message"].startswith(f"{NOT_MODELLED} {method} {route}: ")


@pytest.mark.parametrize(("method", "target"), [
    ("GET", "/containers"), ("POST", "/containers/json"), ("GET", "/services/x/y"), ("GET", "/nothing/here"),
    ("PUT", "/images/json"),
])
def test_paths_no_daemon_serves_stay_page_not_found(method: str, target: str) -> None:
    assert answer("docker-26.1", method, target) == (404, {"message": "page not found"})


def test_the_release_decides_which_paths_are_routed() -> None:
    """moby 26 mounts its debug routes unversioned, for any method; 28 registers them as GET routes."""
    assert answer("docker-26.1", "GET", "/v1.45/debug/vars")[0] == 404
    assert answer("docker-28.1", "GET", "/v1.45/debug/vars")[0] == 501
    assert answer("docker-26.1", "POST", "/debug/vars")[0] == 501
    assert answer("docker-28.1", "POST", "/debug/vars")[0] == 404


def test_a_bad_version_on_an_unmodelled_route_is_the_version_error() -> None:
    status, body = answer("docker-26.1", "GET", "/v1.99/containers/json")
    assert status == 400 and "client version 1.99 is too new" in body["message"]


def test_bare_variables_match_one_segment_and_patterns_their_regex() -> None:
    assert served("v26.1.5", "GET", "/services/abc") and not served("v26.1.5", "GET", "/services/a/b")
    assert served("v26.1.5", "GET", "/images/a/b/c/json") and served("v26.1.5", "GET", "/images/a%2Fb/json")


def test_501_through_the_http_layer() -> None:
    with FakeDaemon(profile="docker-28.1") as daemon:
        status, headers, body = request(daemon.docker_host, "GET", "/v1.49/volumes")
        missing, _, missing_body = request(daemon.docker_host, "GET", "/v1.49/volume")
    assert status == 501 and json.loads(body)["message"].startswith(f"{NOT_MODELLED} GET /volumes: ")
    assert dict(headers)["Content-Type"] == "application/json"
    assert (missing, json.loads(missing_body)) == (404, {"message": "page not found"})


@pytest.mark.parametrize(("args", "endpoint"), [(["ps"], "GET /containers/json"),
                                                (["volume", "ls"], "GET /volumes"),
                                                (["network", "ls"], "GET /networks")])
def test_docker_cli_says_what_is_not_modelled(args: list[str], endpoint: str, tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None:
        skip_or_fail("the docker CLI is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(tmp_path)
    with FakeDaemon(profile="docker-26.1") as daemon:
        done = subprocess.run([docker, "-H", daemon.docker_host, *args], env=env, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode != 0
    assert f"Error response from daemon: {NOT_MODELLED} {endpoint}: " in done.stderr, done.stderr


def test_the_table_is_derived_from_routers_and_server_mounts(tmp_path: Path) -> None:
    """gen_routes reads `router.New*Route("...")` calls at a tag, and how server.go mounts the debug router."""
    if shutil.which("git") is None:
        skip_or_fail("git is not installed")
    repo = tmp_path / "moby"
    router = repo / "api/server/router"
    (router / "things").mkdir(parents=True)
    (router / "debug").mkdir()
    (router / "things/things.go").write_text(
        'r.routes = []router.Route{\n\trouter.NewGetRoute("/things/{id:.*}/json", r.get),\n'
        '\trouter.NewDeleteRoute("/things/{id}", r.rm, router.Experimental),\n}\n')
    (router / "things/things_test.go").write_text('router.NewGetRoute("/test-only", nil)\n')
    (router / "debug/debug.go").write_text('router.NewGetRoute("/vars", h)\n')
    (repo / "api/server/server.go").write_text('m.Path("/debug" + r.Path()).Handler(f)\n')
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "routes"], check=True)
    subprocess.run([*git, "tag", "v0.0.1"], check=True)
    sys.path.insert(0, str(SCRIPTS))
    try:
        import gen_routes
    finally:
        sys.path.remove(str(SCRIPTS))
    assert gen_routes.routes_of(repo, "v0.0.1") == [
        ("*", "/debug/vars", False), ("GET", "/things/{id:.*}/json", True), ("DELETE", "/things/{id}", True)]


def test_the_generated_module_lists_each_route_once_and_every_release_in_full() -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import gen_routes
    finally:
        sys.path.remove(str(SCRIPTS))
    a, b = ("GET", "/a", True), ("*", "/debug/b", False)
    table = {tag: [a] for tag in gen_routes.RELEASES}
    table[gen_routes.RELEASES[0]].append(b)
    namespace: dict[str, object] = {}
    source = gen_routes.render(table)
    exec(compile(source, "routes_table", "exec"), namespace)
    assert source.count("'/a'") == 1
    assert {tag: set(rows) for tag, rows in namespace["ROUTES"].items()} == {  # type: ignore[attr-defined]
        tag: set(rows) for tag, rows in table.items()}
