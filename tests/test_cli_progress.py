"""Long commands (snapshot, check, record) show progress on a terminal and stay quiet otherwise;
snapshot and check also work against the fake itself (a snapshot of `dockerimages serve` is its seed)."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._files.seed import load_seed


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDaemon]:
    with FakeDaemon(images=default_images(), profile="docker-26.1") as daemon:
        yield daemon


def run(args: list[str], *, tty: bool) -> tuple[int, str, str]:
    """Run `dockerimages ARGS`; with tty=True its stderr is a terminal. Returns (code, stdout, stderr)."""
    command = [sys.executable, "-m", "pytest_dockerimages", *args]
    if not tty:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("no output from the command within 120 s")
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out = proc.stdout.read() if proc.stdout else ""
    return proc.wait(timeout=60), out, b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("tty", [True, False])
def test_snapshot_of_the_fake_is_its_seed(fake: FakeDaemon, tmp_path: Path, tty: bool) -> None:
    out = tmp_path / "seed.yaml"
    code, stdout, stderr = run(["snapshot", "--docker-host", fake.docker_host, "-o", str(out)], tty=tty)
    assert code == 0, stderr
    assert "(profile docker-26.1)" in stdout
    if tty:
        assert "\r" in stderr and "inspect 6/6" in stderr
    else:
        assert stderr == ""
    seed = load_seed(out)
    assert seed.profile == "docker-26.1"
    assert {i.id for i in seed.images} == {i.id for i in fake.images}
    by_id = {i.id: i for i in fake.images}
    for image in seed.images:
        original = by_id[image.id]
        assert (image.tags, image.digests, image.labels, image.parent, image.created_ns) == (
            original.tags, original.digests, original.labels, original.parent, original.created_ns)


@pytest.mark.parametrize("tty", [True, False])
def test_check_of_the_fake_against_itself(fake: FakeDaemon, tty: bool) -> None:
    code, stdout, stderr = run(["check", "--docker-host", fake.docker_host, "--random", "30"], tty=tty)
    assert code == 0, stdout + stderr
    assert " 0 differences" in stdout
    assert ("request " in stderr) is tty


@pytest.mark.parametrize("tty", [True, False])
def test_record_shows_progress_only_on_a_terminal(fake: FakeDaemon, tmp_path: Path, tty: bool) -> None:
    out = tmp_path / "fake.yaml"
    code, stdout, stderr = run(["record", "--docker-host", fake.docker_host, "-o", str(out)], tty=tty)
    assert code == 0, stdout + stderr
    assert out.exists()
    assert ("\r" in stderr) is tty
