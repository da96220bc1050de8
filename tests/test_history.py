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
