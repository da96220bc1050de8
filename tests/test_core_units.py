"""Unit tables for the pure core: references, globs, timestamps, query parsing, the image model, seeds."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_dockerimages._core.errors import DaemonError
from pytest_dockerimages._core.gojson import GoJSONError, check_syntax
from pytest_dockerimages._core.model import Image, ImageStore, ModelError
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.query import (
    bool_value,
    canonical_filters,
    filters_from_json,
    parse_form,
    parse_list_query,
)
from pytest_dockerimages._core.reference import PatternError, ReferenceError, glob_match, parse_any, parse_normalized
from pytest_dockerimages._core.timestamps import NANOS, TimestampError, format_rfc3339_ns, parse_until, to_ns
from pytest_dockerimages._files.seed import SeedError, dump_seed, load_seed

# Go's path.Match semantics (cases from its documented behaviour)
GLOBS = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True), ("a*", "ab/c", False),
    ("a*/b", "abc/b", True), ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False), ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abe", True), ("a\\*b", "a*b", True), ("a\\*b", "ab", False), ("a?b", "a☺b", True),
    ("a?b", "a/b", False), ("a*b", "a/b", False), ("[\\]a]", "]", True), ("[x\\-]", "-", True),
    ("*x", "xxx", True), ("ex/*", "ex/app:1", True), ("*:1*", "example/tiny:1.0", False),
]


@pytest.mark.parametrize(("pattern", "text", "matches"), GLOBS)
def test_glob_matches_like_go_path_match(pattern: str, text: str, matches: bool) -> None:
    assert glob_match(pattern, text) is matches


@pytest.mark.parametrize("pattern", ["[", "[^", "[^bc", "a[", "[]a]", "[-]", "[x-]", "[a-b-c]", "a\\", "[z-a]"])
def test_malformed_globs_are_syntax_errors(pattern: str) -> None:
    with pytest.raises(PatternError, match="syntax error in pattern"):
        glob_match(pattern, "abc")


REFS = [
    ("alpine", "docker.io/library/alpine", "alpine"),
    ("alpine:3.19", "docker.io/library/alpine:3.19", "alpine:3.19"),
    ("library/alpine", "docker.io/library/alpine", "alpine"),
    ("docker.io/library/alpine:latest", "docker.io/library/alpine:latest", "alpine:latest"),
    ("index.docker.io/foo/bar", "docker.io/foo/bar", "foo/bar"),
    ("localhost:5000/x:v1", "localhost:5000/x:v1", "localhost:5000/x:v1"),
    ("localhost/x", "localhost/x", "localhost/x"),
    ("registry.example.com/a/b/c:1", "registry.example.com/a/b/c:1", "registry.example.com/a/b/c:1"),
    ("Foo/bar", "Foo/bar", "Foo/bar"),
    ("x@sha256:" + "a" * 64, "docker.io/library/x@sha256:" + "a" * 64, "x@sha256:" + "a" * 64),
]


@pytest.mark.parametrize(("text", "canonical", "familiar"), REFS)
def test_reference_normalisation(text: str, canonical: str, familiar: str) -> None:
    ref = parse_normalized(text)
    assert (str(ref), ref.familiar) == (canonical, familiar)


@pytest.mark.parametrize(("text", "message"), [
    ("UPPER", "invalid reference format: repository name (library/UPPER) must be lowercase"),
    ("a b", "invalid reference format"),
    ("a:b:c", "invalid reference format"),
    ("a" * 64, "invalid repository name (" + "a" * 64 + "), cannot specify 64-byte hexadecimal strings"),
    ("x/" + "a" * 260, "repository name must not be more than 255 characters"),
])
def test_reference_errors(text: str, message: str) -> None:
    with pytest.raises(ReferenceError) as info:
        parse_normalized(text)
    assert str(info.value) == message


def test_parse_any_treats_64_hex_as_an_id() -> None:
    assert str(parse_any("a" * 64)) == "sha256:" + "a" * 64
    assert str(parse_any("sha256:" + "b" * 64)) == "sha256:" + "b" * 64


UNTIL = [
    ("1h", 10_000 * NANOS - 3600 * NANOS), ("1.5h", 10_000 * NANOS - 5400 * NANOS), ("-1m", 10_060 * NANOS),
    ("0", 0), ("1136073600", 1136073600 * NANOS), ("1136073600.000000001", 1136073600 * NANOS + 1),
    ("1136073600.5", 1136073600 * NANOS + 500_000_000), ("2006-01-02T15:04:05Z", 1136214245 * NANOS),
    ("2006-01-02T15:04:05.999999999+07:00", (1136214245 - 7 * 3600) * NANOS + 999_999_999),
    ("2006-01-02", 1136160000 * NANOS), ("2006-01-02T15", 1136214000 * NANOS), ("2006-01-02T15:04", 1136214240 * NANOS),
]


@pytest.mark.parametrize(("text", "expected"), UNTIL)
def test_until_formats(text: str, expected: int) -> None:
    assert parse_until(text, 10_000 * NANOS) == expected


@pytest.mark.parametrize("text", ["foo", "", "2020-13-01", "2020-02-30", "1x"])
def test_until_errors(text: str) -> None:
    with pytest.raises(TimestampError):
        parse_until(text, 0)


def test_created_keeps_nanoseconds() -> None:
    assert to_ns("2024-01-01T00:00:00.123456789Z") == 1704067200123456789
    assert format_rfc3339_ns(1704067200123456789) == "2024-01-01T00:00:00.123456789Z"
    assert to_ns(1700000000) == 1700000000 * NANOS
    with pytest.raises(ValueError, match="created"):
        to_ns(True)


@pytest.mark.parametrize(("text", "truthy"), [("", False), ("0", False), ("no", False), ("NONE", False),
                                              (" false ", False), ("1", True), ("on", True), ("100", True)])
def test_bool_value(text: str, truthy: bool) -> None:
    assert bool_value(text) is truthy


def test_parse_form_keeps_every_value_and_decodes_plus() -> None:
    form = parse_form("a=1&a=2&b=x+y&c=%2F&&d")
    assert (form.get("a"), form.values["a"], form.get("b"), form.get("c"), form.get("d")) == ("1", ("1", "2"), "x y", "/", "")


def test_filters_forms_are_equivalent() -> None:
    profile = get_profile("docker-26.1")
    slice_form = filters_from_json('{"label": ["b", "a"], "dangling": ["true"]}', profile)
    map_form = filters_from_json('{"dangling": {"true": true}, "label": {"a": true, "b": true}}', profile)
    assert canonical_filters(slice_form) == canonical_filters(map_form) == {"dangling": ["true"], "label": ["a", "b"]}
    assert filters_from_json("{}", profile) == filters_from_json("null", profile) == filters_from_json("", profile) == {}


@pytest.mark.parametrize(("version", "shared", "manifests"), [("1.41", False, False), ("1.42", True, False),
                                                             ("1.47", True, True)])
def test_version_gated_parameters(version: str, shared: bool, manifests: bool) -> None:
    query = parse_list_query("shared-size=1&manifests=1", version, get_profile("docker-28.1-containerd"))
    assert (query.shared_size, query.manifests) == (shared, manifests)


@pytest.mark.parametrize(("text", "message"), [
    ("{", "unexpected end of JSON input"), ("tru", "unexpected end of JSON input"),
    ("nul!", "invalid character '!' in literal null (expecting 'l')"), ('{"a" 1}', "invalid character '1' after object key"),
    ('{"a":1 "b"}', "invalid character '\"' after object key:value pair"), ("[1 2]", "invalid character '2' after array element"),
    ("01", "invalid character '1' after top-level value"), ("-x", "invalid character 'x' in numeric literal"),
    ("1.x", "invalid character 'x' after decimal point in numeric literal"), ('"\\x"', "invalid character 'x' in string escape code"),
])
def test_go_json_syntax_messages(text: str, message: str) -> None:
    with pytest.raises(GoJSONError) as info:
        check_syntax(text)
    assert str(info.value) == message


def test_legacy_filter_and_errors_are_daemon_errors() -> None:
    with pytest.raises(DaemonError) as info:
        parse_list_query("filters=%7B", "1.41", get_profile("docker-20.10"))
    assert (info.value.status, info.value.message) == (500, "unexpected end of JSON input")


# --- the image model and the store -------------------------------------------------------------


@pytest.mark.parametrize(("fields", "message"), [
    ({"tags": "alpine"}, "tags: expected a list"),
    ({"tags": ["UPPER"]}, "tags[0]: 'UPPER'"),
    ({"tags": ["a@sha256:" + "a" * 64]}, "has a digest"),
    ({"digests": ["alpine:3"]}, "digests[0]: 'alpine:3' is not a digest reference"),
    ({"labels": {"a": 1}}, "labels: expected a mapping of strings"),
    ({"id": "abc"}, "id: expected 'sha256:'"),
    ({"parent": "nope"}, "parent: expected 'sha256:'"),
    ({"size": -1}, "size: expected an integer >= 0"),
    ({"created": "yesterday"}, "created:"),
    ({"layers": [{"digest": "x"}]}, "layers[0].digest"),
    ({"manifests": [{"kind": "weird"}]}, "manifests[0].kind"),
    ({"containers": "abc"}, "containers: expected a list"),
])
def test_invalid_images_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError) as info:
        Image(**fields)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_derived_ids_are_deterministic_and_differ_by_content() -> None:
    a, b = Image(tags=["x:1"], created=5), Image(tags=["x:1"], created=5)
    assert a.id == b.id and a.id != Image(tags=["x:1"], created=6).id


def test_a_tag_lives_on_one_image_and_moves() -> None:
    first, second = Image(tags=["x:1"], created=1), Image(tags=["y:1"], created=2)
    store = ImageStore([first, second])
    moved = store.tagged(store.by_id[second.id], parse_normalized("x:1"))
    assert [t.familiar for t in moved.by_id[first.id].tags] == []
    assert moved.by_tag(parse_normalized("x:1")).id == second.id


def test_short_id_lookup_needs_a_unique_prefix() -> None:
    a = Image(id="sha256:" + "ab" * 32)
    b = Image(id="sha256:" + "ac" * 32)
    store = ImageStore([a, b])
    assert store.by_id_prefix("ab") is a and store.by_id_prefix("sha256:ac") is b and store.by_id_prefix("a") is None


# --- seed files ---------------------------------------------------------------------------------


def test_seed_round_trip_keeps_everything(tmp_path: Path) -> None:
    images = [Image(tags=["x:1"], digests=["r.example/x@sha256:" + "c" * 64], labels={"k": "v"},
                    created="2024-05-06T07:08:09.123456789Z", layers=[{"digest": "sha256:" + "1" * 64, "size": 3}],
                    containers=["d" * 64]),
              Image(labels=None, created=0)]
    for name in ("seed.yaml", "seed.json"):
        path = dump_seed(images, tmp_path / name, profile="docker-26.1")
        seed = load_seed(path)
        assert seed.profile == "docker-26.1"
        assert [i.to_dict() for i in seed.images] == [i.to_dict() for i in images]


@pytest.mark.parametrize(("text", "message"), [
    ("images: [{tags: [UPPER]}]", "images[0]: tags[0]"),
    ("images: [{tagz: []}]", "images[0]: unknown field(s) ['tagz']"),
    ("images: {}", "images: expected a list"),
    ("profile: docker-1.0\nimages: []", "unknown profile 'docker-1.0'"),
    ("version: 7\nimages: []", "seed version 7 is not supported"),
    ("images: [\n  {tags: [a:1]\n", "invalid YAML"),
    ("!!python/object:os.system {}", "invalid YAML"),
])
def test_bad_seeds_name_the_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SeedError) as info:
        load_seed(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_bad_json_seed_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"images": [\n  {"tags": ["a:1"],}\n]}')
    with pytest.raises(SeedError, match=r"bad\.json:2:\d+: invalid JSON"):
        load_seed(path)
    assert json.loads('{"a": 1}')  # the stdlib parser itself is fine; the error is the file's


# (why, document, the bytes Go's json.Encoder with SetEscapeHTML(false) writes)
GO_ENCODING = [
    ("compact, key order kept, trailing newline", {"b": 1, "a": [True, None]}, b'{"b":1,"a":[true,null]}\n'),
    ("no HTML escaping", {"x": "<a>&</a>"}, b'{"x":"<a>&</a>"}\n'),
    ("non-ASCII as raw UTF-8", {"x": "caf\u00e9 \u3000"}, '{"x":"caf\u00e9 \u3000"}\n'.encode()),
    ("U+2028 and U+2029 escaped", {"x": "a\u2028b\u2029"}, b'{"x":"a\\u2028b\\u2029"}\n'),
    ("control characters escaped", {"x": "\n\t\x01"}, b'{"x":"\\n\\t\\u0001"}\n'),
    ("negative numbers and empty containers", {"SharedSize": -1, "Labels": {}, "RepoTags": []},
     b'{"SharedSize":-1,"Labels":{},"RepoTags":[]}\n'),
]


@pytest.mark.parametrize("why, document, expected", GO_ENCODING, ids=[row[0] for row in GO_ENCODING])
def test_encode_writes_what_go_writes(why: str, document: object, expected: bytes) -> None:
    from pytest_dockerimages._core.render import encode

    assert encode(document) == expected, why


def test_encode_refuses_what_json_cannot_hold() -> None:
    from pytest_dockerimages._core.render import encode

    with pytest.raises(TypeError, match="not JSON serializable"):
        encode({"x": object()})


@pytest.mark.parametrize(("text", "reason"), [
    ("shop/app:", "invalid tag format: the tag after ':' is empty"),
    ("shop/app:-x", "invalid tag format: '-x'"),
    ("shop/app@sha256:abc", "invalid digest format: 'sha256:abc'"),
    ("shop//app", "a path component of the repository name is empty"),
    ("shop/App", "repository name must be lowercase"),
    ("a b", "a reference has no whitespace"),
    ("a:b:c", "':' separates only the tag"),
    ("", "repository name must have at least one component"),
    ("shop/app:1", None),
    ("Registry.example:5000/shop/app:1", None),
])
def test_why_a_reference_is_invalid(text: str, reason: str | None) -> None:
    from pytest_dockerimages._core.reference import why_invalid

    found = why_invalid(text)
    assert found == reason if reason is None else (found is not None and found.startswith(reason))


def test_a_bad_created_lists_the_accepted_forms() -> None:
    with pytest.raises(ModelError) as info:
        Image(created="yesterday")
    assert "unix seconds" in str(info.value) and "2024-03-01T00:00:00Z" in str(info.value)


def test_version_and_info_report_the_host_kernel_as_a_daemon_does() -> None:
    import platform

    from pytest_dockerimages._core.daemon import info_document, version_document
    from pytest_dockerimages._core.model import ImageStore as Store

    profile = get_profile("docker-29.7")
    version = version_document(profile)
    assert version["KernelVersion"] == platform.release() == version["Components"][0]["Details"]["KernelVersion"]
    assert info_document(Store(()), profile)["KernelVersion"] == platform.release()


# Where no daemon here shows the official build's components, the row carries the release's own:
# the official packages' (28.1.1: containerd.io 1.7.27 with runc 1.2.5) or the pins of moby's Dockerfile
# at the tag (docker-v29.7.2: CONTAINERD_VERSION v2.3.3, RUNC_VERSION v1.4.3, TINI_VERSION v0.19.0).
@pytest.mark.parametrize(("profile_name", "containerd", "runc"), [
    ("docker-28.1", ("1.7.27", "05044ec0a9a75232cad458027ca83437aae3f4da"), ("1.2.5", "v1.2.5-0-g59923ef")),
    ("docker-28.1-containerd", ("1.7.27", "05044ec0a9a75232cad458027ca83437aae3f4da"), ("1.2.5", "v1.2.5-0-g59923ef")),
    ("docker-29.7", ("2.3.3", "aad11006b869517fcd3009450b6f82da282e1a9b"), ("1.4.3", "v1.4.3-0-gbb14dab")),
    ("docker-29.7-containerd", ("2.3.3", "aad11006b869517fcd3009450b6f82da282e1a9b"), ("1.4.3", "v1.4.3-0-gbb14dab")),
])
def test_version_components_of_the_moby_built_rows_are_their_release_s(
        profile_name: str, containerd: tuple[str, str], runc: tuple[str, str]) -> None:
    from pytest_dockerimages._core.daemon import version_document

    shown = {c["Name"]: (c["Version"], c["Details"].get("GitCommit"))
             for c in version_document(get_profile(profile_name))["Components"]}
    assert shown["containerd"] == containerd and shown["runc"] == runc
    assert shown["docker-init"] == ("0.19.0", "de40ad0")


def test_info_counts_the_containers_the_seed_knows_as_stopped() -> None:
    """A real daemon seeded with three `docker create` containers reports Containers 3, ContainersStopped 3."""
    from pytest_dockerimages._core.daemon import info_document

    store = ImageStore((Image(tags=["a:1"], containers=["c" * 64, "d" * 64]), Image(tags=["b:1"], containers=["e" * 64])))
    info = info_document(store, get_profile("docker-26.1"))
    assert (info["Containers"], info["ContainersStopped"], info["ContainersRunning"]) == (3, 3, 0)
    assert info_document(ImageStore(()), get_profile("docker-26.1"))["Containers"] == 0
