"""Tests of the helpers for `GET /system/df`, `POST /images/prune` and the prune requests.

Each rule has a row that passes (the model's own answer, as the real daemons answered: tests/test_system_df.py
and tests/test_prune.py) and a row that breaks it once, whose message must name the rule and the image. Then
the helpers run on whole answers: from the fake for every profile, and from private real daemons.
"""
from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, Callable, Iterator
from urllib.parse import quote, urlencode

import pytest
from requires import private_daemon_with_a_container
from test_prune import BASE, CHILD, DANGLING, DIGEST_ONLY, NOW, USED

from pytest_dockerimages import FakeDaemon
from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import PROFILES, get_profile, version_tuple
from pytest_dockerimages._core.prune import prune_images
from pytest_dockerimages._core.query import parse_form
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._http import unixhttp
from pytest_dockerimages._real.harness import RealDaemon
from pytest_dockerimages.assertions import (
    assert_containers_counted,
    assert_no_removal_requested,
    assert_prune_consistent,
    assert_prune_requested,
    assert_shared_size_computed,
    assert_valid_system_df,
)

STORE = ImageStore([BASE, CHILD, DANGLING, USED])
# for whole runs on the fake: one more image, never pruned by label
TOOL = Image(tags=["tool:latest"], created="2025-06-01T12:00:00Z", labels={"tier": "tool"},
             layers=[{"digest": "sha256:" + "6" * 64, "size": 9}])
Doc = dict[str, Any]


def _get(store: ImageStore, profile: str, target: str) -> Any:
    response = respond(store, get_profile(profile), Request("GET", target), NOW)
    assert response.status == 200, response.body
    return json.loads(response.body)


def _df(profile: str, version: str, query: str) -> Doc:
    body: Doc = _get(STORE, profile, f"/v{version}/system/df?{query}")
    return body


def _check_df(profile: str | None, version: str, query: str, body: Doc) -> str:
    """The helper's message ("" when the body passes)."""
    try:
        assert_valid_system_df(body, version, query=query, profile=profile)
    except AssertionError as error:
        return str(error)
    return ""


# --------------------------------------------------------------------------- /system/df


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """Set `Images.0.SharedSize`-style paths (a `+N` value adds to the number there)."""
    def change(body: Doc) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        key: Any = int(last) if last.isdigit() else last
        target[key] = target[key] + int(value[1:]) if isinstance(value, str) and value[:1] == "+" else value
    return change


def _drop(key: str) -> Callable[[Doc], None]:
    return lambda body: body.pop(key)


def _used_index(body: Doc) -> int:
    return next(i for i, image in enumerate(body["Images"]) if image["Id"] == USED.id)


def _more_containers(body: Doc) -> None:
    body["Images"][_used_index(body)]["Containers"] = 2


def _swap_images(body: Doc) -> None:
    body["Images"][0], body["Images"][-1] = body["Images"][-1], body["Images"][0]


def _drop_item(body: Doc) -> None:
    body["ImageUsage"]["Items"].pop(0)


DF_RULES = [  # rule, profile, version, query, break it, words of the message
    ("SharedSize computed", "docker-26.1", "1.45", "", _set("Images.0.SharedSize", -1),
     ["[SharedSize] #0 image", "SharedSize is -1, expected >= 0 (/system/df always computes it)"]),
    ("Containers counted", "docker-28.5", "1.51", "", _set("Images.1.Containers", -1),
     ["[Containers] #1 image", "Containers is -1, expected >= 0"]),
    ("SharedSize within Size", "docker-20.10", "1.41", "", _set("Images.0.SharedSize", 10**9),
     ["[SharedSize] #0 image", "expected at most Size"]),
    ("LayersSize counts the images' layers", "docker-26.1-containerd", "1.45", "", _set("LayersSize", 1),
     ["[LayersSize] LayersSize is 1, expected at least 132"]),
    ("no LayersSize without images", "docker-26.1", "1.45", "type=volume", _set("LayersSize", 5),
     ["[LayersSize] LayersSize is 5, expected 0 (images were not asked for"]),
    ("26.1-28.x: sections not asked for are null", "docker-28.1", "1.49", "type=image", _set("Containers", []),
     ["[sections] Containers is list, expected null (layout of docker-26.1 to docker-28.5 at API 1.49, type=image)"]),
    ("20.10: BuilderSize", "docker-20.10", "1.41", "", _drop("BuilderSize"),
     ["[sections] BuilderSize is missing, expected int (layout of docker-20.10 at API 1.41, every section)"]),
    ("29: sections not asked for are omitted", "docker-29.7", "1.47", "type=image", _set("Volumes", []),
     ["[sections] Volumes is list, expected missing"]),
    ("29: usage objects from 1.52", "docker-29.7-containerd", "1.55", "", _drop("ImageUsage"),
     ["ImageUsage is missing, expected object (layout of docker-29.7 at API 1.55, every section, verbose=0)"]),
    ("29: verbose=1 drops the legacy fields", "docker-29.7-containerd", "1.55", "verbose=1", _set("Images", []),
     ["Images is list, expected missing", "verbose=1"]),
    ("ImageUsage.ActiveCount", "docker-29.7", "1.55", "verbose=1", _set("ImageUsage.ActiveCount", 3),
     ["[ImageUsage] ActiveCount is 3, expected 1 (the images with Containers > 0)"]),
    ("ImageUsage.Reclaimable", "docker-29.7", "1.55", "verbose=1", _set("ImageUsage.Reclaimable", 1),
     ["[ImageUsage] Reclaimable is 1, expected 27 (Size - SharedSize of the images no container uses)"]),
    ("ImageUsage.TotalCount", "docker-29.7", "1.55", "verbose=1", _set("ImageUsage.TotalCount", "+1"),
     ["[ImageUsage] TotalCount is 5, expected 4 (the number of Items)"]),
    ("ImageUsage.TotalSize is LayersSize", "docker-29.7", "1.55", "", _set("ImageUsage.TotalSize", "+1"),
     ["[ImageUsage] TotalSize is 133, expected LayersSize 132"]),
    ("Images and Items alike", "docker-29.7", "1.52", "", _drop_item,
     ["[ImageUsage] Items has 3 image(s) that differ from the 4 of Images"]),
    ("ContainerUsage counts", "docker-29.7", "1.55", "type=container", _set("ContainerUsage.ActiveCount", 5),
     ["[ContainerUsage] ActiveCount is 5, expected at most TotalCount 1"]),
    ("Containers against the containers", "docker-26.1", "1.45", "", _more_containers,
     ["[Containers]", "(used:1): Containers is 2, expected 1 (the containers listed with this ImageID)"]),
    ("VirtualSize as in a listing", "docker-29.7", "1.45", "", _set("Images.0.VirtualSize", 1),
     ["[VirtualSize] #0 image", "VirtualSize is sent, expected no VirtualSize field"]),
    ("newest first", "docker-28.5-containerd", "1.51", "", _swap_images, ["[Created order]"]),
]


@pytest.mark.parametrize("profile", [True, False], ids=["profile", "any-release"])
@pytest.mark.parametrize(("rule", "release", "version", "query"), sorted({r[:4] for r in DF_RULES}))
def test_df_rule_passes_on_the_daemons_answer(rule: str, release: str, version: str, query: str,
                                              profile: bool) -> None:
    body = _df(release, version, query)
    assert _check_df(release if profile else None, version, query, body) == ""


@pytest.mark.parametrize(("rule", "release", "version", "query", "mutate", "words"), DF_RULES,
                         ids=[r[0] for r in DF_RULES])
def test_df_rule_broken_is_named(rule: str, release: str, version: str, query: str,
                                 mutate: Callable[[Doc], None], words: list[str]) -> None:
    body = _df(release, version, query)
    mutate(body)
    message = _check_df(release, version, query, body)
    assert message.startswith(f"GET /system/df body is not what a daemon sends (API {version}, profile {release}")
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(("body", "version", "query", "profile", "words"), [
    (b"not json", "1.45", "", None, ["[JSON] body: not a JSON document"]),
    ([], "1.45", "", None, ["[schema] body: expected a JSON object, got list"]),
    ({}, "1.45", "type=bogus", "docker-26.1", ["[query] the daemon answers 400 'unknown object type: bogus'"]),
    ({}, "1.52", "", "docker-28.5", ["[API version] docker-28.5 serves API 1.24 to 1.51; it answers API 1.52 with a "
                                     "400, not a disk usage document"]),
    ({}, "1.99", "", None, ["[API version] no release serves API 1.99"]),
])
def test_df_body_that_is_no_disk_usage(body: Any, version: str, query: str, profile: str | None,
                                       words: list[str]) -> None:
    message = _check_df(profile, version, query, body)
    for word in words:
        assert word in message, message


def test_df_without_a_profile_names_the_nearest_layout() -> None:
    body = _df("docker-26.1", "1.45", "type=image")
    body["Containers"] = []
    message = _check_df(None, "1.45", "type=image", body)
    assert "(nearest layout: docker-26.1 to docker-28.5's; pass profile= to be exact)" in message, message
    assert "Containers is list, expected null" in message


def test_df_query_may_be_a_dict() -> None:
    body = _df("docker-29.7", "1.55", "type=image&type=container&verbose=1")
    assert_valid_system_df(body, "v1.55", query={"type": ["image", "container"], "verbose": True},
                           profile="docker-29.7")
    with pytest.raises(AssertionError, match="ImageUsage is object, expected missing"):
        assert_valid_system_df(body, "1.55", query={"type": "container", "verbose": True}, profile="docker-29.7")


@pytest.mark.parametrize(("helper", "key"), [(assert_shared_size_computed, "SharedSize"),
                                             (assert_containers_counted, "Containers")])
def test_small_checks_of_computed_counts(helper: Callable[[Any], None], key: str) -> None:
    df = _df("docker-29.7", "1.55", "")
    listing = _get(STORE, "docker-29.7", "/v1.55/images/json?shared-size=1")
    helper(df)  # a /system/df body: its images
    helper(listing)
    helper(json.dumps(df["ImageUsage"]["Items"]).encode())
    listing[1][key] = -1
    with pytest.raises(AssertionError, match=rf"\[{key}\] #1 image .*: {key} is -1, expected >= 0"):
        helper(listing)
    df["ImageUsage"]["Items"][2][key] = -1  # with Images there too, the helper reads Images
    helper(df)
    del df["Images"]
    with pytest.raises(AssertionError, match=rf"\[{key}\] #2 image"):
        helper(df)


# --------------------------------------------------------------------------- prune


def _listing(store: ImageStore, profile: str) -> list[Doc]:
    version = get_profile(profile).api_max  # counts containers where the release does
    body: list[Doc] = _get(store, profile, f"/v{version}/images/json?all=1")
    return body


def _story(profile: str, filters: dict[str, Any]) -> tuple[list[Doc], Doc, list[Doc]]:
    """Listing before, prune report, listing after: what the daemon answers."""
    after, report = prune_images(STORE, json.dumps(filters), get_profile(profile), NOW)
    return _listing(STORE, profile), json.loads(json.dumps(report)), _listing(after, profile)


def _check_prune(profile: str | None, story: tuple[list[Doc], Doc, list[Doc]], filters: Any) -> str:
    try:
        assert_prune_consistent(*story, filters=filters, profile=profile, now_ns=NOW)
    except AssertionError as error:
        return str(error)
    return ""


def _record(entry: Doc) -> Callable[[list[Doc], Doc, list[Doc]], None]:
    return lambda before, report, after: report["ImagesDeleted"].append(entry)


def _in_after(image_id: str, change: Callable[[Doc], None]) -> Callable[[list[Doc], Doc, list[Doc]], None]:
    return lambda before, report, after: change(next(d for d in after if d["Id"] == image_id))


def _without(image_id: str) -> Callable[[list[Doc], Doc, list[Doc]], None]:
    def change(before: list[Doc], report: Doc, after: list[Doc]) -> None:
        after[:] = [d for d in after if d["Id"] != image_id]
    return change


def _appear(before: list[Doc], report: Doc, after: list[Doc]) -> None:
    after.append(dict(after[0], Id="sha256:" + "e" * 64, RepoTags=["new:1"]))


def _delete_used(before: list[Doc], report: Doc, after: list[Doc]) -> None:
    report["ImagesDeleted"] += [{"Untagged": "used:2"}, {"Deleted": USED.id}]
    after[:] = [d for d in after if d["Id"] != USED.id]


def _set_report(key: str, value: Any) -> Callable[[list[Doc], Doc, list[Doc]], None]:
    return lambda before, report, after: report.__setitem__(key, value)


ALL = {"dangling": ["false"]}
PRUNE_RULES = [  # rule, profile, filters of the prune, break it, words
    ("Untagged names something listed", "docker-28.5", ALL, _record({"Untagged": "nosuch:1"}),
     ["[Untagged] 'nosuch:1' names no image or reference listed before the prune"]),
    ("Untagged is gone after", "docker-29.7-containerd", ALL, _record({"Untagged": "used:2"}),
     ["[Untagged] #", "(used:1): 'used:2' is reported untagged but still listed after the prune"]),
    ("Deleted is gone after", "docker-28.5", ALL, _record({"Deleted": USED.id}),
     ["[Deleted] #", "(used:1): reported deleted but still listed after the prune"]),
    ("Deleted is an id", "docker-28.5", {}, _record({"Deleted": "abc"}),
     ["[Deleted] 'abc' is not an image id, layer or digest"]),
    ("no used image deleted", "docker-29.7", ALL, _delete_used,
     ["[in use] #", "(used:1): deleted, but 1 container(s) use it"]),
    ("a used image keeps a name", "docker-29.7-containerd", ALL, _record({"Untagged": "used:2"}),
     ["[in use] #", "every name untagged (used:1, used:2), but 1 container(s) use it"]),
    ("nothing vanishes without a record", "docker-28.5", ALL, _without(USED.id),
     ["[vanished] #", "(used:1): missing from the listing after the prune, but the report does not delete it"]),
    ("no name vanishes without a record", "docker-28.5-containerd", ALL,
     _in_after(USED.id, lambda doc: doc.__setitem__("RepoTags", [])),
     ["[vanished] #", "'used:2' is gone after the prune without an Untagged record"]),
    ("nothing appears", "docker-26.1", {}, _appear, ["[appeared] #", "(new:1): listed after the prune but not before"]),
    ("SpaceReclaimed", "docker-26.1", {}, _set_report("SpaceReclaimed", -1),
     ["[report] SpaceReclaimed is -1, expected an integer >= 0"]),
    ("records", "docker-26.1", {}, _record({"Untagged": "x", "Deleted": "y"}),
     ["[report] ImagesDeleted[", "expected one of Untagged or Deleted, a name"]),
]


@pytest.mark.parametrize("profile", [True, False], ids=["profile", "guessed"])
@pytest.mark.parametrize(("release", "filters"), sorted({(r[1], json.dumps(r[2])) for r in PRUNE_RULES}))
def test_prune_rule_passes_on_the_daemons_answer(release: str, filters: str, profile: bool) -> None:
    assert _check_prune(release if profile else None, _story(release, json.loads(filters)), filters) == ""


@pytest.mark.parametrize(("rule", "release", "filters", "mutate", "words"), PRUNE_RULES,
                         ids=[r[0] for r in PRUNE_RULES])
def test_prune_rule_broken_is_named(rule: str, release: str, filters: dict[str, Any],
                                    mutate: Callable[[list[Doc], Doc, list[Doc]], None], words: list[str]) -> None:
    story = _story(release, filters)
    mutate(*story)
    message = _check_prune(release, story, None)  # the rules that need no filters
    assert message.startswith(f"prune report does not agree with the listings before and after (profile {release})")
    for word in words:
        assert word in message, message


FILTER_RULES = [  # rule, profile, filters the prune ran with, filters the check is given, words
    ("dangling only without dangling=false", "docker-28.5", ALL, {},
     ["[pruned wrongly] #", "(app:1): untagged app:1 and deleted, but it is tagged (app:1) and without "
                            "dangling=false only dangling images are pruned"]),
    ("dangling only, containerd", "docker-29.7-containerd", ALL, {"dangling": True},
     ["[pruned wrongly]", "(used:1): 1 name(s) untagged (used:1), but it is tagged (used:1, used:2)"]),
    ("label", "docker-29.7", ALL, {"dangling": False, "label": "tier=base"},
     ["[pruned wrongly]", '(app:1): untagged app:1 and deleted, but its labels {"tier": "app"} fail '
                          '{"label":["tier=base"]}', '(used:1): 1 name(s) untagged (used:1), but its labels {} fail']),
    ("label!", "docker-28.5-containerd", ALL, {"dangling": ["false"], "label!": ["tier=app"]},
     ["[pruned wrongly]", '(app:1): untagged app:1 and deleted, but its labels {"tier": "app"} fail '
                          '{"label!":["tier=app"]}']),
    ("until", "docker-28.5", ALL, {"dangling": ["false"], "until": ["2024-01-10T00:00:00Z"]},
     ["[pruned wrongly]", "(app:1): untagged app:1 and deleted, but it was created at 1706745600 (Unix time), not before "
                          "until=['2024-01-10T00:00:00Z']"]),
    ("kept wrongly", "docker-28.5", {}, ALL,
     ["[kept wrongly] #", "(app:1): passes the filters and no container uses it, but app:1 not untagged",
      "(used:1): 0 name(s) untagged, expected 1: all but one, as a container uses it"]),
    ("kept wrongly, containerd", "docker-29.7-containerd", {}, {"dangling": ["false"], "label": ["tier=app"]},
     ["[kept wrongly] #", "(app:1): passes the filters and no container uses it, but app:1 not untagged"]),
    ("filters the daemon refuses", "docker-26.1", {}, {"reference": ["x"]},
     ["[filters] the daemon answers 400 \"invalid filter 'reference'\" to these filters, not a prune report"]),
]


@pytest.mark.parametrize(("rule", "release", "ran", "given", "words"), FILTER_RULES, ids=[r[0] for r in FILTER_RULES])
def test_prune_against_other_filters_is_explained(rule: str, release: str, ran: dict[str, Any],
                                                  given: dict[str, Any], words: list[str]) -> None:
    story = _story(release, ran)
    assert _check_prune(release, story, ran) == ""
    message = _check_prune(release, story, given)
    for word in words:
        assert word in message, message


def test_kept_images_are_decided_only_where_the_listing_counts_containers() -> None:
    story = _story("docker-26.1", {})  # 26.1 lists Containers -1: a used image (and its parents) may stay
    assert _check_prune("docker-26.1", story, ALL) == ""
    wrong = _story("docker-26.1", ALL)
    message = _check_prune("docker-26.1", wrong, {"dangling": ["false"], "label": ["tier=base"]})
    assert "images kept are not checked: the listing before does not count containers" in message, message
    assert "[pruned wrongly]" in message


def test_until_near_the_instant_goes_either_way() -> None:
    story = _story("docker-28.5", {"dangling": ["false"], "until": ["2024-02-01T00:00:30Z"]})
    assert any(d.get("Untagged") == "app:1" for d in story[1]["ImagesDeleted"])
    assert _check_prune("docker-28.5", story, {"dangling": ["false"], "until": ["2024-02-01T00:00:00Z"]}) == ""
    assert "[pruned wrongly]" in _check_prune("docker-28.5", story,
                                              {"dangling": ["false"], "until": ["2024-01-31T00:00:00Z"]})


# --------------------------------------------------------------------------- prune requests


def _logged(method: str, target: str) -> SimpleNamespace:
    """A request log entry as FakeDaemon/Cassette expose it (path without version, query lists)."""
    path, _, query = target.partition("?")
    version, _, rest = path[2:].partition("/") if path.startswith("/v1") else (None, "", path[1:])
    values = {k: list(v) for k, v in parse_form(query).values.items()}
    return SimpleNamespace(method=method, path="/" + rest, api_version=version, query=values)


PRUNE_MAP = "/v1.45/images/prune?filters=" + quote('{"dangling":{"false":true},"label":{"a=1":true}}')
LOG = SimpleNamespace(requests=[_logged("GET", "/v1.45/images/json"), _logged("POST", PRUNE_MAP),
                                _logged("POST", "/images/prune")])


@pytest.mark.parametrize("kwargs", [
    {}, {"filters": {"dangling": False, "label": "a=1"}}, {"filters": '{"label":["a=1"],"dangling":["false"]}'},
    {"filters": {}, "count": 1}, {"api_version": "v1.45", "count": 1}, {"count": 2},
])
def test_prune_requested(kwargs: dict[str, Any]) -> None:
    assert_prune_requested(LOG, **kwargs)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"filters": {"dangling": True}}, ['expected POST /images/prune filters={"dangling":["true"]} at least once, '
                                       "found 0 matching request(s); 3 request(s) seen:"]),
    ({"count": 0}, ["expected POST /images/prune never, found 2"]),
    ({"api_version": "1.44"}, ["POST /images/prune API 1.44"]),
])
def test_prune_not_requested_lists_what_was_seen(kwargs: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(AssertionError) as raised:
        assert_prune_requested(LOG, **kwargs)
    message = str(raised.value)
    for word in words + ["  - GET /v1.45/images/json",
                         ' POST /v1.45/images/prune filters={"dangling":["false"],"label":["a=1"]}']:
        assert word in message, message


def test_no_removal_requested() -> None:
    assert_no_removal_requested(SimpleNamespace(requests=LOG.requests[:1]))
    assert_no_removal_requested(SimpleNamespace(requests=[]))
    for removal in (_logged("POST", "/images/prune"), _logged("DELETE", "/v1.45/images/app:1?force=1")):
        with pytest.raises(AssertionError) as raised:
            assert_no_removal_requested(SimpleNamespace(requests=[LOG.requests[0], removal]))
        message = str(raised.value)
        assert message.startswith("expected no image removal (POST /images/prune, DELETE /images/{name}), found 1; "
                                  "2 request(s) seen:"), message
        assert f"  * {removal.method} " in message and "  - GET /v1.45/images/json" in message


# --------------------------------------------------------------------------- whole answers: the fake


def _send(host: str, method: str, target: str) -> Any:
    status, _, body = unixhttp.request(host, method, target, timeout=60)
    assert status == 200, (target, body)
    return json.loads(body)


DF_QUERIES = ("", "type=image", "type=container&type=volume", "type=build-cache", "verbose=1")
PRUNES: list[dict[str, list[str]]] = [
    {"dangling": ["false"], "label": ["tier=app"]}, {}, {"dangling": ["false"], "until": ["2024-01-02T00:00:00Z"]},
    {"dangling": ["false"]},
]


def _answers_pass(host: str, api: str, profile: str | None, now_ns: int | None) -> int:
    """List, df, prune with each filter and list again on a daemon; the helpers pass on every answer.
    Returns the number of prune records (a run that prunes nothing proves little)."""
    for version in sorted({v for v in ("1.41", "1.44", api) if version_tuple(v) <= version_tuple(api)}):
        for query in DF_QUERIES:
            if version_tuple(version) < (1, 44) and query == "type=build-cache":
                continue  # 26.1 drops the connection there (a nil dereference in the daemon)
            df = _send(host, "GET", f"/v{version}/system/df?{query}")
            assert_valid_system_df(df, version, query=query, profile=profile)
            assert_valid_system_df(df, version, query=query)
            if query in ("", "type=image"):
                assert_shared_size_computed(df)
                assert_containers_counted(df)
    records = 0
    for filters in PRUNES:
        before = _send(host, "GET", f"/v{api}/images/json?all=1")
        top = _send(host, "GET", f"/v{api}/images/json")
        report = _send(host, "POST", f"/v{api}/images/prune?" + urlencode({"filters": json.dumps(filters)}))
        after = _send(host, "GET", f"/v{api}/images/json?all=1")
        assert_prune_consistent(before, report, after, filters=filters, profile=profile, now_ns=now_ns)
        assert_prune_consistent(before, report, after, filters=filters, now_ns=now_ns)
        assert_prune_consistent(top, report, _send(host, "GET", f"/v{api}/images/json"), filters=filters,
                                profile=profile, now_ns=now_ns)
        records += len(report["ImagesDeleted"] or [])
    return records


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_the_fakes_answers_pass_for_every_profile(profile: str) -> None:
    with FakeDaemon(images=[BASE, CHILD, DANGLING, USED, DIGEST_ONLY, TOOL], profile=profile) as fake:
        api = fake.profile.api_max
        assert _answers_pass(fake.docker_host, api, profile, fake.clock()) > 0
        assert_prune_requested(fake, filters={"dangling": False, "label": "tier=app"}, api_version=api, count=1)
        assert_prune_requested(fake, filters={}, count=1)
        assert_prune_requested(fake, count=len(PRUNES))
        with pytest.raises(AssertionError, match=r"found 4; \d+ request\(s\) seen"):
            assert_no_removal_requested(fake)


@pytest.mark.parametrize("profile", sorted(n for n, p in PROFILES.items() if p.is_containerd and p.containers_from))
def test_the_fakes_prune_of_a_tagged_and_digested_containerd_image(profile: str) -> None:
    """Where the listing counts containers kept images are checked too: a tagged image's RepoDigests are
    no records of their own, so with its tags pruned it goes (tests/test_prune.py pins the rule)."""
    with FakeDaemon(images=default_images(), profile=profile) as fake:
        _answers_pass(fake.docker_host, fake.profile.api_max, profile, fake.clock())


# --------------------------------------------------------------------------- whole answers: real daemons


@pytest.fixture(params=["docker-26.1", "docker-28.5", "docker-29.7-containerd"])
def pruned_daemon(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    """A private daemon (a prune deletes images: never a shared one) with the project's image set and a
    container on example/tiny:latest."""
    yield from private_daemon_with_a_container(request.param)


@pytest.mark.realdaemon
def test_a_real_daemons_answers_pass(pruned_daemon: RealDaemon) -> None:
    api = pruned_daemon.version["ApiVersion"]
    before = _send(pruned_daemon.docker_host, "GET", f"/v{api}/images/json?all=1")
    assert _answers_pass(pruned_daemon.docker_host, api, pruned_daemon.variant.name, None) > 0
    after = _send(pruned_daemon.docker_host, "GET", f"/v{api}/images/json?all=1")
    assert len(after) < len(before)
    # the same answers, read against other filters than the prune ran with, fail: the check can fail here
    nothing = {"ImagesDeleted": None, "SpaceReclaimed": 0}
    with pytest.raises(AssertionError, match=r"\[vanished\]"):
        assert_prune_consistent(before, nothing, after, profile=pruned_daemon.variant.name)


def test_failures_in_a_user_test_show_the_report_and_no_helper_frames(pytester: pytest.Pytester) -> None:
    df = _df("docker-29.7", "1.55", "verbose=1")
    df["ImageUsage"]["ActiveCount"] = 3
    before, report, after = _story("docker-28.5", ALL)
    pytester.makepyfile(test_user=f"""
        from types import SimpleNamespace
        from pytest_dockerimages.assertions import (
            assert_no_removal_requested, assert_prune_consistent, assert_valid_system_df)

        def test_df():
            assert_valid_system_df({json.dumps(df)!r}, "1.55", query="verbose=1", profile="docker-29.7")

        def test_prune():
            assert_prune_consistent({json.dumps(before)!r}, {json.dumps(report)!r}, {json.dumps(after)!r},
                                    filters={{}}, profile="docker-28.5")

        def test_dry_run():
            log = SimpleNamespace(requests=[SimpleNamespace(method="POST", path="/images/prune", query={{}})])
            assert_no_removal_requested(log)
    """.replace("\n        ", "\n"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*[[]ImageUsage] ActiveCount is 3, expected 1*",
        "*[[]pruned wrongly] #1 image * (app:1): untagged app:1 and deleted, but it is tagged*",
        "*expected no image removal*",
    ])
    text = result.stdout.str()
    assert "_assertions" not in text and "__tracebackhide__" not in text, text
