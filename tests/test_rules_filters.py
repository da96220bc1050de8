"""Filter rules, one row per daemon behaviour (see rules_store.py for the images)."""
from __future__ import annotations

import pytest
from rules_store import APP, get, names, q

ZERO = "sha256:" + "0" * 64

# (daemon behaviour pinned, profile, target, expected names as a set)
SELECTION = [
    ("all=0 hides untagged images with children (graphdriver)", "docker-26.1", "/images/json",
     {"app", "dangling", "empty", "base", "alpine", "pinned"}),
    ("all=1 shows intermediates", "docker-26.1", "/images/json?all=1",
     {"app", "dangling", "empty", "base", "alpine", "pinned", "mid"}),
    ("all=0 hides dangling records named as a parent (containerd)", "docker-26.1-containerd", "/images/json",
     {"app", "dangling", "empty", "base", "alpine", "pinned"}),
    ("dangling=true: heads without tags, digest-only included (graphdriver)", "docker-26.1",
     q({"dangling": ["true"]}), {"dangling", "pinned"}),
    ("dangling=true never shows parents, even with all=1 (graphdriver)", "docker-26.1",
     q({"dangling": ["true"]}, all="1"), {"dangling", "pinned"}),
    ("dangling=true: untagged records only, digest-only excluded (containerd)", "docker-26.1-containerd",
     q({"dangling": ["true"]}), {"dangling"}),
    ("dangling=true with all=1 adds intermediates (containerd)", "docker-26.1-containerd",
     q({"dangling": ["true"]}, all="1"), {"dangling", "mid"}),
    ("dangling=1 means true from Docker 24", "docker-26.1", q({"dangling": ["1"]}), {"dangling", "pinned"}),
    ("dangling map form {true:true}", "docker-26.1", q({"dangling": {"true": True}}), {"dangling", "pinned"}),
    ("dangling empty list counts as true on 20.10", "docker-20.10", q({"dangling": []}), {"dangling", "pinned"}),
    ("dangling true+false: ExactMatch(true) wins on 20.10", "docker-20.10", q({"dangling": ["true", "false"]}),
     {"dangling", "pinned"}),
    ("dangling=false drops images with no reference", "docker-26.1", q({"dangling": ["false"]}),
     {"app", "empty", "base", "alpine", "pinned"}),
    ("label=key: key exists", "docker-26.1", q({"label": ["a"]}), {"base", "app", "alpine"}),
    ("label=key=value: exact value", "docker-26.1", q({"label": ["a=1"]}), {"base", "alpine"}),
    ("label split at the first '='", "docker-26.1", q({"label": ["a=b=c"]}), {"app"}),
    ("several labels are ANDed", "docker-26.1", q({"label": ["a=1", "tier=base"]}), {"base"}),
    ("label map form ignores the boolean", "docker-26.1", q({"label": {"a": False}}), {"base", "app", "alpine"}),
    ("label=k!=v is key 'k!' on graphdriver: no match", "docker-26.1", q({"label": ["a!=1"]}), set()),
    ("label=k!=v negates on containerd; missing label excluded before 29.4.1", "docker-26.1-containerd",
     q({"label": ["a!=1"]}), {"app"}),
    ("label=k!=v keeps images without the label from 29.4.1", "docker-29.7-containerd",
     q({"label": ["a!=1"]}), {"app", "dangling", "empty", "pinned"}),
    ("label! requires the key to be absent (containerd)", "docker-26.1-containerd", q({"label!": ["a"]}),
     {"dangling", "empty", "pinned"}),
    ("reference=repo matches every tag", "docker-26.1", q({"reference": ["ex/base"]}), {"base"}),
    ("reference glob '*' does not cross '/'", "docker-26.1", q({"reference": ["*"]}), {"alpine"}),
    ("reference '*' matches moby-dangling records (containerd)", "docker-26.1-containerd",
     q({"reference": ["*"]}), {"alpine", "dangling"}),
    ("several references are ORed", "docker-26.1", q({"reference": ["alpine", "ex/base"]}), {"alpine", "base"}),
    ("reference glob over repo names", "docker-26.1", q({"reference": ["ex/*"]}), {"base", "app", "empty"}),
    ("reference matches digest references too", "docker-26.1", q({"reference": ["localhost:5000/*/*"]}),
     {"app", "pinned"}),
    ("canonical names do not match before 29.5", "docker-26.1", q({"reference": ["docker.io/library/alpine"]}), set()),
    ("canonical names match from 29.5", "docker-29.7", q({"reference": ["docker.io/library/alpine"]}), {"alpine"}),
    ("bad glob is no match on containerd", "docker-26.1-containerd", q({"reference": ["["]}), set()),
    ("before: strictly older", "docker-26.1", q({"before": ["ex/app:1"]}),
     {"dangling", "empty", "base", "alpine", "pinned"}),
    ("since: strictly newer, nanosecond precision", "docker-26.1", q({"since": ["ex/base:1"]}),
     {"alpine", "empty", "dangling", "app"}),
    ("before by full id", "docker-26.1", q({"before": [APP.id]}), {"dangling", "empty", "base", "alpine", "pinned"}),
    ("before by bare 64-hex id", "docker-26.1", q({"before": [APP.id[7:]]}),
     {"dangling", "empty", "base", "alpine", "pinned"}),
    ("since by short id", "docker-26.1", q({"since": [APP.id[7:19]]}), set()),
    ("before by digest reference", "docker-26.1", q({"before": ["localhost:5000/ex/app@sha256:" + "a" * 64]}),
     {"dangling", "empty", "base", "alpine", "pinned"}),
    ("several before values: the oldest wins (24+)", "docker-26.1", q({"before": ["alpine:3.19", "ex/app:1"]}),
     {"base", "pinned"}),
    ("several before values: the last walked wins (<=23)", "docker-20.10", q({"before": ["alpine:3.19", "ex/app:1"]}),
     {"dangling", "empty", "base", "alpine", "pinned"}),
    ("until unix seconds compares Created (graphdriver)", "docker-26.1", q({"until": ["2000"]}),
     {"empty", "base", "alpine", "pinned"}),
    ("until RFC 3339", "docker-26.1", q({"until": ["1970-01-01T00:25:00Z"]}), {"base", "alpine", "pinned"}),
    ("until duration is now minus it", "docker-26.1", q({"until": ["1h"]}), {"base", "alpine", "pinned"}),
    ("until compares the record time on containerd (after)", "docker-26.1-containerd", q({"until": ["4500"]}),
     {"app", "dangling", "empty", "base", "alpine", "pinned"}),
    ("until compares the record time on containerd (before)", "docker-26.1-containerd", q({"until": ["3500"]}), set()),
    ("different keys are ANDed", "docker-26.1", q({"dangling": ["true"], "label": ["tier=app"]}), {"dangling"}),
    ("legacy filter param honoured below 1.41", "docker-26.1", "/v1.40/images/json?filter=ex/base", {"base"}),
    ("legacy filter param ignored at 1.41", "docker-26.1", "/v1.41/images/json?filter=ex/base",
     {"app", "dangling", "empty", "base", "alpine", "pinned"}),
    ("legacy filter is ORed with filters' references", "docker-20.10",
     "/v1.24/images/json?filter=alpine&" + q({"reference": ["ex/base"]}).split("?")[1], {"alpine", "base"}),
    ("unknown query parameters are ignored", "docker-26.1", "/images/json?only_ids=1&digests=1",
     {"app", "dangling", "empty", "base", "alpine", "pinned"}),
    ("filters null means none", "docker-26.1", "/images/json?filters=null",
     {"app", "dangling", "empty", "base", "alpine", "pinned"}),
    ("duplicate JSON keys: the last one wins", "docker-26.1", '/images/json?filters={"since":["ex/app:1"],"since":["ex/base:1"]}',
     {"alpine", "empty", "dangling", "app"}),
]


@pytest.mark.parametrize(("rule", "profile", "target", "expected"), SELECTION, ids=[r[0] for r in SELECTION])
def test_selection(rule: str, profile: str, target: str, expected: set[str]) -> None:
    status, body, _ = get(profile, target)
    assert status == 200, body
    assert set(names(body)) == expected


BOOLEANS = [("1", True), ("true", True), ("True", True), ("yes", True), ("garbage", True), (" 2 ", True),
            ("0", False), ("false", False), ("FALSE", False), ("no", False), ("none", False), ("", False),
            (" none ", False)]


@pytest.mark.parametrize(("spelling", "truthy"), BOOLEANS)
def test_all_boolean_spellings(spelling: str, truthy: bool) -> None:
    status, body, _ = get("docker-26.1", f"/images/json?all={spelling.replace(' ', '%20')}")
    assert status == 200
    assert ("mid" in names(body)) is truthy


@pytest.mark.parametrize(("query", "shows_mid"), [("all=0&all=1", False), ("all=1&all=0", True)])
def test_first_occurrence_of_a_parameter_wins(query: str, shows_mid: bool) -> None:
    assert ("mid" in names(get("docker-26.1", f"/images/json?{query}")[1])) is shows_mid


# (daemon behaviour pinned, profile, target, status, message)
ERRORS = [
    ("unknown filter, capitalised on 20.10", "docker-20.10", q({"foo": ["x"]}), 400, "Invalid filter 'foo'"),
    ("unknown filter, lower case from 23", "docker-26.1", q({"foo": ["x"]}), 400, "invalid filter 'foo'"),
    ("filter keys are case-sensitive", "docker-26.1", q({"Dangling": ["true"]}), 400, "invalid filter 'Dangling'"),
    ("no until filter before 25", "docker-20.10", q({"until": ["1h"]}), 400, "Invalid filter 'until'"),
    ("no label! on graphdriver", "docker-26.1", q({"label!": ["a"]}), 400, "invalid filter 'label!'"),
    ("malformed filters JSON: Go's error, 500, on 20.10", "docker-20.10", "/images/json?filters=%7Bnot-json", 500,
     "invalid character 'n' looking for beginning of object key string"),
    ("filters of the wrong type on 20.10", "docker-20.10", '/images/json?filters={"dangling":"true"}', 500,
     "json: cannot unmarshal string into Go value of type map[string]bool"),
    ("filters as an array on 20.10", "docker-20.10", "/images/json?filters=[]", 500,
     "json: cannot unmarshal array into Go value of type map[string]map[string]bool"),
    ("malformed filters JSON: 400 from 24", "docker-26.1", "/images/json?filters=notjson", 400, "invalid filter"),
    ("bad dangling value", "docker-26.1", q({"dangling": ["maybe"]}), 400, "invalid filter 'dangling=[maybe]'"),
    ("dangling=1 invalid on 20.10", "docker-20.10", q({"dangling": ["1"]}), 400, "Invalid filter 'dangling=[1]'"),
    ("dangling values are case-sensitive", "docker-20.10", q({"dangling": ["True"]}), 400,
     "Invalid filter 'dangling=[True]'"),
    ("dangling true and false conflict from 24", "docker-26.1", q({"dangling": ["true", "false"]}), 400,
     "invalid filter 'dangling=[false true]'"),
    ("dangling with no value from 24", "docker-26.1", q({"dangling": []}), 400, "invalid filter 'dangling'"),
    ("dangling map form with a false flag", "docker-26.1", q({"dangling": {"true": False}}), 400,
     "invalid filter 'dangling=[true]'"),
    ("before an unknown name gets :latest", "docker-26.1", q({"before": ["nosuch"]}), 404,
     "No such image: nosuch:latest"),
    ("since an unknown tag", "docker-26.1", q({"since": ["nosuch:tag"]}), 404, "No such image: nosuch:tag"),
    ("before an unknown id", "docker-26.1", q({"before": [ZERO]}), 404, f"No such image: {ZERO}"),
    ("upper-case reference, 25+ wording", "docker-26.1", q({"before": ["UPPER"]}), 400,
     "invalid reference format: repository name (library/UPPER) must be lowercase"),
    ("upper-case reference, 20.10 wording", "docker-20.10", q({"before": ["UPPER"]}), 400,
     "invalid reference format: repository name must be lowercase"),
    ("bad reference glob is a 500 on graphdriver", "docker-26.1", q({"reference": ["["]}), 500,
     "syntax error in pattern"),
    ("bad until, 500 before 29.4", "docker-26.1", q({"until": ["foo"]}), 500,
     'failed to parse value as time or duration: "foo"'),
    ("empty until, 500 before 29.4", "docker-26.1", q({"until": [""]}), 500,
     'failed to parse value as time or duration: ""'),
    ("bad until date", "docker-26.1", q({"until": ["2020-13-01"]}), 500, 'parsing time "2020-13-01": month out of range'),
    ("bad until, 400 with context from 29.4", "docker-29.7", q({"until": ["foo"]}), 400,
     "invalid value for 'until' filter: failed to parse value as time or duration: invalid seconds \"foo\": invalid syntax"),
    ("empty until from 29.4", "docker-29.7", q({"until": [""]}), 400,
     "invalid value for 'until' filter: failed to parse value as time or duration: value is empty"),
    ("bad percent-encoding", "docker-26.1", "/images/json?all=%zz", 400, 'invalid URL escape "%zz"'),
    ("semicolons in the query", "docker-26.1", "/images/json?all=1;x=2", 400, "invalid semicolon separator in query"),
    ("identity needs manifests (1.54+)", "docker-29.7", "/v1.54/images/json?identity=1", 400,
     "conflicting options: identity requires manifests=1"),
    ("validation comes before dangling parsing", "docker-26.1", q({"foo": ["x"], "dangling": ["maybe"]}), 400,
     "invalid filter 'foo'"),
    ("graphdriver parses dangling before before/since", "docker-26.1", q({"dangling": ["maybe"], "before": ["nosuch"]}),
     400, "invalid filter 'dangling=[maybe]'"),
    ("containerd resolves before/since before dangling", "docker-26.1-containerd",
     q({"dangling": ["maybe"], "before": ["nosuch"]}), 404, "No such image: nosuch:latest"),
]


@pytest.mark.parametrize(("rule", "profile", "target", "status", "message"), ERRORS, ids=[r[0] for r in ERRORS])
def test_errors(rule: str, profile: str, target: str, status: int, message: str) -> None:
    got_status, body, headers = get(profile, target)
    assert (got_status, body) == (status, {"message": message})
    assert headers["Docker-Experimental"] == "false"


def test_reference_filter_trims_repo_tags_and_digests() -> None:
    _, body, _ = get("docker-26.1", q({"reference": ["localhost:5000/*/*"]}))
    app = next(item for item in body if item["Id"] == APP.id)
    assert app["RepoTags"] == ["localhost:5000/ex/app:1"]
    assert app["RepoDigests"] == ["localhost:5000/ex/app@sha256:" + "a" * 64]
    _, body, _ = get("docker-26.1-containerd", q({"reference": ["ex/app"]}))
    assert body[0]["RepoTags"] == ["ex/app:1"] and body[0]["RepoDigests"] == [f"ex/app@{APP.id}"]
