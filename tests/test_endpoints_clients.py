"""The docker CLI and the docker SDK for Python on image history, system df and image prune against the fake."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from pytest_dockerimages import FakeDaemon, Image

L1, L2, L3 = ("sha256:" + c * 64 for c in "123")
BASE = Image(tags=["shop/base:1"], created="2024-01-01T00:00:00Z", labels={"tier": "base"},
             layers=[{"digest": L1, "size": 1000}],
             history=[{"created": "2024-01-01T00:00:00Z", "created_by": "ADD rootfs.tar /", "size": 1000}])
APP = Image(tags=["shop/app:2"], parent=BASE.id, created="2024-02-01T00:00:00Z", labels={"tier": "app"},
            layers=[{"digest": L1, "size": 1000}, {"digest": L2, "size": 200}], containers=["c" * 64],
            history=[*BASE.to_dict()["history"], {"created": "2024-02-01T00:00:00Z", "created_by": "COPY app /app",
                                                  "comment": "built", "size": 200}])
OLD = Image(created="2024-03-01T00:00:00Z", labels={"tier": "app"}, layers=[{"digest": L3, "size": 30}])
IMAGES = [BASE, APP, OLD]


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so not skipping: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(params=["docker-26.1", "docker-29.7-containerd"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeDaemon]:
    with FakeDaemon(images=IMAGES, profile=request.param) as daemon:
        yield daemon


@pytest.fixture
def cli(fake: FakeDaemon, tmp_path: Path) -> Any:
    path = shutil.which("docker")
    if path is None:
        skip_or_fail("the docker CLI is not installed (https://docs.docker.com/engine/install/)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=fake.docker_host, DOCKER_CONFIG=str(tmp_path))

    def run(*args: str) -> str:
        done = subprocess.run([str(path), *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout
    return run


@pytest.fixture
def sdk(fake: FakeDaemon) -> Any:
    try:
        import docker
    except ImportError:
        skip_or_fail("the docker SDK for Python is not installed (pip install docker)")
    return docker.DockerClient(base_url=fake.docker_host)


@pytest.mark.dockercli
def test_cli_image_history(cli: Any) -> None:
    rows = [json.loads(line) for line in cli("image", "history", "--no-trunc", "--format", "{{json .}}",
                                             "shop/app:2").splitlines()]
    assert [(r["ID"], r["CreatedBy"], r["Size"], r["Comment"]) for r in rows] == [
        (APP.id, "COPY app /app", "200B", "built"), (BASE.id, "ADD rootfs.tar /", "1kB", "")]


@pytest.mark.dockercli
def test_cli_system_df(cli: Any) -> None:
    rows = {r["Type"]: r for r in map(json.loads, cli("system", "df", "--format", "{{json .}}").splitlines())}
    assert (rows["Images"]["TotalCount"], rows["Images"]["Active"]) == ("3", "1")
    assert rows["Containers"]["TotalCount"] == "1"
    verbose = cli("system", "df", "-v")
    assert "shop/app" in verbose and "c" * 12 in verbose


@pytest.mark.dockercli
def test_cli_image_prune(cli: Any, fake: FakeDaemon) -> None:
    out = cli("image", "prune", "-f")
    assert f"deleted: {OLD.id}" in out and {i.id for i in fake.images} == {BASE.id, APP.id}
    out = cli("image", "prune", "-a", "-f", "--filter", "label=tier=base")
    # base:1 is the parent of an image a container uses: it loses its tag and stays (graphdriver), or
    # its only name is removed and the image goes (containerd)
    assert "untagged: shop/base:1" in out
    assert [r.path for r in fake.requests if r.method == "POST"] == ["/images/prune", "/images/prune"]
    assert fake.requests[-1].filters == {"dangling": ["false"], "label": ["tier=base"]}


def test_sdk_history_df_and_prune(sdk: Any, fake: FakeDaemon) -> None:
    history = sdk.images.get("shop/app:2").history()
    assert [(h["Id"], h["Tags"]) for h in history] == [(APP.id, ["shop/app:2"]), (BASE.id, ["shop/base:1"])]
    usage = sdk.df()
    assert {i["Id"]: (i["SharedSize"], i["Containers"]) for i in usage["Images"]} == {
        BASE.id: (1000, 0), APP.id: (1000, 1), OLD.id: (0, 0)}
    report = sdk.images.prune(filters={"dangling": True})
    assert {"Deleted": OLD.id} in report["ImagesDeleted"] and report["SpaceReclaimed"] == 30
    assert OLD.id not in {i.id for i in sdk.images.list(all=True)}
