"""GET /system/df: one row per daemon behaviour (the system router and disk_usage.go at each profile's tag;
the layouts as the nine real daemons answered them)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.wire import Request

L1, L2, L3 = ("sha256:" + c * 64 for c in "123")
BASE = Image(tags=["base:1"], created="2024-01-01T00:00:00Z", layers=[{"digest": L1, "size": 100}])
CHILD = Image(tags=["app:1"], parent=BASE.id, created="2024-02-01T00:00:00Z", containers=["c" * 64],
              layers=[{"digest": L1, "size": 100}, {"digest": L2, "size": 20}])
OTHER = Image(created="2024-03-01T00:00:00Z", layers=[{"digest": L1, "size": 100}, {"digest": L3, "size": 7}])
STORE = ImageStore([BASE, CHILD, OTHER])


def df(profile: str, version: str, query: str = "") -> tuple[int, Any]:
    response = respond(STORE, get_profile(profile), Request("GET", f"/v{version}/system/df{query}"), 0)
    return response.status, json.loads(response.body)


@pytest.mark.parametrize(("profile", "version", "query", "keys"), [
    # 20.10: types.DiskUsage with BuilderSize, a nil build cache; no `type` (API <= 1.41)
    ("docker-20.10", "1.41", "?type=bogus", ["LayersSize", "Images", "Containers", "Volumes", "BuildCache",
                                             "BuilderSize"]),
    # 26.1-28.x: every field always; `type` from 1.42
    ("docker-26.1", "1.41", "?type=bogus", ["LayersSize", "Images", "Containers", "Volumes", "BuildCache"]),
    ("docker-28.5-containerd", "1.51", "?type=image", ["LayersSize", "Images", "Containers", "Volumes",
                                                       "BuildCache"]),
    # 29: sections not asked for are omitted; below 1.44 every key sorted; from 1.52 the usage objects too
    ("docker-29.7", "1.47", "?type=image", ["LayersSize", "Images"]),
    ("docker-29.7", "1.47", "?type=volume", ["Volumes"]),
    ("docker-29.7-containerd", "1.41", "", ["BuildCache", "Containers", "Images", "LayersSize", "Volumes"]),
    ("docker-29.7-containerd", "1.55", "", ["LayersSize", "Images", "Containers", "Volumes", "BuildCache",
                                            "ImageUsage", "ContainerUsage", "VolumeUsage", "BuildCacheUsage"]),
    ("docker-29.7-containerd", "1.55", "?verbose=1", ["ImageUsage", "ContainerUsage", "VolumeUsage",
                                                      "BuildCacheUsage"]),
    ("docker-29.7", "1.55", "?type=container", ["Containers", "ContainerUsage"]),
])
def test_layout_per_release_and_version(profile: str, version: str, query: str, keys: list[str]) -> None:
    status, body = df(profile, version, query)
    assert status == 200 and list(body) == keys


@pytest.mark.parametrize(("profile", "version", "query", "section", "value"), [
    ("docker-20.10", "1.41", "", "BuildCache", None),
    ("docker-20.10", "1.41", "", "BuilderSize", 0),
    ("docker-26.1", "1.45", "", "BuildCache", []),
    ("docker-26.1", "1.45", "", "Volumes", []),
    ("docker-26.1", "1.45", "?type=volume", "Images", None),
    ("docker-26.1", "1.45", "?type=volume", "LayersSize", 0),
    ("docker-28.1", "1.49", "?type=image", "Containers", None),
    ("docker-29.7", "1.55", "?type=volume", "VolumeUsage", {}),
])
def test_sections(profile: str, version: str, query: str, section: str, value: Any) -> None:
    assert df(profile, version, query)[1][section] == value


@pytest.mark.parametrize(("profile", "version", "query", "message"), [
    ("docker-26.1", "1.42", "?type=bogus", "unknown object type: bogus"),
    ("docker-28.5", "1.51", "?type=", "unknown object type: "),
    ("docker-29.7-containerd", "1.55", "?type=image&type=x", "unknown object type: x"),
])
def test_unknown_type_is_a_400(profile: str, version: str, query: str, message: str) -> None:
    assert df(profile, version, query) == (400, {"message": message})


def test_images_are_top_level_with_shared_size_and_containers_always_computed() -> None:
    _status, body = df("docker-26.1", "1.41", "")  # the listing shows neither below 1.42 / 1.51
    by_id = {image["Id"]: image for image in body["Images"]}
    assert set(by_id) == {BASE.id, CHILD.id, OTHER.id}
    assert [by_id[i]["Containers"] for i in (BASE.id, CHILD.id, OTHER.id)] == [0, 1, 0]
    assert [by_id[i]["SharedSize"] for i in (BASE.id, CHILD.id, OTHER.id)] == [100, 100, 100]
    assert body["LayersSize"] == 100 + 20 + 7
    assert by_id[OTHER.id]["RepoTags"] is None and by_id[OTHER.id]["RepoDigests"] is None  # the service's nil


@pytest.mark.parametrize(("profile", "tags"), [
    ("docker-20.10", ["<none>:<none>"]),  # 20.10's image service writes the placeholders itself
    ("docker-26.1", None),  # later: the router adds them to the listing only
])
def test_dangling_references(profile: str, tags: list[str] | None) -> None:
    version = get_profile(profile).api_max
    images = {i["Id"]: i for i in df(profile, version)[1]["Images"]}
    assert images[OTHER.id]["RepoTags"] == tags


def test_20_10_counts_shared_layers_among_listed_images_only() -> None:
    # an intermediate image (untagged parent) is not listed: on 20.10 its layer is not "shared"
    parent = Image(created="2024-01-01T00:00:00Z", layers=[{"digest": L1, "size": 100}])
    child = Image(tags=["x:1"], parent=parent.id, created="2024-02-01T00:00:00Z",
                  layers=[{"digest": L1, "size": 100}, {"digest": L2, "size": 20}])
    store = ImageStore([parent, child])
    for profile, shared in (("docker-20.10", 0), ("docker-26.1", 100)):
        body = json.loads(respond(store, get_profile(profile), Request("GET", "/v1.41/system/df"), 0).body)
        assert [i["SharedSize"] for i in body["Images"]] == [shared]


def test_29_usage_objects() -> None:
    body = df("docker-29.7-containerd", "1.55")[1]
    assert body["ImageUsage"]["ActiveCount"] == 1 and body["ImageUsage"]["TotalCount"] == 3
    assert body["ImageUsage"]["TotalSize"] == body["LayersSize"] == 127
    unused = [i for i in body["Images"] if i["Containers"] == 0]
    assert body["ImageUsage"]["Reclaimable"] == sum(i["Size"] - i["SharedSize"] for i in unused)
    assert body["ContainerUsage"] == {"Items": [{"Id": "c" * 64, "ImageID": CHILD.id}], "TotalCount": 1}


def test_29_below_1_44_sorts_every_key_and_adds_virtual_size() -> None:
    image = df("docker-29.7-containerd", "1.41")[1]["Images"][0]
    assert list(image) == sorted(image) and image["VirtualSize"] == image["Size"]


@pytest.mark.parametrize(("profile", "version", "query", "dropped"), [
    # 26.1 and 28.1 (api/server/router/system/system_routes.go): build-cache alone below 1.44 dereferences
    # the disk usage it never computed; Go's server recovers the panic and closes the connection
    ("docker-26.1", "1.42", "?type=build-cache", True),
    ("docker-28.1-containerd", "1.43", "?type=build-cache&type=build-cache", True),
    ("docker-28.1", "1.44", "?type=build-cache", False),  # from 1.44 the images are not read
    ("docker-28.1", "1.43", "?type=build-cache&type=image", False),
    ("docker-28.1", "1.43", "?type=build-cache&type=bogus", False),  # the unknown type is answered first
    ("docker-26.1", "1.41", "?type=build-cache", False),  # no `type` before 1.42: everything is computed
    ("docker-28.5", "1.43", "?type=build-cache", False),  # v28.5.2 checks for nil
    ("docker-29.7", "1.42", "?type=build-cache", False),
])
def test_build_cache_alone_below_1_44_drops_the_connection_on_26_1_and_28_1(
        profile: str, version: str, query: str, dropped: bool) -> None:
    response = respond(STORE, get_profile(profile), Request("GET", f"/v{version}/system/df{query}"), 0)
    assert response.drop_connection is dropped


@pytest.mark.parametrize(("target", "glob"), [
    ("/v1.55/system/df", "/system/df"),
    ("/v1.55/images/base:1/history", "/images/*/history"),
])
def test_fault_injection_works_on_df_and_history(target: str, glob: str) -> None:
    """fail_next, drop_next and delay_next match these routes by path or glob, as on any route."""
    import time

    from pytest_dockerimages import FakeDaemon
    from pytest_dockerimages._http import unixhttp

    with FakeDaemon(images=[{"tags": ["base:1"]}], profile="docker-29.7") as fake:
        fake.fail_next(status=503, message="busy", path=glob)
        status, _, body = unixhttp.request(fake.docker_host, "GET", target)
        assert (status, json.loads(body)) == (503, {"message": "busy"})
        fake.drop_next(path=glob)
        with pytest.raises(OSError):
            unixhttp.request(fake.docker_host, "GET", target)
        fake.delay_next(0.3, path=glob)
        started = time.monotonic()
        assert unixhttp.request(fake.docker_host, "GET", target)[0] == 200
        assert time.monotonic() - started >= 0.3 and fake.pending_faults == 0
