"""History, system df and prune: the fake, seeded with a snapshot of a real daemon, answers as that daemon.

Each variant gets a private daemon (a prune deletes images: never a shared one), seeded with the project's
image set plus a container on `example/tiny:latest`. Prunes run on both sides in the same order and the
listings after each are compared. What the fake cannot know is normalised away, each with its reason
(README, "Served endpoints"): the order of prune records (Go map order) and of images created in the same
second, container fields other than
Id/ImageID, and on the containerd store the sizes that count content blobs and the Descriptor the
snapshot does not capture.
"""
from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from pytest_dockerimages import FakeDaemon
from pytest_dockerimages._core.model import _with
from pytest_dockerimages._files.seed import Seed
from pytest_dockerimages._http import unixhttp
from pytest_dockerimages._real.harness import MissingDaemonError, RealDaemon, dockerimages_real_daemon_factory
from pytest_dockerimages._real.snapshot import take_snapshot

pytestmark = pytest.mark.realdaemon
VARIANTS = ["docker-26.1", "docker-28.5-containerd", "docker-29.7-containerd"]
PRUNES: list[dict[str, list[str]]] = [
    {"bogus": ["x"]}, {"dangling": ["maybe"]}, {"until": ["notatime"]},
    {}, {"dangling": ["false"], "label": ["org.example.kind=imported"]},
    {"dangling": ["false"], "label!": ["org.example.kind=built"]}, {"dangling": ["false"]},
]
LOOSE_ON_CONTAINERD = {"SharedSize", "LayersSize", "TotalSize", "Reclaimable", "Descriptor", "SpaceReclaimed"}


@pytest.fixture(params=VARIANTS)
def private_daemon(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    try:
        factory = dockerimages_real_daemon_factory(request.param)
        daemon = factory.__enter__()
    except MissingDaemonError as exc:
        pytest.skip(str(exc))
    try:
        body = json.dumps({"Image": "example/tiny:latest", "Cmd": ["/hello.txt"]}).encode()
        status, _, answer = unixhttp.request(daemon.docker_host, "POST", "/containers/create",
                                             headers=[("Content-Type", "application/json")], body=body)
        assert status == 201, answer
        yield daemon
    finally:
        factory.__exit__(None, None, None)


def _send(host: str, method: str, target: str) -> tuple[int, Any]:
    status, _, body = unixhttp.request(host, method, target, timeout=60)
    return status, json.loads(body)


def _normalise(value: Any, containerd: bool) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if containerd and key in LOOSE_ON_CONTAINERD:
                continue
            if key in ("Containers", "Items") and isinstance(item, list) and item and "Names" in item[0]:
                item = [{"Id": c["Id"], "ImageID": c["ImageID"]} for c in item]  # all a seed knows of one
            if key == "ContainerUsage":
                item = {k: v for k, v in item.items() if k not in ("Reclaimable", "TotalSize")}  # SizeRw
            if key == "ImagesDeleted" and item:
                item = sorted(item, key=json.dumps)  # Go map order
            if key in ("Images", "Items") and item and "SharedSize" in item[0]:
                item = sorted(item, key=lambda i: (-i["Created"], i["Id"]))  # same-second images: any order
            out[key] = _normalise(item, containerd)
        return out
    if isinstance(value, (list, tuple)):
        return [_normalise(v, containerd) for v in value]
    return value


def _first_difference(left: Any, right: Any, path: str = "") -> str | None:
    """Where two JSON values first differ (for the assertion message)."""
    if type(left) is not type(right):
        return f"{path}: {left!r:.200} != {right!r:.200}"
    if isinstance(left, dict):
        if list(left) != list(right):
            return f"{path}: keys {list(left)} != {list(right)}"
        return next((d for k in left if (d := _first_difference(left[k], right[k], f"{path}.{k}"))), None)
    if isinstance(left, (list, tuple)):
        if len(left) != len(right):
            return f"{path}: {len(left)} items != {len(right)}"
        return next((d for i, (a, b) in enumerate(zip(left, right, strict=True)) if (d := _first_difference(a, b, f"{path}[{i}]"))),
                    None)
    return None if left == right else f"{path}: {left!r} != {right!r}"


def _seed_with_containers(daemon: RealDaemon) -> Seed:
    seed = take_snapshot(daemon.docker_host).seed
    users: dict[str, list[str]] = {}
    for container in daemon.get_json("/containers/json?all=1"):
        users.setdefault(container["ImageID"], []).append(container["Id"])
    images = tuple(_with(i, containers=tuple(users[i.id])) if i.id in users else i for i in seed.images)  # type: ignore[arg-type]
    return Seed(images, seed.profile)


def test_history_df_and_prune_answer_as_the_daemon(private_daemon: RealDaemon) -> None:
    daemon = private_daemon
    containerd = daemon.store == "containerd"
    api = daemon.version["ApiVersion"]
    with FakeDaemon(seed=_seed_with_containers(daemon), profile=daemon.variant.name) as fake:
        targets = [f"/v{api}/images/{i.id}/history" for i in fake.images]
        targets += [f"/v{api}/images/{quote(name, safe='')}/history"
                    for name in ("example/tiny:1.0", "nosuch", "UPPER", "bad::name", "sha256:abc")]
        targets += [f"/v{v}/system/df{q}" for v in ("1.41", "1.44", api)
                    for q in ("", "?type=image", "?type=container&type=volume", "?type=bogus", "?verbose=1")]
        if containerd or api >= "1.48":
            targets.append(f"/v{api}/images/example/tiny:1.0/history?platform="
                           + quote('{"os":"linux","architecture":"arm64"}'))
        compared = 0
        for target in targets:
            real, ours = _send(daemon.docker_host, "GET", target), _send(fake.docker_host, "GET", target)
            assert _normalise(ours, containerd) == _normalise(real, containerd), (target, _first_difference(
                _normalise(real, containerd), _normalise(ours, containerd)))
            compared += 1
        deleted = 0
        for filters in PRUNES:
            target = f"/v{api}/images/prune?filters={quote(json.dumps(filters))}"
            real, ours = _send(daemon.docker_host, "POST", target), _send(fake.docker_host, "POST", target)
            if real[0] != 200 or "dangling=[" not in json.dumps(filters):
                assert _normalise(ours, containerd) == _normalise(real, containerd), target
            deleted += len(real[1].get("ImagesDeleted") or []) if real[0] == 200 else 0
            listing = f"/v{api}/images/json?all=1"
            real_ids = sorted((i["Id"], tuple(i["RepoTags"] or ())) for i in _send(daemon.docker_host, "GET", listing)[1])
            our_ids = sorted((i["Id"], tuple(i["RepoTags"] or ())) for i in _send(fake.docker_host, "GET", listing)[1])
            assert our_ids == real_ids, f"listing after {target}"
        assert compared >= 20 and deleted > 0  # a prune that deletes nothing proves nothing
