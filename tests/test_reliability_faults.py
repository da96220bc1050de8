"""Faults, and nothing lost.

* A process recording through `RecordingBackend` into a cassette, SIGKILLed at random moments
  (12 times, into the same file): the cassette always loads (validated) and holds every
  interaction any earlier process reported saved; some kills land inside a save.
* The daemon going away mid-recording: a clear error naming the daemon and the request, nothing
  bogus recorded, and the cassette on disk kept byte for byte (backend level and through the
  `dockerimages_cassette` fixture with record mode `all`).
* Corrupt, truncated, wrong-version or hand-edited cassettes and seeds: an error naming the file
  and the place; `!!python/...` YAML tags never execute (a payload that would create a file
  does not).

Covered elsewhere, not repeated here: two xdist workers recording into one cassette folder
(tests/test_cassette.py::test_xdist_workers_share_one_cassette) and concurrent writer processes
(::test_concurrent_writers_lose_nothing) lose nothing; record mode `none` never writes and never
connects (::test_record_mode_none_never_writes_never_connects, and test_reliability_security.py
with a connection-counting sentinel as DOCKER_HOST).
"""
from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest

from pytest_dockerimages._cassettes.cassette import Cassette
from pytest_dockerimages._cassettes.cassette import load as cached_load
from pytest_dockerimages._cassettes.format import CassetteError
from pytest_dockerimages._cassettes.record import RecordingBackend
from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._core.model import Image
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._files.resources import data_dir
from pytest_dockerimages._files.seed import SeedError, load_seed

ROOT = Path(__file__).resolve().parent.parent
BIG_IMAGES = [Image(tags=[f"team/app{n}:1.{n}", f"localhost:5000/team/app{n}:latest"], labels={"big": "x", "n": str(n)},
                    created=1_700_000_000 + n) for n in range(40)]


@pytest.fixture
def upstream() -> Iterator[FakeDaemon]:
    with FakeDaemon(images=BIG_IMAGES, profile="docker-28.1-containerd") as daemon:
        yield daemon


# --------------------------------------------------------------------------- SIGKILL while recording

_RECORDER = textwrap.dedent("""
    import json, sys, urllib.parse
    from pytest_dockerimages._cassettes.record import RecordingBackend
    from pytest_dockerimages._cassettes.cassette import Cassette
    from pytest_dockerimages._core.wire import Request

    upstream, path, run = sys.argv[1], sys.argv[2], sys.argv[3]
    cassette = Cassette(None)
    backend = RecordingBackend(upstream, cassette)
    n = 0
    while True:
        for _ in range(4):
            # every image has label big=x: each answer lists all 40 images (a big cassette, slow saves)
            filters = json.dumps({"label": [f"big!=r{run}-{n}"]})
            target = "/v1.47/images/json?filters=" + urllib.parse.quote(filters)
            assert backend.handle(Request("GET", target, (("Host", "localhost"),))).status == 200
            n += 1
        print("saving", n, flush=True)
        cassette.save(path)
        print("saved", n, flush=True)
""")


def _label(target: str) -> str:
    return json.loads(urllib.parse.unquote(target.split("filters=", 1)[1]))["label"][0]


@pytest.mark.slow
def test_killing_a_recorder_at_random_moments_never_breaks_the_cassette(upstream: FakeDaemon, tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "killed.yaml"
    rnd = random.Random(20261129)
    saved: set[str] = set()  # labels some process reported saved: they must all survive
    mid_save_kills = 0
    for run in range(12):
        proc = subprocess.Popen([sys.executable, "-c", _RECORDER, upstream.docker_host, str(path), str(run)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        time.sleep(rnd.uniform(0.5, 2.0))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err[-2000:]
        lines = out.split()
        events = [(lines[i], int(lines[i + 1])) for i in range(0, len(lines) - 1, 2)]
        started = max((n for what, n in events if what == "saving"), default=0)
        done = max((n for what, n in events if what == "saved"), default=0)
        mid_save_kills += started > done
        saved |= {f"big!=r{run}-{n}" for n in range(done)}
        if not path.exists():
            assert not saved, "a reported save is gone"
            continue
        cassette = Cassette.load(path)  # validated: whole YAML, every body valid JSON for its schema
        labels = {_label(i.target) for i in cassette.interactions}
        assert saved <= labels, f"run {run}: lost {sorted(saved - labels)[:5]}"
        recorded = {f"big!=r{r}-{n}" for r in range(run + 1) for n in range(10_000)}
        assert labels <= recorded
        assert all(i.status == 200 and len(json.loads(i.body)) == 40 for i in cassette.interactions)
    assert saved, "no recorder ever finished a save"
    assert mid_save_kills >= 2, f"only {mid_save_kills} of 12 kills landed inside a save: the test proves little"
    # A writer killed inside its write leaves a hidden temp file (never the cassette itself); the next
    # save removes it.
    leftovers = sorted(p.name for p in path.parent.iterdir() if p.name not in (path.name, f".{path.name}.lock"))
    assert all(name.startswith(f".{path.name}.") and name.endswith(".tmp") for name in leftovers), leftovers
    Cassette.load(path).save()
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, f".{path.name}.lock"])
    assert saved <= {_label(i.target) for i in Cassette.load(path).interactions}


# --------------------------------------------------------------------------- the daemon goes away


def test_daemon_gone_mid_recording_is_a_clear_error_and_the_cassette_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "kept.yaml"
    daemon = FakeDaemon(images=BIG_IMAGES[:3], profile="docker-26.1").start()
    host = daemon.docker_host
    try:
        first = RecordingBackend(daemon.docker_host, Cassette(path))
        for target in ("/v1.45/images/json", "/v1.45/images/json?all=1"):
            assert first.handle(Request("GET", target)).status == 200
        first.cassette.save()
        before = path.read_bytes()

        again = RecordingBackend(daemon.docker_host, Cassette(path))
        assert again.handle(Request("GET", "/v1.45/images/json?shared-size=1")).status == 200
    finally:
        daemon.stop()  # the daemon goes away mid-recording
    gone = again.handle(Request("GET", "/v1.45/images/json?all=1&shared-size=1"))
    assert gone.status == 502
    message = json.loads(gone.body)["message"]
    assert message.startswith(f"pytest-dockerimages: cannot reach the daemon at {host} to record "
                              "GET /v1.45/images/json?all=1&shared-size=1: "), message
    assert again.errors == [message[len("pytest-dockerimages: "):]]
    assert [i.target for i in again.cassette.interactions] == ["/v1.45/images/json?shared-size=1"]
    assert path.read_bytes() == before  # nothing written behind the test's back


def test_daemon_gone_mid_test_fails_it_clearly_and_keeps_the_recorded_file(pytester: pytest.Pytester) -> None:
    folder = pytester.path / "cassettes"
    folder.mkdir()
    shipped = (data_dir("cassettes") / "docker-26.1.yaml").read_bytes()
    (folder / "rec.yaml").write_bytes(shipped)
    pytester.makeconftest("""
        import pytest
        from pytest_dockerimages._fake.fakedaemon import FakeDaemon

        UPSTREAM = FakeDaemon(profile="docker-26.1")

        def pytest_configure(config):
            UPSTREAM.start()
            config.option.dockerimages_docker_host = UPSTREAM.docker_host

        def pytest_unconfigure(config):
            UPSTREAM.stop()
    """)
    pytester.makepyfile(test_gone="""
        import pytest
        from conftest import UPSTREAM
        from pytest_dockerimages._http.unixhttp import request

        @pytest.mark.dockerimages_cassette("rec", record_mode="all")
        def test_daemon_goes_away(dockerimages_cassette):
            host = dockerimages_cassette.docker_host
            assert request(host, "GET", "/v1.45/images/json")[0] == 200
            UPSTREAM.stop()
            status, _, body = request(host, "GET", "/v1.45/images/json?all=1")
            assert status == 502 and b"cannot reach the daemon" in body
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "dockerimages cassette: cannot reach the daemon at unix://" in out
    assert "to record GET /v1.45/images/json?all=1" in out
    assert "not saving" in out and "the test failed while recording" in out
    assert (folder / "rec.yaml").read_bytes() == shipped
    assert sorted(p.name for p in folder.iterdir()) == [".rec.yaml.lock", "rec.yaml"] or \
        sorted(p.name for p in folder.iterdir()) == ["rec.yaml"]


# --------------------------------------------------------------------------- corrupt files


@pytest.fixture(scope="module")
def good_cassette() -> str:
    return (data_dir("cassettes") / "docker-26.1.yaml").read_text()


def _cassette_loaders(path: Path) -> list[tuple[str, object]]:
    return [("Cassette.load", lambda: Cassette.load(path)), ("cassette.load", lambda: cached_load(path)),
            ("ReplayBackend.from_file", lambda: ReplayBackend.from_file(path))]


def _edits(good: str, marker: Path) -> list[tuple[str, str | bytes, str]]:
    """(name, corrupted content, regex the message must match after the file name)."""
    lines = good.splitlines(keepends=True)
    code_line = next(i for i, line in enumerate(lines) if line.strip().startswith("code: 200"))
    payload = f"!!python/object/apply:os.system ['touch {marker}']"
    return [
        ("empty", "", r": empty cassette file"),
        ("not-utf8", b"interactions: [\xff\xfe]\n", r": not UTF-8 text \(byte \d+\)"),
        ("truncated-mid-yaml", good[: len(good) // 3] + "  - request: {method: GET, uri: 'http",
         r":\d+:\d+: invalid YAML"),
        ("version-2", good.replace("\nversion: 1", "\nversion: 2"), r": unknown cassette format version 2"),
        ("format-99", good.replace("format: 1", "format: 99", 1), r": unknown dockerimages cassette format 99"),
        ("status-text", "".join(lines[:code_line]) + lines[code_line].replace("200", "abc") + "".join(lines[code_line + 1:]),
         r": interaction \d+ \([A-Z]+ [^)]*\): response needs 'status"),
        ("interactions-mapping", "interactions: {a: 1}\nversion: 1\n", r": interactions: expected a list"),
        ("not-a-cassette", "- just\n- a list\n", r": not a cassette"),
        ("tab-indent", good.replace("\n  ", "\n\t", 3), r":\d+:\d+: invalid YAML"),
        ("python-payload-top", payload + "\n", r":1:1: invalid YAML"),
        ("python-payload-inside", good.replace("version: 1", f"version: {payload}"), r":\d+:\d+: invalid YAML"),
        ("python-name", good.replace("format: 1", "format: !!python/name:os.system", 1), r":\d+:\d+: invalid YAML"),
    ]


def _truncations(good: str) -> list[tuple[str, str, str]]:
    """Cut at random bytes and at random line boundaries (where the rest still parses as YAML)."""
    rnd = random.Random(7)
    lines = good.splitlines(keepends=True)
    cuts = [("byte", rnd.randrange(1, len(good))) for _ in range(8)]
    cuts += [("line", len("".join(lines[:rnd.randrange(1, len(lines) - 1)]))) for _ in range(8)]
    return [(f"truncated-{kind}-{at}", good[:at], r"(:\d+:\d+: invalid YAML|: interaction \d+.*|.*truncated.*)")
            for kind, at in cuts]


def test_broken_cassettes_name_the_file_and_the_place_and_never_run_code(tmp_path: Path, good_cassette: str) -> None:
    marker = tmp_path / "pwned"
    for name, content, expected in _edits(good_cassette, marker) + _truncations(good_cassette):
        path = tmp_path / f"{name}.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        for loader_name, loader in _cassette_loaders(path):
            with pytest.raises(CassetteError) as info:
                loader()  # type: ignore[operator]
            message = str(info.value)
            assert message.startswith(str(path)), (name, loader_name, message)
            assert re.match(re.escape(str(path)) + expected, message, re.DOTALL), (name, loader_name, message)
    assert not marker.exists(), "a !!python payload ran"


SEED_GOOD = """\
version: 1
profile: docker-26.1
images:
  - tags: ["a:1"]
    created: 1700000000
  - tags: ["b:1"]
    labels: {tier: app}
"""


def test_broken_seeds_name_the_file_and_the_place_and_never_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"!!python/object/apply:os.system ['touch {marker}']"
    cases = [
        ("truncated.yaml", SEED_GOOD[:-6], r":\d+:\d+: invalid YAML"),  # cut inside a flow mapping
        ("tab.yaml", SEED_GOOD.replace("  - tags: [\"b", "\t- tags: [\"b"), r":\d+:\d+: invalid YAML"),
        ("version.yaml", SEED_GOOD.replace("version: 1", "version: 7"), r": seed version 7 is not supported"),
        ("profile.yaml", SEED_GOOD.replace("docker-26.1", "docker-99"), r": profile: unknown profile 'docker-99'"),
        ("bad-id.yaml", SEED_GOOD + "  - id: sha256:xyz\n", r": images\[2\]: id: expected 'sha256:'"),
        ("bad-tag.yaml", SEED_GOOD.replace('"b:1"', '"B:1"'), r": images\[1\]"),
        ("bad-created.yaml", SEED_GOOD.replace("1700000000", "yesterday"), r": images\[0\]"),
        ("unknown-key.yaml", SEED_GOOD + "extra: 1\n", r": unknown top-level key\(s\) \['extra'\]"),
        ("payload.yaml", payload + "\n", r":1:1: invalid YAML"),
        ("payload-inside.yaml", SEED_GOOD.replace("tier: app", f"tier: {payload}"), r":\d+:\d+: invalid YAML"),
        ("truncated.json", json.dumps({"version": 1, "images": [{"tags": ["a:1"]}]})[:30], r":1:\d+: invalid JSON"),
        ("not-utf8.yaml", b"images: [\xff]\n", r": not UTF-8 text"),
    ]
    for name, content, expected in cases:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        with pytest.raises(SeedError) as info:
            load_seed(path)
        message = str(info.value)
        assert re.match(re.escape(str(path)) + f"({expected})", message), (name, message)
    assert not marker.exists(), "a !!python payload ran"
    assert len(load_seed(_write(tmp_path / "good.yaml", SEED_GOOD)).images) == 2  # the edits were the only problem


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path



@pytest.mark.realdaemon
def test_real_daemon_gone_mid_recording_is_a_clear_error_and_the_cassette_is_kept(tmp_path: Path) -> None:
    from pytest_dockerimages._real.fixture import skip_or_fail
    from pytest_dockerimages._real.harness import dockerimages_real_daemon_factory, missing_requirements

    missing = missing_requirements("docker-26.1", seed=False)
    if missing:
        skip_or_fail(f"docker-26.1: missing {', '.join(missing)}; run `sudo bash scripts/install-daemons.sh`")
    path = tmp_path / "real.yaml"
    with dockerimages_real_daemon_factory("docker-26.1", seed=False) as real:
        host = real.docker_host
        first = RecordingBackend(host, Cassette(path))
        assert first.handle(Request("GET", "/v1.45/images/json", (("Host", "localhost"),))).status == 200
        first.cassette.save()
        before = path.read_bytes()
        again = RecordingBackend(host, Cassette(path))
        assert again.handle(Request("GET", "/v1.45/images/json?all=1", (("Host", "localhost"),))).status == 200
    # the private dockerd is gone now
    gone = again.handle(Request("GET", "/v1.45/images/json?shared-size=1", (("Host", "localhost"),)))
    assert gone.status == 502
    assert json.loads(gone.body)["message"].startswith(
        f"pytest-dockerimages: cannot reach the daemon at {host} to record GET /v1.45/images/json?shared-size=1: ")
    assert [i.target for i in again.cassette.interactions] == ["/v1.45/images/json?all=1"]
    assert path.read_bytes() == before
