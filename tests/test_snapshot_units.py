"""Snapshot's pure parts: profile detection and rebuilding images from a listing plus inspects."""
from __future__ import annotations

import json

import pytest
from golden_replay import load

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._files.seed import parse_seed
from pytest_dockerimages._real.snapshot import build_images, detect_profile, nearest_profile, snapshot_with

C8D = {"Driver": "native", "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}


@pytest.mark.parametrize(("version", "info", "profile"), [
    ("20.10.24+dfsg1", {"Driver": "vfs"}, "docker-20.10"),
    ("26.1.5+dfsg1", {"Driver": "vfs"}, "docker-26.1"),
    ("26.1.5+dfsg1", C8D, "docker-26.1-containerd"),
    ("27.5.1", {}, "docker-28.1"),
    ("28.5.2", C8D, "docker-28.5-containerd"),
    ("28.3.0", {}, "docker-28.5"),
    ("29.2.1", C8D, "docker-29.7-containerd"),
    ("24.0.7", C8D, "docker-26.1-containerd"),
    ("29.7.2", {}, "docker-29.7"),
    ("30.0.0", C8D, "docker-29.7-containerd"),
])
def test_detect_profile(version: str, info: dict[str, object], profile: str) -> None:
    assert detect_profile({"Version": version}, info) == profile


@pytest.mark.parametrize(("version", "store", "warning"), [
    ("28.5.2+dfsg4", "graphdriver", None),
    ("28.3.0", "graphdriver", "Docker 28.3.0 falls between profiles docker-28.1 and docker-28.5; "
                              "using docker-28.5, the nearest"),
    ("29.2.1", "containerd", "Docker 29.2.1 falls between profiles docker-28.5-containerd and "
                             "docker-29.7-containerd; using docker-29.7-containerd, the nearest"),
    ("30.0.0", "graphdriver", "Docker 30.0.0 is newer than every profile (newest: docker-29.7); "
                              "using docker-29.7, the nearest"),
])
def test_a_release_between_profiles_is_named_in_a_warning(version: str, store: str, warning: str | None) -> None:
    assert nearest_profile(version, store)[1] == warning


def _daemon_fetch(profile: str):  # type: ignore[no-untyped-def]
    """A fetch() answering like the captured daemon: the golden seed served by the model."""
    golden = load(profile)
    store = ImageStore(parse_seed(golden["seed"]).images)
    info = C8D if "containerd" in profile else {"Driver": "vfs", "DriverStatus": None}

    def fetch(path: str) -> object:
        if path == "/info":
            return info
        if "/containers/json" in path:
            return [{"Id": f"{n:064x}", "ImageID": image_id} for n, image in enumerate(store.images)
                    for image_id in [image.id] * len(image.containers)]
        response = respond(store, get_profile(profile), Request("GET", path), 0)
        assert response.status == 200, (path, response.body)
        return json.loads(response.body)
    return golden, fetch


@pytest.mark.parametrize("profile", ["docker-20.10", "docker-26.1", "docker-26.1-containerd"])
def test_snapshot_round_trip_keeps_every_image(profile: str) -> None:
    golden, fetch = _daemon_fetch(profile)
    snap = snapshot_with(fetch)
    assert snap.seed.profile == profile
    original = {i.id: i for i in parse_seed(golden["seed"]).images}
    rebuilt = {i.id: i for i in snap.seed.images}
    assert set(rebuilt) == set(original)
    for image_id, image in original.items():
        again = rebuilt[image_id]
        assert (again.tags, again.digests, again.labels, again.parent, again.size, again.created_ns) == (
            image.tags, image.digests, image.labels, image.parent, image.size, image.created_ns)
        assert len(again.containers) == len(image.containers)


def test_layer_sizes_are_inferred_so_shared_size_survives() -> None:
    golden, fetch = _daemon_fetch("docker-26.1")
    snap = snapshot_with(fetch)
    target = "/images/json?all=1&shared-size=1"
    before = respond(ImageStore(parse_seed(golden["seed"]).images), get_profile("docker-26.1"), Request("GET", target), 0)
    after = respond(ImageStore(snap.seed.images), get_profile("docker-26.1"), Request("GET", target), 0)
    assert json.loads(after.body) == json.loads(before.body)


def test_build_images_without_inspects_uses_listing_seconds() -> None:
    listing = [{"Id": "sha256:" + "a" * 64, "RepoTags": ["<none>:<none>"], "RepoDigests": ["<none>@<none>"],
                "Created": 5, "Labels": None, "ParentId": "", "Size": 3}]
    (image,) = build_images(listing, {}, "graphdriver")
    assert (image.tags, image.digests, image.created_ns, image.size) == ((), (), 5_000_000_000, 3)


def test_snapshot_captures_each_images_history_oldest_first() -> None:
    _golden, fetch = _daemon_fetch("docker-26.1")
    answers = {}

    def recording(path: str) -> object:
        answer = fetch(path)
        if path.endswith("/history"):
            answers[path.split("/images/")[1].split("/history")[0]] = answer
        return answer

    snap = snapshot_with(recording)
    assert answers and all(image.history is not None for image in snap.seed.images)
    for image in snap.seed.images:
        assert [(h.created_by, h.size) for h in image.history or ()] == [
            (item["CreatedBy"], item["Size"]) for item in reversed(answers[image.id])]


def test_the_daemons_descriptor_survives_snapshot_seed_file_and_listing(tmp_path: object) -> None:
    """Containerd store: the Descriptor a daemon lists (Docker v2 media type, its size, annotations, in the
    daemon's key order) is kept through build_images and a seed file, and the fake lists it unchanged."""
    from pathlib import Path

    from pytest_dockerimages._files.seed import dump_seed, load_seed

    image_id = "sha256:" + "d5" * 32
    descriptor = {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": image_id,
                  "size": 577, "annotations": {"io.containerd.image.name": "docker.io/example/loaded:app",
                                               "org.opencontainers.image.ref.name": "app"}}
    listing = [{"Containers": -1, "Created": 1704164645, "Id": image_id, "Labels": None, "ParentId": "",
                "Descriptor": descriptor, "RepoDigests": [], "RepoTags": ["example/loaded:app"],
                "SharedSize": -1, "Size": 42079}]
    (image,) = build_images(listing, {}, "containerd")
    for suffix in ("yaml", "json"):
        path = Path(str(tmp_path)) / f"seed.{suffix}"
        dump_seed([image], path, "docker-29.7-containerd")
        (again,) = load_seed(path).images
        body = respond(ImageStore([again]), get_profile("docker-29.7-containerd"), Request("GET", "/images/json"), 0).body
        assert b'"Descriptor":' + json.dumps(descriptor, separators=(",", ":")).encode() in body
    (graphdriver,) = build_images(listing, {}, "graphdriver")
    assert graphdriver.descriptor is None


@pytest.mark.parametrize(("listed", "inspected", "created_ns"), [
    (-62135596800, "0001-01-01T00:00:00Z", -62135596800 * 10**9),  # 20.10: Go's zero time, a real time
    (0, None, None),  # 24+: no time at all (inspect leaves Created out)
    (0, "1970-01-01T00:00:00Z", 0),  # a real 1970 image
])
def test_an_image_without_a_created_field_is_kept_as_the_daemon_holds_it(
        listed: int, inspected: str | None, created_ns: int | None) -> None:
    image_id = "sha256:" + "e" * 64
    listing = [{"Id": image_id, "RepoTags": ["example/nocreated:1"], "Created": listed, "Labels": None,
                "ParentId": "", "Size": 10}]
    inspect = {"Id": image_id, "Os": "linux", **({"Created": inspected} if inspected else {})}
    (image,) = build_images(listing, {image_id: inspect}, "graphdriver")
    assert image.created_ns == created_ns
    body = respond(ImageStore([image]), get_profile("docker-20.10"), Request("GET", "/images/json"), 0).body
    assert json.loads(body)[0]["Created"] == (listed if created_ns is not None or listed else 0)


def test_manifests_and_containers_survive_the_snapshot() -> None:
    """A manifests=1&identity=1 listing of a two-platform index with one container: the fake lists the
    same Manifests (Size {Content, Total}, ImageData Platform, Identity, Size, Containers or null)."""
    from pytest_dockerimages._real.snapshot import containers_by_image

    index, amd, arm = ("sha256:" + c * 64 for c in "abc")
    container = "1" * 64

    def entry(digest: str, arch: str, content: int, unpacked: int, used: list[str] | None) -> dict[str, object]:
        data: dict[str, object] = {"Platform": {"architecture": arch, "os": "linux"}}
        if arch == "amd64":
            data["Identity"] = {"Pull": [{"Repository": "127.0.0.1/example/multi"}]}
        data.update({"Size": {"Unpacked": unpacked}, "Containers": used})
        return {"ID": digest, "Descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                             "digest": digest, "size": 398,
                                             "platform": {"architecture": arch, "os": "linux"}},
                "Available": True, "Size": {"Content": content, "Total": content + unpacked},
                "Kind": "image", "ImageData": data}

    summary = {"Containers": 1, "Created": 1714979289, "Id": index, "Labels": {}, "ParentId": "",
               "Descriptor": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index, "size": 491},
               "Manifests": [entry(amd, "amd64", 10877, 8192, [container]), entry(arm, "arm64", 10877, 0, None)],
               "RepoDigests": [f"example/multi@{index}"], "RepoTags": ["example/multi:1"], "SharedSize": -1,
               "Size": 29946}
    used = containers_by_image([{"Id": container, "ImageID": index}])
    (image,) = build_images([summary], {}, "containerd", used)
    assert image.containers == (container,)
    profile = get_profile("docker-29.7-containerd")
    store = ImageStore([image])
    listed = json.loads(respond(store, profile, Request("GET", "/v1.55/images/json?manifests=1&identity=1"), 0).body)
    assert listed[0]["Manifests"] == summary["Manifests"]
    assert [list(m["ImageData"]) for m in listed[0]["Manifests"]] == [
        ["Platform", "Identity", "Size", "Containers"], ["Platform", "Size", "Containers"]]
    assert (listed[0]["Containers"], listed[0]["Descriptor"]) == (1, summary["Descriptor"])
    plain = json.loads(respond(store, profile, Request("GET", "/v1.53/images/json?manifests=1&identity=1"), 0).body)
    assert [list(m["ImageData"]) for m in plain[0]["Manifests"]] == [["Platform", "Size", "Containers"]] * 2


def test_a_zero_time_survives_a_seed_file(tmp_path: object) -> None:
    from pathlib import Path

    from pytest_dockerimages._core.model import Image
    from pytest_dockerimages._files.seed import dump_seed, load_seed

    path = Path(str(tmp_path)) / "seed.yaml"
    dump_seed([Image(tags=["example/nocreated:1"], created="0001-01-01T00:00:00Z")], path)
    assert "0001-01-01T00:00:00Z" in path.read_text()
    assert load_seed(path).images[0].created_ns == -62135596800 * 10**9


def _c8d_summary(char: str, size: int, unpacked: int | None) -> dict[str, object]:
    summary: dict[str, object] = {"Id": "sha256:" + char * 64, "RepoTags": [f"example/{char}:1"], "RepoDigests": [],
                                  "Created": 5, "Labels": None, "ParentId": "", "Size": size}
    if unpacked is not None:  # a manifests=1 listing (API 1.47+)
        summary["Manifests"] = [{"ID": "sha256:" + char * 64, "Kind": "image", "Available": True,
                                 "Descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 400},
                                 "Size": {"Content": size - unpacked, "Total": size},
                                 "ImageData": {"Size": {"Unpacked": unpacked}, "Containers": []}}]
    return summary


@pytest.mark.parametrize("with_manifests", [True, False])
def test_containerd_shared_size_counts_the_shared_snapshots_unpacked_size(with_manifests: bool) -> None:
    """On the containerd store SharedSize sums the snapshots' usage of the shared layers
    (daemon/containerd/image_list.go computeSharedSize), which is the listed Unpacked of the image ending
    at a layer, not its Size (content + unpacked). Before API 1.47 Unpacked is the listed Size less the
    inspected one (inspect counts the content alone there)."""
    l1, l2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    listing = [_c8d_summary("a", 19226, 8192 if with_manifests else None),
               _c8d_summary("b", 32323, 20480 if with_manifests else None)]
    inspects = {"sha256:" + "a" * 64: {"RootFS": {"Layers": [l1]}, "Size": 11034},
                "sha256:" + "b" * 64: {"RootFS": {"Layers": [l1, l2]}, "Size": 11843}}
    images = build_images(listing, inspects, "containerd")
    assert [[layer.size for layer in image.layers] for image in images] == [[8192], [8192, 12288]]
    assert [image.size for image in images] == [19226, 32323]  # the listing's Size stays the image's
    body = respond(ImageStore(images), get_profile("docker-28.5-containerd"),
                   Request("GET", "/v1.51/images/json?shared-size=1"), 0).body
    assert [item["SharedSize"] for item in json.loads(body)] == [8192, 8192]


def test_a_daemon_without_container_routes_gives_its_containers_through_system_df() -> None:
    """The fake serves no /containers/json; its /system/df names each container and its image, so a
    snapshot of a fake keeps them (a check against a fake then agrees on df's Containers)."""
    from pytest_dockerimages._core.model import Image
    from pytest_dockerimages._real.snapshot import SnapshotError

    used = Image(tags=["example/app:1"], created=5, containers=["c" * 64, "d" * 64])
    store = ImageStore([used, Image(tags=["example/free:1"], created=6)])

    def fetch(path: str) -> object:
        if path == "/info":
            return {"Driver": "vfs"}
        response = respond(store, get_profile("docker-26.1"), Request("GET", path), 0)
        if response.status != 200:
            raise SnapshotError(f"GET {path} answered {response.status}")
        return json.loads(response.body)

    snap = snapshot_with(fetch)
    assert {i.id: sorted(i.containers) for i in snap.seed.images} == {used.id: ["c" * 64, "d" * 64],
                                                                       store.images[1].id: []}


@pytest.mark.parametrize("profile", ["docker-28.1-containerd", "docker-28.5-containerd", "docker-29.7-containerd"])
def test_each_platform_of_a_multi_platform_image_is_read_so_the_fake_answers_it_alike(profile: str) -> None:
    """history and inspect with each manifest's `platform`: the seed keeps what the daemon found (28.1's
    snapshot error leaves arm64 without history, but `config`), and the fake built from it answers every
    platform as the daemon did. Inspect answers here as a daemon's (API 1.49+: that platform's config)."""
    from urllib.parse import parse_qs, quote, urlsplit

    from test_history import AMD64_DIFF, ARM64_DIFF, MULTI

    from pytest_dockerimages._real.snapshot import NotOk

    store, row = ImageStore([MULTI]), get_profile(profile)
    diff_ids = {"amd64": AMD64_DIFF, "arm64": ARM64_DIFF}

    def fetch(path: str) -> object:
        if path == "/info":
            return C8D
        platform = parse_qs(urlsplit(path).query).get("platform")
        arch = json.loads(platform[0])["architecture"] if platform else ""
        if platform and path.split("?")[0].endswith("/json") and arch in diff_ids:
            return {"Os": "linux", "Architecture": arch, "RootFS": {"Type": "layers", "Layers": [diff_ids[arch]]}}
        response = respond(store, row, Request("GET", path), 0)
        if response.status != 200 or (platform and path.split("?")[0].endswith("/json")):
            raise NotOk(f"GET {path} answered {response.status}")
        return json.loads(response.body)

    (image,) = snapshot_with(fetch).seed.images
    amd64, arm64 = image.manifests[:2]
    assert (amd64.presence, amd64.diff_ids, arm64.presence, arm64.diff_ids) == (
        "unpacked", (AMD64_DIFF,), "config", (ARM64_DIFF,))
    assert (arm64.history is None) == (row.history_missing_snapshot_error is not None)
    assert (image.manifests[2].presence, image.manifests[3].presence) == ("absent", None)  # s390x; attestation
    for arch in ("amd64", "arm64", "s390x", "arm"):
        request = Request("GET", f"/v{row.api_max}/images/example/multi:1/history?platform="
                                 + quote(json.dumps({"os": "linux", "architecture": arch})))
        before, after = (respond(s, row, request, 0) for s in (store, ImageStore([image])))
        assert (after.status, after.body) == (before.status, before.body), arch


def test_a_daemon_lost_while_platforms_are_read_fails_the_snapshot() -> None:
    """Only an answer (NotOk) is data about a platform; a daemon gone away is an error, not `absent`."""
    from test_history import MULTI

    from pytest_dockerimages._real.snapshot import NotOk, SnapshotError

    store, row = ImageStore([MULTI]), get_profile("docker-29.7-containerd")

    def fetch(path: str) -> object:
        if path == "/info":
            return C8D
        if "platform=" in path:
            raise SnapshotError("cannot reach the daemon at unix:///gone.sock")
        response = respond(store, row, Request("GET", path), 0)
        if response.status != 200:
            raise NotOk(f"GET {path} answered {response.status}")
        return json.loads(response.body)

    with pytest.raises(SnapshotError, match="cannot reach"):
        snapshot_with(fetch)
