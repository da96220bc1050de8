"""Cassettes and the endpoints beyond the listing: the canonical keys of image history, system df and
image prune (a docker CLI request and a docker SDK request for the same thing match one recording),
replay across recorded state changes, and a fallback fake that prunes and deletes."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from pytest_dockerimages._cassettes.cassette import Cassette, load
from pytest_dockerimages._cassettes.format import Interaction, changes_state
from pytest_dockerimages._cassettes.keys import canonical_key, describe_key
from pytest_dockerimages._cassettes.replay import ReplayBackend, images_from_cassette
from pytest_dockerimages._core.profiles import PROFILES
from pytest_dockerimages._core.wire import Request, Response
from pytest_dockerimages._files.resources import data_dir


def q(path: str, **params: object) -> str:
    """A target with params encoded as Go's url.Values.Encode (JSON values given as Python data)."""
    pairs = [(k, v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))) for k, v in params.items()]
    return path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")


def sdk_json(path: str, name: str, value: object) -> str:
    """docker-py's spelling: json.dumps with its default separators, encoded with `+` for spaces."""
    return path + "?" + urllib.parse.urlencode({name: json.dumps(value)})


AMD64 = {"os": "linux", "architecture": "amd64"}
HISTORY = "/images/example/app:1/history"
INSPECT = "/images/example/app:1/json"
PRUNE = "/images/prune"

# (profile, method, a, b): the daemon reads a and b alike
SAME = [
    # history: the platform parameter is decoded JSON (key order, spaces, field-name case, empty fields)
    ("docker-28.1", "GET", q(f"/v1.48{HISTORY}", platform=AMD64),
     sdk_json(f"/v1.48{HISTORY}", "platform", {"architecture": "amd64", "os": "linux"})),
    ("docker-28.1", "GET", q(f"/v1.48{HISTORY}", platform=AMD64),
     q(f"/v1.48{HISTORY}", platform={"OS": "linux", "Architecture": "amd64", "variant": ""})),
    # ... read from API 1.48 on Docker 28+ only
    ("docker-28.1", "GET", q(f"/v1.47{HISTORY}", platform=AMD64), f"/v1.47{HISTORY}"),
    ("docker-26.1", "GET", q(f"/v1.45{HISTORY}", platform=AMD64), f"/v1.45{HISTORY}"),
    ("docker-28.1", "GET", f"/v1.48{HISTORY}", f"/v1.48{HISTORY}?platform="),
    ("docker-28.1", "GET", f"/v1.48{HISTORY}", f"/v1.48{HISTORY}?other=1"),
    ("docker-28.1", "GET", "/v1.48/images/sha256%3Aabc/history", "/v1.48/images/sha256:abc/history"),
    # inspect: platform decoded alike, read from API 1.49 on Docker 28+ (history: 1.48), manifests from 1.48
    ("docker-29.7-containerd", "GET", q(f"/v1.55{INSPECT}", platform=AMD64),
     sdk_json(f"/v1.55{INSPECT}", "platform", {"Architecture": "amd64", "OS": "linux", "os.version": ""})),
    ("docker-28.1-containerd", "GET", q(f"/v1.48{INSPECT}", platform=AMD64), f"/v1.48{INSPECT}"),
    ("docker-26.1-containerd", "GET", q(f"/v1.45{INSPECT}", platform="{bad"), f"/v1.45{INSPECT}"),
    ("docker-28.5", "GET", f"/v1.51{INSPECT}?manifests=0", f"/v1.51{INSPECT}"),
    ("docker-28.5", "GET", f"/v1.47{INSPECT}?manifests=1", f"/v1.47{INSPECT}"),
    (None, "GET", q(f"/v1.49{INSPECT}", platform=AMD64), sdk_json(f"/v1.49{INSPECT}", "platform", AMD64)),
    # system df: type is a set of sections, from API 1.42; none asked is all of them
    ("docker-26.1", "GET", "/v1.45/system/df?type=image&type=container", "/v1.45/system/df?type=container&type=image"),
    ("docker-26.1", "GET", "/v1.45/system/df?type=image&type=image", "/v1.45/system/df?type=image"),
    ("docker-26.1", "GET", "/v1.45/system/df",
     "/v1.45/system/df?type=container&type=image&type=volume&type=build-cache"),
    ("docker-26.1", "GET", "/v1.41/system/df?type=image", "/v1.41/system/df"),
    ("docker-20.10", "GET", "/system/df?type=image", "/system/df"),
    # verbose: Docker 29 from API 1.52, as the daemon parses booleans
    ("docker-29.7", "GET", "/v1.52/system/df?verbose=1", "/v1.52/system/df?verbose=true"),
    ("docker-29.7", "GET", "/v1.51/system/df?verbose=1", "/v1.51/system/df"),
    ("docker-28.5", "GET", "/v1.51/system/df?verbose=1", "/v1.51/system/df"),
    # image prune: the filters in either JSON form (the CLI's map, docker-py's list with spaces), any order
    ("docker-26.1", "POST", q(f"/v1.45{PRUNE}", filters={"dangling": {"true": True}}),
     sdk_json(f"/v1.45{PRUNE}", "filters", {"dangling": ["true"]})),
    ("docker-26.1", "POST", q(f"/v1.45{PRUNE}", filters={"dangling": {"false": True}, "label": {"a=b": True, "c": True}}),
     sdk_json(f"/v1.45{PRUNE}", "filters", {"label": ["c", "a=b"], "dangling": ["false"]})),
    ("docker-29.7-containerd", "POST", f"/v1.55{PRUNE}", q(f"/v1.55{PRUNE}", filters={})),
    ("docker-29.7-containerd", "POST", f"/v1.55{PRUNE}", f"/v1.55{PRUNE}?filters=null"),
    ("docker-20.10", "POST", q(f"/v1.41{PRUNE}", filters={"until": {"24h": True}}),
     sdk_json(f"/v1.41{PRUNE}", "filters", {"until": ["24h"]})),
    # without a profile every known parameter counts, and the same spellings still agree
    (None, "GET", q(f"/v1.48{HISTORY}", platform=AMD64),
     sdk_json(f"/v1.48{HISTORY}", "platform", {"architecture": "amd64", "os": "linux"})),
    (None, "GET", "/system/df?type=image&type=volume", "/system/df?type=volume&type=image"),
    (None, "POST", q(PRUNE, filters={"label": {"x": True}}), sdk_json(PRUNE, "filters", {"label": ["x"]})),
]

# (profile, method, a, b): the daemon reads a and b differently
DIFFERENT = [
    ("docker-28.1", "GET", q(f"/v1.48{HISTORY}", platform=AMD64), f"/v1.48{HISTORY}"),
    ("docker-28.1", "GET", q(f"/v1.48{HISTORY}", platform=AMD64),
     q(f"/v1.48{HISTORY}", platform={"os": "linux", "architecture": "arm64"})),
    ("docker-28.1", "GET", q(f"/v1.48{HISTORY}", platform=AMD64), q(f"/v1.48{HISTORY}", platform="{bad")),
    ("docker-28.1", "GET", f"/v1.48{HISTORY}", "/v1.48/images/example/app:2/history"),
    ("docker-28.1-containerd", "GET", q(f"/v1.49{INSPECT}", platform=AMD64), f"/v1.49{INSPECT}"),
    ("docker-29.7", "GET", q(f"/v1.55{INSPECT}", platform=AMD64),
     q(f"/v1.55{INSPECT}", platform={"os": "linux", "architecture": "arm64"})),
    ("docker-29.7-containerd", "GET", q(f"/v1.55{INSPECT}", platform="{bad"), f"/v1.55{INSPECT}"),
    ("docker-28.5-containerd", "GET", f"/v1.48{INSPECT}?manifests=1", f"/v1.48{INSPECT}"),
    (None, "GET", q(f"/v1.49{INSPECT}", platform=AMD64), f"/v1.49{INSPECT}"),
    ("docker-26.1", "GET", "/v1.42/system/df?type=image", "/v1.42/system/df"),
    ("docker-26.1", "GET", "/v1.45/system/df?type=image", "/v1.45/system/df?type=container"),
    ("docker-26.1", "GET", "/v1.45/system/df?type=nope", "/v1.45/system/df"),
    ("docker-29.7", "GET", "/v1.52/system/df?verbose=1", "/v1.52/system/df"),
    (None, "GET", "/system/df?verbose=1", "/system/df"),
    ("docker-26.1", "POST", q(f"/v1.45{PRUNE}", filters={"dangling": {"true": True}}),
     q(f"/v1.45{PRUNE}", filters={"dangling": {"false": True}})),
    ("docker-26.1", "POST", q(f"/v1.45{PRUNE}", filters={"label": {"a": True}}),
     q(f"/v1.45{PRUNE}", filters={"label": {"a": True, "b": True}})),
    ("docker-26.1", "POST", q(f"/v1.45{PRUNE}", filters="{bad"), f"/v1.45{PRUNE}"),
    ("docker-26.1", "POST", f"/v1.45{PRUNE}", "/v1.44/images/prune"),
]


@pytest.mark.parametrize(("profile", "method", "a", "b"), SAME)
def test_same_request_same_key(profile: str | None, method: str, a: str, b: str) -> None:
    chosen = PROFILES[profile] if profile else None
    assert canonical_key(method, a, profile=chosen) == canonical_key(method, b, profile=chosen)


@pytest.mark.parametrize(("profile", "method", "a", "b"), DIFFERENT)
def test_different_requests_different_keys(profile: str | None, method: str, a: str, b: str) -> None:
    chosen = PROFILES[profile] if profile else None
    assert canonical_key(method, a, profile=chosen) != canonical_key(method, b, profile=chosen)


@pytest.mark.parametrize(("target", "shown"), [
    (q(f"/v1.48{HISTORY}", platform=AMD64), 'platform={"architecture":"amd64","os":"linux"}'),
    ("/v1.45/system/df?type=volume&type=image", "type=image,volume"),
    (q(f"/v1.45{PRUNE}", filters={"label": {"b": True, "a": True}}), 'filters={"label":["a","b"]}'),
])
def test_keys_read_well_in_a_miss_report(target: str, shown: str) -> None:
    method = "POST" if PRUNE in target else "GET"
    assert shown in describe_key(canonical_key(method, target, profile=PROFILES["docker-28.1"]))


# --------------------------------------------------------------------------- replay across state changes

LIST = "/v1.45/images/json"
PRUNED = q(f"/v1.45{PRUNE}", filters={"dangling": {"true": True}})


def _it(method: str, target: str, body: bytes, status: int = 200) -> Interaction:
    return Interaction(method, target, (), b"", status, "OK", (("Content-Type", "application/json"),), body)


def _bodies(backend: ReplayBackend, *requests: tuple[str, str]) -> list[bytes]:
    return [backend.handle(Request(method, target)).body for method, target in requests]


@pytest.mark.parametrize(("method", "status", "changes"), [
    ("POST", 200, True), ("DELETE", 200, True), ("post", 204, True),
    ("POST", 400, False), ("DELETE", 404, False), ("POST", 500, False),
    ("GET", 200, False), ("HEAD", 200, False),
])
def test_what_counts_as_a_state_change(method: str, status: int, changes: bool) -> None:
    assert changes_state(method, status) is changes


def test_a_listing_after_a_recorded_prune_shows_the_change() -> None:
    """The listing was recorded three times before the prune (CLI and SDK forms): replay still shows
    the one recorded after it once the prune is played, and repeats it."""
    recorded = [_it("GET", LIST, b"[1]"), _it("GET", LIST + "?only_ids=0&all=0", b"[2]"), _it("GET", LIST, b"[3]"),
                _it("POST", PRUNED, b"pruned"), _it("GET", LIST, b"[after]")]
    backend = ReplayBackend(Cassette(None, recorded, {"profile": "docker-26.1"}))
    assert _bodies(backend, ("GET", LIST), ("GET", LIST), ("POST", PRUNED), ("GET", LIST), ("GET", LIST)) == [
        b"[1]", b"[2]", b"pruned", b"[after]", b"[after]"]


def test_reads_without_a_recording_in_the_current_epoch() -> None:
    """A read recorded only before the change plays its last recording; one recorded only after the
    change plays that even when the change was not replayed; writes play in recording order."""
    recorded = [_it("GET", "/v1.45/system/df", b"df1"), _it("GET", "/v1.45/system/df", b"df2"),
                _it("POST", PRUNED, b"first"), _it("GET", LIST, b"[after]"), _it("POST", PRUNED, b"second")]
    backend = ReplayBackend(Cassette(None, recorded, {"profile": "docker-26.1"}))
    assert _bodies(backend, ("GET", LIST), ("POST", PRUNED), ("GET", "/v1.45/system/df"), ("POST", PRUNED),
                   ("POST", PRUNED), ("GET", LIST)) == [b"[after]", b"first", b"df2", b"second", b"second", b"[after]"]


def test_a_refused_prune_does_not_start_a_new_epoch() -> None:
    recorded = [_it("GET", LIST, b"[1]"), _it("POST", PRUNED, b"no", status=400), _it("GET", LIST, b"[2]")]
    backend = ReplayBackend(Cassette(None, recorded, {"profile": "docker-26.1"}))
    assert _bodies(backend, ("POST", PRUNED), ("GET", LIST), ("GET", LIST)) == [b"no", b"[1]", b"[2]"]


# --------------------------------------------------------------------------- the fallback fake changes state

def _ids(response: Response) -> set[str]:
    assert response.status == 200, response.body
    return {entry["Id"] for entry in json.loads(response.body)}


def test_an_unrecorded_prune_is_carried_out_by_the_fallback_and_the_next_listing_shows_it() -> None:
    cassette = load(data_dir("cassettes") / "docker-26.1.yaml")
    listing = f"/v{cassette.api_version}/images/json?all=1"
    prune = q(f"/v{cassette.api_version}{PRUNE}", filters={"dangling": {"false": True}, "label": {"a=b": True}})
    assert cassette.index().get(cassette.key_of("POST", prune)) is None  # not recorded
    backend = ReplayBackend(cassette, fallback=True)
    before = _ids(backend.handle(Request("GET", listing)))
    assert backend.fallback_hits == []
    answer = backend.handle(Request("POST", prune))
    report = json.loads(answer.body)
    gone = {entry["Deleted"] for entry in report["ImagesDeleted"] if "Deleted" in entry} & before  # less layers
    assert answer.status == 200 and gone
    assert _ids(backend.handle(Request("GET", listing))) == before - gone  # the fake answers from now on
    assert backend.misses == [] and len(backend.fallback_hits) == 2


def test_an_unrecorded_delete_is_carried_out_by_the_fallback() -> None:
    cassette = load(data_dir("cassettes") / "docker-26.1.yaml")
    backend = ReplayBackend(cassette, fallback=True)
    answer = backend.handle(Request("DELETE", f"/v{cassette.api_version}/images/example/tiny:latest"))
    assert answer.status == 200 and json.loads(answer.body) == [{"Untagged": "example/tiny:latest"}]
    tags = {t for e in json.loads(backend.handle(Request("GET", "/images/json")).body) for t in e["RepoTags"]}
    assert "example/tiny:1.0" in tags and "example/tiny:latest" not in tags


def test_the_fallback_answers_history_as_recorded() -> None:
    """A recorded history answer seeds the image's history: the fake shows its steps, by any name."""
    shipped = load(data_dir("cassettes") / "docker-26.1.yaml")
    listing = json.loads(next(i.body for i in shipped.interactions if i.target == "/images/json?all=1"))
    app = next(e for e in listing if "example/loaded:app" in (e.get("RepoTags") or []))
    steps = [{"Comment": "", "Created": 1700000100, "CreatedBy": "COPY app /app", "Id": app["Id"],
              "Size": 12, "Tags": ["example/loaded:app"]},
             {"Comment": "base", "Created": 1700000000, "CreatedBy": "ADD rootfs /", "Id": "<missing>",
              "Size": app["Size"] - 12, "Tags": None}]
    recorded = _it("GET", f"/v1.45/images/{app['Id']}/history", json.dumps(steps).encode())
    others = [i for i in shipped.interactions if not i.target.split("?")[0].endswith("/history")]
    cassette = Cassette(None, [*others, recorded], dict(shipped.metadata))
    (image,) = [i for i in images_from_cassette(cassette) if i.id == app["Id"]]
    assert [(h.created_by, h.comment, h.size) for h in image.history or ()] == [
        ("ADD rootfs /", "base", app["Size"] - 12), ("COPY app /app", "", 12)]
    answer = ReplayBackend(cassette, fallback=True).handle(Request("GET", "/v1.45/images/example/loaded:app/history"))
    shown = json.loads(answer.body)
    assert [(h["Created"], h["CreatedBy"], h["Comment"], h["Size"]) for h in shown] == [
        (s["Created"], s["CreatedBy"], s["Comment"], s["Size"]) for s in steps]
    assert shown[0]["Id"] == app["Id"]


def test_a_malformed_recorded_history_leaves_the_image_with_the_fakes_history() -> None:
    shipped = load(data_dir("cassettes") / "docker-26.1.yaml")
    listing = json.loads(next(i.body for i in shipped.interactions if i.target == "/images/json?all=1"))
    first = listing[0]["Id"]
    bad = _it("GET", f"/v1.45/images/{first}/history", json.dumps([{"Id": first, "Created": "yesterday"}]).encode())
    others = [i for i in shipped.interactions if not i.target.split("?")[0].endswith("/history")]
    images = images_from_cassette(Cassette(None, [*others, bad], dict(shipped.metadata)))
    assert {i.id: i.history for i in images}[first] is None
