"""The differential check's pure parts: comparing two answers, the probes, the report's figures."""
from __future__ import annotations

import json

from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._real.check import Answer, CheckReport, Probe, compare, diff_all, standard_probes

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
