"""The differential check's pure parts: comparing two answers (the silent normalisations and the excuses,
one table), the probes, the report's figures."""
from __future__ import annotations

import json

import pytest

from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._real.check import (
    NO_ANSWER,
    PRUNE_SEQUENCE,
    Answer,
    CheckReport,
    Probe,
    compare,
    df_probes,
    diff_all,
    history_probes,
    images_deleted,
    inspect_probes,
    prune_probes,
    route_of,
    standard_probes,
)

JSON = {"Content-Type": "application/json"}


def test_the_check_compares_nested_key_order_and_probes_manifests_identity_and_v1_23() -> None:
    profile = get_profile("docker-29.7-containerd")
    probe = Probe("GET", "/v1.55/images/json?manifests=1")
    item = {"Id": "sha256:" + "a" * 64, "Created": 1, "Manifests": [{"Size": {"Content": 1, "Total": 2}}]}
    swapped = {**item, "Manifests": [{"Size": {"Total": 2, "Content": 1}}]}
    diffs, _ = compare(probe, Answer(200, JSON, json.dumps([item]).encode()),
                       Answer(200, JSON, json.dumps([swapped]).encode()), profile)
    assert [d.what for d in diffs] == ["aaaaaaaaaaaa Manifests"]
    targets = {p.target for p in standard_probes([], profile)}
    assert {"/v1.23/images/json", "/v1.55/images/json?manifests=1&identity=1", "/v1.55/images/json?identity=1",
            "/v1.53/images/json?manifests=1&identity=1", "/v1.47/images/json?manifests=1"} <= targets


def test_an_excused_probe_counts_only_where_the_bodies_differ_and_the_report_gives_the_share() -> None:
    profile = get_profile("docker-29.7-containerd")
    until = Probe("GET", '/images/json?filters={"until":["87600h"]}')
    plain, broken = Probe("GET", "/images/json"), Probe("GET", "/images/json?all=1")
    answers = {until.target: (b"[]\n", b"[]\n"), plain.target: (b"[]\n", b"[]\n"),
               broken.target: (b"[]\n", b'[{"Id":"x"}]\n')}
    report = diff_all([until, plain, broken], lambda p: Answer(200, JSON, answers[p.target][0]),
                      lambda p: Answer(200, JSON, answers[p.target][1]), profile, CheckReport(profile.name))
    assert (report.probes, len(report.known), report.identical) == (3, 0, 2)
    assert "2 of 3 answers identical (66.7 %)" in report.render()
    answers[until.target] = (b"[]\n", b'[{"Id":"x","Created":1}]\n')
    again = diff_all([until], lambda p: Answer(200, JSON, answers[p.target][0]),
                     lambda p: Answer(200, JSON, answers[p.target][1]), profile, CheckReport(profile.name))
    assert (again.ok, len(again.known), again.identical) == (True, 1, 0)
    assert "known (1 requests): until on the containerd store" in again.render()


def test_before_and_since_name_the_image_without_a_creation_time() -> None:
    from pytest_dockerimages._core.model import Image

    images = [Image(tags=["example/new:1"], created=5), Image(tags=["example/nocreated:1"], created=None),
              Image(tags=["example/epoch:0"], created=0)]
    from urllib.parse import unquote

    targets = {unquote(p.target) for p in standard_probes(images, get_profile("docker-29.7"))}
    assert {'/images/json?filters={"since":["example/nocreated:1"]}',
            '/images/json?filters={"before":["example/nocreated:1"]}'} <= targets


def test_a_made_up_manifest_totals_the_images_size() -> None:
    """As on a daemon: an image's Size is its manifests' Size.Total (Content + Unpacked)."""
    from pytest_dockerimages._core.daemon import respond
    from pytest_dockerimages._core.model import Image, ImageStore
    from pytest_dockerimages._core.wire import Request

    store = ImageStore([Image(tags=["example/app:1"], size=42079, containers=["c" * 64])])
    (item,) = json.loads(respond(store, get_profile("docker-29.7-containerd"),
                                 Request("GET", "/v1.55/images/json?manifests=1"), 0).body)
    (manifest,) = item["Manifests"]
    assert manifest["Size"]["Total"] == item["Size"] == 42079
    assert manifest["Size"]["Content"] + manifest["ImageData"]["Size"]["Unpacked"] == 42079
    assert (manifest["ImageData"]["Containers"], item["Containers"]) == (["c" * 64], 1)


A, B, C = ("sha256:" + c * 64 for c in "abc")
PRUNE = "/v1.51/images/prune?filters=%7B%7D"
DF = "/v1.51/system/df"
CONTAINER = {"Id": "c" * 64, "ImageID": A}
FULL_CONTAINER = {**CONTAINER, "Names": ["/x"], "SizeRw": 0, "State": "created"}


def _df(images: list[dict[str, object]], containers: list[dict[str, object]] | None = None,
        layers_size: int = 10) -> dict[str, object]:
    return {"LayersSize": layers_size, "Images": images, "Containers": containers or [], "Volumes": [],
            "BuildCache": []}


def _image(image_id: str, created: int, shared: int = 0) -> dict[str, object]:
    return {"Containers": 0, "Created": created, "Id": image_id, "SharedSize": shared, "Size": 5}


def _pruned(*records: dict[str, str], reclaimed: int = 0) -> dict[str, object]:
    return {"ImagesDeleted": list(records) or None, "SpaceReclaimed": reclaimed}


# (profile, method, target, daemon body, fake body, what differs, reasons excused)
RULES = [
    # silent: Go map order of prune records, and of images created in the same second
    ("docker-28.5", "POST", PRUNE, _pruned({"Deleted": A}, {"Deleted": B}), _pruned({"Deleted": B}, {"Deleted": A}),
     [], []),
    ("docker-28.5", "GET", DF, _df([_image(A, 2), _image(B, 2)]), _df([_image(B, 2), _image(A, 2)]), [], []),
    ("docker-28.5", "GET", DF, _df([_image(A, 3), _image(B, 2)]), _df([_image(B, 2), _image(A, 3)]),
     ["body.Images order"], []),
    ("docker-28.5", "GET", DF, _df([_image(A, 3)]), _df([_image(B, 3)]), ["body.Images items"], []),
    ("docker-28.5", "POST", PRUNE, _pruned({"Deleted": A}), _pruned({"Deleted": B}),
     ["body.ImagesDeleted[0].Deleted"], []),
    # excused: what a container is beyond its id and image
    ("docker-28.5", "GET", DF, _df([], [FULL_CONTAINER]), _df([], [CONTAINER]), [],
     ["system df describes each container"]),
    ("docker-28.5", "GET", DF, _df([], [FULL_CONTAINER]), _df([], [{**CONTAINER, "ImageID": B}]),
     ["body.Containers[0].ImageID"], []),
    # excused on the containerd store only: sizes that count content blobs
    ("docker-28.5-containerd", "GET", DF, _df([], layers_size=10), _df([], layers_size=11), [],
     ["on the containerd store LayersSize"]),
    ("docker-28.5", "GET", DF, _df([], layers_size=10), _df([], layers_size=11), ["body.LayersSize"], []),
    ("docker-28.5-containerd", "POST", PRUNE, _pruned({"Deleted": A}, reclaimed=3), _pruned({"Deleted": A}), [],
     ["on the containerd store LayersSize"]),
    ("docker-28.5", "POST", PRUNE, _pruned(reclaimed=3), _pruned(), ["body.SpaceReclaimed"], []),
    # excused on Docker 29's containerd store only: SharedSize adds shared content blobs
    ("docker-29.7-containerd", "GET", DF, _df([_image(A, 1, shared=9)]), _df([_image(A, 1, shared=8)]), [],
     ["Docker 29 on the containerd store adds the content blobs"]),
    ("docker-28.5-containerd", "GET", DF, _df([_image(A, 1, shared=9)]), _df([_image(A, 1, shared=8)]),
     ["body.Images[aaaaaaaaaaaa].SharedSize"], []),
    # excused on 26.1/28.1's containerd store: Deleted blobs whose digests no snapshot knows; a known one counts
    ("docker-26.1-containerd", "POST", PRUNE, _pruned({"Deleted": A}, {"Deleted": C}), _pruned({"Deleted": A}), [],
     ["Docker 26.1 and 28.1 on the containerd store report every content blob"]),
    ("docker-26.1-containerd", "POST", PRUNE, _pruned({"Deleted": A}, {"Deleted": B}), _pruned({"Deleted": A}),
     ["body.ImagesDeleted length"], []),
    ("docker-28.5-containerd", "POST", PRUNE, _pruned({"Deleted": A}, {"Deleted": C}), _pruned({"Deleted": A}),
     ["body.ImagesDeleted length"], []),
    # the history is compared entry by entry, in order
    ("docker-28.5", "GET", "/images/x/history", [{"Id": A, "Tags": ["x:1"]}, {"Id": "<missing>", "Tags": None}],
     [{"Id": A, "Tags": None}, {"Id": "<missing>", "Tags": None}], ["body[aaaaaaaaaaaa].Tags"], []),
]


@pytest.mark.parametrize(("profile", "method", "target", "daemon", "fake", "whats", "reasons"), RULES)
def test_comparison_rules(profile: str, method: str, target: str, daemon: object, fake: object,
                          whats: list[str], reasons: list[str]) -> None:
    diffs, excused = compare(Probe(method, target), Answer(200, JSON, json.dumps(daemon).encode()),
                             Answer(200, JSON, json.dumps(fake).encode()), get_profile(profile), frozenset({A, B}))
    assert [d.what for d in diffs] == whats
    assert len(excused) == len(reasons) and all(r.startswith(w) for r, w in zip(excused, reasons, strict=True))


def test_an_unanswered_request_is_one_difference_and_errors_are_compared_by_message() -> None:
    profile = get_profile("docker-26.1")
    probe = Probe("GET", "/v1.42/system/df?type=build-cache")
    diffs, _ = compare(probe, NO_ANSWER, Answer(200, JSON, b"{}"), profile)
    assert [(d.what, d.daemon.split()[0], d.fake.split()[0]) for d in diffs] == [("answer", "0", "200")]
    assert compare(probe, NO_ANSWER, NO_ANSWER, profile) == ([], [])
    prune = Probe("POST", '/images/prune?filters={"bogus":["x"]}')
    error = {"message": "invalid filter 'bogus'"}
    diffs, _ = compare(prune, Answer(400, JSON, json.dumps(error).encode()),
                       Answer(400, JSON, json.dumps({"message": "Invalid filter 'bogus'"}).encode()), profile)
    assert [d.what for d in diffs] == ["error message"]


def test_images_deleted_counts_each_prunes_images_from_the_listings_after_it() -> None:
    listing = [Answer(200, JSON, json.dumps(ids).encode()) for ids in ([{"Id": A}, {"Id": B}], [{"Id": B}], [])]
    assert images_deleted([A, B, C], [Answer(400, JSON, b"{}"), *listing]) == [0, 1, 1, 1]
    report = CheckReport("docker-26.1", probes=1, pruned=[1, 0])
    assert "prunes deleted 1 images on the daemon (per prune, in order: 1, 0)" in report.render()


def test_history_df_and_prune_probes() -> None:
    from urllib.parse import quote

    from pytest_dockerimages._core.model import Image

    images = [Image(tags=["example/app:1"], created=5), Image(tags=["example/multi:1"], created=6,
                                                              manifests=[{"platform": {"os": "linux",
                                                                                       "architecture": "amd64"}}])]
    history = {p.target for p in history_probes(images, get_profile("docker-28.5-containerd"))}
    image_id = images[0].id
    assert {"/images/example/app:1/history", f"/images/{image_id}/history", f"/images/{image_id[7:19]}/history",
            "/images/UPPER/history", "/images/nosuch/image:1/history", "/v1.23/images/example/app:1/history",
            "/v1.52/images/example/app:1/history",
            "/v1.51/images/example/multi:1/history?platform=%7Bnot-json",
            "/v1.47/images/example/multi:1/history?platform=%7B%22os%22%3A%22linux%22%2C%22architecture%22%3A%22arm64%22%7D",
            } <= history
    assert not any("platform" in p.target for p in history_probes(images, get_profile("docker-26.1")))
    assert not any(p.note == "a platform the index lists" for p in history_probes(images, get_profile(
        "docker-28.5-containerd")))  # one manifest: no multi-platform image
    two = Image(tags=["example/two:1"], created=7, manifests=[
        {"platform": {"os": "linux", "architecture": "amd64"}}, {"platform": {"os": "linux", "architecture": "arm64"}},
        {"kind": "attestation", "platform": {"os": "unknown", "architecture": "unknown"}}])
    listed = [p.target for p in history_probes([*images, two], get_profile("docker-29.7-containerd"))
              if p.note == "a platform the index lists"]
    assert listed == [f"/v1.55/images/example/two:1/history?platform={quote(json.dumps(p, separators=(',', ':')))}"
                      for p in ({"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "arm64"})]
    assert "/v1.55/images/example/two:1/history?platform=%7Bnot-json" in {
        p.target for p in history_probes([*images, two], get_profile("docker-29.7-containerd"))}
    df = {p.target for p in df_probes(get_profile("docker-29.7"))}
    assert {"/v1.41/system/df?type=bogus", "/v1.52/system/df?verbose=1", "/v1.55/system/df?type=image&verbose=1",
            "/v1.44/system/df?type=image&type=container"} <= df
    assert not any(t.startswith("/v1.52") for t in {p.target for p in df_probes(get_profile("docker-28.5"))})
    prunes = prune_probes(get_profile("docker-28.5"))
    assert [p.method for p in prunes[:3]] == ["POST", "GET", "GET"] and len(prunes) == 3 * len(PRUNE_SEQUENCE)
    assert [route_of(p) for p in prunes[:3]] == ["/images/prune", "/images/json", "/system/df"]
    keys = [set(filters) for filters, _ in PRUNE_SEQUENCE]
    assert keys[-1] == {"dangling"} and {"dangling", "label"} in keys and {"dangling", "label!"} in keys


@pytest.mark.parametrize(("profile", "platforms", "manifests"), [
    ("docker-20.10", False, False), ("docker-26.1-containerd", False, False),
    ("docker-28.1", True, True), ("docker-29.7-containerd", True, True),
])
def test_inspect_probes(profile: str, platforms: bool, manifests: bool) -> None:
    """Every image by id at each version where the document changes, by name and short id; errors;
    manifests=1 and `platform` only where the release reads them, each listed platform at 1.49 and
    the newest, and one version below 1.49."""
    from urllib.parse import quote

    from pytest_dockerimages._core.model import Image

    row = get_profile(profile)
    two = Image(tags=["example/two:1"], created=7, manifests=[
        {"platform": {"os": "linux", "architecture": "amd64"}}, {"platform": {"os": "linux", "architecture": "arm64"}}])
    app = Image(tags=["example/app:1"], created=5)
    targets = {p.target for p in inspect_probes([app, two], row)}
    newest = row.api_max
    assert {f"/v{row.api_min}/images/{app.id}/json", f"/v{newest}/images/example/app:1/json",
            f"/v{newest}/images/{app.id[7:19]}/json", f"/v{newest}/images/UPPER/json"} <= targets
    assert all(route_of(Probe("GET", t)) == "/images/{name}/json" for t in targets)
    assert all(f"/v{v}/images/{app.id}/json" in targets for v in ("1.41", "1.44", "1.45") if row.supports(v))
    arm64 = quote('{"os":"linux","architecture":"arm64"}', safe="")
    listed = {f"/v{v}/images/example/two:1/json?platform={arm64}" for v in ("1.49", newest)}
    assert (listed <= targets) == platforms
    assert (f"/v1.48/images/example/two:1/json?platform={arm64}" in targets) == platforms  # ignored there
    assert any(t.endswith("/json?platform=%7Bnot-json") for t in targets) == platforms
    assert ("/v1.48/images/example/two:1/json?manifests=1" in targets) == manifests
