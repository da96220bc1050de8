"""Replay the shipped cassettes to real clients with no daemon running: the docker CLI and the
docker SDK for Python see exactly the recorded answers, and an unrecorded request fails the test
with a message that says what to do."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from pytest_dockerimages._cassettes.cassette import load
from pytest_dockerimages._cassettes.format import Interaction
from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._files.resources import data_dir
from pytest_dockerimages._http.server import Server
from pytest_dockerimages._real.fixture import skip_or_fail
from pytest_dockerimages._real.matrix import (
    CLI_COMMANDS,
    DF_IMAGES_FMT,
    FMT,
    HISTORY_FMT,
    SDK_CALLS,
    images_json,
)

NAMES = ("docker-20.10", "docker-26.1", "docker-26.1-containerd")

#: what each listing command of matrix.CLI_COMMANDS asks the daemon, in the CLI's own form
CLI_EQUIVALENT: dict[tuple[str, ...], dict[str, Any]] = {
    ("images", "--no-trunc", "--format", FMT): {},
    ("images", "-a", "--no-trunc", "--format", FMT): {"all": 1},
    ("images", "-q", "--no-trunc"): {},
    ("images", "-q", "--no-trunc", "--filter", "dangling=true"): {"filters": {"dangling": {"true": True}}},
    ("images", "-q", "--no-trunc", "--filter", "label=org.example.kind=built"):
        {"filters": {"label": {"org.example.kind=built": True}}},
    ("images", "-q", "--no-trunc", "--filter", "reference=example/*"): {"filters": {"reference": {"example/*": True}}},
    ("images", "-q", "--no-trunc", "--filter", "before=example/tiny:1.0"):
        {"filters": {"before": {"example/tiny:1.0": True}}},
    ("images", "-q", "--no-trunc", "example/loaded"): {"filters": {"reference": {"example/loaded": True}}},
}

#: the other commands of matrix.CLI_COMMANDS: the route each reads (under /v{api})
CLI_READS: dict[tuple[str, ...], str] = {
    ("image", "history", "--no-trunc", "--format", HISTORY_FMT, "example/loaded:app"):
        "/images/example/loaded:app/history",
    ("image", "history", "--no-trunc", "--format", HISTORY_FMT, "example/built:1"): "/images/example/built:1/history",
    ("system", "df"): "/system/df",
    ("system", "df", "-v", "--format", DF_IMAGES_FMT): "/system/df",
}


def _listing(**params: Any) -> Callable[[str], str]:
    return lambda api: images_json(f"/v{api}", **params)


#: what each call of matrix.SDK_CALLS asks the daemon: (name, kwargs as JSON) -> target at an API version
SDK_EQUIVALENT: dict[tuple[str, str], Callable[[str], str]] = {
    ("images", "{}"): _listing(),
    ("images", '{"all": true}'): _listing(all=1),
    ("images", '{"quiet": true}'): _listing(),
    ("images", '{"filters": {"dangling": true}}'): _listing(filters={"dangling": {"true": True}}),
    ("images", '{"filters": {"label": "org.example.kind=built"}}'):
        _listing(filters={"label": {"org.example.kind=built": True}}),
    ("images", '{"name": "example/loaded"}'): _listing(filters={"reference": {"example/loaded": True}}),
    ("history", '{"image": "example/loaded:app"}'): lambda api: f"/v{api}/images/example/loaded:app/history",
    ("df", "{}"): lambda api: f"/v{api}/system/df",
}


def docker_sdk() -> Any:
    """The docker SDK for Python: skipped when missing, a failure under CI."""
    try:
        import docker
    except ImportError:
        skip_or_fail("the docker SDK for Python is not installed (pip install -e .[test])")
    return docker


def installed_clis() -> list[str]:
    """/usr/local/bin/docker first, then Debian's /usr/bin/docker (each was recorded into the cassettes)."""
    found: dict[str, str] = {}
    for candidate in ("/usr/local/bin/docker", "/usr/bin/docker", shutil.which("docker")):
        if candidate and os.access(candidate, os.X_OK):
            found.setdefault(os.path.realpath(candidate), candidate)
    return list(found.values())


def docker_cli() -> str:
    clis = installed_clis()
    if not clis:
        skip_or_fail("the docker CLI is not installed (/usr/local/bin/docker or docker on PATH)")
    return clis[0]


@pytest.fixture(params=NAMES)
def replay(request: pytest.FixtureRequest) -> Iterator[tuple[ReplayBackend, Server]]:
    backend = ReplayBackend.from_file(data_dir("cassettes") / f"{request.param}.yaml")
    with Server(backend) as server:
        yield backend, server
    assert not server.errors


def recorded(backend: ReplayBackend, api: str | None = None, **params: Any) -> Interaction:
    """The interaction the cassette holds for the CLI form of a listing (first of its key)."""
    return recorded_at(backend, images_json(f"/v{api or backend.cassette.api_version}", **params))


def recorded_at(backend: ReplayBackend, target: str, method: str = "GET", epoch: int = 0) -> Interaction:
    """The first interaction the cassette holds for a request in an epoch (0: before any prune)."""
    found = backend.cassette.timeline().get(backend.cassette.key_of(method, target))
    assert found, f"cassette lacks {method} {target}"
    in_epoch = [interaction for at, interaction in found if at == epoch]
    assert in_epoch, f"cassette lacks {method} {target} in epoch {epoch}"
    return in_epoch[0]


def cli_env(docker_host: str, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=docker_host, DOCKER_CONFIG=str(config), DOCKER_CLI_HINTS="false")
    return env


def test_cli_commands_are_all_covered() -> None:
    assert set(CLI_EQUIVALENT) | set(CLI_READS) == set(CLI_COMMANDS)
    assert set(SDK_EQUIVALENT) == {(name, json.dumps(kwargs)) for name, kwargs in SDK_CALLS}


@pytest.mark.dockercli
@pytest.mark.parametrize("args", CLI_COMMANDS, ids=lambda a: " ".join(a[1:]).replace(FMT, "FMT"))
def test_docker_cli_sees_recorded_bodies(replay: tuple[ReplayBackend, Server], args: tuple[str, ...],
                                         tmp_path: Path) -> None:
    backend, server = replay
    docker_cli()  # skip (or fail under CI) without any
    for cli in installed_clis():
        server.backend = fresh = ReplayBackend(backend.cassette)
        proc = subprocess.run([cli, *args], env=cli_env(server.docker_host, tmp_path), capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"{cli}: {proc.stderr}"
        assert fresh.misses == []
        api = fresh.played[-1].target.split("/")[1][1:]  # the version this CLI negotiated
        check_cli_output(fresh, api, args, proc.stdout)


def check_cli_output(backend: ReplayBackend, api: str, args: tuple[str, ...], stdout: str) -> None:
    if args in CLI_READS:
        body = json.loads(recorded_at(backend, f"/v{api}{CLI_READS[args]}").body)
        check_cli_read(args, body, stdout)
        return
    body = json.loads(recorded(backend, api, **CLI_EQUIVALENT[args]).body)
    lines = stdout.splitlines()
    assert {line.split()[0] for line in lines} == {entry["Id"] for entry in body}
    if "--format" in args:
        shown = {line.split()[1] for line in lines}
        for entry in body:
            for tag in entry.get("RepoTags") or []:
                if tag != "<none>:<none>" and "@" not in tag:  # containerd lists digest-only refs as tags
                    assert tag in shown


def check_cli_read(args: tuple[str, ...], body: Any, stdout: str) -> None:
    """What `docker image history` and `docker system df [-v]` printed from the recorded answer."""
    rows = [line.split() for line in stdout.splitlines() if line.strip()]
    if args[0] == "image":  # ID CreatedAt Size CreatedBy..., newest first
        assert [row[0] for row in rows] == [entry["Id"] for entry in body]
    elif "-v" in args:  # ID Containers Size SharedSize UniqueSize, one row per image
        assert {row[0]: int(row[1]) for row in rows} == {e["Id"]: e["Containers"] for e in body["Images"]}
    else:  # TYPE TOTAL ACTIVE SIZE RECLAIMABLE
        images = next(row for row in rows if row[0] == "Images")
        active = sum(1 for e in body["Images"] if e["Containers"] > 0)
        assert images[1:3] == [str(len(body["Images"])), str(active)]


def test_docker_sdk_sees_recorded_bodies(replay: tuple[ReplayBackend, Server]) -> None:
    docker = docker_sdk()
    backend, server = replay
    for name, kwargs in SDK_CALLS:
        client = docker.APIClient(base_url=server.docker_host, version="auto", timeout=30)
        fresh = ReplayBackend(backend.cassette)  # first answer of each key, as `recorded_at` reads it
        server.backend = fresh
        try:
            result = getattr(client, name)(**kwargs)
        finally:
            client.close()
        assert fresh.misses == []
        target = SDK_EQUIVALENT[(name, json.dumps(kwargs))](str(backend.cassette.api_version))
        body = json.loads(recorded_at(fresh, target).body)
        if kwargs.get("quiet"):
            assert result == [entry["Id"] for entry in body]
        else:
            assert result == body
        assert client.api_version == backend.cassette.api_version


def test_docker_sdk_version_and_ping(replay: tuple[ReplayBackend, Server]) -> None:
    docker = docker_sdk()
    backend, server = replay
    client = docker.APIClient(base_url=server.docker_host, version="auto", timeout=30)
    try:
        assert client.ping() is True
        version = client.version()
    finally:
        client.close()
    assert version["Version"] == backend.cassette.metadata["daemon"]["Version"]
    assert backend.misses == []


def test_inspect_every_image(replay: tuple[ReplayBackend, Server]) -> None:
    docker = docker_sdk()
    backend, server = replay
    listing = json.loads(recorded(backend, all=1).body)
    client = docker.APIClient(base_url=server.docker_host, version="auto", timeout=30)
    try:
        for entry in listing:
            assert client.inspect_image(entry["Id"])["Id"] == entry["Id"]
    finally:
        client.close()
    assert backend.misses == []


@pytest.mark.dockercli
def test_unrecorded_request_fails_the_test_with_a_useful_message(pytester: pytest.Pytester) -> None:
    cli = docker_cli()
    pytester.makepyfile(test_casclients=textwrap.dedent(f"""
        import os, subprocess, pytest

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_cli(dockerimages_cassette, tmp_path):
            env = dict(os.environ, DOCKER_HOST=dockerimages_cassette.docker_host, DOCKER_CONFIG=str(tmp_path))
            proc = subprocess.run([{cli!r}, "images", "--filter", "label=never-recorded"], env=env,
                                  capture_output=True, text=True)
            print("CLI said:", proc.stderr)

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_sdk(dockerimages_cassette):
            import docker
            client = docker.APIClient(base_url=dockerimages_cassette.docker_host, version="auto")
            client.images(filters={{"label": "never-recorded"}})
    """))
    # A subprocess: in-process, pytester would drop the modules the inner test imports (the docker SDK,
    # requests, http.cookiejar) from sys.modules afterwards, while the `http` package keeps its
    # `cookiejar` attribute; a later import of requests in this process then meets two copies of
    # http.cookiejar ("You can only merge into CookieJar"). Whether this test met that depended on
    # which tests an xdist worker ran before it.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    # the request as the client sent it, what it was matched as, the nearest recordings, the fix
    assert "/v1.45/images/json?filters=%7B%22label%22%3A%7B%22never-recorded%22%3Atrue%7D%7D" in out
    assert "/v1.45/images/json?only_ids=0&all=0&filters=" in out
    assert 'matched as: GET /v1.45/images/json all=False filters={"label":["never-recorded"]}' in out
    assert "nearest recorded:" in out and 'filters={"label":["org.example.kind=built"]}' in out
    assert "--dockerimages-record-mode=once" in out and "instead of the built-in 'docker-26.1'" in out
    assert "no recorded interaction in" in out  # what the CLI printed from the 500


def test_cassette_load_is_cached_and_fast() -> None:
    path = data_dir("cassettes") / "docker-26.1.yaml"
    assert load(path) is load(path)


# --------------------------------------------------------------------------- history, df and prune

#: cassettes whose replay the prune tests run: both image stores, the oldest and the newest API
PRUNE_NAMES = ("docker-20.10", "docker-26.1", "docker-29.7-containerd")
LISTING = ("images", "-a", "--no-trunc", "--format", FMT)


def _cassette(name: str) -> Path:
    return data_dir("cassettes") / f"{name}.yaml"


def _run(cli: str, docker_host: str, config: Path) -> Callable[..., str]:
    def run(*args: str) -> str:
        proc = subprocess.run([cli, *args], env=cli_env(docker_host, config), capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
        return proc.stdout
    return run


def _deleted(report: dict[str, Any]) -> set[str]:
    return {entry["Deleted"] for entry in report["ImagesDeleted"] or () if "Deleted" in entry}


@pytest.mark.dockercli
@pytest.mark.parametrize("name", PRUNE_NAMES)
def test_docker_cli_history_df_and_prune_against_a_builtin_cassette(name: str, tmp_path: Path) -> None:
    """`docker system df -v`, `docker image history`, `docker image prune -f` and `... -a -f --filter label=`:
    each prints the recorded answer, and the listing after the prunes is the one recorded after them."""
    backend = ReplayBackend.from_file(_cassette(name))
    with Server(backend) as server:
        run = _run(docker_cli(), server.docker_host, tmp_path)
        verbose = run("system", "df", "-v")
        history = run("image", "history", "--no-trunc", "example/loaded:app")
        before = {line.split()[0] for line in run(*LISTING).splitlines()}
        dangling = run("image", "prune", "-f")
        labelled = run("image", "prune", "-a", "-f", "--filter", "label=org.example.kind=imported")
        after = {line.split()[0] for line in run(*LISTING).splitlines()}
    assert backend.misses == [] and not server.errors
    api = backend.played[-1].target.split("/")[1][1:]  # the version the CLI negotiated
    usage = json.loads(recorded_at(backend, f"/v{api}/system/df").body)
    assert all(image["Id"][7:19] in verbose for image in usage["Images"])
    steps = json.loads(recorded_at(backend, f"/v{api}/images/example/loaded:app/history").body)
    assert [line.split()[0] for line in history.splitlines()[1:]] == [step["Id"] for step in steps]
    prunes = [json.loads(i.body) for i in backend.played if i.method == "POST"]
    for out, report in zip((dangling, labelled), prunes, strict=True):
        for entry in report["ImagesDeleted"] or ():
            assert all(f"{kind.lower()}: {ref}" in out for kind, ref in entry.items())
    assert "example/tiny:1.0" in labelled  # untagged by the label prune
    gone = _deleted(prunes[1]) & before
    # the listing recorded after the label prune: the SDK's prunes, recorded before the CLI's, show there too
    recorded_after = json.loads(backend.played[-1].body)
    assert gone and after == {entry["Id"] for entry in recorded_after} and after < before - gone


@pytest.mark.parametrize("name", PRUNE_NAMES)
def test_docker_sdk_history_df_and_prune_against_a_builtin_cassette(name: str) -> None:
    """Image.history(), client.df() and client.images.prune() get the recorded answers, and the
    listing after the prune is the one recorded after it."""
    docker = docker_sdk()
    backend = ReplayBackend.from_file(_cassette(name))
    with Server(backend) as server:
        client = docker.DockerClient(base_url=server.docker_host, version="auto", timeout=30)
        try:
            image = next(i for i in client.images.list(name="example/loaded") if "example/loaded:app" in i.tags)
            history = image.history()
            usage = client.df()
            before = {i.id for i in client.images.list(all=True)}
            report = client.images.prune()
            after = {i.id for i in client.images.list(all=True)}
        finally:
            client.close()
    assert backend.misses == [] and not server.errors
    api = backend.cassette.api_version
    assert history == json.loads(recorded_at(backend, f"/v{api}/images/{image.id}/history").body)
    assert usage == json.loads(recorded_at(backend, f"/v{api}/system/df").body)
    assert report == json.loads(recorded_at(backend, f"/v{api}/images/prune", "POST").body)
    gone = _deleted(report) & before
    assert gone and after == before - gone


@pytest.mark.dockercli
def test_an_unrecorded_prune_is_carried_out_by_the_fallback(tmp_path: Path) -> None:
    """With fallback the fake carries out a prune the cassette lacks; the listings after it show it."""
    backend = ReplayBackend.from_file(_cassette("docker-26.1"), fallback=True)
    with Server(backend) as server:
        run = _run(docker_cli(), server.docker_host, tmp_path)
        listed = run(*LISTING)
        out = run("image", "prune", "-a", "-f", "--filter", "label=a=b")  # never recorded
        after = {line.split()[0] for line in run(*LISTING).splitlines()}
    before = [line.split()[:2] for line in listed.splitlines()]
    played = [(i.method, i.target) for i in backend.played] + [("fallback", h.target) for h in backend.fallback_hits]
    assert backend.misses == [] and len(backend.fallback_hits) >= 2 and not server.errors, played
    tiny = {image_id for image_id, ref in before if ref.startswith("example/tiny:")}
    assert "untagged: example/tiny:1.0" in out and tiny and not tiny & after, (listed, played)
    assert after == {image_id for image_id, _ in before} - tiny


def test_an_unrecorded_sdk_prune_is_carried_out_by_the_fallback() -> None:
    docker = docker_sdk()
    backend = ReplayBackend.from_file(_cassette("docker-29.7-containerd"), fallback=True)
    with Server(backend) as server:
        client = docker.DockerClient(base_url=server.docker_host, version="auto", timeout=30)
        try:
            before = {i.id for i in client.images.list(all=True)}
            report = client.images.prune(filters={"label": "org.example.kind=built"})  # never recorded
            after = {i.id for i in client.images.list(all=True)}
        finally:
            client.close()
    assert backend.misses == [] and backend.fallback_hits and not server.errors
    gone = _deleted(report) & before
    assert gone and after == before - gone
