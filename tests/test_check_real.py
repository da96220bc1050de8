"""The differential check against all nine real private daemons: zero differences apart from the known
ones (each names the daemon behaviour no fake can reproduce), and deliberately broken rules are caught.

The module's shared daemon per variant is never pruned; `--include-prune` runs on a private daemon of
its own (a prune deletes images)."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from pytest_dockerimages._core.profiles import PROFILES
from pytest_dockerimages._core.timestamps import to_ns
from pytest_dockerimages._real.check import fake_profile_for, run_check
from pytest_dockerimages._real.fixture import VARIANT_NAMES, started_real_daemon
from pytest_dockerimages._real.harness import RealDaemon
from pytest_dockerimages._real.snapshot import take_snapshot

pytestmark = pytest.mark.realdaemon
VARIANTS = list(VARIANT_NAMES)
#: What the check may excuse, and why: the daemon's answer depends on something no API shows (or, for
#: containers, on what the fake does not serve). Each is an excuse of `_real/check.py`.
UNTIL = "until on the containerd store compares the record time, which no API exposes"
JUSTIFIED = {
    # containerd store: `until` compares the time the store's record was made (containerd's
    # images.Image.CreatedAt), which neither the listing nor inspect exposes, so no snapshot has it.
    UNTIL,
    # system df lists whole containers (Names, State, SizeRw...); the fake serves images, and a seed holds a
    # container as an id on the image it uses (api/types/container.Summary, computed from the container store).
    "system df describes each container (Names, State, SizeRw, ...): the fake serves images, and a "
    "snapshot keeps a container as the id of the image it uses",
    # containerd store: ImageDiskUsage walks every content blob once plus every snapshot's usage, and a
    # prune's SpaceReclaimed sums the blobs it removed (daemon/containerd/service.go, image_prune.go);
    # the API gives only each manifest's content total, never a blob's digest or size.
    "on the containerd store LayersSize, TotalSize and SpaceReclaimed add each content blob once "
    "(configs, compressed layers) and the containers' snapshots: no API gives a blob's size or "
    "digest, only each manifest's total",
    # Docker 29's containerd computeSharedSize adds shared content blobs to the shared snapshots.
    "Docker 29 on the containerd store adds the content blobs images share to SharedSize (and so "
    "to Reclaimable): no API gives a blob's size",
    # 26.1/28.1's containerd pruneAll reports every removed blob (config, layer blobs) as Deleted.
    "Docker 26.1 and 28.1 on the containerd store report every content blob a prune removed as "
    "Deleted (configs, layers): no API shows those digests",
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
    assert (UNTIL in excused) == (real_daemon.store == "containerd")  # the probes do send `until`
    assert "prunes deleted" not in printed  # never on the shared daemon


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


def test_broken_rules_are_caught(real_daemon: RealDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five rules broken at once, each must show as its own difference: the filter error's wording,
    two Docker 29.7 behaviours, the `until` error's status (400 from v29.4, 500 before) and from
    which API version `Containers` is counted (1.51 on 28.5 and 29.7, never before), each flipped
    from the daemon's own row so that on every variant the broken fake answers otherwise; and two
    rules of the routes the check added: history's Tags and the containers system df lists; and,
    where the containerd store reads `platform`, what a platform without its snapshots answers; and
    from which API version inspect reads `platform` (1.49 on 28+, never before; broken: 1.50, or always)."""
    from pytest_dockerimages._core import history, system_df

    snap = take_snapshot(real_daemon.docker_host)
    assert snap.seed.profile is not None
    right = fake_profile_for(snap.seed.profile, dict(snap.version))
    wrong = dataclasses.replace(
        right, invalid_filter_word="Invalid Filter", until_error_status=900 - right.until_error_status,
        containers_from=None if right.containers_from else right.api_min,
        history_missing_snapshot_error=None if right.history_missing_snapshot_error
        else PROFILES["docker-28.1-containerd"].history_missing_snapshot_error,
        inspect_platform_from="1.50" if right.inspect_platform_from else right.api_min)
    monkeypatch.setattr(history, "history_tags", lambda image, profile: None)
    monkeypatch.setattr(system_df, "df_containers", lambda store: [])
    report = run_check(real_daemon.docker_host, profile=wrong)
    assert not report.ok
    whats = {(d.what, d.daemon, d.fake) for d in report.differences}
    assert any(what == "error message" and "Invalid Filter" in fake for what, _, fake in whats)
    if "until" in right.filter_keys:  # 20.10 has no until filter: its error is "invalid filter"
        assert ("status", str(right.until_error_status), str(wrong.until_error_status)) in whats
    assert any(what.endswith(" Containers") for what, _, _ in whats)
    assert any(d.probe.target.endswith("/history") and d.what.endswith(".Tags") for d in report.differences)
    assert any("system/df" in d.probe.target and "Containers" in d.what for d in report.differences)
    # the arm64 image of example/multi:1 has its config but no snapshot: an error on 28.1, size 0 from 28.5
    unpacked_arm64 = [d for d in report.differences if "multi:1/history?platform=" in d.probe.target]
    assert bool(unpacked_arm64) == (right.is_containerd and right.history_platform_from is not None)
    assert any(re.search(r"/json\?platform=", d.probe.target) for d in report.differences)
    assert "daemon:" in report.render() and "fake:" in report.render()


def test_cli_snapshot(real_daemon: RealDaemon, tmp_path: Path) -> None:
    from pytest_dockerimages._cli.main import main
    from pytest_dockerimages._files.seed import load_seed

    out = tmp_path / "seed.yaml"
    assert main(["snapshot", "--docker-host", real_daemon.docker_host, "-o", str(out)]) == 0
    seed = load_seed(out)
    assert seed.profile == real_daemon.variant.name and len(seed.images) >= 10
    assert sum(len(i.containers) for i in seed.images) == 3


# --- --include-prune: a private daemon per variant, never the shared one ------------------------------


@pytest.fixture(params=VARIANTS)
def private_daemon(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    """A daemon of this test's own (prune deletes its images), seeded like the shared one, plus a
    container on example/tiny:latest (a tagged image a prune must keep) committed as
    example/committed:1 (labelled, unused: what the last prune of the sequence deletes)."""
    with contextlib.closing(started_real_daemon(request.param)) as started:
        for daemon in started:
            container = _post(daemon, "/containers/create", {"Image": "example/tiny:latest", "Cmd": ["/hello.txt"]})
            _post(daemon, f"/commit?container={container['Id']}&repo=example/committed&tag=1&changes="
                  + quote("LABEL org.example.kind=committed", safe=""), {})
            yield daemon


def _post(daemon: RealDaemon, target: str, document: dict[str, Any]) -> Any:
    from pytest_dockerimages._http import unixhttp

    status, _, answer = unixhttp.request(daemon.docker_host, "POST", target, body=json.dumps(document).encode(),
                                         headers=[("Content-Type", "application/json")])
    assert status == 201, answer
    return json.loads(answer)


def test_cli_check_with_prune_finds_no_difference_and_prunes_delete_images(
        private_daemon: RealDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    """`dockerimages check --include-prune`: history, df and the prunes, zero differences, the
    warning on stderr, and the prunes do delete images on the project's image set."""
    from pytest_dockerimages._cli.main import main

    started = time.monotonic()
    code = main(["check", "--docker-host", private_daemon.docker_host, "--include-prune"])
    captured = capsys.readouterr()
    print(captured.out, f"check --include-prune took {time.monotonic() - started:.1f} s")
    header = re.search(r"profile (\S+): (\d+) requests, (\d+) differences", captured.out)
    assert header is not None, captured.out
    assert (code, header.group(1), header.group(3)) == (0, private_daemon.variant.name, "0"), captured.out
    assert "--include-prune sends POST /images/prune to " + private_daemon.docker_host in captured.err
    assert "DELETED" in captured.err
    excused = set(re.findall(r"^known \(\d+ requests\): (.*)$", captured.out, re.M))
    assert excused <= JUSTIFIED, captured.out
    pruned = re.search(r"^prunes deleted (\d+) images on the daemon \(per prune, in order: ([\d, ]+)\)$",
                       captured.out, re.M)
    assert pruned is not None and int(pruned.group(1)) > 0, captured.out
    per_prune = [int(n) for n in pruned.group(2).split(", ")]
    assert per_prune[:3] == [0, 0, 0] and all(n > 0 for n in per_prune[3:]), captured.out  # errors, then each deletes
    listing = private_daemon.get_json("/images/json?all=1")
    assert {t for i in listing for t in i["RepoTags"] or ()} >= {"example/tiny:latest"}  # used: kept


@pytest.mark.parametrize("private_daemon", ["docker-26.1", "docker-29.7-containerd"], indirect=True)
def test_a_broken_prune_rule_is_caught(private_daemon: RealDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake whose prune reports as the daemon's but keeps its images: the listing after each
    prune that deletes shows the difference."""
    from pytest_dockerimages._fake import stateful

    original = stateful.prune_images

    def keeps_everything(store: Any, text: str, profile: Any, now_ns: int) -> Any:
        return store, original(store, text, profile, now_ns)[1]
    monkeypatch.setattr(stateful, "prune_images", keeps_everything)
    report = run_check(private_daemon.docker_host, include_prune=True)
    assert report.pruned is not None and sum(report.pruned) > 0
    after = {d.probe.note for d in report.differences if "images/json" in d.probe.target}
    assert {"after prune: dangling images", "after prune: every unused image"} <= after, report.render()
