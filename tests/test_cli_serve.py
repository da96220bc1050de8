"""`dockerimages serve` as a real subprocess: first line, serving, clean shutdown, errors."""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._files.seed import dump_seed
from pytest_dockerimages._http.unixhttp import request

STARTUP_TIMEOUT = 20.0


def start_serve(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "pytest_dockerimages._cli.main", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], STARTUP_TIMEOUT)
    assert ready, "serve printed nothing"
    line = proc.stdout.readline()
    assert line, f"serve exited early: {proc.wait(5)} {proc.stderr.read() if proc.stderr else ''}"
    return line.rstrip("\n")


def stop(proc: subprocess.Popen[str], signum: int = signal.SIGTERM) -> int:
    proc.send_signal(signum)
    try:
        return proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_defaults_then_stop(served: list[subprocess.Popen[str]], signum: int) -> None:
    proc = start_serve()
    served.append(proc)
    line = first_line(proc)
    assert line.startswith("DOCKER_HOST=unix://")
    host = line.split("=", 1)[1]
    socket_path = Path(host[len("unix://"):])
    assert socket_path.exists()
    status, headers, body = request(host, "GET", "/images/json?all=1")
    assert status == 200 and dict(headers)["Api-Version"] == "1.55"  # the default profile
    assert {e["Id"] for e in json.loads(body)} == {i.id for i in default_images()}
    assert stop(proc, signum) == 0
    assert not socket_path.exists() and not socket_path.parent.exists()


def test_serve_seed_profile_unix_path(served: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    seed = dump_seed(default_images()[:2], tmp_path / "seed.yaml")
    sock = tmp_path / "fake.sock"
    proc = start_serve("--seed", str(seed), "--profile", "docker-26.1", "--unix", str(sock))
    served.append(proc)
    assert first_line(proc) == f"DOCKER_HOST=unix://{sock}"
    status, headers, body = request(f"unix://{sock}", "GET", "/v1.45/images/json?all=1")
    assert status == 200 and dict(headers)["Server"].startswith("Docker/26.1")
    assert len(json.loads(body)) == 2
    assert stop(proc) == 0
    assert not sock.exists() and tmp_path.exists()


def test_serve_tcp(served: list[subprocess.Popen[str]]) -> None:
    proc = start_serve("--tcp", "127.0.0.1:0")
    served.append(proc)
    line = first_line(proc)
    assert line.startswith("DOCKER_HOST=tcp://127.0.0.1:")
    port = int(line.rsplit(":", 1)[1])
    assert port > 0
    assert request(line.split("=", 1)[1], "GET", "/_ping")[0] == 200
    assert stop(proc) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_dockerimages._cli.main", *args],
                          capture_output=True, text=True, timeout=60)


def test_bad_seed_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "broken-seed.yaml"
    bad.write_text("images:\n  - tags: 3\n")
    done = run_cli("serve", "--seed", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in done.stderr
    assert "error" in lines[0] and "fix the file" in lines[0]


def test_missing_seed_and_unknown_profile(tmp_path: Path) -> None:
    done = run_cli("serve", "--seed", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2 and "nope.yaml" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = run_cli("serve", "--profile", "docker-0.1")
    assert done.returncode == 2 and "docker-0.1" in done.stderr and "docker-26.1" in done.stderr


def test_non_loopback_tcp_is_refused_naming_the_flag() -> None:
    done = run_cli("serve", "--tcp", "0.0.0.0:0")
    assert done.returncode == 2 and "non-loopback" in done.stderr and "Traceback" not in done.stderr
    assert "--allow-remote" in done.stderr and "allow_remote=True" not in done.stderr
    done = run_cli("serve", "--allow-remote")
    assert done.returncode == 2 and "--allow-remote applies to --tcp only" in done.stderr


def test_allow_remote_lets_tcp_listen_on_every_interface(served: list[subprocess.Popen[str]]) -> None:
    proc = start_serve("--tcp", "0.0.0.0:0", "--allow-remote")
    served.append(proc)
    line = first_line(proc)
    port = int(line.rsplit(":", 1)[1])
    assert line.startswith("DOCKER_HOST=tcp://0.0.0.0:") and port > 0
    assert request(f"tcp://127.0.0.1:{port}", "GET", "/_ping")[0] == 200  # loopback only
    assert stop(proc) == 0


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    done = run_cli("serve", "--seed", str(bad), "--debug")
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_help_has_examples() -> None:
    done = run_cli("serve", "--help")
    assert done.returncode == 0 and "examples:" in done.stdout and "dockerimages serve --seed" in done.stdout
    done = run_cli("profiles", "--help")
    assert done.returncode == 0 and "example:" in done.stdout
    done = run_cli("profiles")
    assert done.returncode == 0 and "docker-29.7-containerd" in done.stdout and "(default)" in done.stdout


def test_cassette_combined_with_seed_is_refused(tmp_path: Path) -> None:
    done = run_cli("serve", "--cassette", str(tmp_path / "c.yaml"), "--seed", str(tmp_path / "s.yaml"))
    assert done.returncode == 2 and "--cassette" in done.stderr


def test_python_dash_m_package_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "pytest_dockerimages", "profiles"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "docker-20.10" in done.stdout


def test_serve_replays_a_cassette(served: list[subprocess.Popen[str]]) -> None:
    cassette = Path(__file__).resolve().parents[1] / "cassettes" / "docker-26.1.yaml"
    if not cassette.is_file():
        pytest.skip("no shipped cassette in this checkout")
    proc = start_serve("--cassette", str(cassette))
    served.append(proc)
    host = first_line(proc).split("=", 1)[1]
    status, headers, _ = request(host, "GET", "/_ping")
    assert status == 200 and dict(headers)["Server"].startswith("Docker/26.1")
    assert stop(proc) == 0


def test_missing_cassette_is_one_line(tmp_path: Path) -> None:
    done = run_cli("serve", "--cassette", str(tmp_path / "none.yaml"))
    assert done.returncode == 2 and "none.yaml" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
