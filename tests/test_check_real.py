"""The differential check against real private daemons: zero differences apart from the known ones,
and a deliberately broken rule in the model is caught."""
from __future__ import annotations

import dataclasses
import re
from typing import Iterator

import pytest

from pytest_dockerimages._core.timestamps import to_ns
from pytest_dockerimages._real.check import fake_profile_for, run_check
from pytest_dockerimages._real.fixture import started_real_daemon
from pytest_dockerimages._real.harness import RealDaemon
from pytest_dockerimages._real.snapshot import take_snapshot

pytestmark = pytest.mark.realdaemon
VARIANTS = ["docker-20.10", "docker-26.1", "docker-26.1-containerd"]


@pytest.fixture(scope="module", params=VARIANTS)
def real_daemon(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    yield from started_real_daemon(request.param)


def test_fake_agrees_with_the_daemon(real_daemon: RealDaemon) -> None:
    report = run_check(real_daemon.docker_host, random_count=100, random_seed=20261129)
    print(report.render())
    assert report.probes >= 200
    assert report.ok, report.render()
    if real_daemon.store == "containerd":
        assert {reason for _, reason in report.known} == {
            "until on the containerd store compares the record time, which no API exposes"}
    else:
        assert report.known == []


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
        inspected = real_daemon.get_json(f"/images/{image.id}/json")["Created"]
        if inspected != "0001-01-01T00:00:00Z":
            assert to_ns(inspected) == image.created_ns  # full precision kept


def test_a_broken_rule_is_caught(real_daemon: RealDaemon) -> None:
    snap = take_snapshot(real_daemon.docker_host)
    assert snap.seed.profile is not None
    right = fake_profile_for(snap.seed.profile, dict(snap.version))
    wrong = dataclasses.replace(right, invalid_filter_word="Invalid Filter")
    report = run_check(real_daemon.docker_host, profile=wrong)
    assert not report.ok
    assert any(d.what == "error message" and "Invalid Filter" in d.fake for d in report.differences)
    assert "daemon:" in report.render() and "fake:" in report.render()


def test_cli_snapshot_and_check(real_daemon: RealDaemon, tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from pytest_dockerimages._cli.main import main
    from pytest_dockerimages._files.seed import load_seed

    out = Path(str(tmp_path)) / "seed.yaml"
    assert main(["snapshot", "--docker-host", real_daemon.docker_host, "-o", str(out)]) == 0
    seed = load_seed(out)
    assert seed.profile == real_daemon.variant.name and len(seed.images) >= 8
    # what CI asks of every real daemon: `dockerimages check` with at least 500 generated queries
    assert main(["check", "--docker-host", real_daemon.docker_host, "--random", "500", "--random-seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert f"profile {real_daemon.variant.name}:" in printed and " 0 differences" in printed
    sent = re.search(r"profile \S+: (\d+) requests", printed)
    assert sent is not None and int(sent.group(1)) >= 500
