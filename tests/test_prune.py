"""POST /images/prune: one row per daemon behaviour (daemon/images/image_prune.go and
daemon/containerd/image_prune.go at each profile's tag; messages as the nine real daemons answered)."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from pytest_dockerimages import FakeDaemon
from pytest_dockerimages._core.errors import DaemonError
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.prune import chain_ids, prune_images
from pytest_dockerimages._http import unixhttp

L1, L2, L3 = ("sha256:" + c * 64 for c in "123")
BASE = Image(tags=["base:1"], created="2024-01-01T00:00:00Z", labels={"tier": "base"},
             layers=[{"digest": L1, "size": 100}])
CHILD = Image(tags=["app:1"], parent=BASE.id, created="2024-02-01T00:00:00Z", labels={"tier": "app"},
              layers=[{"digest": L1, "size": 100}, {"digest": L2, "size": 20}])
DANGLING = Image(created="2024-03-01T00:00:00Z", labels={"tier": "app"}, layers=[{"digest": L3, "size": 7}])
USED = Image(tags=["used:1", "used:2"], created="2024-01-15T00:00:00Z", containers=["c" * 64],
             layers=[{"digest": "sha256:" + "4" * 64, "size": 5}])
DIGEST_ONLY = Image(digests=["registry.example/only@sha256:" + "d" * 64], created="2024-01-20T00:00:00Z",
                    layers=[{"digest": "sha256:" + "5" * 64, "size": 3}])
STORE = ImageStore([BASE, CHILD, DANGLING, USED, DIGEST_ONLY])
NOW = 1800000000 * 10**9


def prune(profile: str, filters: dict[str, Any] | str = "") -> tuple[ImageStore, dict[str, Any]]:
    text = filters if isinstance(filters, str) else json.dumps(filters)
    return prune_images(STORE, text, get_profile(profile), NOW)


def refused(profile: str, filters: dict[str, Any] | str) -> tuple[int, str]:
    with pytest.raises(DaemonError) as err:
        prune(profile, filters)
    return err.value.status, err.value.message


@pytest.mark.parametrize(("profile", "filters", "status", "message"), [
    ("docker-20.10", {"bogus": ["x"]}, 400, "Invalid filter 'bogus'"),
    ("docker-26.1", {"reference": ["x"]}, 400, "invalid filter 'reference'"),
    ("docker-29.7-containerd", {"before": ["x"]}, 400, "invalid filter 'before'"),
    ("docker-20.10", {"dangling": ["maybe"]}, 400, "Invalid filter 'dangling=[maybe]'"),
    ("docker-26.1", {"dangling": ["TRUE"]}, 400, "invalid filter 'dangling=[TRUE]'"),
    ("docker-28.5", {"dangling": [""]}, 400, "invalid filter 'dangling=[]'"),
    ("docker-29.7", {"dangling": ["false", "true"]}, 400, "invalid filter 'dangling=[false true]'"),
    ("docker-20.10", {"until": ["notatime"]}, 500, 'failed to parse value as time or duration: "notatime"'),
    ("docker-26.1-containerd", {"until": ["notatime"]}, 500, 'failed to parse value as time or duration: "notatime"'),
    ("docker-29.7-containerd", {"until": ["notatime"]}, 400, "invalid value for 'until' filter: failed to parse "
                                                             'value as time or duration: invalid seconds "notatime": '
                                                             "invalid syntax"),
    # graphdriver takes one `until` only; the containerd store filters as its listing does
    ("docker-26.1", {"until": ["1h", "2h"]}, 500, "more than one until filter specified"),
    ("docker-29.7", {"until": ["1h", "2h"]}, 400, "more than one until filter specified"),
    ("docker-20.10", "notjson", 500, "invalid character 'o' in literal null (expecting 'u')"),
    ("docker-26.1", "notjson", 400, "invalid filter"),
])
def test_filters_are_validated_and_worded_as_the_release_does(profile: str, filters: Any, status: int,
                                                              message: str) -> None:
    assert refused(profile, filters) == (status, message)


def test_several_until_values_are_fine_on_the_containerd_store() -> None:
    assert prune("docker-29.7-containerd", {"until": ["1h", "2h"]})[1]["ImagesDeleted"] is not None


@pytest.mark.parametrize("profile", ["docker-20.10", "docker-26.1", "docker-28.5", "docker-29.7"])
def test_graphdriver_dangling_prune_deletes_the_dangling_and_digest_only_images_with_their_layers(
        profile: str) -> None:
    store, report = prune(profile)
    only_layer = chain_ids(DIGEST_ONLY)[0]
    assert report == {"ImagesDeleted": [
        {"Deleted": DANGLING.id}, {"Deleted": chain_ids(DANGLING)[0]},
        {"Untagged": "registry.example/only@sha256:" + "d" * 64}, {"Deleted": DIGEST_ONLY.id},
        {"Deleted": only_layer}], "SpaceReclaimed": 7 + 3}
    assert {i.id for i in store.images} == {BASE.id, CHILD.id, USED.id}


@pytest.mark.parametrize(("profile", "filters"), [
    ("docker-20.10", {"dangling": ["false"]}),
    ("docker-20.10", {"dangling": ["true", "false"]}),  # ExactMatch: "false" wins on 20.10
    ("docker-20.10", {"dangling": []}),  # ExactMatch of an empty set is true
    ("docker-26.1", {"dangling": ["0"]}),
])
def test_graphdriver_prune_all_keeps_only_images_a_container_uses(profile: str, filters: Any) -> None:
    store, report = prune(profile, filters)
    assert [i.id for i in store.images] == [USED.id]
    # a used image loses its references but the last one, which the conflict keeps
    assert {"Untagged": "used:1"} in report["ImagesDeleted"] and {"Untagged": "used:2"} not in report["ImagesDeleted"]
    assert store.images[0].tags[0].familiar == "used:2"
    assert report["SpaceReclaimed"] == 100 + 20 + 7 + 3


def test_graphdriver_child_deletion_prunes_its_parent_and_each_layer_goes_once() -> None:
    _store, report = prune("docker-26.1", {"dangling": ["false"], "label": ["tier=app"]})
    deleted = [r["Deleted"] for r in report["ImagesDeleted"] if "Deleted" in r]
    at = deleted.index(CHILD.id)
    assert deleted[at:at + 2] == [CHILD.id, chain_ids(CHILD)[1]]  # the child, then the layer it alone held
    assert BASE.id not in deleted and len(deleted) == len(set(deleted))  # the tagged parent stays


@pytest.mark.parametrize(("filters", "kept"), [
    ({"dangling": ["false"], "label": ["tier=app"]}, {BASE.id, USED.id, DIGEST_ONLY.id}),
    ({"dangling": ["false"], "label!": ["tier"]}, {BASE.id, CHILD.id, DANGLING.id, USED.id}),
    # base:1 is untagged, but a parent with a child stays
    ({"dangling": ["false"], "until": ["2024-01-31T00:00:00Z"]}, {BASE.id, CHILD.id, DANGLING.id, USED.id}),
])
def test_graphdriver_label_and_until(filters: dict[str, Any], kept: set[str]) -> None:
    assert {i.id for i in prune("docker-28.5", filters)[0].images} == kept


@pytest.mark.parametrize("profile", ["docker-26.1-containerd", "docker-28.5-containerd", "docker-29.7-containerd"])
def test_containerd_dangling_prune_deletes_dangling_records_only(profile: str) -> None:
    store, report = prune(profile)
    assert report["ImagesDeleted"] == [{"Untagged": DANGLING.id}, {"Deleted": DANGLING.id}]
    assert DIGEST_ONLY.id in store.by_id  # a digest name is a name, not a dangling record


def test_containerd_prune_all_keeps_one_name_of_a_used_image() -> None:
    store, report = prune("docker-29.7-containerd", {"dangling": ["false"]})
    assert {i.id for i in store.images} == {USED.id}
    assert [t.familiar for t in store.by_id[USED.id].tags] == ["used:2"]
    assert {"Untagged": "used:1"} in report["ImagesDeleted"]


@pytest.mark.parametrize("profile", ["docker-26.1-containerd", "docker-29.7-containerd"])
def test_containerd_prune_of_a_tagged_image_with_repo_digests_deletes_it(profile: str) -> None:
    """On the containerd store the RepoDigests of a tagged image are not records of their own: with its
    tag records gone the image goes (image_prune.go deletes the target once no record names it)."""
    pulled = Image(tags=["pulled:1"], digests=["pulled@sha256:" + "e" * 64], created="2024-01-05T00:00:00Z",
                   layers=[{"digest": "sha256:" + "6" * 64, "size": 2}])
    store, report = prune_images(ImageStore([pulled]), json.dumps({"dangling": ["false"]}), get_profile(profile), NOW)
    assert store.images == () and report["ImagesDeleted"] == [{"Untagged": "pulled:1"}, {"Deleted": pulled.id}]


@pytest.mark.parametrize(("profile", "reclaimed"), [
    ("docker-28.5-containerd", 0),  # before 29: content blobs only, which a seed itemises in `manifests`
    ("docker-29.7-containerd", 7),  # 29: the removed snapshots too
])
def test_containerd_space_reclaimed(profile: str, reclaimed: int) -> None:
    assert prune(profile)[1]["SpaceReclaimed"] == reclaimed


def test_nothing_to_prune_is_null() -> None:
    store = ImageStore([USED])
    assert prune_images(store, "", get_profile("docker-26.1"), NOW)[1] == {"ImagesDeleted": None,
                                                                         "SpaceReclaimed": 0}


# --------------------------------------------------------------------------- through the fake


def _post(fake: FakeDaemon, target: str) -> tuple[int, Any]:
    status, _headers, body = unixhttp.request(fake.docker_host, "POST", target)
    return status, json.loads(body)


def test_the_next_listing_shows_the_prune_and_the_log_has_it() -> None:
    with FakeDaemon(images=[BASE, CHILD, DANGLING, USED], profile="docker-26.1") as fake:
        filters = quote(json.dumps({"dangling": ["false"], "label": ["tier=app"]}))
        status, report = _post(fake, f"/v1.45/images/prune?filters={filters}")
        assert status == 200 and {"Untagged": "app:1"} in report["ImagesDeleted"]
        listing = json.loads(unixhttp.request(fake.docker_host, "GET", "/v1.45/images/json")[2])
        assert sorted(t for i in listing for t in i["RepoTags"]) == ["base:1", "used:1", "used:2"]
        logged = [r for r in fake.requests if r.path == "/images/prune"]
        assert len(logged) == 1 and logged[0].method == "POST" and logged[0].status == 200
        assert logged[0].filters == {"dangling": ["false"], "label": ["tier=app"]}


def test_fault_injection_works_on_prune_and_a_failed_prune_changes_nothing() -> None:
    with FakeDaemon(images=[BASE, DANGLING], profile="docker-29.7") as fake:
        fake.fail_next(status=500, message="boom", path="/images/prune", method="POST")
        assert _post(fake, "/v1.55/images/prune") == (500, {"message": "boom"})
        assert len(fake.images) == 2
        assert _post(fake, "/v1.55/images/prune?filters=notjson")[0] == 400
        assert len(fake.images) == 2
        fake.drop_next(path="/images/prune")
        with pytest.raises(OSError):
            unixhttp.request(fake.docker_host, "POST", "/v1.55/images/prune")
        assert len(fake.images) == 2
        fake.delay_next(0.2, path="/images/prune")
        assert _post(fake, "/v1.55/images/prune")[1]["ImagesDeleted"][0] == {"Deleted": DANGLING.id}
        assert [i.id for i in fake.images] == [BASE.id] and fake.pending_faults == 0


def test_an_unsupported_api_version_is_refused_before_anything_is_deleted() -> None:
    with FakeDaemon(images=[DANGLING], profile="docker-29.7") as fake:
        status, body = _post(fake, "/v1.24/images/prune")
        assert status == 400 and "is too old" in body["message"] and len(fake.images) == 1
