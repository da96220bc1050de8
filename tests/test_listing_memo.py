"""The listing memo: a repeated listing answers the same bytes from the store's memo, bounded, and
never for `until`, whose durations count back from the clock."""
from __future__ import annotations

import pytest
from rules_store import IMAGES, NOW_NS, STORE, q

from pytest_dockerimages._core import render
from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._core.profiles import PROFILES, get_profile, version_tuple
from pytest_dockerimages._core.timestamps import NANOS
from pytest_dockerimages._core.wire import Request

# (why, first target, second target, whether the second is answered from the first one's memo)
SAME_ANSWER = [
    ("same filters, keys in another order", q({"label": ["tier=app"], "dangling": ["false"]}),
     "/images/json?filters=" + '{"dangling":{"false":true},"label":{"tier=app":true}}', True),
    ("slice form and map form", q({"reference": ["ex/*"]}), '/images/json?filters={"reference":{"ex/*":true}}', True),
    ("all=1 is another answer", q({"label": ["tier"]}), q({"label": ["tier"]}, all="1"), False),
    ("another API version is another answer", "/v1.43" + q({"label": ["a"]}), "/v1.44" + q({"label": ["a"]}), False),
]


def _body(store: ImageStore, profile: str, target: str, now_ns: int = NOW_NS) -> bytes:
    response = respond(store, get_profile(profile), Request("GET", target), now_ns)
    assert response.status == 200, response.body
    return response.body


def _answers_both(profile: str, row: tuple[str, str, str, bool]) -> bool:
    low, high = version_tuple(get_profile(profile).api_min), version_tuple(get_profile(profile).api_max)
    return all(low <= version_tuple(target[2:].split("/")[0]) <= high for target in row[1:3] if target.startswith("/v"))


CASES = [pytest.param(profile, *row, id=f"{row[0]}-{profile}")
         for row in SAME_ANSWER for profile in sorted(PROFILES) if _answers_both(profile, row)]


@pytest.mark.parametrize("profile, why, first, second, shared", CASES)
def test_a_repeated_filtered_listing_is_answered_from_the_memo(profile: str, why: str, first: str, second: str,
                                                                shared: bool) -> None:
    api = get_profile(profile).api_max
    first, second = (t if t.startswith("/v") else f"/v{api}{t}" for t in (first, second))
    store = ImageStore(STORE.images, loaded_at_ns=STORE.loaded_at_ns)
    fresh = ImageStore(STORE.images, loaded_at_ns=STORE.loaded_at_ns)
    once = _body(store, profile, first)
    assert _body(store, profile, first) is once  # the very object: no work the second time
    again = _body(store, profile, second)
    assert (again is once) == shared, why
    assert again == _body(fresh, profile, second)  # what a store with no memo answers


def test_until_is_selected_anew_at_each_request() -> None:
    """`until=10s` counts back from now: the same request at another time lists other images."""
    store = ImageStore(STORE.images, loaded_at_ns=STORE.loaded_at_ns)
    created = sorted(image.created_ns or 0 for image in IMAGES.values())
    early = created[2] + 5 * NANOS
    late = created[-1] + 20 * NANOS
    target = "/v1.45" + q({"until": ["10s"]})
    assert _body(store, "docker-26.1", target, early) != _body(store, "docker-26.1", target, late)


def _memo(store: ImageStore) -> dict[object, bytes]:
    return store.derived("filtered_listing_bodies", lambda _: {})


def test_the_memo_keeps_a_bounded_number_of_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "FILTERED_BODIES_KEPT", 3)
    store = ImageStore(STORE.images, loaded_at_ns=STORE.loaded_at_ns)
    targets = [q({"label": [label]}) for label in ("a", "tier", "tier=app", "tier=base", "a=1")]
    bodies = [_body(store, "docker-26.1", t) for t in targets]
    memo = _memo(store)
    assert len(memo) == 3
    assert _body(store, "docker-26.1", targets[-1]) is bodies[-1]  # newest kept
    assert _body(store, "docker-26.1", targets[0]) is not bodies[0]  # oldest dropped, built again
    assert _body(store, "docker-26.1", targets[0]) == bodies[0]


def test_the_memo_keeps_a_bounded_number_of_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(STORE.images, loaded_at_ns=STORE.loaded_at_ns)
    small = _body(store, "docker-26.1", q({"label": ["tier=base"]}))
    monkeypatch.setattr(render, "FILTERED_BYTES_KEPT", len(small) + 10)
    big = _body(store, "docker-26.1", q({"label": ["a"]}))
    assert len(big) > len(small) + 10
    memo = _memo(store)
    assert list(memo.values()) == [small]  # too big to keep; the kept one stays
    assert _body(store, "docker-26.1", q({"label": ["a"]})) == big


def test_the_filters_parse_cache_hands_out_fresh_dicts() -> None:
    """A caller adding to the parsed filters (the legacy `filter` parameter does) changes no later parse."""
    from pytest_dockerimages._core.query import filters_from_json

    profile = get_profile("docker-20.10")
    first = filters_from_json('{"label":["a"]}', profile)
    first["label"]["b"] = True
    first.setdefault("reference", {})["x"] = True
    assert filters_from_json('{"label":["a"]}', profile) == {"label": {"a": True}}
    long_text = '{"label":["' + "k" * 5000 + '"]}'  # past the cached length: parsed anew, same answer
    assert filters_from_json(long_text, profile) == {"label": {"k" * 5000: True}}
