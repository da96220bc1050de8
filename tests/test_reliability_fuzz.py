"""Bad input, property-based: generated requests get an answer the profile's daemon gives.

Requests are built by hypothesis from query parameters (filters JSON in both forms and broken,
boolean spellings, repeated and unknown parameters, bad percent-encoding, semicolons, huge values,
unicode), API version prefixes and paths. They go to `respond` directly (fast: the volume, every
profile per example) and, as a sample, through a `FakeDaemon` over its unix socket.

Oracles:
* invariants: status in {200, 400, 404, 500, 501}; 501 (not modelled) exactly for the routes the
  profile's release serves and 404 `page not found` exactly for the others; errors are exactly `{"message": "..."}` (or the
  plain text 20.10 gives API <= 1.23); never an internal error; every 200 listing validates against
  the strict schema of its API version;
* 500 only where that profile's real daemon answers 500 (malformed filters JSON on 20.10, a bad
  reference glob on the graphdriver store, a bad `until` before 29.4) — and, the other way round,
  those requests do give 500 exactly on those profiles;
* equivalences: both filter JSON forms, every spelling of a boolean, repeated/unknown/reordered
  parameters, other percent-encodings and the unversioned path give the same answer;
* differential: golden requests captured from real daemons, rewritten by those equivalences, still
  give the real daemon's status and body;
* time: no single answer takes more than a second (a hang fails instead of stalling CI).

Example counts add up to more than 10,000 per run (DOCKERIMAGES_FUZZ_SCALE multiplies them).
"""
from __future__ import annotations

import json
import random
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
from golden_replay import load as load_golden
from golden_replay import order_free
from hypothesis import example, given
from hypothesis import strategies as st
from reliability_support import NOW, SCALE, fuzz_settings

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.gohttp import request_uri_ok
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.pathclean import clean_path, escape_path
from pytest_dockerimages._core.profiles import PROFILES, Profile
from pytest_dockerimages._core.reference import compile_glob, glob_match
from pytest_dockerimages._core.routes import served as routed
from pytest_dockerimages._core.timestamps import NANOS
from pytest_dockerimages._core.wire import Request, Response
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._files.schema import validate
from pytest_dockerimages._files.seed import Seed, parse_seed
from pytest_dockerimages._http.unixhttp import connection_for

pytestmark = pytest.mark.slow  # thousands of generated requests per test

ALL_PROFILES: list[Profile] = list(PROFILES.values())
IMAGES = default_images() + [Image(tags=["UPPERCASE-free/name:tag", "docker.io/library/alpine:3"], created=1_000,
                                   labels={"k": "v", "url": "https://example.invalid/x"})]
STORE = ImageStore(IMAGES, loaded_at_ns=NOW - 60 * NANOS)
MAX_SECONDS = 1.0
COUNTS: dict[str, int] = {}

# --------------------------------------------------------------------------- the spec, written out

#: strings.TrimSpace's unicode.IsSpace (str.strip() would also trim \x1c-\x1f).
GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
            "\u2028\u2029\u202f\u205f\u3000")
FALSE_WORDS = {"", "0", "no", "false", "none"}


def go_bool(value: str) -> bool:
    """httputils.BoolValue."""
    return value.strip(GO_SPACE).lower() not in FALSE_WORDS


_GO_JSON_ERROR = re.compile(
    r"(invalid character '.+' (in literal (true|false|null) \(expecting '.'\)|in string literal|in string escape "
    r"code|in \\u hexadecimal character escape|in numeric literal|after decimal point in numeric literal|in "
    r"exponent of numeric literal|looking for beginning of (value|object key string)|after object key(:value "
    r"pair)?|after array element|after top-level value|exceeded max depth)"
    r"|unexpected end of JSON input"
    r"|json: cannot unmarshal (bool|number|string|array|object) into Go value of type "
    r"(map\[string\]map\[string\]bool|map\[string\]bool|bool))", re.DOTALL)
_UNTIL_ERROR = re.compile(r"(invalid value for 'until' filter: )?(parsing time .+|failed to parse value as time or "
                          r"duration: .+)", re.DOTALL)


def filters_json_ok(text: str) -> bool:
    """filters.FromJSON accepts it: empty, null, map of bool maps, or the legacy map of string lists."""
    if text == "":
        return True

    def no_constants(name: str) -> Any:
        raise ValueError(name)  # NaN/Infinity: Python reads them, Go does not

    try:
        value = json.loads(text, parse_constant=no_constants)
    except ValueError:
        return False
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    maps = all(v is None or (isinstance(v, dict) and all(f is None or isinstance(f, bool) for f in v.values()))
               for v in value.values())
    lists = all(v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in value.values())
    return maps or lists


def api_of(profile: Profile, version: str | None) -> str:
    """major.minor of the request's API version (for the schema), as the daemon compares it."""
    if version is None:
        return profile.api_max
    parts = [int(p) if p.isdigit() and len(p) < 6 else 0 for p in version.split(".")] + [0]
    return f"{parts[0]}.{parts[1]}"


_VERSIONED = re.compile(r"/v([0-9.]+)(/.*)", re.DOTALL)


def split(path: str) -> tuple[str | None, str]:
    match = _VERSIONED.fullmatch(path)
    return (match.group(1), match.group(2)) if match else (None, path)


# --------------------------------------------------------------------------- strategies

IDS = [image.id for image in IMAGES]
REFS = ["example/base:1.0", "example/base", "example/app:1.2.3", "tool:latest", "tool", "alpine:3",
        "localhost:5000/example/app:1.2.3", "localhost:5000/example/app@sha256:" + "a1" * 32, IDS[0], IDS[1][7:],
        IDS[2][7:19], "nosuch:img", "UPPER:1", "", "sha256:abc", "a" * 300, ":", "@", "x@sha256:zz", "é:1"]
GLOBS_OK = ["example/*", "*", "*:1*", "example/base", "tool", "*/*", "?ool", "[a-z]*", "[^x]*", "localhost:5000/*",
            "**", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "*" * 60, "[\\]]*", "\\*", "alpine"]
GLOBS_BAD = ["[", "a[", "\\", "[]", "[a-", "[^", "[z-a]", "*[", "x\\", "[-]", "example/[", "[a-b-c]"]
LABELS = ["tier", "tier=app", "tier=base", "tier!=app", "org.example.kind", "org.example.kind=base", "nosuch", "=",
          "a=b=c", "k=v", "url=https://example.invalid/x", "k" * 5000 + "=v", "label!", "k!"]
DANGLING = ["true", "false", "1", "0", "maybe", "", "TRUE", "yes", "False"]
UNTIL_GOOD = ["1h", "10m", "1.5h", "0", "-1h", "1700000000", "1700000000.5", "2024-01-01", "2024-01-01T00:00:00Z",
              "2024-01-01T00:00:00.5Z", "2024-01-01T10", "2023-11-14T22:13:20+01:00", "90s", "1h30m", "9223372036"]
UNTIL_BAD = ["yesterday", "", "abc", "2024-13-01", "99999999999999999999", "9" * 60 + "h", "1.2.3", "1e9",
             "9" * 5000, "1." + "9" * 5000, "\u0661h", "\u00b2", "2024-02-30", "1h-", "+", "2562048h", "1.99999999999999999999"]
FILTER_KEYS = ["dangling", "label", "label!", "before", "since", "reference", "until", "foo", "Label", "dangling "]
VALUES: dict[str, st.SearchStrategy[str]] = {
    "dangling": st.sampled_from(DANGLING),
    "label": st.sampled_from(LABELS) | st.text(max_size=12),
    "label!": st.sampled_from(LABELS),
    "before": st.sampled_from(REFS),
    "since": st.sampled_from(REFS),
    "reference": st.sampled_from(GLOBS_OK + GLOBS_BAD + REFS) | st.text(alphabet="ab/*?[]^-\\:.", max_size=10),
    "until": st.sampled_from(UNTIL_GOOD + UNTIL_BAD) | st.text(max_size=8),
    "foo": st.just("bar"),
    "Label": st.just("x"),
    "dangling ": st.just("true"),
}


VALUE_LISTS = {k: st.lists(v, min_size=1, max_size=3, unique=True) for k, v in VALUES.items()}
_KEY_LISTS: dict[tuple[str, ...], st.SearchStrategy[list[str]]] = {}


@st.composite
def filter_dicts(draw: Any, keys: tuple[str, ...] = tuple(FILTER_KEYS)) -> dict[str, list[str]]:
    # strategies are built once (module level, or cached here): building them per draw is slow
    chosen = draw(_KEY_LISTS.setdefault(keys, st.lists(st.sampled_from(keys), max_size=3, unique=True)))
    return {k: draw(VALUE_LISTS[k]) for k in chosen}


def map_form(filters: dict[str, list[str]]) -> str:
    return json.dumps({k: {v: True for v in vs} for k, vs in filters.items()})


def list_form(filters: dict[str, list[str]]) -> str:
    return json.dumps(filters)


BROKEN_JSON = ["{", "{not-json", '{"a":', '{"label":[1]}', '{"label":"x"}', "[]", "null", "true", '""', "0", "{}}",
               '{"label":{"b":1}}', '{"label":["x"],}', "{'a':['b']}", '{"dangling":["true"]', "NaN", " ", "\u00b2",
               '{"label":{"a":true},"before":["x"]}', '{"a":"\\ud800"}', '{"a":["\\u12"]}', "-", "1.", "1e", "tru",
               "[" * 3000 + "]" * 3000, "[" * 3000, '{"a":' * 1500 + "1" + "}" * 1500, "1" * 5000, "\x00", '"\x01"']


FILTERS_TEXT = st.one_of(
    filter_dicts().map(map_form),
    filter_dicts().map(list_form),
    st.sampled_from(BROKEN_JSON),
    st.text(max_size=20),
    st.text(alphabet='{}[]":,tfn0 ', max_size=20),
)


def filters_text() -> st.SearchStrategy[str]:
    return FILTERS_TEXT


BOOL_SPELLINGS = ["1", "true", "True", "TRUE", "yes", "on", "2", "-1", "x", "", "0", "no", "false", "none", "NO",
                  "False", "NONE", "fAlSe"]
SPACES = [" ", "\t", "\n", "\x0b", "\x0c", "\r", "\x85", "\xa0", "\u3000", "\u2028", "\x1c", "\x1f"]


_PAD = st.text(alphabet=SPACES, max_size=2)
_SPELLING = st.tuples(_PAD, st.sampled_from(BOOL_SPELLINGS), _PAD).map("".join)
BOOL_SPELLING = st.one_of(_SPELLING, _SPELLING, _SPELLING, st.text(max_size=6))


def bool_spellings() -> st.SearchStrategy[str]:
    return BOOL_SPELLING


PARAMS = st.one_of(
    st.tuples(st.sampled_from(["all", "shared-size", "manifests", "identity"]), BOOL_SPELLING),
    st.tuples(st.just("filters"), FILTERS_TEXT),
    st.tuples(st.just("filter"), st.sampled_from(GLOBS_OK + GLOBS_BAD + REFS)),
    st.tuples(st.sampled_from(["digests", "x-unknown", "", "ALL", "filters "]), st.text(max_size=8)),
    st.tuples(st.text(max_size=6), st.text(max_size=6)),
)
PARAM_LISTS = st.lists(PARAMS, max_size=5)


def encode(text: str, how: str) -> str:
    if how == "plus":
        return urllib.parse.quote_plus(text, safe="")
    if how == "every-byte":
        return "".join(f"%{b:02X}" for b in text.encode("utf-8"))
    return urllib.parse.quote(text, safe="")


JUNK_PARTS = ["", ";", "a;b", "%", "%zz", "%4", "=x", "k", "a=%G0", "b=1;c=2", "=", "&"]
_JUNK = st.sampled_from(JUNK_PARTS)
_HOW = st.sampled_from(["quote", "quote", "plus", "every-byte"])
_SIXTH = st.integers(0, 5)
_METHODS = st.sampled_from(["GET"] * 8 + ["HEAD", "POST", "DELETE", "PUT"])


@dataclass
class Case:
    method: str
    path: str
    pairs: list[tuple[str, str]] = field(default_factory=list)  # what was meant, before encoding
    raw_query: str = ""

    @property
    def target(self) -> str:
        return self.path + ("?" + self.raw_query if self.raw_query else "")


@st.composite
def queries(draw: Any) -> tuple[list[tuple[str, str]], str]:
    pairs = draw(PARAM_LISTS)
    how = draw(_HOW)
    parts = [f"{encode(k, how)}={encode(v, how)}" for k, v in pairs]
    if draw(_SIXTH) == 0:
        parts.insert(draw(st.integers(0, len(parts))), draw(_JUNK))
    return pairs, "&".join(parts)


KNOWN_VERSIONS = sorted({p.api_min for p in ALL_PROFILES} | {p.api_max for p in ALL_PROFILES}
                        | {"1.11", "1.23", "1.25", "1.40", "1.42", "1.43", "1.44", "1.47", "1.48", "1.54", "1.56"})
PREFIXES = st.one_of(
    st.just(""), st.sampled_from([f"/v{v}" for v in KNOWN_VERSIONS]),
    st.from_regex(r"[0-9.]{1,8}", fullmatch=True).map(lambda v: f"/v{v}"),
    st.sampled_from(["/v1.041", "/v01.41", "/v1.41.0", "/v1", "/v.", "/v1." + "9" * 6000, "/v" + "9" * 30, "/V1.41",
                     "/v1.41a", "/v-1.41"]),
)
INSPECT_NAMES = REFS + ["a%2Fb", "%zz", "x" * 3000, "example%2Fbase:1.0"]
ROUTES = st.one_of(
    st.just("/images/json"), st.just("/images/json"), st.just("/images/json"),
    st.sampled_from(["/_ping", "/version", "/images/json/", "/images", "/containers/json", "/info", "/", "",
                     "/images/json%3F", "//images/json", "/images//json"]),
    st.sampled_from(INSPECT_NAMES).map(lambda n: f"/images/{urllib.parse.quote(n, safe=':@%')}/json"),
    st.text(alphabet="/abcij%.", max_size=12).map(lambda t: "/" + t),
)


QUERIES = queries()


@st.composite
def cases(draw: Any) -> Case:
    method = draw(_METHODS)
    pairs, raw_query = draw(QUERIES)
    return Case(method, draw(PREFIXES) + draw(ROUTES), pairs, raw_query)


# --------------------------------------------------------------------------- the oracle

def answer(profile: Profile, method: str, target: str, store: ImageStore = STORE, now: int = NOW) -> Response:
    started = time.perf_counter()
    response = respond(store, profile, Request(method, target), now)
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"{profile.name} {method} {target[:200]!r} took {elapsed:.2f}s"
    return response


def message_of(profile: Profile, version: str | None, response: Response) -> str:
    """The error message, after checking the error body has exactly the daemon's shape."""
    content_type = response.header("Content-Type") or ""
    if content_type.startswith("text/plain"):
        through = profile.plain_text_errors_through
        assert through is not None and version is not None, (profile.name, version, response.body[:200])
        assert response.body.endswith(b"\n")
        return response.body[:-1].decode("utf-8", "replace")
    assert content_type == "application/json", content_type
    assert response.body.endswith(b"\n")
    document = json.loads(response.body)
    assert isinstance(document, dict) and set(document) == {"message"}, document
    assert isinstance(document["message"], str) and document["message"]
    return document["message"]


def check(profile: Profile, case: Case, response: Response) -> None:
    """Everything any answer must satisfy."""
    version, route = split(case.path)
    where = f"{profile.name} {case.method} {case.target[:300]!r}: {response.status} {response.body[:300]!r}"
    assert response.status in (200, 301, 400, 404, 500, 501), where
    if response.status == 301:  # the router's redirect to the clean path, and only for an unclean one
        cleaned = clean_path(urllib.parse.unquote(case.path))
        assert cleaned != urllib.parse.unquote(case.path) and response.header("Location", "").startswith(escape_path(cleaned)), where
        assert response.body == b"", where
        return
    if response.status != 200:
        message = message_of(profile, version, response)
        assert "internal error" not in message and "Traceback" not in message, where
        if response.status == 404:
            # 20.10's inspect wraps the lookup error: "no such image: {name}: No such image: ..."
            # (daemon/images/image_inspect.go at v20.10.24)
            assert message == "page not found" or message.startswith(("No such image: ", "no such image: ")), where
            if message == "page not found":
                assert not routed(profile.router_release, case.method, case.path), where
        if response.status == 501:
            assert routed(profile.router_release, case.method, case.path), where
            assert message.startswith(f"pytest-dockerimages does not model {case.method} "), where
        if response.status == 500:
            keys = {k for k, _ in case.pairs}
            expected = (
                (profile.malformed_filters_go_error and "filters" in keys and _GO_JSON_ERROR.fullmatch(message))
                or (profile.bad_glob_is_error and message == "syntax error in pattern"
                    and ("filters" in keys or "filter" in keys))
                or (profile.until_error_status == 500 and "filters" in keys and _UNTIL_ERROR.fullmatch(message)))
            assert expected, "a 500 this daemon never answers: " + where
        return
    assert response.header("Api-Version") == profile.api_max, where
    if case.method == "HEAD":
        return
    if route == "/images/json":
        body = json.loads(response.body)
        assert isinstance(body, list), where
        problems = validate("images-json", api_of(profile, version), body, strict=True)
        assert not problems, f"{where}\n" + "\n".join(problems[:5])
    elif route.startswith("/images/"):
        problems = validate("image-inspect", api_of(profile, version), json.loads(response.body), strict=True)
        assert not problems, f"{where}\n" + "\n".join(problems[:5])
    elif route == "/version":
        assert json.loads(response.body)["ApiVersion"] == profile.api_max
    elif route == "/info":
        info = json.loads(response.body)
        assert info["ServerVersion"] == profile.engine_version and isinstance(info["Images"], int), where
    else:
        assert route == "/_ping" and response.body == b"OK", where


def count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


# --------------------------------------------------------------------------- the volume: invariants

@fuzz_settings(3000)
@given(case=cases())
@example(case=Case("GET", "/v1." + "9" * 6000 + "/images/json"))
@example(case=Case("GET", "/images/json", [("filters", "[" * 3000)], "filters=" + "%5B" * 3000))
@example(case=Case("GET", "/images/json", [("filters", "")], "filters=" + urllib.parse.quote(
    json.dumps({"reference": ["*a" * 30 + "*b"]}))))
@example(case=Case("GET", "/images/json", [("filters", "")], "filters=" + urllib.parse.quote(
    json.dumps({"until": ["9" * 5000]}))))
def test_every_answer_is_one_the_daemon_gives(case: Case) -> None:
    count("invariants")
    for profile in ALL_PROFILES:
        check(profile, case, answer(profile, case.method, case.target))


# --------------------------------------------------------------------------- the 500s, both ways

@fuzz_settings(800)
@given(prefix=st.text(alphabet="abex/", max_size=6), bad=st.sampled_from(GLOBS_BAD), suffix=st.text(alphabet="ab*", max_size=4),
       legacy=st.booleans())
def test_bad_reference_glob_is_500_exactly_on_graphdriver(prefix: str, bad: str, suffix: str, legacy: bool) -> None:
    count("glob")
    pattern = prefix + bad + ("" if bad.endswith("\\") else suffix)  # "x\\" + "a" would be a valid escape
    for profile in ALL_PROFILES:
        if legacy:  # the singular `filter` parameter is a reference filter below legacy_filter_below
            case = Case("GET", "/v1.24/images/json", [("filter", pattern)], "filter=" + urllib.parse.quote(pattern))
            if not profile.supports("1.24"):
                continue
        else:
            case = Case("GET", "/images/json", [("filters", "")],
                        "filters=" + urllib.parse.quote(json.dumps({"reference": [pattern]})))
        response = answer(profile, case.method, case.target)
        check(profile, case, response)
        if profile.bad_glob_is_error:
            assert (response.status, json.loads(response.body)) == (500, {"message": "syntax error in pattern"}), \
                (profile.name, pattern)
        else:
            assert (response.status, response.body) == (200, b"[]\n"), (profile.name, pattern)


@fuzz_settings(1000)
@given(text=filters_text())
def test_malformed_filters_json_is_500_exactly_on_20_10(text: str) -> None:
    count("malformed")
    case = Case("GET", "/images/json", [("filters", text)], "filters=" + urllib.parse.quote(text, safe=""))
    deep = text.count("[") + text.count("{") > 500  # beyond what Python's json (the oracle) reads
    ok = None if deep else filters_json_ok(text)
    for profile in ALL_PROFILES:
        response = answer(profile, case.method, case.target)
        check(profile, case, response)
        malformed_answer = (response.status == 500 and _GO_JSON_ERROR.fullmatch(json.loads(response.body)["message"])) \
            if profile.malformed_filters_go_error else \
            (response.status == 400 and json.loads(response.body)["message"].lower() == "invalid filter")
        if ok is not None:
            assert bool(malformed_answer) == (not ok), (profile.name, text, response.status, response.body[:200])
        else:
            assert malformed_answer, (profile.name, text[:50], response.status, response.body[:200])


@fuzz_settings(700)
@given(value=st.sampled_from(UNTIL_GOOD + UNTIL_BAD) | st.text(alphabet="abcxyz!?", max_size=10),
       other=st.sampled_from([{}, {"label": ["tier"]}, {"dangling": ["false"]}]))
def test_bad_until_is_an_error_and_500_exactly_before_29_4(value: str, other: dict[str, list[str]]) -> None:
    count("until")
    bad = value in UNTIL_BAD or value not in UNTIL_GOOD  # letters without digits never parse
    filters = dict(other, until=[value])
    case = Case("GET", "/images/json", [("filters", "")], "filters=" + urllib.parse.quote(json.dumps(filters)))
    for profile in ALL_PROFILES:
        response = answer(profile, case.method, case.target)
        check(profile, case, response)
        if "until" not in profile.filter_keys:
            assert (response.status, json.loads(response.body)) == (400, {"message": "Invalid filter 'until'"})
        elif bad:
            assert response.status == profile.until_error_status, (profile.name, value, response.body)
            assert _UNTIL_ERROR.fullmatch(json.loads(response.body)["message"]), response.body
        else:
            assert response.status == 200, (profile.name, value, response.body)


# --------------------------------------------------------------------------- equivalences

GOOD_FILTER_KEYS = ["dangling", "label", "before", "since", "reference", "until"]


@fuzz_settings(600)
@given(filters=filter_dicts(tuple(GOOD_FILTER_KEYS)), seed=st.randoms(use_true_random=False))
def test_both_filter_json_forms_and_any_order_answer_alike(filters: dict[str, list[str]], seed: random.Random) -> None:
    count("forms")
    shuffled = {k: seed.sample(v, len(v)) for k, v in seed.sample(list(filters.items()), len(filters))}
    targets = ["/images/json?filters=" + urllib.parse.quote(text)
               for text in (map_form(filters), list_form(filters), seed.choice([list_form, map_form])(shuffled))]
    for profile in ALL_PROFILES:
        answers = {(r.status, r.body) for r in (answer(profile, "GET", t) for t in targets)}
        assert len(answers) == 1, (profile.name, filters, answers)


@fuzz_settings(1500)
@given(name=st.sampled_from(["all", "shared-size", "manifests", "identity"]), spelling=bool_spellings(),
       version=st.sampled_from(["", "/v1.41", "/v1.44", "/v1.47", "/v1.54"]), with_manifests=st.booleans())
def test_every_spelling_of_a_boolean_answers_alike(name: str, spelling: str, version: str, with_manifests: bool) -> None:
    count("booleans")
    extra = "&manifests=1" if with_manifests and name != "manifests" else ""
    target = f"{version}/images/json?{name}={urllib.parse.quote(spelling, safe='')}{extra}"
    canonical = f"{version}/images/json?{name}=1{extra}" if go_bool(spelling) else f"{version}/images/json?{extra[1:]}"
    for profile in ALL_PROFILES:
        got, want = answer(profile, "GET", target), answer(profile, "GET", canonical)
        assert (got.status, got.body) == (want.status, want.body), (profile.name, spelling, target)


@fuzz_settings(600)
@given(base=st.lists(st.one_of(st.tuples(st.just("all"), st.sampled_from(["1", "0"])),
                               st.tuples(st.just("filters"), filter_dicts(tuple(GOOD_FILTER_KEYS)).map(list_form)),
                               st.tuples(st.just("shared-size"), st.sampled_from(["1", "0"]))),
                     max_size=3, unique_by=lambda p: p[0]),
       junk=st.lists(st.tuples(st.sampled_from(["all", "filters", "shared-size"]), st.text(max_size=8)), max_size=3),
       unknown=st.lists(st.tuples(st.text(alphabet="xyz-_", min_size=1, max_size=5).map(lambda s: "x" + s),
                                  st.text(max_size=8)), max_size=3),
       how=st.sampled_from(["quote", "plus", "every-byte"]), seed=st.randoms(use_true_random=False),
       prefix=st.sampled_from(["", "v"]))
def test_repeated_unknown_reordered_and_reencoded_parameters_answer_alike(
        base: list[tuple[str, str]], junk: list[tuple[str, str]], unknown: list[tuple[str, str]], how: str,
        seed: random.Random, prefix: str) -> None:
    """The first value of a key wins; unknown keys, order and percent-encoding do not matter."""
    count("params")
    canonical = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in base)
    firsts = base + unknown
    seed.shuffle(firsts)
    repeats = [pair for pair in junk if pair[0] in {k for k, _ in base}]  # after the first value: ignored
    rewritten = "&".join(f"{encode(k, how)}={encode(v, how)}" for k, v in firsts + repeats)
    for profile in ALL_PROFILES:
        path = f"/v{profile.api_max}/images/json" if prefix else "/images/json"
        got, want = answer(profile, "GET", f"{path}?{rewritten}"), answer(profile, "GET", f"/images/json?{canonical}")
        assert (got.status, got.body) == (want.status, want.body), (profile.name, rewritten, canonical)


# --------------------------------------------------------------------------- differential: golden answers

GOLDEN = {name: load_golden(name) for name in ("docker-20.10", "docker-26.1", "docker-26.1-containerd")}
GOLDEN_CASES = [(name, i) for name, golden in GOLDEN.items() for i in range(len(golden["interactions"]))]
GOLDEN_STORES = {name: parse_seed(g["seed"], name) for name, g in GOLDEN.items()}


def rewrite(target: str, profile: Profile, rnd: random.Random) -> str:
    """The same request, said differently: re-spelt booleans, the other filters form, unknown and
    repeated parameters, shuffled order, other percent-encodings, an explicit version prefix."""
    path, _, query = target.partition("?")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    out: list[tuple[str, str]] = []
    for key, value in pairs:
        if key in ("all", "shared-size", "manifests") and go_bool(value):
            value = rnd.choice(["1", "true", "TRUE", " yes ", "on", "2"])
        elif key in ("all", "shared-size", "manifests"):
            value = rnd.choice(["0", "false", "no", "none", " FALSE "])
        elif key == "filters":
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and all(isinstance(v, list) for v in parsed.values()) and rnd.random() < 0.5:
                value = json.dumps({k: {x: True for x in v} for k, v in parsed.items()})
            elif isinstance(parsed, dict) and all(isinstance(v, dict) for v in parsed.values()) and rnd.random() < 0.5 \
                    and all(all(b is True for b in v.values()) for v in parsed.values()):
                value = json.dumps({k: list(v) for k, v in parsed.items()})
        out.append((key, value))
    known = {k for k, _ in out}
    out += [("x-" + rnd.choice("abc"), rnd.choice(["", "1", "zz"])) for _ in range(rnd.randint(0, 2))]
    rnd.shuffle(out)
    firsts = {}
    for key, value in out:
        firsts.setdefault(key, value)
    out = [(k, firsts[k]) for k in dict.fromkeys(k for k, _ in out)]  # each key once, in the shuffled order
    out += [(k, rnd.choice(["0", "junk", ""])) for k in known if rnd.random() < 0.3]  # repeats come later
    how = rnd.choice(["quote", "plus", "every-byte"])
    if path == "/images/json" and rnd.random() < 0.5:
        path = f"/v{profile.api_max}/images/json"
    return path + ("?" + "&".join(f"{encode(k, how)}={encode(v, how)}" for k, v in out) if out else "")


@fuzz_settings(1500)
@given(which=st.sampled_from(GOLDEN_CASES), rnd=st.randoms(use_true_random=False))
def test_rewritten_golden_requests_get_the_real_daemons_answer(which: tuple[str, int], rnd: random.Random) -> None:
    count("golden")
    name, index = which
    golden = GOLDEN[name]
    interaction = golden["interactions"][index]
    profile = PROFILES[golden["profile"]]
    seed = GOLDEN_STORES[name]
    now = interaction["now"] * NANOS
    store = ImageStore(seed.images, loaded_at_ns=now - 60 * NANOS)
    target = rewrite(interaction["path"], profile, rnd)
    response = answer(profile, interaction["method"], target, store, now)
    assert response.status == interaction["status"], (name, interaction["name"], target)
    if "json" in interaction["headers"].get("Content-Type", ""):
        assert order_free(json.loads(response.body)) == order_free(json.loads(interaction["body"])), (name, target)
    else:
        assert response.body.decode() == interaction["body"], (name, target)


# --------------------------------------------------------------------------- Go's path.Match, fast and right

@fuzz_settings(3000)
@given(pattern=st.text(alphabet="ab/*?[]^-\\", max_size=9), name=st.text(alphabet="ab/-", max_size=9))
def test_glob_match_agrees_with_a_backtracking_matcher(pattern: str, name: str) -> None:
    """glob_match (Go's chunk algorithm, linear) == the whole pattern as one backtracking regex."""
    count("glob-match")
    try:
        expected: Any = compile_glob(pattern).match(name) is not None
    except ValueError:
        expected = "bad pattern"
    try:
        got: Any = glob_match(pattern, name)
    except ValueError:
        got = "bad pattern"
    assert got == expected


# --------------------------------------------------------------------------- a sample through the server

def wire_cases() -> st.SearchStrategy[Case]:
    """Cases an HTTP client can send: GET/HEAD, an ASCII request line within the server's limit."""
    return cases().filter(lambda c: c.method in ("GET", "HEAD") and len(c.target) < 8000 and c.target.isascii()
                          and not re.search(r"[\x00-\x20\x7f#]", c.target) and c.target.startswith("/"))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeDaemon, list[Any]]]:
    daemon = FakeDaemon(images=IMAGES, clock=lambda: NOW).start()
    connection = [connection_for(daemon.docker_host, timeout=10)]
    try:
        yield daemon, connection
    finally:
        connection[0].close()
        daemon.stop()


@fuzz_settings(400)
@given(case=wire_cases(), profile=st.sampled_from(ALL_PROFILES))
def test_the_server_answers_like_respond_and_keeps_serving(served: tuple[FakeDaemon, list[Any]], case: Case,
                                                           profile: Profile) -> None:
    count("server")
    daemon, connection = served
    if daemon.profile is not profile:
        daemon.load_seed(Seed(tuple(IMAGES), profile.name))  # atomic swap; keeps the server's error list
    store = daemon.store
    conn = connection[0]
    started = time.monotonic()
    try:
        conn.putrequest(case.method, case.target, skip_accept_encoding=True)
        conn.endheaders()
        got = conn.getresponse()
        body = got.read()
    except (TimeoutError, OSError) as exc:
        pytest.fail(f"{profile.name} {case.method} {case.target[:200]!r}: no answer ({exc!r})")
    assert time.monotonic() - started < 5
    if got.getheader("Connection", "").lower() == "close":
        conn.close()
        connection[0] = connection_for(daemon.docker_host, timeout=10)
    if not request_uri_ok(case.method, case.target):  # e.g. a bad %-escape: Go answers before dockerd's router
        assert (got.status, got.getheader("Content-Type")) == (400, "text/plain; charset=utf-8"), case.target[:200]
        assert body == (b"400 Bad Request" if case.method != "HEAD" else b"")
        return
    want = respond(store, profile, Request(case.method, case.target), NOW)
    assert (got.status, body) == (want.status, want.body if case.method != "HEAD" else b""), case.target[:200]
    assert got.getheader("Content-Type") == want.header("Content-Type")
    check(profile, case, Response(got.status, got.getheaders(), body if case.method != "HEAD" else want.body))
    assert daemon.errors == []


def test_the_server_survived_the_fuzzing(served: tuple[FakeDaemon, list[Any]]) -> None:
    daemon, _ = served
    assert daemon.errors == []
    conn = connection_for(daemon.docker_host, timeout=5)
    try:
        conn.request("GET", "/_ping")
        assert conn.getresponse().read() == b"OK"
    finally:
        conn.close()


def test_fuzz_volume_is_at_least_10000_cases() -> None:
    """When this module ran whole in one process, it tried at least 10,000 generated cases."""
    expected = {"invariants", "glob", "malformed", "until", "forms", "booleans", "params", "golden", "glob-match",
                "server"}
    if set(COUNTS) != expected:
        pytest.skip(f"only part of the module ran here ({sorted(COUNTS)})")
    assert sum(COUNTS.values()) >= 10_000 * min(1.0, SCALE), COUNTS
