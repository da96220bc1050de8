"""GET /images/{name}/history: one row per daemon behaviour (moby's image_history.go and image_routes.go at
each profile's tag; the messages as the nine real daemons answered them)."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import Image, ImageStore, ModelError
from pytest_dockerimages._core.profiles import PROFILES, get_profile
from pytest_dockerimages._core.wire import Request

BASE = Image(tags=["example/loaded:base", "example/loaded:latest"], created=1700000000,
             history=[{"created": 1700000000, "created_by": "make_image_tar.py: add /hello", "size": 19}])
CHILD = Image(tags=["example/built:1"], parent=BASE.id, created=1700000100,
              digests=["registry.example/example/built@sha256:" + "b" * 64],
              history=[*BASE.to_dict()["history"],
                       {"created": 1700000050, "created_by": "/bin/sh -c #(nop) COPY one", "size": 4},
                       {"created": 1700000100, "created_by": "/bin/sh -c #(nop)  LABEL x=y", "size": 0}])
IMPORTED = Image(tags=["example/tiny:1.0", "127.0.0.1:5000/example/tiny:1.0"], created=1700000200,
                 history=[{"created": 1700000200, "comment": "tiny import", "size": 6}])
NO_HISTORY = Image(tags=["marker:1"], created=1700000300, layers=[{"digest": "sha256:" + "1" * 64, "size": 5},
                                                                 {"digest": "sha256:" + "2" * 64, "size": 7}])
STORE = ImageStore([BASE, CHILD, IMPORTED, NO_HISTORY])


def history(profile: str, name: str, query: str = "", version: str | None = None) -> tuple[int, Any]:
    prefix = f"/v{version}" if version else ""
    response = respond(STORE, get_profile(profile), Request("GET", f"{prefix}/images/{name}/history{query}"), 0)
    return response.status, json.loads(response.body)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_entries_newest_first_with_ancestor_ids_then_missing(profile: str) -> None:
    status, body = history(profile, "example/built:1")
    assert status == 200
    assert [list(item) for item in body] == [["Comment", "Created", "CreatedBy", "Id", "Size", "Tags"]] * 3
    assert [(item["Id"], item["CreatedBy"], item["Size"], item["Created"]) for item in body] == [
        (CHILD.id, "/bin/sh -c #(nop)  LABEL x=y", 0, 1700000100),
        (BASE.id, "/bin/sh -c #(nop) COPY one", 4, 1700000050),
        ("<missing>", "make_image_tar.py: add /hello", 19, 1700000000)]
    assert body[1]["Tags"] == ["example/loaded:base", "example/loaded:latest"] and body[2]["Tags"] is None


@pytest.mark.parametrize(("profile", "tags"), [
    # graphdriver: the reference store's tags (NamedTagged only), sorted by their full names
    ("docker-26.1", ["example/built:1"]),
    ("docker-29.7", ["example/built:1"]),
    # containerd: every image record with that target, digest names too, in the store's name order
    # (docker.io/example/built:1 sorts before registry.example/...)
    ("docker-26.1-containerd", ["example/built:1", "registry.example/example/built@sha256:" + "b" * 64]),
    ("docker-29.7-containerd", ["example/built:1", "registry.example/example/built@sha256:" + "b" * 64]),
])
def test_tags_per_image_store(profile: str, tags: list[str]) -> None:
    assert history(profile, "example/built:1")[1][0]["Tags"] == tags


def test_tags_sort_by_full_name_so_registry_hosts_come_first() -> None:
    assert history("docker-26.1", "example/tiny:1.0")[1][0]["Tags"] == [
        "127.0.0.1:5000/example/tiny:1.0", "example/tiny:1.0"]


def test_an_image_without_history_gets_one_entry_per_layer() -> None:
    status, body = history("docker-29.7-containerd", "marker:1")
    assert status == 200
    assert [(i["Id"], i["Size"], i["Created"], i["CreatedBy"], i["Comment"]) for i in body] == [
        (NO_HISTORY.id, 7, 1700000300, "", ""), ("<missing>", 5, 1700000300, "", "")]


@pytest.mark.parametrize(("name", "status", "message"), [
    ("nosuch", 404, "No such image: nosuch:latest"),
    ("nosuch:2", 404, "No such image: nosuch:2"),
    ("UPPER", 400, "invalid reference format: repository name (library/UPPER) must be lowercase"),
    ("bad::name", 400, "invalid reference format"),
    ("sha256:abc", 404, "No such image: sha256:abc"),
    ("a" * 64, 404, "No such image: sha256:" + "a" * 64),
])
def test_missing_and_bad_names(name: str, status: int, message: str) -> None:
    assert history("docker-28.5-containerd", name) == (status, {"message": message})


LINUX_ARM = '{"os":"linux","architecture":"arm64"}'


@pytest.mark.parametrize(("profile", "version", "platform", "status", "message"), [
    # releases before 28 have no `platform` parameter; 28+ read it from API 1.48 only
    ("docker-26.1", "1.45", "notjson", 200, None),
    ("docker-28.1", "1.47", "notjson", 200, None),
    ("docker-28.1", "1.48", '{"os":"linux","architecture":"amd64"}', 200, None),
    ("docker-28.1", "1.48", "notjson", 400, "failed to parse platform: invalid character 'o' in literal null "
                                            "(expecting 'u')"),
    ("docker-29.7", "1.55", "{}", 400, "both OS and Architecture must be provided"),
    ("docker-29.7", "1.55", '{"os":"windows"}', 400, "both OS and Architecture must be provided"),
    ("docker-29.7", "1.55", '{"variant":"v8"}', 400,
     "optional platform fields provided, but OS and Architecture are missing"),
    ("docker-29.7", "1.55", '{"os":1}', 400, "failed to parse platform: json: cannot unmarshal number into Go "
                                             "struct field Platform.os of type string"),
    ("docker-29.7", "1.55", "[]", 400, "failed to parse platform: json: cannot unmarshal array into Go value "
                                       "of type v1.Platform"),
    ("docker-28.5", "1.51", LINUX_ARM, 404, "image with reference example/tiny:1.0 was found but its platform "
                                            "(linux/amd64) does not match the specified platform (linux/arm64)"),
    ("docker-28.5-containerd", "1.51", LINUX_ARM, 404, "image with reference example/tiny:1.0 was found but does "
                                                       "not provide the specified platform (linux/arm64)"),
])
def test_platform_parameter(profile: str, version: str, platform: str, status: int, message: str | None) -> None:
    from urllib.parse import quote

    got_status, body = history(profile, "example/tiny:1.0", f"?platform={quote(platform)}", version)
    assert got_status == status
    if message is not None:
        assert body == {"message": message}


def test_history_round_trips_through_the_seed_form() -> None:
    again = Image.from_dict(CHILD.to_dict())
    assert again.history == CHILD.history and again.id == CHILD.id


@pytest.mark.parametrize(("history_value", "message"), [
    ("x", "history: expected a list of entries"),
    ([{"size": -1}], "history[0].size: expected an integer >= 0"),
    ([{"created_by": 3}], "history[0].created_by: expected a string"),
    ([{"when": 1}], "history[0]: unknown field(s) ['when']"),
])
def test_bad_history_in_a_seed_names_the_field(history_value: Any, message: str) -> None:
    with pytest.raises(ModelError, match=re.escape(message)):
        Image(tags=["x:1"], history=history_value)


# --- a multi-platform image on the containerd store: the harness's example/multi:1 as the nine daemons hold
# it (the amd64 image unpacked; every arm64 blob there, no snapshot), plus a platform only the index names
AMD64_DIFF = "sha256:cb0534aad9dadd237b0cc8471354c04033fd16409a3ee0eec00cdc20011865bc"
ARM64_DIFF = "sha256:f336787a4e253acee86154a982b72e2e1a4315b198b79d51cbb566935ecd1974"
CREATED = 1714979289


def _arch_history(arch: str, size: int) -> list[dict[str, Any]]:
    return [{"created": CREATED, "created_by": f"imagetar: add /arch ({arch})", "size": size}]


def _multi(**arm64: Any) -> Image:
    manifests = [
        {"id": "sha256:" + "a" * 64, "platform": {"architecture": "amd64", "os": "linux"}, "presence": "unpacked",
         "history": _arch_history("amd64", 8192), "diff_ids": [AMD64_DIFF], "unpacked_size": 8192},
        {"id": "sha256:" + "b" * 64, "platform": {"architecture": "arm64", "os": "linux"}, **arm64},
        {"id": "sha256:" + "c" * 64, "platform": {"architecture": "s390x", "os": "linux"}, "available": False},
        {"id": "sha256:" + "d" * 64, "kind": "attestation", "platform": {"architecture": "unknown", "os": "unknown"}},
    ]
    return Image(tags=["example/multi:1"], created=CREATED, layers=[{"digest": AMD64_DIFF, "size": 8192}],
                 history=_arch_history("amd64", 8192), manifests=manifests)


SNAPSHOT = {"presence": "config", "history": _arch_history("arm64", 0), "diff_ids": [ARM64_DIFF]}
MULTI = _multi(**SNAPSHOT)
MISSING = "NotFound: snapshot " + ARM64_DIFF + " does not exist: not found"  # one layer: its chain is its diff id
ARM64 = [("imagetar: add /arch (arm64)", 0)]
AMD64 = [("imagetar: add /arch (amd64)", 8192)]


def _not_provided(platform: str) -> str:
    return f"image with reference example/multi:1 was found but does not provide the specified platform ({platform})"


@pytest.mark.parametrize(("profile", "version", "platform", "image", "status", "expected"), [
    # v28.1.1 returns the snapshotter's error for the arm64 config's layer; v28.5.2+ count it 0
    ("docker-28.1-containerd", "1.49", LINUX_ARM, MULTI, 404, MISSING),
    ("docker-28.1-containerd", "1.49", '{"os":"linux","architecture":"arm64","variant":"v8"}', MULTI, 404, MISSING),
    ("docker-28.5-containerd", "1.51", LINUX_ARM, MULTI, 200, ARM64),
    ("docker-29.7-containerd", "1.55", LINUX_ARM, MULTI, 200, ARM64),
    ("docker-29.7-containerd", "1.55", '{"os":"linux","architecture":"aarch64","variant":"v8"}', MULTI, 200, ARM64),
    ("docker-28.1-containerd", "1.49", '{"os":"linux","architecture":"amd64"}', MULTI, 200, AMD64),
    ("docker-29.7-containerd", "1.55", '{"os":"linux","architecture":"amd64","variant":"v3"}', MULTI, 200, AMD64),
    # below 1.48 (and on 26.1) the parameter is not read: the host platform's history
    ("docker-28.1-containerd", "1.47", LINUX_ARM, MULTI, 200, AMD64),
    ("docker-26.1-containerd", "1.45", LINUX_ARM, MULTI, 200, AMD64),
    # not in the index, only named by it (no manifest blob), or only runnable by arm64 (arm/v7 runs no arm64)
    ("docker-28.1-containerd", "1.49", '{"os":"linux","architecture":"s390x"}', MULTI, 404,
     _not_provided("linux/s390x")),
    ("docker-29.7-containerd", "1.55", '{"os":"linux","architecture":"arm","variant":"v7"}', MULTI, 404,
     _not_provided("linux/arm/v7")),
    ("docker-29.7-containerd", "1.55", '{"os":"unknown","architecture":"unknown"}', MULTI, 404,
     _not_provided("unknown/unknown")),
    # an older seed: no presence, history or diff ids; `available` decides and the image's history is shown
    ("docker-28.1-containerd", "1.49", LINUX_ARM, _multi(), 200, AMD64),
    ("docker-29.7-containerd", "1.55", LINUX_ARM, _multi(available=False), 404, _not_provided("linux/arm64")),
    # snapshots missing and nothing read for that platform: the image's entries, each of size 0; without
    # diff ids no snapshot can be named, so even 28.1 answers so
    ("docker-28.5-containerd", "1.51", LINUX_ARM, _multi(presence="config", diff_ids=[ARM64_DIFF]), 200,
     [("imagetar: add /arch (amd64)", 0)]),
    ("docker-28.1-containerd", "1.49", LINUX_ARM, _multi(presence="config"), 200, [("imagetar: add /arch (amd64)", 0)]),
    # an unpacked arm64 manifest: its history as read, on every release
    ("docker-28.1-containerd", "1.49", LINUX_ARM, _multi(presence="unpacked", history=_arch_history("arm64", 4096)),
     200, [("imagetar: add /arch (arm64)", 4096)]),
    # graphdriver: the image's own platform (the amd64 image of the index); amd64/v2 runs a variant-less amd64
    ("docker-28.1", "1.49", LINUX_ARM, MULTI, 404, "image with reference example/multi:1 was found but its "
                                                  "platform (linux/amd64) does not match the specified platform (linux/arm64)"),
    ("docker-29.7", "1.55", '{"os":"linux","architecture":"amd64","variant":"v2"}', MULTI, 200, AMD64),
])
def test_platform_of_a_multi_platform_image(profile: str, version: str, platform: str, image: Image, status: int,
                                            expected: str | list[tuple[str, int]]) -> None:
    from urllib.parse import quote

    request = Request("GET", f"/v{version}/images/example/multi:1/history?platform={quote(platform)}")
    response = respond(ImageStore([image]), get_profile(profile), request, 0)
    body = json.loads(response.body)
    assert response.status == status
    if isinstance(expected, str):
        assert body == {"message": expected}
    else:
        assert [(item["CreatedBy"], item["Size"]) for item in body] == expected
        assert body[0]["Id"] == image.id and body[0]["Tags"] == ["example/multi:1"]


def test_the_first_missing_snapshot_is_named_where_a_lower_one_is_unpacked() -> None:
    """Snapshots stack: the arm64 image's first layer is the amd64 one's (unpacked), its second is not, so
    28.1 names the chain of both (identity.ChainID: sha256 of "<lower chain> <diff id>")."""
    import hashlib

    image = _multi(presence="config", diff_ids=[AMD64_DIFF, ARM64_DIFF])
    chain = "sha256:" + hashlib.sha256(f"{AMD64_DIFF} {ARM64_DIFF}".encode()).hexdigest()
    response = respond(ImageStore([image]), get_profile("docker-28.1-containerd"),
                       Request("GET", f"/v1.49/images/example/multi:1/history?platform={LINUX_ARM}"), 0)
    assert (response.status, json.loads(response.body)) == (404, {"message": f"NotFound: snapshot {chain} does not exist: not found"})


@pytest.mark.parametrize(("have", "want", "rank"), [
    # containerd's platforms.Only: the platform first, then those it runs; variants normalised
    ({"architecture": "arm64"}, {"architecture": "arm64", "variant": "v8"}, 0),
    ({"architecture": "arm64", "variant": "v8"}, {"architecture": "arm64"}, 0),
    ({"architecture": "arm", "variant": "v7"}, {"architecture": "arm64"}, 2),
    ({"architecture": "arm64"}, {"architecture": "arm64", "variant": "v9.1"}, 8),  # v9.1 v9 v8.6 .. v8.1 v8
    ({"architecture": "arm64", "variant": "v9"}, {"architecture": "arm64"}, None),
    ({"architecture": "arm64"}, {"architecture": "arm64", "variant": "v7"}, None),
    ({"architecture": "arm64"}, {"architecture": "arm", "variant": "v7"}, None),
    ({"architecture": "arm", "variant": "v6"}, {"architecture": "arm"}, 1),
    ({"architecture": "386"}, {"architecture": "amd64"}, 1),
    ({"architecture": "amd64"}, {"architecture": "amd64", "variant": "v3"}, 2),
    ({"architecture": "amd64", "variant": "v3"}, {"architecture": "amd64"}, None),
    ({"architecture": "x86_64"}, {"architecture": "AMD64"}, 0),
    ({"architecture": "amd64", "os": "windows"}, {"architecture": "amd64"}, None),
    # a variant strconv.Atoi refuses runs no older one (and the fake never builds a list that long)
    ({"architecture": "amd64"}, {"architecture": "amd64", "variant": "v" + "9" * 5000}, None),
    ({"architecture": "386"}, {"architecture": "amd64", "variant": "v" + "9" * 5000}, 1),
    ({"architecture": "amd64", "variant": "v2"}, {"architecture": "amd64", "variant": "v+3"}, 1),
])
def test_platform_rank(have: dict[str, str], want: dict[str, str], rank: int | None) -> None:
    from pytest_dockerimages._core.platforms import platform_rank

    assert platform_rank({"os": "linux", **have}, {"os": "linux", **want}) == rank


def test_a_manifest_round_trips_its_platform_history_through_the_seed_form() -> None:
    again = Image.from_dict(MULTI.to_dict())
    assert again.manifests == MULTI.manifests and again.id == MULTI.id
    assert "presence" not in Image.from_dict(_multi().to_dict()).to_dict()["manifests"][1]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("presence", "gone", "manifests[1].presence: expected one of ('unpacked', 'config', 'absent')"),
    ("history", "x", "manifests[1].history: expected a list of entries"),
    ("history", [{"size": -1}], "manifests[1].history[0].size: expected an integer >= 0"),
    ("diff_ids", "sha256:" + "a" * 64, "manifests[1].diff_ids: expected a list of layer digests"),
    ("diff_ids", ["abc"], "manifests[1].diff_ids[0]: expected 'sha256:'"),
])
def test_bad_manifest_platform_fields_name_the_field(field: str, value: Any, message: str) -> None:
    with pytest.raises(ModelError, match=re.escape(message)):
        _multi(**{field: value})
