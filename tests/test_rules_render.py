"""Rendering rules per profile and API version, one row per daemon behaviour."""
from __future__ import annotations

from typing import Any

import pytest
from rules_store import APP, BASE, DANGLING, EMPTY, PINNED, get, names, q

from pytest_dockerimages._core.profiles import PROFILES, get_profile
from pytest_dockerimages._files.schema import validate

NONE_TAGS = ["<none>:<none>"]
NONE_DIGESTS = ["<none>@<none>"]


def item(body: list[dict[str, Any]], image_id: str) -> dict[str, Any]:
    return next(entry for entry in body if entry["Id"] == image_id)


# (daemon behaviour pinned, profile, target, image, field, expected value; MISSING = key absent)
MISSING = object()
FIELDS = [
    ("untagged: <none> placeholders on 20.10", "docker-20.10", "/images/json", DANGLING, "RepoTags", NONE_TAGS),
    ("untagged: <none> digest placeholder on 20.10", "docker-20.10", "/images/json", DANGLING, "RepoDigests", NONE_DIGESTS),
    ("tagged, no digest: null on 20.10", "docker-20.10", "/images/json", BASE, "RepoDigests", None),
    ("digest-only: RepoTags null on 20.10", "docker-20.10", "/images/json", PINNED, "RepoTags", None),
    ("placeholders below 1.43 on 26.1", "docker-26.1", "/v1.42/images/json", DANGLING, "RepoTags", NONE_TAGS),
    ("null below 1.43 on 26.1", "docker-26.1", "/v1.42/images/json", BASE, "RepoDigests", None),
    ("empty arrays from 1.43", "docker-26.1", "/v1.43/images/json", DANGLING, "RepoTags", []),
    ("empty digest array from 1.43", "docker-26.1", "/v1.43/images/json", BASE, "RepoDigests", []),
    ("VirtualSize always on 20.10, even 0", "docker-20.10", "/images/json", EMPTY, "VirtualSize", 0),
    ("VirtualSize = Size below 1.44", "docker-26.1", "/v1.43/images/json", APP, "VirtualSize", 115),
    ("VirtualSize omitted when Size is 0 (25-28)", "docker-26.1", "/v1.43/images/json", EMPTY, "VirtualSize", MISSING),
    ("VirtualSize even when 0 through the 29.3+ compat wrapper", "docker-29.7", "/v1.43/images/json", EMPTY,
     "VirtualSize", 0),
    ("no VirtualSize from 1.44", "docker-26.1", "/v1.44/images/json", APP, "VirtualSize", MISSING),
    ("SharedSize -1 unless asked", "docker-26.1", "/images/json", APP, "SharedSize", -1),
    ("shared-size ignored below 1.42", "docker-20.10", "/images/json?shared-size=1", APP, "SharedSize", -1),
    ("shared-size: layer chains used by other images (graphdriver: whole store)", "docker-26.1",
     "/images/json?shared-size=1", APP, "SharedSize", 110),
    ("shared-size basis is the whole store on graphdriver", "docker-26.1",
     q({"reference": ["ex/app"]}, **{"shared-size": "1"}), APP, "SharedSize", 110),
    ("shared-size basis is the listed images on containerd", "docker-26.1-containerd",
     q({"reference": ["ex/app"]}, **{"shared-size": "1"}), APP, "SharedSize", 0),
    ("unshared image", "docker-26.1", "/images/json?shared-size=1", PINNED, "SharedSize", 0),
    ("Containers -1 before 1.51", "docker-29.7", "/v1.50/images/json", APP, "Containers", -1),
    ("Containers counted from 1.51 on 28.3+", "docker-29.7", "/v1.51/images/json", APP, "Containers", 1),
    ("Containers 0 when unused", "docker-29.7", "/v1.51/images/json", BASE, "Containers", 0),
    ("Containers always -1 on 28.1", "docker-28.1", "/v1.49/images/json", APP, "Containers", -1),
    ("Labels null when the config has none", "docker-28.1-containerd", "/images/json", PINNED, "Labels", None),
    ("Labels {} when none on containerd 29.1.2+", "docker-29.7-containerd", "/images/json", PINNED, "Labels", {}),
    ("Labels keep an empty map", "docker-26.1", "/images/json", EMPTY, "Labels", {}),
    ("Created in whole seconds", "docker-26.1", "/images/json", BASE, "Created", 1000),
    ("Created 0 for 1970", "docker-26.1", "/images/json", PINNED, "Created", 0),
    ("ParentId of a build step", "docker-26.1", "/images/json", APP, "ParentId", APP.parent),
    ("containerd: a tagged image shows name@<id>", "docker-26.1-containerd", "/images/json", BASE, "RepoDigests",
     [f"ex/base@{BASE.id}"]),
    ("containerd: RepoDigests from the last record by name", "docker-26.1-containerd", "/images/json", APP,
     "RepoDigests", [f"localhost:5000/ex/app@{APP.id}"]),
    ("containerd: a pulled digest is a record, listed in RepoTags", "docker-26.1-containerd", "/images/json", PINNED,
     "RepoTags", ["localhost:5000/ex/pinned@sha256:" + "b" * 64]),
    ("graphdriver keeps every digest reference", "docker-26.1", "/images/json", APP, "RepoDigests",
     ["localhost:5000/ex/app@sha256:" + "a" * 64]),
    ("RepoTags sorted by canonical name", "docker-26.1", "/images/json", APP, "RepoTags",
     ["ex/app:1", "localhost:5000/ex/app:1"]),
    ("Descriptor from 1.48 on containerd", "docker-28.1-containerd", "/v1.47/images/json", APP, "Descriptor", MISSING),
    ("no Descriptor on graphdriver", "docker-28.1", "/v1.49/images/json", APP, "Descriptor", MISSING),
    ("no Manifests without manifests=1", "docker-28.1-containerd", "/v1.49/images/json", APP, "Manifests", MISSING),
    ("manifests ignored below 1.47", "docker-28.1-containerd", "/v1.46/images/json?manifests=1", APP, "Manifests",
     MISSING),
    ("no Manifests on graphdriver", "docker-28.1", "/v1.49/images/json?manifests=1", APP, "Manifests", MISSING),
]


@pytest.mark.parametrize(("rule", "profile", "target", "image", "field", "expected"), FIELDS,
                         ids=[r[0] for r in FIELDS])
def test_field_rules(rule: str, profile: str, target: str, image: Any, field: str, expected: Any) -> None:
    status, body, _ = get(profile, target)
    assert status == 200, body
    entry = item(body, image.id)
    if expected is MISSING:
        assert field not in entry
    else:
        assert entry[field] == expected


def test_descriptor_and_manifests_on_containerd() -> None:
    _, body, _ = get("docker-28.1-containerd", "/v1.49/images/json?manifests=1")
    app = item(body, APP.id)
    assert app["Descriptor"]["digest"] == APP.id
    assert list(app) == ["Containers", "Created", "Id", "Labels", "ParentId", "Descriptor", "Manifests",
                         "RepoDigests", "RepoTags", "SharedSize", "Size"]
    assert app["Manifests"][0]["Kind"] == "image" and app["Manifests"][0]["ImageData"]["Platform"]["os"] == "linux"


@pytest.mark.parametrize("profile", ["docker-20.10", "docker-26.1"])
def test_key_order_and_newest_first(profile: str) -> None:
    _, body, _ = get(profile, "/images/json?all=1")
    assert list(body[0])[:5] == ["Containers", "Created", "Id", "Labels", "ParentId"]
    created = [entry["Created"] for entry in body]
    assert created == sorted(created, reverse=True)
    assert names(body)[:3] == ["app", "dangling", "mid"]


def test_compact_json_with_trailing_newline() -> None:
    from rules_store import NOW_NS, STORE

    from pytest_dockerimages._core.daemon import respond
    from pytest_dockerimages._core.wire import Request

    response = respond(STORE, get_profile("docker-26.1"), Request("GET", q({"reference": ["nosuch"]})), NOW_NS)
    assert response.body == b"[]\n"
    full = respond(STORE, get_profile("docker-26.1"), Request("GET", "/images/json"), NOW_NS)
    assert full.body.endswith(b"}]\n") and b": " not in full.body and b", " not in full.body


# --- versions, routes, headers ------------------------------------------------------------------

def test_version_too_old_is_text_plain_on_20_10() -> None:
    status, body, headers = get("docker-20.10", "/v1.11/images/json")
    assert status == 400 and headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body == ("client version 1.11 is too old. Minimum supported API version is 1.12, "
                    "please upgrade your client to a newer version\n")
    assert "Docker-Experimental" not in headers and headers["X-Content-Type-Options"] == "nosniff"


def test_any_error_below_1_24_is_text_plain_on_20_10() -> None:
    status, body, headers = get("docker-20.10", "/v1.12/images/json?" + q({"foo": ["x"]}).split("?")[1])
    assert (status, body, headers["Content-Type"]) == (400, "Invalid filter 'foo'\n", "text/plain; charset=utf-8")


@pytest.mark.parametrize(("profile", "target", "message"), [
    ("docker-26.1", "/v1.23/images/json", "client version 1.23 is too old. Minimum supported API version is 1.24, "
                                          "please upgrade your client to a newer version"),
    ("docker-26.1", "/v1.46/images/json", "client version 1.46 is too new. Maximum supported API version is 1.45"),
    ("docker-20.10", "/v1.42/images/json", "client version 1.42 is too new. Maximum supported API version is 1.41"),
    ("docker-29.7", "/v1.39/images/json", "client version 1.39 is too old. Minimum supported API version is 1.40, "
                                          "please upgrade your client to a newer version"),
])
def test_version_errors_in_json(profile: str, target: str, message: str) -> None:
    status, body, headers = get(profile, target)
    assert (status, body) == (400, {"message": message})
    assert "Docker-Experimental" not in headers and headers["Api-Version"] == get_profile(profile).api_max


@pytest.mark.parametrize("target", ["/v1.041/images/json", "/v1.41.0/images/json", "/v1.41/images/json"])
def test_versions_compare_numerically(target: str) -> None:
    assert get("docker-20.10", target)[0] == 200


@pytest.mark.parametrize(("method", "target"), [("GET", "/containers"), ("HEAD", "/images/json"),
                                                ("POST", "/images/json"), ("GET", "/V1.41/images/json"),
                                                ("GET", "/v1.x/images/json")])
def test_unknown_routes_are_page_not_found(method: str, target: str) -> None:
    status, body, headers = get("docker-26.1", target, method=method)
    assert (status, body) == (404, {"message": "page not found"})
    assert "Api-Version" not in headers


@pytest.mark.parametrize(("profile", "extra"), [("docker-20.10", False), ("docker-26.1", True)])
def test_ping_headers(profile: str, extra: bool) -> None:
    status, body, headers = get(profile, "/_ping")
    assert (status, body) == (200, "OK")
    assert headers["Cache-Control"] == "no-cache, no-store, must-revalidate" and headers["Pragma"] == "no-cache"
    assert ("Builder-Version" in headers) is extra and ("Swarm" in headers) is extra
    status, body, headers = get(profile, "/_ping", method="HEAD")
    assert (status, body, headers["Content-Length"]) == (200, "", "0")


@pytest.mark.parametrize("profile", list(PROFILES))
def test_version_document(profile: str) -> None:
    status, body, _ = get(profile, "/version")
    p = get_profile(profile)
    assert status == 200
    assert (body["ApiVersion"], body["MinAPIVersion"], body["Version"]) == (p.api_max, p.api_min, p.engine_version)
    assert body["Components"][0]["Name"] == "Engine"


# --- every rendered response validates against the strict schema of its version ---------------

def _versions(profile: str) -> list[str]:
    p = get_profile(profile)
    low = max(24, int(p.api_min.split(".")[1]))
    return [f"1.{minor}" for minor in range(low, int(p.api_max.split(".")[1]) + 1)]


STRICT_CASES = [(p, v) for p in PROFILES for v in _versions(p)]


@pytest.mark.parametrize(("profile", "version"), STRICT_CASES, ids=[f"{p}-v{v}" for p, v in STRICT_CASES])
def test_rendered_responses_validate_strictly(profile: str, version: str) -> None:
    for query in ("", "?all=1", "?all=1&shared-size=1&manifests=1", "?manifests=1&identity=1"):
        status, body, _ = get(profile, f"/v{version}/images/json{query}")
        assert status == 200, body
        assert validate("images-json", version, body, strict=True) == []
    for image in (APP, PINNED, DANGLING):
        status, body, _ = get(profile, f"/v{version}/images/{image.id}/json")
        assert status == 200, body
        assert validate("image-inspect", version, body, strict=True) == [], (profile, version)


@pytest.mark.parametrize(("profile", "store"), [("docker-26.1", "graphdriver"), ("docker-26.1-containerd", "containerd")])
def test_info_tells_the_image_store(profile: str, store: str) -> None:
    from pytest_dockerimages._real.snapshot import image_store_of

    status, body, _ = get(profile, "/info")
    assert status == 200 and body["Images"] == 7 and image_store_of(body) == store
