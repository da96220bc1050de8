"""Tests of the assertion helpers.

Correct responses come from the golden captures of real daemons (every helper must accept them);
broken ones change one thing at a time, and the message must name the broken rule and the image.
Newer rules (API >= 1.46) have no capture, so those rows use the model's own answers.
"""
from __future__ import annotations

import copy
import json
import re
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

import pytest
import rules_store

from pytest_dockerimages._core.profiles import version_tuple
from pytest_dockerimages._core.query import bool_value, parse_form
from pytest_dockerimages._core.timestamps import NANOS
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._files.seed import parse_seed
from pytest_dockerimages._http.unixhttp import request
from pytest_dockerimages.assertions import (
    assert_containers_default,
    assert_filter_semantics,
    assert_ids_well_formed,
    assert_images_requested,
    assert_no_placeholders,
    assert_placeholders_for_untagged,
    assert_shared_size_default,
    assert_sorted_by_created,
    assert_valid_images_json,
    assert_virtual_size_rule,
)

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_PROFILES = ("docker-20.10", "docker-26.1", "docker-26.1-containerd")
Doc = dict[str, Any]


def _load(profile: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"{profile}.json").read_text())
    return data


GOLDENS = {profile: _load(profile) for profile in GOLDEN_PROFILES}


def _interaction(profile: str, prefix: str) -> dict[str, Any]:
    return next(i for i in GOLDENS[profile]["interactions"] if i["name"].startswith(prefix))


def _version_and_query(interaction: dict[str, Any]) -> tuple[str, str]:
    """The API version the daemon answered (path prefix, else its Api-Version) and the raw query."""
    split = urlsplit(interaction["path"])
    match = re.match(r"^/v([0-9.]+)/", split.path)
    return (match.group(1) if match else interaction["headers"]["Api-Version"]), split.query


def _listings() -> list[Any]:
    out = []
    for profile in GOLDEN_PROFILES:
        for interaction in GOLDENS[profile]["interactions"]:
            if interaction["status"] == 200 and interaction["path"].split("?")[0].endswith("/images/json"):
                out.append(pytest.param(profile, interaction, id=f"{profile}/{interaction['name']}"))
    return out


LISTINGS = _listings()


def _body(profile: str, prefix: str) -> list[Doc]:
    body: list[Doc] = json.loads(_interaction(profile, prefix)["body"])
    return body


def _short(doc: Doc) -> str:
    return str(doc["Id"])[7:19]


# --------------------------------------------------------------------------- golden bodies pass


@pytest.mark.parametrize("profile, interaction", LISTINGS)
@pytest.mark.parametrize("with_profile", [True, False], ids=["profile", "generic"])
def test_golden_bodies_are_valid(profile: str, interaction: dict[str, Any], with_profile: bool) -> None:
    version, query = _version_and_query(interaction)
    assert_valid_images_json(interaction["body"], version, query=query,
                             profile=profile if with_profile else None, strict=True)
    assert_valid_images_json(interaction["body"].encode(), version, query=query)


@pytest.mark.parametrize("profile, interaction", LISTINGS)
def test_golden_bodies_pass_the_small_checks(profile: str, interaction: dict[str, Any]) -> None:
    version, query = _version_and_query(interaction)
    body = json.loads(interaction["body"])
    assert_ids_well_formed(body)
    assert_sorted_by_created(body)
    assert_containers_default(body)
    assert_virtual_size_rule(body, version)
    assert_virtual_size_rule(body, version, profile=profile)
    if not (bool_value(parse_form(query).get("shared-size")) and version_tuple(version) >= (1, 42)):
        assert_shared_size_default(body)
    if profile == "docker-20.10" or version_tuple(version) < (1, 43):
        assert_placeholders_for_untagged(body)
    else:
        assert_no_placeholders(body)


# Rules that only newer releases have: the model's answers (it matches every capture above).
MODEL_CASES = [
    ("docker-28.1-containerd", "1.47", "manifests=1"),
    ("docker-28.1-containerd", "1.48", ""),
    ("docker-28.1-containerd", "1.49", "manifests=1&shared-size=1&all=1"),
    ("docker-28.1", "1.49", "manifests=1"),
    ("docker-29.7", "1.51", ""),
    ("docker-29.7", "1.43", "shared-size=1"),
    ("docker-29.7-containerd", "1.55", "manifests=1&identity=1"),
    ("docker-29.7-containerd", "1.40", "all=1"),
]


@pytest.mark.parametrize("profile, version, query", MODEL_CASES)
def test_model_bodies_of_newer_releases_are_valid(profile: str, version: str, query: str) -> None:
    status, body, _ = rules_store.get(profile, f"/v{version}/images/json?{query}")
    assert status == 200
    assert_valid_images_json(body, version, query=query, profile=profile, strict=True)
    assert_valid_images_json(body, version, query=query)


def test_query_may_be_a_dict() -> None:
    body = _body("docker-26.1", "05-all-shared-size")
    assert_valid_images_json(body, "1.45", query={"all": True, "shared-size": True}, profile="docker-26.1")
    with pytest.raises(AssertionError, match=r"\[SharedSize\]"):
        assert_valid_images_json(body, "v1.45", query={"all": 1})


# --------------------------------------------------------------------------- broken bodies fail


def _set(index: int, key: str, value: Any) -> Callable[[list[Doc]], None]:
    def mutate(body: list[Doc]) -> None:
        body[index][key] = value
    return mutate


def _drop(index: int, key: str) -> Callable[[list[Doc]], None]:
    def mutate(body: list[Doc]) -> None:
        del body[index][key]
    return mutate


def _untagged_index(body: list[Doc]) -> int:
    return next(i for i, doc in enumerate(body) if not doc["RepoTags"] or doc["RepoTags"] == ["<none>:<none>"])


def _swap_ends(body: list[Doc]) -> None:
    body[0], body[-1] = body[-1], body[0]


def _duplicate_first(body: list[Doc]) -> None:
    body.insert(1, copy.deepcopy(body[0]))


def _empty_lists_to_null(body: list[Doc]) -> None:
    index = _untagged_index(body)
    body[index]["RepoTags"] = None


def _placeholders_in_new_style(body: list[Doc]) -> None:
    index = _untagged_index(body)
    body[index]["RepoTags"], body[index]["RepoDigests"] = ["<none>:<none>"], ["<none>@<none>"]


def _no_placeholders_in_old_style(body: list[Doc]) -> None:
    index = _untagged_index(body)
    body[index]["RepoTags"], body[index]["RepoDigests"] = [], []


def _only_tag_placeholder(body: list[Doc]) -> None:
    index = _untagged_index(body)
    body[index]["RepoDigests"] = None


def _model(profile: str, version: str, query: str) -> list[Doc]:
    status, body, _ = rules_store.get(profile, f"/v{version}/images/json?{query}")
    assert status == 200
    result: list[Doc] = body
    return result


# (rule, source, api version, query, profile, strict, how to break it, index of the image named, words)
BROKEN_BODIES: list[tuple[str, Callable[[], list[Doc]], str, str, str | None, bool,
                          Callable[[list[Doc]], None], int | None, list[str]]] = [
    ("schema: missing field", lambda: _body("docker-26.1", "01-"), "1.45", "", None, False,
     _drop(0, "Size"), 0, ["[schema 1.45]", "Size: required field is missing"]),
    ("schema: wrong type", lambda: _body("docker-26.1", "01-"), "1.45", "", "docker-26.1", False,
     _set(1, "Created", "yesterday"), 1, ["[schema 1.45]", "Created: expected integer"]),
    ("strict schema: unknown field", lambda: _body("docker-26.1-containerd", "01-"), "1.45", "", None, True,
     _set(2, "Flavour", "vanilla"), 2, ["[strict schema 1.45]", "Flavour", "unknown field"]),
    ("SharedSize not asked", lambda: _body("docker-26.1", "01-"), "1.45", "", None, False,
     _set(0, "SharedSize", 0), 0, ["[SharedSize]", "SharedSize is 0, expected -1", "shared-size=1"]),
    ("SharedSize asked", lambda: _body("docker-26.1", "05-"), "1.45", "all=1&shared-size=1", None, False,
     _set(3, "SharedSize", -1), 3, ["[SharedSize]", "expected >= 0", "shared-size=1 was asked"]),
    ("SharedSize asked below 1.42", lambda: _body("docker-26.1", "42-"), "1.41", "all=1&shared-size=1",
     "docker-26.1", False, _set(0, "SharedSize", 12), 0, ["[SharedSize]", "expected -1", "1.42"]),
    ("Containers below 1.51", lambda: _body("docker-20.10", "01-"), "1.41", "", "docker-20.10", False,
     _set(1, "Containers", 2), 1, ["[Containers]", "Containers is 2, expected -1"]),
    ("Containers counted from 1.51", lambda: _model("docker-29.7", "1.51", ""), "1.51", "", "docker-29.7",
     False, _set(0, "Containers", -1), 0, ["[Containers]", "expected >= 0", "1.51"]),
    ("VirtualSize removed in 1.44", lambda: _body("docker-26.1", "01-"), "1.45", "", None, False,
     _set(0, "VirtualSize", 30), 0, ["[VirtualSize]", "removed from API 1.44"]),
    ("VirtualSize equals Size", lambda: _body("docker-26.1", "41-"), "1.41", "", None, False,
     _set(2, "VirtualSize", 1), 2, ["[VirtualSize]", "VirtualSize is 1", "equals Size"]),
    ("VirtualSize always on 20.10", lambda: _body("docker-20.10", "01-"), "1.41", "", "docker-20.10", False,
     _drop(0, "VirtualSize"), 0, ["[VirtualSize]", "VirtualSize is missing"]),
    ("Manifests without manifests=1", lambda: _body("docker-26.1-containerd", "01-"), "1.45", "", None, False,
     _set(0, "Manifests", []), 0, ["[Manifests]", "manifests=1"]),
    ("Manifests missing with manifests=1", lambda: _model("docker-28.1-containerd", "1.47", "manifests=1"),
     "1.47", "manifests=1", "docker-28.1-containerd", False, _drop(0, "Manifests"), 0,
     ["[Manifests]", "Manifests is missing"]),
    ("Descriptor below 1.48", lambda: _body("docker-26.1-containerd", "01-"), "1.45", "", None, False,
     _set(0, "Descriptor", {}), 0, ["[Descriptor]", "1.48"]),
    ("Descriptor on containerd from 1.48", lambda: _model("docker-28.1-containerd", "1.48", ""), "1.48", "",
     "docker-28.1-containerd", False, _drop(1, "Descriptor"), 1, ["[Descriptor]", "Descriptor is missing"]),
    ("Labels never null", lambda: _model("docker-29.7-containerd", "1.52", ""), "1.52", "",
     "docker-29.7-containerd", False, _set(0, "Labels", None), 0, ["[Labels]", "expected {}"]),
    ("no placeholders from 1.43: null", lambda: _body("docker-26.1", "01-"), "1.45", "", None, False,
     _empty_lists_to_null, None, ["[placeholders]", "RepoTags is null", "never null"]),
    ("no placeholders from 1.43: <none>", lambda: _body("docker-26.1-containerd", "47-"), "1.44", "", None, False,
     _placeholders_in_new_style, None, ["[placeholders]", "<none>:<none>", "no placeholders"]),
    ("placeholders below 1.43", lambda: _body("docker-26.1", "41-"), "1.41", "", "docker-26.1", False,
     _no_placeholders_in_old_style, None, ["[placeholders]", "expected null", "<none>:<none>"]),
    ("placeholders come as a pair", lambda: _body("docker-20.10", "02-"), "1.41", "all=1", "docker-20.10",
     False, _only_tag_placeholder, None, ["[placeholders]", "pair"]),
    ("Id format", lambda: _body("docker-26.1", "01-"), "1.45", "", None, False,
     _set(1, "Id", "sha256:XYZ"), None, ["[Id]", "'sha256:XYZ'", "64 lowercase hex"]),
    ("Id unique", lambda: _body("docker-26.1", "01-"), "1.45", "", None, False,
     _duplicate_first, 1, ["[Id]", "listed twice"]),
    ("ParentId format", lambda: _body("docker-20.10", "01-"), "1.41", "", None, False,
     _set(0, "ParentId", "abc"), 0, ["[ParentId]", "'abc'"]),
    ("Created order", lambda: _body("docker-26.1", "01-"), "1.45", "", None, False,
     _swap_ends, 1, ["[Created order]", "descending Created"]),
    ("API range of the profile", lambda: _body("docker-20.10", "01-"), "1.45", "", "docker-20.10", False,
     lambda body: None, None, ["[API version]", "1.12 to 1.41"]),
    ("query the daemon refuses", lambda: _model("docker-29.7-containerd", "1.55", "manifests=1"), "1.55",
     "identity=1", "docker-29.7-containerd", False, lambda body: None, None,
     ["[query]", "identity requires manifests=1"]),
]


@pytest.mark.parametrize("rule, source, version, query, profile, strict, mutate, index, words",
                         BROKEN_BODIES, ids=[row[0] for row in BROKEN_BODIES])
def test_a_broken_rule_is_named(rule: str, source: Callable[[], list[Doc]], version: str, query: str,
                                profile: str | None, strict: bool, mutate: Callable[[list[Doc]], None],
                                index: int | None, words: list[str]) -> None:
    body = copy.deepcopy(source())
    if "API range" not in rule and "refuses" not in rule:  # those rows break the request, not the body
        assert_valid_images_json(copy.deepcopy(body), version, query=query, profile=profile, strict=strict)
    mutate(body)
    with pytest.raises(AssertionError) as raised:
        assert_valid_images_json(body, version, query=query, profile=profile, strict=strict)
    message = str(raised.value)
    for word in words:
        assert word in message, message
    if index is not None:
        assert f"#{index} image {_short(body[index])}" in message, message


# (helper, arguments after the body, source, how to break it, words)
SMALL_CHECKS: list[tuple[Callable[..., None], tuple[Any, ...], Callable[[], list[Doc]],
                         Callable[[list[Doc]], None], list[str]]] = [
    (assert_shared_size_default, (), lambda: _body("docker-26.1", "01-"), _set(0, "SharedSize", 4),
     ["[SharedSize]", "SharedSize is 4, expected -1"]),
    (assert_containers_default, (), lambda: _body("docker-26.1-containerd", "02-"), _set(3, "Containers", 0),
     ["[Containers]", "Containers is 0, expected -1"]),
    (assert_no_placeholders, (), lambda: _body("docker-26.1", "02-"), _placeholders_in_new_style,
     ["[placeholders]", "<none>:<none>"]),
    (assert_placeholders_for_untagged, (), lambda: _body("docker-20.10", "02-"), _no_placeholders_in_old_style,
     ["[placeholders]", "expected null"]),
    (assert_virtual_size_rule, ("1.44",), lambda: _body("docker-26.1", "50-"), _set(0, "VirtualSize", 30),
     ["[VirtualSize]", "removed from API 1.44"]),
    (assert_virtual_size_rule, ("1.41",), lambda: _body("docker-26.1", "41-"), _drop(0, "VirtualSize"),
     ["[VirtualSize]", "VirtualSize is missing"]),
    (assert_sorted_by_created, (), lambda: _body("docker-20.10", "02-"), _swap_ends,
     ["[Created order]", "newest first"]),
    (assert_ids_well_formed, (), lambda: _body("docker-26.1-containerd", "02-"),
     _set(0, "Id", "sha256:" + "A" * 64), ["[Id]", "64 lowercase hex"]),
]


@pytest.mark.parametrize("helper, args, source, mutate, words", SMALL_CHECKS,
                         ids=[f"{row[0].__name__}-{i}" for i, row in enumerate(SMALL_CHECKS)])
def test_small_checks_pass_then_fail(helper: Callable[..., None], args: tuple[Any, ...],
                                     source: Callable[[], list[Doc]], mutate: Callable[[list[Doc]], None],
                                     words: list[str]) -> None:
    body = copy.deepcopy(source())
    helper(body, *args)
    helper(json.dumps(body), *args)
    mutate(body)
    with pytest.raises(AssertionError) as raised:
        helper(json.dumps(body).encode(), *args)
    for word in words:
        assert word in str(raised.value), str(raised.value)


def test_a_body_that_is_not_json_is_reported() -> None:
    with pytest.raises(AssertionError, match=r"\[JSON\] body: not a JSON document"):
        assert_ids_well_formed(b"[{")
    with pytest.raises(AssertionError, match=r"expected a JSON array"):
        assert_valid_images_json('{"message":"page not found"}', "1.45")


def test_a_long_report_is_capped() -> None:
    body = [dict(doc, SharedSize=1) for doc in _body("docker-26.1", "02-")] * 10
    with pytest.raises(AssertionError) as raised:
        assert_shared_size_default(body)
    assert "... and" in str(raised.value)


# --------------------------------------------------------------------------- filter semantics


def _filter_cases() -> list[Any]:
    """Every captured 200 filter listing: (profile, interaction, filters text, all)."""
    out = []
    for profile, interaction in ((p.values[0], p.values[1]) for p in LISTINGS):
        version, query = _version_and_query(interaction)
        form = parse_form(query)
        if form.get("filter") or re.match(r"^/v", interaction["path"]):
            continue  # the legacy `filter` parameter is not a filter of the `filters` JSON
        out.append(pytest.param(profile, interaction, form.get("filters"), bool_value(form.get("all")),
                                id=f"{profile}/{interaction['name']}"))
    return out


FILTER_CASES = _filter_cases()


@pytest.mark.parametrize("profile, interaction, filters, all_", FILTER_CASES)
@pytest.mark.parametrize("with_profile", [True, False], ids=["profile", "guessed"])
def test_golden_listings_satisfy_their_filters(profile: str, interaction: dict[str, Any], filters: str,
                                               all_: bool, with_profile: bool) -> None:
    universe = _interaction(profile, "02-all")["body"]
    assert_filter_semantics(universe, filters, interaction["body"], all=all_,
                            profile=profile if with_profile else None, now_ns=interaction["now"] * NANOS)


@pytest.mark.parametrize("profile, interaction, filters, all_", FILTER_CASES)
def test_golden_listings_against_seed_images(profile: str, interaction: dict[str, Any], filters: str,
                                             all_: bool) -> None:
    """With the seed's images the universe is exact (nanosecond Created, record times)."""
    images = list(parse_seed(GOLDENS[profile]["seed"]).images)
    now = interaction["now"] * NANOS
    assert_filter_semantics(images, filters, interaction["body"], all=all_, profile=profile, now_ns=now)


def test_filters_in_either_form() -> None:
    universe = _body("docker-26.1", "02-")
    result = _body("docker-26.1", "08-")
    for filters in ('{"dangling":["true"]}', '{"dangling":{"true":true}}', {"dangling": ["true"]},
                    {"dangling": {"true": True}}, {"dangling": "true"}, {"dangling": True}):
        assert_filter_semantics(universe, filters, result, profile="docker-26.1")


def test_fake_daemon_as_universe() -> None:
    golden = GOLDENS["docker-26.1-containerd"]
    interaction = _interaction("docker-26.1-containerd", "26-until")
    now = interaction["now"] * NANOS
    fake = FakeDaemon(images=parse_seed(golden["seed"]).images, profile="docker-26.1-containerd",
                                 clock=lambda: now - 60 * NANOS)
    assert_filter_semantics(fake, '{"until":["2024-01-01T00:00:00Z"]}', interaction["body"], now_ns=now)
    plain = _interaction("docker-26.1-containerd", "01-")["body"]
    assert_filter_semantics(fake, None, plain, now_ns=now)
    with pytest.raises(AssertionError, match=r"\[completeness\]"):
        assert_filter_semantics(fake, None, json.loads(plain)[1:], now_ns=now)


def test_fake_daemon_clock_is_where_until_durations_count_from() -> None:
    """Without now_ns, `until` durations count from the FakeDaemon's clock, as the fake's own answer does."""
    day = 24 * 3600
    images = [{"tags": ["old:1"], "created": 946684800}, {"tags": ["new:1"], "created": 946684800 + 2 * day}]
    filters = '{"until":["24h"]}'
    with FakeDaemon(images=images, profile="docker-26.1", clock=lambda: (946684800 + day + 3600) * NANOS) as fake:
        status, _, body = request(fake.docker_host, "GET", "/images/json?" + urlencode({"filters": filters}))
        assert status == 200 and [e["RepoTags"] for e in json.loads(body)] == [["old:1"]]
        assert_filter_semantics(fake, filters, body)


def _add_from_universe(profile: str, pick: Callable[[Doc], bool], rewrite: Callable[[Doc], None] | None = None
                       ) -> Callable[[list[Doc]], Doc]:
    def mutate(body: list[Doc]) -> Doc:
        doc = copy.deepcopy(next(d for d in _body(profile, "02-") if pick(d)))
        if rewrite is not None:
            rewrite(doc)
        body.append(doc)
        return doc
    return mutate


def _remove(index: int) -> Callable[[list[Doc]], Doc]:
    def mutate(body: list[Doc]) -> Doc:
        return body.pop(index)
    return mutate


def _edit(index: int, change: Callable[[Doc], None]) -> Callable[[list[Doc]], Doc]:
    def mutate(body: list[Doc]) -> Doc:
        change(body[index])
        return body[index]
    return mutate


def _intermediate(doc: Doc) -> bool:
    return doc["RepoTags"] in ([], None, ["<none>:<none>"]) and doc["ParentId"] != ""


def _placeholderless(doc: Doc) -> None:
    doc["RepoTags"], doc["RepoDigests"] = [], []


def _has_label(key: str, value: str | None = None) -> Callable[[Doc], bool]:
    def pick(doc: Doc) -> bool:
        labels = doc["Labels"] or {}
        return key in labels and (value is None or labels[key] == value)
    return pick


def _not(pick: Callable[[Doc], bool]) -> Callable[[Doc], bool]:
    return lambda doc: not pick(doc)


def _tagged(doc: Doc) -> bool:
    return bool(doc["RepoTags"]) and doc["RepoTags"] != ["<none>:<none>"]


# (rule, profile, captured listing, filters, all, how to break it, words)
BROKEN_LISTINGS: list[tuple[str, str, str, Any, bool, Callable[[list[Doc]], Doc], list[str]]] = [
    ("completeness", "docker-26.1", "12-", {"label": ["a=b"]}, False, _remove(0),
     ["[completeness]", "satisfies every filter", "not listed"]),
    ("completeness with all", "docker-20.10", "25-", {"since": ["example/loaded:base"]}, True, _remove(-1),
     ["[completeness]", "with all=1"]),
    ("label", "docker-26.1", "12-", {"label": ["a=b"]}, False,
     _add_from_universe("docker-26.1", lambda d: _tagged(d) and not _has_label("a", "b")(d)),
     ["[soundness]", "filter label='a=b' rejects it", "its labels are"]),
    ("label: the failing one of two", "docker-26.1-containerd", "14-",
     {"label": ["org.example.kind=loaded", "tier=app"]}, False,
     _add_from_universe("docker-26.1-containerd", lambda d: _tagged(d) and _has_label("tier", "base")(d)
                        and _has_label("org.example.kind", "loaded")(d)),
     ["[soundness]", "label='tier=app'"]),
    ("dangling", "docker-26.1", "08-", {"dangling": ["true"]}, False,
     _add_from_universe("docker-26.1", _tagged), ["[soundness]", "filter dangling='true' rejects it", "has tags"]),
    ("dangling false", "docker-26.1-containerd", "10-", {"dangling": ["false"]}, False,
     _add_from_universe("docker-26.1-containerd", lambda d: not _tagged(d) and not d["RepoTags"]),
     ["[soundness]", "dangling='false'", "no tag"]),
    ("all hides intermediates", "docker-26.1", "01-", None, False,
     _add_from_universe("docker-26.1", _intermediate), ["[soundness]", "all=0 hides it", "intermediate"]),
    ("all hides intermediates (placeholders)", "docker-20.10", "01-", {}, False,
     _add_from_universe("docker-20.10", _intermediate), ["[soundness]", "all=0 hides it"]),
    ("reference", "docker-26.1", "16-", {"reference": ["example/loaded"]}, False,
     _add_from_universe("docker-26.1", lambda d: "example/tiny:1.0" in (d["RepoTags"] or [])),
     ["[soundness]", "filter reference='example/loaded' rejects it", "its references are"]),
    ("reference trimming of RepoTags", "docker-26.1", "16-", {"reference": ["example/loaded"]}, False,
     _edit(0, lambda d: d["RepoTags"].append("localhost:5000/example/loaded:app")),
     ["[reference trimming]", "RepoTags", "extra ['localhost:5000/example/loaded:app']"]),
    ("reference trimming of RepoDigests", "docker-26.1", "21-", {"reference": ["localhost:5000/example/*"]},
     False, _edit(0, lambda d: d.update(RepoDigests=[])), ["[reference trimming]", "RepoDigests", "missing"]),
    ("reference trimming, containerd", "docker-26.1-containerd", "17-", {"reference": ["example/loaded:app"]},
     False, _edit(0, lambda d: d["RepoTags"].append("localhost:5000/example/loaded:app")),
     ["[reference trimming]", "extra"]),
    ("names without a reference filter", "docker-26.1", "12-", {"label": ["a=b"]}, False,
     _edit(0, lambda d: d["RepoTags"].pop()), ["[references]", "missing"]),
    ("before", "docker-26.1", "23-", {"before": ["example/loaded:app"]}, False,
     _add_from_universe("docker-26.1", lambda d: "example/built:1" in (d["RepoTags"] or [])),
     ["[soundness]", "filter before='example/loaded:app' rejects it", "strictly earlier"]),
    ("since", "docker-26.1-containerd", "24-", {"since": ["example/loaded:base"]}, False,
     _add_from_universe("docker-26.1-containerd", lambda d: "example/loaded:base" in (d["RepoTags"] or [])),
     ["[soundness]", "since='example/loaded:base'", "strictly later"]),
    ("until", "docker-26.1", "26-", {"until": ["2024-01-01T00:00:00Z"]}, False,
     _add_from_universe("docker-26.1", lambda d: "example/built:1" in (d["RepoTags"] or [])),
     ["[soundness]", "until='2024-01-01T00:00:00Z'", "cutoff"]),
    ("unknown image", "docker-26.1", "01-", None, False,
     _edit(0, lambda d: d.update(Id="sha256:" + "e" * 64)), ["[soundness]", "no such image", "[completeness]"]),
    ("the daemon refuses the filters", "docker-26.1", "01-", {"foo": ["bar"]}, False, _remove(0),
     ["[filters]", "400", "invalid filter 'foo'"]),
]


@pytest.mark.parametrize("rule, profile, prefix, filters, all_, mutate, words", BROKEN_LISTINGS,
                         ids=[row[0] for row in BROKEN_LISTINGS])
@pytest.mark.parametrize("with_profile", [True, False], ids=["profile", "guessed"])
def test_a_broken_listing_is_explained(rule: str, profile: str, prefix: str, filters: Any, all_: bool,
                                       mutate: Callable[[list[Doc]], Doc], words: list[str],
                                       with_profile: bool) -> None:
    interaction = _interaction(profile, prefix)
    universe = _body(profile, "02-")
    chosen = profile if with_profile else None
    now = interaction["now"] * NANOS
    body = json.loads(interaction["body"])
    if "refuses" not in rule:
        assert_filter_semantics(universe, filters, body, all=all_, profile=chosen, now_ns=now)
    changed = mutate(body)
    with pytest.raises(AssertionError) as raised:
        assert_filter_semantics(universe, filters, body, all=all_, profile=chosen, now_ns=now)
    message = str(raised.value)
    for word in words:
        assert word in message, message
    if "refuses" not in rule:
        assert f"image {_short(changed)}" in message, message


def test_same_second_before_is_not_decided_from_a_listing() -> None:
    """Two images created in the same second: a listing cannot tell which is older, the seed can."""
    older = {"id": "sha256:" + "1" * 64, "tags": ["ex/older:1"], "created": "2024-01-01T00:00:00.1Z"}
    newer = {"id": "sha256:" + "2" * 64, "tags": ["ex/newer:1"], "created": "2024-01-01T00:00:00.9Z"}
    status, universe, _ = _get_from_images("docker-26.1", [older, newer], "/images/json?all=1")
    status, result, _ = _get_from_images("docker-26.1", [older, newer],
                                         "/images/json?" + urlencode({"filters": '{"before":["ex/newer:1"]}'}))
    assert [d["RepoTags"] for d in result] == [["ex/older:1"]]
    assert_filter_semantics(universe, {"before": ["ex/newer:1"]}, result, profile="docker-26.1")
    assert_filter_semantics(universe, {"before": ["ex/newer:1"]}, [], profile="docker-26.1")
    images = list(parse_seed({"images": [older, newer]}).images)
    with pytest.raises(AssertionError, match=r"\[completeness\]"):
        assert_filter_semantics(images, {"before": ["ex/newer:1"]}, [], profile="docker-26.1")


def _get_from_images(profile: str, images: list[dict[str, Any]], target: str) -> tuple[int, Any, dict[str, str]]:
    from pytest_dockerimages._core.model import ImageStore

    store = ImageStore(parse_seed({"images": images}).images, loaded_at_ns=rules_store.NOW_NS)
    return rules_store.get(profile, target, store=store)


def test_malformed_filters_are_a_usage_error() -> None:
    with pytest.raises(ValueError, match="malformed"):
        assert_filter_semantics(_body("docker-26.1", "02-"), "{not-json", [], profile="docker-26.1")


# --------------------------------------------------------------------------- requests sent


def _logged(target: str, method: str = "GET") -> SimpleNamespace:
    """A request log entry as FakeDaemon/Cassette expose it (path without version, query lists)."""
    split = urlsplit(target)
    match = re.match(r"^/v([0-9.]+)(/.*)$", split.path)
    query = {k: list(v) for k, v in parse_form(split.query).values.items()}
    return SimpleNamespace(method=method, path=match.group(2) if match else split.path,
                           api_version=match.group(1) if match else None, query=query)


def _recorder(*targets: str) -> SimpleNamespace:
    return SimpleNamespace(requests=[_logged(t) for t in targets])


DANGLING_MAP = "/v1.45/images/json?" + urlencode({"all": "True", "filters": '{"dangling":{"true":true}}'})
LABELS_SLICE = "/v1.44/images/json?" + urlencode({"filters": '{"label":["b=2","a=1"],"dangling":["false"]}'})


@pytest.mark.parametrize("kwargs", [
    {},
    {"filters": {"dangling": ["true"]}},
    {"filters": '{"dangling":{"true":true}}'},
    {"filters": {"dangling": "true"}, "all": True},
    {"all": "1", "api_version": "1.45"},
    {"filters": {"label": ["a=1", "b=2"], "dangling": ["false"]}, "api_version": "v1.44"},
    {"filters": {"dangling": {"false": True}, "label": {"b=2": True, "a=1": True}}, "all": False},
    {"filters": {}, "count": 1},
    {"api_version": "1.45", "count": 1},
    {"count": 3},
])
def test_requests_found(kwargs: dict[str, Any]) -> None:
    recorder = _recorder(DANGLING_MAP, LABELS_SLICE, "/_ping", "/images/json", "/version")
    assert_images_requested(recorder, **kwargs)


@pytest.mark.parametrize("kwargs, words", [
    ({"filters": {"dangling": ["false"]}}, ['filters={"dangling":["false"]}', "found 0"]),
    ({"all": False, "filters": {"dangling": ["true"]}}, ["all=false", "found 0"]),
    ({"api_version": "1.41"}, ["API 1.41"]),
    ({"count": 2}, ["exactly 2 time(s)", "found 3"]),
    ({"filters": {}, "all": True}, ["filters=<none>"]),
])
def test_requests_missing_list_what_was_seen(kwargs: dict[str, Any], words: list[str]) -> None:
    recorder = _recorder(DANGLING_MAP, LABELS_SLICE, "/images/json")
    with pytest.raises(AssertionError) as raised:
        assert_images_requested(recorder, **kwargs)
    message = str(raised.value)
    for word in words:
        assert word in message, message
    assert 'GET /v1.45/images/json all=true filters={"dangling":["true"]}' in message, message
    assert 'GET /v1.44/images/json filters={"dangling":["false"],"label":["a=1","b=2"]}' in message, message


def test_no_requests_at_all() -> None:
    with pytest.raises(AssertionError, match=r"0 request\(s\) seen:\n  \(none\)"):
        assert_images_requested(SimpleNamespace(requests=[]))


def test_requests_of_a_running_fake_daemon() -> None:
    with FakeDaemon(profile="docker-26.1") as fake:
        status, _, _ = request(fake.docker_host, "GET", DANGLING_MAP)
        assert status == 200
        request(fake.docker_host, "GET", "/images/json?shared-size=1")
        assert_images_requested(fake, filters={"dangling": ["true"]}, all=True, api_version="1.45", count=1)
        assert_images_requested(fake, filters={}, all=False, count=1)
        with pytest.raises(AssertionError, match=r"shared-size=1"):
            assert_images_requested(fake, filters={"label": ["x"]})


def test_requests_of_a_cassette(pytester: pytest.Pytester) -> None:
    """docs/assertions.md: a cassette handle is accepted like a FakeDaemon (it has a `.requests` log)."""
    pytester.makepyfile(test_cassette_requests=textwrap.dedent("""
        import pytest
        from pytest_dockerimages._http.unixhttp import request
        from pytest_dockerimages.assertions import assert_images_requested

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_it(dockerimages_cassette):
            target = "/v1.45/images/json?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D"  # recorded
            assert request(dockerimages_cassette.docker_host, "GET", target)[0] == 200
            assert_images_requested(dockerimages_cassette, filters={"dangling": ["true"]}, all=False,
                                    api_version="1.45", count=1)
            with pytest.raises(AssertionError, match="1 request"):
                assert_images_requested(dockerimages_cassette, filters={"label": ["x"]})
    """))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


# --------------------------------------------------------------------------- inside a user's test


def test_failure_in_a_user_test_shows_the_report_and_no_helper_frames(pytester: pytest.Pytester) -> None:
    broken = _body("docker-26.1", "01-")
    broken[0]["SharedSize"] = 7
    universe = _body("docker-26.1", "02-")
    pytester.makepyfile(test_user=textwrap.dedent(f"""
        from types import SimpleNamespace
        from pytest_dockerimages.assertions import (
            assert_filter_semantics, assert_images_requested, assert_valid_images_json)

        BODY = {json.dumps(broken)!r}
        UNIVERSE = {json.dumps(universe)!r}

        def test_body():
            assert_valid_images_json(BODY, "1.45", profile="docker-26.1")

        def test_filters():
            assert_filter_semantics(UNIVERSE, {{"label": ["a=b"]}}, BODY, profile="docker-26.1")

        def test_requests():
            assert_images_requested(SimpleNamespace(requests=[]), all=True)
    """))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*GET /images/json body is not what a daemon sends (API 1.45, profile docker-26.1): 1 problem(s)",
        f"*- [[]SharedSize] #0 image {_short(broken[0])} (example/built:1): SharedSize is 7, expected -1*",
        "*[[]soundness] #0 image*filter label='a=b' rejects it*",
        "*expected GET /images/json all=true at least once, found 0*",
    ])
    text = result.stdout.str()
    assert "assertions.py" not in text and "_assertions" not in text, text
    assert "__tracebackhide__" not in text
    for name in ("test_body", "test_filters", "test_requests"):
        assert f"{name}()" in text or f"def {name}" in text
