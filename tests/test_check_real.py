"""The differential check against all nine real private daemons: zero differences apart from the known
ones (each names the daemon behaviour no fake can reproduce), and deliberately broken rules are caught."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Iterator

import pytest

from pytest_dockerimages._core.timestamps import to_ns
from pytest_dockerimages._real.check import fake_profile_for, run_check
from pytest_dockerimages._real.fixture import VARIANT_NAMES, started_real_daemon
from pytest_dockerimages._real.harness import RealDaemon
from pytest_dockerimages._real.snapshot import take_snapshot

pytestmark = pytest.mark.realdaemon
VARIANTS = list(VARIANT_NAMES)
#: What the check may excuse, and why: the daemon's answer depends on something no API shows.
JUSTIFIED = {
    # containerd store: `until` compares the time the store's record was made (containerd's
    # images.Image.CreatedAt), which neither the listing nor inspect exposes, so no snapshot has it.
    "until on the containerd store compares the record time, which no API exposes",
}


@pytest.fixture(scope="module", params=VARIANTS)
def real_daemon(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    yield from started_real_daemon(request.param)


def test_cli_check_with_500_generated_queries_finds_no_difference(
        real_daemon: RealDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    """What CI asks of every real daemon: `dockerimages check --random 500`, zero differences."""
    from pytest_dockerimages._cli.main import main

    code = main(["check", "--docker-host", real_daemon.docker_host, "--random", "500", "--random-seed", "3"])
    printed = capsys.readouterr().out
    print(printed)
    header = re.search(r"profile (\S+): (\d+) requests, (\d+) differences", printed)
    assert header is not None, printed
    assert (code, header.group(1), header.group(3)) == (0, real_daemon.variant.name, "0"), printed
    assert int(header.group(2)) >= 500
    excused = set(re.findall(r"^known \(\d+ requests\): (.*)$", printed, re.M))
    assert excused <= JUSTIFIED, printed
    assert bool(excused) == (real_daemon.store == "containerd")  # the probes do send `until`


def test_snapshot_keeps_every_image(real_daemon: RealDaemon) -> None:
    snap = take_snapshot(real_daemon.docker_host)
    listing = real_daemon.get_json("/images/json?all=1")
    assert {i.id for i in snap.seed.images} == {item["Id"] for item in listing}
    assert snap.seed.profile == real_daemon.variant.name
    by_id = {item["Id"]: item for item in listing}
    for image in snap.seed.images:
        item = by_id[image.id]
        shown = {t for t in (item["RepoTags"] or []) + (item["RepoDigests"] or []) if "<none>" not in t}
        kept = {r.familiar for r in (*image.tags, *image.digests)}
        assert kept <= shown and (image.parent, image.size) == (item["ParentId"], item["Size"])
        inspected = real_daemon.get_json(f"/images/{image.id}/json").get("Created")
        if inspected not in (None, "0001-01-01T00:00:00Z"):
            assert to_ns(inspected) == image.created_ns  # full precision kept
    # the hard cases of the seed: a config without `created`, containers, a two-platform index
    tagged = {t.familiar: image for image in snap.seed.images for t in image.tags}
    assert tagged["example/nocreated:1"].created_ns in (None, to_ns("0001-01-01T00:00:00Z"))
    for image_ref, ids in real_daemon.seed["containers"].items():
        assert sorted(tagged[image_ref].containers) == sorted(ids)
    if real_daemon.store == "containerd" and tagged["example/multi:1"].manifests:
        assert [m.platform["architecture"] for m in tagged["example/multi:1"].manifests] == ["amd64", "arm64"]


def test_broken_rules_are_caught(real_daemon: RealDaemon) -> None:
    """Three rules broken at once, each must show as its own difference: the filter error's wording,
    and two Docker 29.7 behaviours, the `until` error's status (400 from v29.4, 500 before) and from
    which API version `Containers` is counted (1.51 on 28.5 and 29.7, never before). Each is flipped
    from the daemon's own row, so on every variant the broken fake answers otherwise."""
    snap = take_snapshot(real_daemon.docker_host)
    assert snap.seed.profile is not None
    right = fake_profile_for(snap.seed.profile, dict(snap.version))
    wrong = dataclasses.replace(
        right, invalid_filter_word="Invalid Filter", until_error_status=900 - right.until_error_status,
        containers_from=None if right.containers_from else right.api_min)
    report = run_check(real_daemon.docker_host, profile=wrong)
    assert not report.ok
    whats = {(d.what, d.daemon, d.fake) for d in report.differences}
    assert any(what == "error message" and "Invalid Filter" in fake for what, _, fake in whats)
    if "until" in right.filter_keys:  # 20.10 has no until filter: its error is "invalid filter"
        assert ("status", str(right.until_error_status), str(wrong.until_error_status)) in whats
    assert any(what.endswith(" Containers") for what, _, _ in whats)
    assert "daemon:" in report.render() and "fake:" in report.render()


def test_cli_snapshot(real_daemon: RealDaemon, tmp_path: Path) -> None:
    from pytest_dockerimages._cli.main import main
    from pytest_dockerimages._files.seed import load_seed

    out = tmp_path / "seed.yaml"
    assert main(["snapshot", "--docker-host", real_daemon.docker_host, "-o", str(out)]) == 0
    seed = load_seed(out)
    assert seed.profile == real_daemon.variant.name and len(seed.images) >= 10
    assert sum(len(i.containers) for i in seed.images) == 3
