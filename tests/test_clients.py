"""Real clients against the fake daemon: the docker CLI, the docker SDK (low and high level), httpx.

Each client's output is checked against what the fake itself answers for the same request (the
CLI's rows are derived from that body the way the CLI formats them), plus a few facts known from
the seeded images independently of the fake.  Every /images/json body a client received is
captured on the fake's side and must validate against the strict schema of its API version.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import threading
import urllib.parse
from collections import Counter
from typing import Any, Iterator

import pytest

from pytest_dockerimages._core.daemon import split_version
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.reference import parse_normalized
from pytest_dockerimages._core.wire import Backend, Request, Response
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._files import schema
from pytest_dockerimages._http.unixhttp import request
from pytest_dockerimages._real.fixture import skip_or_fail

PROFILES = ["docker-20.10", "docker-26.1", "docker-28.1-containerd"]
NONE = "<none>"


# --------------------------------------------------------------------------- capture


class Capture:
    """Wraps the fake's backend and keeps (api version, target, parsed body) of /images/json answers."""

    def __init__(self, inner: Backend, default_version: str) -> None:
        self.inner = inner
        self.default_version = default_version
        self.bodies: list[tuple[str, str, Any]] = []
        self.inspects: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def handle(self, req: Request) -> Response:
        response = self.inner.handle(req)
        version, path = split_version(req.path)
        api = version or self.default_version
        if req.method == "GET" and response.status == 200:
            with self._lock:
                if path == "/images/json":
                    self.bodies.append((api, req.target, json.loads(response.body)))
                elif path.startswith("/images/") and path.endswith("/json"):
                    self.inspects.append((api, json.loads(response.body)))
        return response

    def reset(self) -> None:
        with self._lock:
            self.bodies.clear()
            self.inspects.clear()

    def assert_valid(self) -> None:
        """Every captured list body validates strictly; at least one was captured."""
        assert self.bodies, "no /images/json body was captured"
        for api, target, body in self.bodies:
            problems = schema.validate("images-json", api, body, strict=True)
            assert not problems, f"{target} (API {api}): {problems}"
        for api, body in self.inspects:
            problems = schema.validate("image-inspect", api, body, strict=False)
            assert not problems, f"inspect (API {api}): {problems}"

    def last(self) -> tuple[str, str, Any]:
        assert self.bodies, "the client did not list images"
        return self.bodies[-1]


@pytest.fixture(scope="module", params=PROFILES)
def served(request: pytest.FixtureRequest) -> Iterator[tuple[FakeDaemon, Capture]]:
    with FakeDaemon(images=default_images(), profile=request.param) as daemon:
        capture = Capture(daemon.server.backend, daemon.profile.api_max)
        daemon.server.backend = capture
        yield daemon, capture


@pytest.fixture
def fake(served: tuple[FakeDaemon, Capture]) -> Iterator[tuple[FakeDaemon, Capture]]:
    daemon, capture = served
    capture.reset()
    daemon.clear_requests()
    yield daemon, capture
    daemon.check_errors()


def refetch(daemon: FakeDaemon, target: str) -> Any:
    """The fake's own answer to exactly what the client sent."""
    status, _, body = request(daemon.docker_host, "GET", target)
    assert status == 200, body
    return json.loads(body)


# --------------------------------------------------------------------------- docker CLI


def _familiar_repo(ref: str) -> str:
    return parse_normalized(ref).familiar_name


def cli_rows(body: list[dict[str, Any]], *, digests: bool) -> Counter[tuple[str, str, str, str]]:
    """(repository, tag, digest, image id) rows `docker images` shows for a body (formatter/image.go)."""
    rows: Counter[tuple[str, str, str, str]] = Counter()
    for image in body:
        tags = image.get("RepoTags") or []
        repo_digests = image.get("RepoDigests") or []
        if (not tags and not repo_digests) or (tags == ["<none>:<none>"] and repo_digests == ["<none>@<none>"]):
            rows[(NONE, NONE, NONE, image["Id"])] += 1
            continue
        by_repo_tags: dict[str, list[str]] = {}
        by_repo_digests: dict[str, list[str]] = {}
        for ref in tags:
            parsed = parse_normalized(ref) if ref != "<none>:<none>" else None
            if parsed is not None and parsed.tag is not None:
                by_repo_tags.setdefault(parsed.familiar_name, []).append(parsed.tag)
        for ref in repo_digests:
            parsed = parse_normalized(ref) if ref != "<none>@<none>" else None
            if parsed is not None and parsed.digest is not None:
                by_repo_digests.setdefault(parsed.familiar_name, []).append(parsed.digest)
        for repo, repo_tags in by_repo_tags.items():
            found = by_repo_digests.pop(repo, []) if digests else (by_repo_digests.pop(repo, None) and [])
            for tag in repo_tags:
                for digest in found or [NONE]:
                    rows[(repo, tag, digest, image["Id"])] += 1
        for repo, found in by_repo_digests.items():
            for digest in (found if digests else [""]):
                rows[(repo, NONE, digest, image["Id"])] += 1
    return rows


@pytest.fixture(scope="module")
def docker_cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Path of the docker CLI and an environment with a private, empty DOCKER_CONFIG."""
    path = shutil.which("docker")
    if path is None:
        skip_or_fail("the docker CLI is not installed (https://docs.docker.com/engine/install/)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(tmp_path_factory.mktemp("docker-config"))
    return {"path": str(path), **{f"env:{k}": v for k, v in env.items()}}


def run_cli(cli: dict[str, str], daemon: FakeDaemon, *args: str) -> list[dict[str, Any]]:
    env = {k[4:]: v for k, v in cli.items() if k.startswith("env:")}
    env["DOCKER_HOST"] = daemon.docker_host
    done = subprocess.run([cli["path"], "images", *args, "--format", "{{json .}}"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


CLI_CASES = [
    ([], {}),
    (["-a"], {}),
    (["--filter", "dangling=true"], {"dangling": ["true"]}),
    (["--filter", "dangling=false"], {"dangling": ["false"]}),
    (["--filter", "label=tier"], {"label": ["tier"]}),
    (["--filter", "label=tier=app"], {"label": ["tier=app"]}),
    (["--filter", "label=org.example.kind=base", "--filter", "label=tier"],
     {"label": ["org.example.kind=base", "tier"]}),
    (["--filter", "reference=example/*"], {"reference": ["example/*"]}),
    (["--filter", "reference=tool"], {"reference": ["tool"]}),
    (["--filter", "before=tool:latest"], {"before": ["tool:latest"]}),
    (["--filter", "since=example/base:1.0"], {"since": ["example/base:1.0"]}),
    (["--digests"], {}),
    (["--no-trunc"], {}),
    (["-a", "--digests", "--no-trunc", "--filter", "label=tier"], {"label": ["tier"]}),
]


@pytest.mark.dockercli
@pytest.mark.parametrize("args,filters", CLI_CASES, ids=[" ".join(a) or "plain" for a, _ in CLI_CASES])
def test_docker_cli_images(fake: tuple[FakeDaemon, Capture], docker_cli: dict[str, str],
                           args: list[str], filters: dict[str, list[str]]) -> None:
    daemon, capture = fake
    shown = run_cli(docker_cli, daemon, *args)
    listing = [r for r in daemon.requests if r.path == "/images/json"]
    assert len(listing) == 1
    assert listing[0].filters == filters
    assert ("all" in listing[0].query) == ("-a" in args)
    _, target, body = capture.last()
    assert refetch(daemon, target) == body
    digests, no_trunc = "--digests" in args, "--no-trunc" in args
    expected = cli_rows(body, digests=digests)
    got: Counter[tuple[str, str, str, str]] = Counter()
    ids = {image["Id"][7:19]: image["Id"] for image in body}
    for row in shown:
        full_id = row["ID"] if no_trunc else ids[row["ID"]]
        got[(row["Repository"], row["Tag"], row["Digest"], full_id)] += 1
        if no_trunc:
            assert row["ID"].startswith("sha256:") and len(row["ID"]) == 71
        else:
            assert len(row["ID"]) == 12
    assert got == expected
    capture.assert_valid()


@pytest.mark.dockercli
def test_docker_cli_independent_facts(fake: tuple[FakeDaemon, Capture], docker_cli: dict[str, str]) -> None:
    """Facts about default_images() that do not come from the fake's own answer."""
    daemon, capture = fake
    seeded = default_images()
    tagged_repos = {t.familiar_name for i in seeded for t in i.tags}
    plain = run_cli(docker_cli, daemon)
    assert {r["Repository"] for r in plain} - {NONE} >= tagged_repos
    assert {(r["Repository"], r["Tag"]) for r in plain} >= {(t.familiar_name, t.tag) for i in seeded for t in i.tags}
    dangling = run_cli(docker_cli, daemon, "--filter", "dangling=true")
    assert dangling and all(r["Tag"] == NONE for r in dangling)  # digest-only images count as dangling
    app = run_cli(docker_cli, daemon, "--filter", "label=tier=app")
    assert "tool" not in {r["Repository"] for r in app} and "example/app" in {r["Repository"] for r in app}
    refs = run_cli(docker_cli, daemon, "--filter", "reference=example/*")
    assert {r["Repository"] for r in refs} == {"example/base", "example/app"}
    before = run_cli(docker_cli, daemon, "--filter", "before=tool:latest")
    assert "tool" not in {r["Repository"] for r in before} and before
    since = run_cli(docker_cli, daemon, "--filter", "since=example/base:1.0")
    assert {r["Repository"] for r in since} >= {"tool", "example/app"}
    assert "example/base" not in {r["Repository"] for r in since}
    everything = run_cli(docker_cli, daemon, "-a")
    assert {r["ID"] for r in everything} == {i.id[7:19] for i in seeded}
    capture.assert_valid()


# --------------------------------------------------------------------------- docker SDK


@pytest.fixture(scope="module")
def docker_sdk() -> Any:
    if importlib.util.find_spec("docker") is None:
        skip_or_fail("the docker SDK for Python is not installed (pip install docker)")
    import docker

    return docker


SDK_CASES: list[tuple[dict[str, Any], dict[str, list[str]]]] = [
    ({}, {}),
    ({"all": True}, {}),
    ({"quiet": True}, {}),
    ({"name": "example/base"}, {"reference": ["example/base"]}),
    ({"filters": {"dangling": True}}, {"dangling": ["true"]}),
    ({"filters": {"dangling": False}}, {"dangling": ["false"]}),
    ({"filters": {"label": "tier"}}, {"label": ["tier"]}),
    ({"filters": {"label": ["tier=app", "maintainer"]}}, {"label": ["maintainer", "tier=app"]}),
    ({"filters": {"reference": "example/*"}}, {"reference": ["example/*"]}),
    ({"filters": {"before": "tool:latest"}}, {"before": ["tool:latest"]}),
    ({"filters": {"since": "example/base:1.0"}}, {"since": ["example/base:1.0"]}),
    ({"filters": {"until": "2024-06-01T00:00:00Z"}}, {"until": ["2024-06-01T00:00:00Z"]}),
    ({"all": True, "filters": {"label": "org.example.kind=base"}}, {"label": ["org.example.kind=base"]}),
]


@pytest.mark.parametrize("kwargs,filters", SDK_CASES, ids=[json.dumps(k, sort_keys=True) for k, _ in SDK_CASES])
def test_docker_sdk_api_client_images(fake: tuple[FakeDaemon, Capture], docker_sdk: Any,
                                      kwargs: dict[str, Any], filters: dict[str, list[str]]) -> None:
    daemon, capture = fake
    unsupported = sorted(set(filters) - set(daemon.profile.filter_keys))
    client = docker_sdk.APIClient(base_url=daemon.docker_host, version="auto", timeout=30)
    try:
        assert client.api_version == daemon.profile.api_max
        if unsupported:  # this daemon release refuses the key, and the SDK surfaces that
            with pytest.raises(docker_sdk.errors.APIError, match="nvalid filter") as info:
                client.images(**kwargs)
            assert info.value.status_code == 400
            assert daemon.requests[-1].filters == filters
            return
        result = client.images(**kwargs)
    finally:
        client.close()
    logged = [r for r in daemon.requests if r.path == "/images/json"][-1]
    assert logged.filters == filters and logged.api_version == daemon.profile.api_max
    _, target, body = capture.last()
    assert refetch(daemon, target) == body
    if kwargs.get("quiet"):
        assert result == [image["Id"] for image in body]
    else:
        assert result == body
    capture.assert_valid()


def test_docker_sdk_filters_select_the_right_images(fake: tuple[FakeDaemon, Capture], docker_sdk: Any) -> None:
    daemon, capture = fake
    seeded = {i.id: i for i in default_images()}
    client = docker_sdk.APIClient(base_url=daemon.docker_host, version="auto", timeout=30)
    try:
        everything = client.images(all=True)
        labelled = client.images(filters={"label": "tier=app"})
        refs = client.images(name="example/base")
    finally:
        client.close()
    assert {i["Id"] for i in everything} == set(seeded)
    assert labelled and all(seeded[i["Id"]].labels and seeded[i["Id"]].labels["tier"] == "app" for i in labelled)
    assert [i["Id"] for i in refs] == [i.id for i in seeded.values() if any(
        t.familiar_name == "example/base" for t in i.tags)]
    capture.assert_valid()


def test_docker_sdk_high_level_list_inspects_each_image(fake: tuple[FakeDaemon, Capture], docker_sdk: Any) -> None:
    daemon, capture = fake
    client = docker_sdk.DockerClient(base_url=daemon.docker_host, version="auto", timeout=30)
    try:
        images = client.images.list()
        tagged = client.images.list(name="example/app")
        dangling = client.images.list(filters={"dangling": True})
        everything = client.images.list(all=True)
    finally:
        client.close()
    inspected = {r.path for r in daemon.requests if r.path.startswith("/images/") and r.path != "/images/json"}
    assert {f"/images/{i.id}/json" for i in everything} <= inspected
    _, _, body = capture.bodies[0]
    assert sorted(i.id for i in images) == sorted(e["Id"] for e in body)
    assert [sorted(i.tags) for i in tagged] == [["example/app:1.2.3", "localhost:5000/example/app:1.2.3"]]
    assert dangling and all(i.tags == [] for i in dangling)
    assert {i.id for i in everything} == {i.id for i in default_images()}
    capture.assert_valid()


def test_docker_from_env_through_dockerimages_host(dockerimages_fake: FakeDaemon, dockerimages_host: str,
                                                   docker_sdk: Any) -> None:
    for profile in PROFILES:
        dockerimages_fake.reset(images=default_images(), profile=profile)
        capture = Capture(dockerimages_fake.server.backend, dockerimages_fake.profile.api_max)
        dockerimages_fake.server.backend = capture
        client = docker_sdk.from_env()
        try:
            listed = client.images.list(all=True)
            assert client.api.api_version == dockerimages_fake.profile.api_max
        finally:
            client.close()
        assert {i.id for i in listed} == {i.id for i in default_images()}
        assert dockerimages_fake.requests[0].method in ("GET", "HEAD")
        capture.assert_valid()


# --------------------------------------------------------------------------- httpx


@pytest.mark.parametrize("query", [
    "", "?all=1", "?filters=" + urllib.parse.quote('{"dangling":["true"]}'),
    "?filters=" + urllib.parse.quote('{"label":{"tier":true}}'),
    "?filters=" + urllib.parse.quote('{"reference":["example/*"]}') + "&shared-size=1",
])
def test_httpx_over_the_unix_socket(fake: tuple[FakeDaemon, Capture], query: str) -> None:
    if importlib.util.find_spec("httpx") is None:
        skip_or_fail("httpx is not installed (pip install httpx)")
    import httpx

    daemon, capture = fake
    socket_path = daemon.docker_host[len("unix://"):]
    api = daemon.profile.api_max
    with httpx.Client(transport=httpx.HTTPTransport(uds=socket_path), base_url="http://docker") as client:
        response = client.get(f"/v{api}/images/json{query}")
        unversioned = client.get(f"/images/json{query}")
    assert response.status_code == 200 and response.headers["api-version"] == api
    assert response.json() == refetch(daemon, f"/v{api}/images/json{query}") == unversioned.json()
    assert len(capture.bodies) == 3
    capture.assert_valid()


def test_capture_detects_an_invalid_body() -> None:
    """The schema check in these tests can fail: a body with an unknown field is refused."""
    capture = Capture(lambda: None, "1.45")  # type: ignore[arg-type]
    body = [{"Id": "sha256:" + "0" * 64, "NotAField": 1}]
    capture.bodies.append(("1.45", "/images/json", body))
    with pytest.raises(AssertionError):
        capture.assert_valid()


def test_cli_rows_formatting_rules() -> None:
    """The CLI row model used above, on a hand-made body."""
    body = [
        {"Id": "sha256:" + "a" * 64, "RepoTags": ["x:1", "x:2"], "RepoDigests": ["x@sha256:" + "d" * 64]},
        {"Id": "sha256:" + "b" * 64, "RepoTags": [], "RepoDigests": ["y@sha256:" + "e" * 64]},
        {"Id": "sha256:" + "c" * 64, "RepoTags": None, "RepoDigests": None},
    ]
    plain = cli_rows(body, digests=False)
    assert sorted(plain) == sorted([("x", "1", NONE, body[0]["Id"]), ("x", "2", NONE, body[0]["Id"]),
                                    ("y", NONE, "", body[1]["Id"]), (NONE, NONE, NONE, body[2]["Id"])])
    with_digests = cli_rows(body, digests=True)
    assert ("x", "1", "sha256:" + "d" * 64, body[0]["Id"]) in with_digests
    assert ("y", NONE, "sha256:" + "e" * 64, body[1]["Id"]) in with_digests
