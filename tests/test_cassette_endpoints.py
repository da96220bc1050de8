"""Cassettes and the endpoints beyond the listing: the canonical keys of image history, system df and
image prune (a docker CLI request and a docker SDK request for the same thing match one recording)."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from pytest_dockerimages._cassettes.keys import canonical_key, describe_key
from pytest_dockerimages._core.profiles import PROFILES


def q(path: str, **params: object) -> str:
    """A target with params encoded as Go's url.Values.Encode (JSON values given as Python data)."""
    pairs = [(k, v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))) for k, v in params.items()]
    return path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")


def sdk_json(path: str, name: str, value: object) -> str:
    """docker-py's spelling: json.dumps with its default separators, encoded with `+` for spaces."""
    return path + "?" + urllib.parse.urlencode({name: json.dumps(value)})


AMD64 = {"os": "linux", "architecture": "amd64"}
HISTORY = "/images/example/app:1/history"
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
