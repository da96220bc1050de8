"""Load and concurrency: many clients, a mutating test, misbehaving clients, parallel sessions.

* 64 client threads x 500 keep-alive requests against one FakeDaemon while another thread keeps
  changing its images (seed swaps, tag moves, add/remove pairs): every response is exactly the
  rendering of one of the states the mutator passes through, never a mix; nothing errors.
* Oversized request lines, headers and bodies get Go's plain-text 431, or 413, from a FakeDaemon, repeatedly,
  without the server's memory growing; the daemon keeps serving and logs none of them.
* Silent, half-sent, slow-body, never-reading and half-closed clients do not block other clients,
  and `stop()` ends promptly with all of them still connected.
* `pytest -n 4` runs of the examples suite and of the fake daemon's and plugin's tests pass, three times in a row.
(test_server.py covers the same limits and slow clients for the bare Server with an echo backend.)
"""
from __future__ import annotations

import gc
import json
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest
from reliability_support import NOW

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import Image
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._files.seed import Seed
from pytest_dockerimages._http.unixhttp import connection_for, request
from pytest_dockerimages._real.fixture import skip_or_fail

pytestmark = pytest.mark.slow  # many clients, parallel pytest sessions: seconds each

ROOT = Path(__file__).resolve().parent.parent
ID1, ID2, ID3, ID4 = ("sha256:" + c * 64 for c in "1234")
STATE_A = (Image(id=ID1, tags=["app:1", "moving:1"], created=1_700_000_000, labels={"state": "a"}),
           Image(id=ID2, tags=["base:1"], created=1_600_000_000, labels={"state": "a"}))
STATE_B = (Image(id=ID3, tags=["other:1", "moving:1"], created=1_750_000_000, labels={"state": "b"}),
           Image(id=ID1, tags=["app:1"], created=1_700_000_000, labels={"state": "b"}),
           Image(id=ID2, tags=["base:1"], digests=["localhost:5000/base@sha256:" + "b" * 64], created=1_600_000_000))
NEW = Image(id=ID4, tags=["new:1"], created=1_800_000_000)
TARGETS = ["/v1.47/images/json", "/v1.47/images/json?all=1",
           "/v1.47/images/json?filters=" + urllib.parse.quote(json.dumps({"reference": ["moving"]})),
           "/v1.47/images/json?filters=" + urllib.parse.quote(json.dumps({"label": ["state"]}))]
CLIENTS, PER_CLIENT = 64, 500


def _mutations(daemon: FakeDaemon) -> Iterator[None]:
    """One cycle of single atomic changes; yields after each, so a twin can record every state."""
    daemon.load_seed(Seed(STATE_A))
    yield
    daemon.tag("base:1", "moving:1")  # moving:1 jumps from ID1 to ID2 in one change
    yield
    daemon.add(NEW)
    yield
    daemon.remove("new:1")
    yield
    daemon.load_seed(Seed(STATE_B))
    yield


def _expected_bodies() -> dict[str, set[bytes]]:
    """Every answer each target may get: its rendering in each state of the cycle."""
    twin = FakeDaemon(clock=lambda: NOW)  # never started: only its state changes are used
    out: dict[str, set[bytes]] = {t: set() for t in TARGETS}
    for _ in _mutations(twin):
        for target in TARGETS:
            response = respond(twin.store, twin.profile, Request("GET", target), NOW)
            assert response.status == 200
            out[target].add(response.body)
    return out


def test_64_clients_x_500_requests_see_one_whole_state_while_images_change() -> None:
    expected = _expected_bodies()
    assert all(len(bodies) >= 2 for bodies in expected.values())  # the states differ for every target
    daemon = FakeDaemon(images=STATE_A, clock=lambda: NOW).start()
    stop = threading.Event()
    cycles = [0]
    failures: list[str] = []
    seen: dict[str, set[bytes]] = {t: set() for t in TARGETS}
    seen_lock = threading.Lock()

    def mutator() -> None:
        try:
            while not stop.is_set():
                for _ in _mutations(daemon):
                    time.sleep(0)  # let clients in between any two changes
                cycles[0] += 1
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            failures.append(f"mutator: {exc!r}")

    def client(n: int) -> None:
        conn = connection_for(daemon.docker_host, timeout=20)
        mine: dict[str, set[bytes]] = {t: set() for t in TARGETS}
        try:
            for i in range(PER_CLIENT):
                target = TARGETS[(n + i) % len(TARGETS)]
                conn.request("GET", target)
                response = conn.getresponse()
                body = response.read()
                if response.status != 200 or body not in expected[target]:
                    failures.append(f"client {n} request {i} {target}: {response.status} {body[:300]!r}")
                    return
                mine[target].add(body)
        except BaseException as exc:
            failures.append(f"client {n}: {exc!r}")
        finally:
            conn.close()
            with seen_lock:
                for target, bodies in mine.items():
                    seen[target] |= bodies

    started = time.monotonic()
    mutating = threading.Thread(target=mutator, name="mutator")
    clients = [threading.Thread(target=client, args=(n,), name=f"client-{n}") for n in range(CLIENTS)]
    try:
        mutating.start()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(120)
        stop.set()
        mutating.join(30)
        elapsed = time.monotonic() - started
        assert not failures, failures[:5]
        assert not any(t.is_alive() for t in clients) and not mutating.is_alive()
        assert daemon.errors == []
        assert len(daemon.requests) == CLIENTS * PER_CLIENT  # every request answered and logged
    finally:
        stop.set()
        daemon.stop()
    assert cycles[0] >= 3, f"only {cycles[0]} mutation cycles ran: the clients never saw the state change"
    assert sum(len(s) for s in seen.values()) > len(TARGETS), "every client saw a single state"
    assert elapsed < 60, f"{CLIENTS * PER_CLIENT} requests took {elapsed:.1f}s"


# --------------------------------------------------------------------------- oversized requests

HUGE = 8 * 1024 * 1024
OVERSIZED = [
    ("request-line", b"GET /images/json?filters=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: d\r\n\r\n", 431),
    ("huge-request-line", b"GET /" + b"a" * HUGE + b" HTTP/1.1\r\nHost: d\r\n\r\n", 431),
    ("header", b"GET /images/json HTTP/1.1\r\nHost: d\r\nX-Big: " + b"a" * HUGE + b"\r\n\r\n", 431),
    ("header-count", b"GET /images/json HTTP/1.1\r\nHost: d\r\n" + b"X: y\r\n" * 5000 + b"\r\n", 431),
    ("body", b"POST /images/json HTTP/1.1\r\nHost: d\r\nContent-Length: %d\r\n\r\n" % HUGE + b"x" * HUGE, 413),
    ("chunked-body", b"POST /images/json HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n"
     + (b"100000\r\n" + b"x" * 0x100000 + b"\r\n") * 8, 413),
]


def _send_and_read(path: str, data: bytes) -> tuple[int, bytes]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            view = memoryview(data)
            for start in range(0, len(view), 1 << 20):
                sock.sendall(view[start:start + (1 << 20)])
        except OSError as exc:  # the server answers and closes before reading it all: fine
            errors.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    finally:
        sender.join(10)
        sock.close()
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    with FakeDaemon(images=STATE_A, clock=lambda: NOW) as d:
        yield d


@pytest.mark.parametrize("data, status", [c[1:] for c in OVERSIZED], ids=[c[0] for c in OVERSIZED])
def test_oversized_requests_are_refused_without_memory_growth(daemon: FakeDaemon, data: bytes, status: int) -> None:
    path = daemon.docker_host[len("unix://"):]
    assert _send_and_read(path, data)[0] == status  # warm-up (first-use allocations)
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(6):
            got, body = _send_and_read(path, data)
            assert got == status
            assert body.startswith(b"%d " % status)  # Go's plain-text answer: the status again
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 6 x 8 MiB went through; what the process holds afterwards grew by less than 256 KiB, and it
    # never held much more than the 1 MiB body limit at once (the sender's own views are not copies).
    assert after - before < 256 * 1024, f"retained {after - before} bytes"
    assert peak - before < 4 * 1024 * 1024, f"peak {peak - before} bytes"
    assert request(daemon.docker_host, "GET", "/_ping")[0] == 200
    assert daemon.errors == []
    assert [r.path for r in daemon.requests] == ["/_ping"]  # refused requests never reach the daemon


# --------------------------------------------------------------------------- misbehaving clients


def test_misbehaving_clients_do_not_block_others_and_stop_is_prompt() -> None:
    before = set(threading.enumerate())  # other tests' session daemons may be running: only ours count
    daemon = FakeDaemon(images=STATE_A, clock=lambda: NOW).start()
    path = daemon.docker_host[len("unix://"):]
    held: list[socket.socket] = []

    def connect() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(path)
        held.append(sock)
        return sock

    try:
        for _ in range(40):
            connect()  # silent
        for _ in range(10):
            connect().sendall(b"GET /images/json HTTP/1.1\r\nHost: d")  # stops mid-headers
        for _ in range(5):
            connect().sendall(b"POST /images/json HTTP/1.1\r\nContent-Length: 1000\r\n\r\nxy")  # body never finishes
        never_reads = connect()
        never_reads.setblocking(False)
        pipelined = b"GET /v1.47/images/json?all=1 HTTP/1.1\r\nHost: d\r\n\r\n" * 5000
        try:
            while pipelined:  # fill the socket buffers both ways: the server's writer blocks
                pipelined = pipelined[never_reads.send(pipelined):]
        except BlockingIOError:
            pass
        # A half-closed client still gets its answer.
        half = connect()
        half.sendall(b"GET /v1.47/images/json HTTP/1.1\r\nHost: d\r\n\r\n")
        half.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := half.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK") and b"app:1" in data

        slowest = 0.0
        started = time.monotonic()
        for _ in range(200):
            t0 = time.monotonic()
            assert request(daemon.docker_host, "GET", "/v1.47/images/json", timeout=5)[0] == 200
            slowest = max(slowest, time.monotonic() - t0)
        assert time.monotonic() - started < 10 and slowest < 2, (time.monotonic() - started, slowest)
        assert daemon.errors == []
    finally:
        t0 = time.monotonic()
        daemon.stop()
        stop_took = time.monotonic() - t0
        for sock in held:
            sock.close()
    assert stop_took < 5, f"stop() took {stop_took:.1f}s with {len(held)} clients hanging on"
    deadline = time.monotonic() + 5  # a loaded machine may need a moment to reap the joined threads
    leftover = [t for t in set(threading.enumerate()) - before if t.name.startswith("dockerimages-")]
    while leftover and time.monotonic() < deadline:
        time.sleep(0.05)
        leftover = [t for t in leftover if t.is_alive()]
    assert not leftover, f"threads outlived stop(): {[t.name for t in leftover]}"


# --------------------------------------------------------------------------- xdist


@pytest.mark.parametrize("run", [1, 2, 3])
def test_pytest_n_4_runs_of_the_examples_and_plugin_tests_pass(run: int) -> None:
    """The examples use every public fixture; test_fakedaemon drives the daemon the fixtures share;
    test_plugin covers options, markers, fixtures and the environment under xdist workers."""
    try:
        import xdist  # noqa: F401
    except ImportError:
        skip_or_fail("pytest-xdist is not installed (pip install pytest-xdist)")
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest", "examples", "tests/test_fakedaemon.py", "tests/test_plugin.py",
               "-p", "dockerimages", "-n", "4", "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
    assert result.returncode == 0, f"run {run}: {' '.join(command[2:])} failed:\n{tail}"
    assert " passed" in tail and " failed" not in tail and " error" not in tail, tail
