"""Shared helpers of the benchmarks: timing (medians over rounds), synthetic image sets, machine facts.

Not part of the test suite: pytest never collects this folder (files are `bench_*.py`, and
`testpaths` is `tests`).  `run.py` imports the `bench_*` modules and prints their results.
"""
from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pytest_dockerimages._core.model import Image  # noqa: E402

_L = "sha256:" + "0" * 48


# ----------------------------------------------------------------------------- results


@dataclass
class Check:
    """One target: the measured value against its limit (None: not applicable in this mode)."""

    name: str
    value: float
    limit: float
    unit: str = "x"

    @property
    def met(self) -> bool:
        return self.value <= self.limit

    def line(self) -> str:
        return f"{self.name}: {self.value:.3g}{self.unit} (target <= {self.limit:g}{self.unit}) " \
               f"{'MET' if self.met else 'NOT MET'}"


@dataclass
class Result:
    """What one benchmark reports: a table (rows of cells) and its target checks."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    def markdown(self) -> str:
        out = [f"### {self.title}", ""]
        if self.skipped:
            return "\n".join(out + [f"skipped: {self.skipped}", ""])
        out.append("| " + " | ".join(self.header) + " |")
        out.append("|" + "---|" * len(self.header))
        out += ["| " + " | ".join(row) + " |" for row in self.rows]
        out.append("")
        out += [f"- {c.line()}" for c in self.checks]
        out += [f"- {n}" for n in self.notes]
        out.append("")
        return "\n".join(out)


# ----------------------------------------------------------------------------- timing


def one_round(fn: Callable[[], Any], inner: int) -> float:
    """Mean seconds per call of `inner` back-to-back calls, with GC off (and run just before), so a
    collection triggered by earlier garbage does not land in a random sample."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - t0) / inner
    finally:
        gc.enable()


def median_time(fn: Callable[[], Any], *, rounds: int, inner: int = 1, warmup: int = 1) -> float:
    """Median over `rounds` of the mean seconds per call of `inner` back-to-back calls."""
    for _ in range(warmup):
        fn()
    return statistics.median(one_round(fn, inner) for _ in range(rounds))


def round_robin(samplers: dict[Any, Callable[[], float]], *, rounds: int) -> dict[Any, list[float]]:
    """Each sampler's figures over `rounds` rounds, taken round-robin (one of each per round), so a
    noisy phase of the machine lands on all of them alike. A sampler returns seconds (one_round)."""
    samples: dict[Any, list[float]] = {name: [] for name in samplers}
    for _ in range(rounds):
        for name, sampler in samplers.items():
            samples[name].append(sampler())
    return samples


def interleaved(fns: dict[Any, Callable[[], Any]], *, rounds: int, inner: int = 1) -> dict[Any, float]:
    """Medians of several alternatives measured round-robin, so a noisy phase hits all of them."""
    for fn in fns.values():
        fn()
    samples = round_robin({name: (lambda fn=fn: one_round(fn, inner)) for name, fn in fns.items()}, rounds=rounds)
    return {name: statistics.median(values) for name, values in samples.items()}


def paired_ratio(larger: list[float], smaller: list[float]) -> float:
    """Median of the per-round ratios larger/smaller of two series measured round-robin: each
    ratio compares figures taken moments apart, so a slow phase of the machine cancels out."""
    return statistics.median(big / small for big, small in zip(larger, smaller, strict=True))


def fmt_s(seconds: float) -> str:
    """Human units: ns/µs/ms/s with three significant digits."""
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{sign}{seconds / scale:.3g} {unit}"
    return f"{sign}{seconds / 1e-9:.3g} ns"


# ----------------------------------------------------------------------------- synthetic images


def synthetic_images(n: int, *, seed_prefix: str = "bench") -> list[Image]:
    """`n` varied images, deterministic: like a busy CI host's `docker images -a`.

    Per 10 images: 6 tagged (1-3 tags, some in a local registry with a digest), 1 digest-only,
    2 untagged children of the previous image (intermediate build steps), 1 dangling; labels on
    most, a few with none; layers shared by parent chains and by a handful of base layers.
    """
    images: list[Image] = []
    previous: Image | None = None
    for i in range(n):
        kind = i % 10
        base_layer = {"digest": f"{_L}{(i % 7) + 1:016x}", "size": 5_000_000 + (i % 7) * 1_000}
        own = {"digest": f"{_L}{0x10000000 + i:016x}", "size": 1_000 + i}
        created = 1_600_000_000 + i * 37  # distinct seconds, mixed order after sorting by id
        labels: dict[str, str] | None = {"org.example.team": f"team{i % 5}", "tier": ("app", "base")[i % 2]}
        if i % 13 == 0:
            labels = None
        common: dict[str, Any] = {"created": created, "labels": labels, "id": f"sha256:{i:064x}"}
        repo = f"{seed_prefix}/svc{i % 97}"
        if kind in (0, 1, 2, 3, 4, 5):
            tags = [f"{repo}:v{i}"]
            if kind in (0, 3):
                tags.append(f"{repo}:v{i}-extra")
            digests = []
            if kind == 0:
                tags.append(f"localhost:5000/{repo}:v{i}")
                digests = [f"localhost:5000/{repo}@sha256:{i + 1:064x}"]
            image = Image(tags=tags, digests=digests, layers=[base_layer, own], **common)
        elif kind == 6:
            image = Image(digests=[f"localhost:5000/{repo}@sha256:{i + 7:064x}"], layers=[base_layer, own], **common)
        elif kind in (7, 8) and previous is not None:
            parent_layers = [{"digest": layer.digest, "size": layer.size} for layer in previous.layers]
            image = Image(parent=previous.id, layers=[*parent_layers, own], **common)
        else:
            image = Image(layers=[base_layer, own], **common)
        images.append(image)
        previous = image
    return images


# ----------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "implementation": platform.python_implementation()}


# ----------------------------------------------------------------------------- clients


class KeepAliveClient:
    """One keep-alive HTTP/1.1 connection (unix socket or loopback TCP), the benchmarks' only client.

    Why not `http.client`: it reads every response into fresh buffers (a list of chunks, then their
    join). Past glibc's mmap threshold (at most 32 MB) each of those is new memory, page faults
    included, so for the 27-47 MB listings of 100,000 images the client's allocator, not the
    server, set the time. This client does the least any client must: it receives the response
    into one buffer it keeps between requests and checks the framing (Content-Length or chunked).
    `fetch` stops there and returns the body's size; `get` also copies the body out.
    """

    def __init__(self, docker_host: str, timeout: float = 120.0) -> None:
        import socket

        from pytest_dockerimages._http.unixhttp import parse_docker_host

        target = parse_docker_host(docker_host)
        if target.unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = target.unix_path
        else:
            self.sock = socket.socket(socket.AF_INET6 if ":" in (target.host or "") else socket.AF_INET)
            address = (target.host, target.port)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.buffer = bytearray(1 << 16)
        self.start = self.end = 0  # buffer[start:end] is received and not yet consumed

    def _receive(self) -> None:
        """Receive more bytes after `end`, growing the buffer (it is kept) when it is full."""
        if self.end == len(self.buffer):
            self.buffer.extend(bytes(len(self.buffer)))
        with memoryview(self.buffer) as view:
            got = self.sock.recv_into(view[self.end:])
        if not got:
            raise ConnectionError("the server closed the connection in the middle of a response")
        self.end += got

    def _until(self, marker: bytes, start: int) -> int:
        """Index of `marker` at or after `start`, receiving until it arrives."""
        while True:
            found = self.buffer.find(marker, start, self.end)
            if found >= 0:
                return found
            start = max(start, self.end - len(marker) + 1)
            self._receive()

    def _need(self, stop: int) -> None:
        while self.end < stop:
            self._receive()

    def _response(self, path: str) -> tuple[int, list[tuple[int, int]]]:
        """Send GET `path`, receive the whole response; the status and the body's (start, stop) spans."""
        if self.start:  # move unconsumed bytes (normally none) to the front, so the buffer is reused
            self.buffer[:self.end - self.start] = self.buffer[self.start:self.end]
            self.start, self.end = 0, self.end - self.start
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        head_end = self._until(b"\r\n\r\n", self.start)
        head = bytes(self.buffer[self.start:head_end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in head[1:])}
        position = head_end + 4
        spans: list[tuple[int, int]] = []
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                line_end = self._until(b"\r\n", position)
                size = int(bytes(self.buffer[position:line_end]).split(b";")[0], 16)
                position = line_end + 2
                if size == 0:
                    position = self._until(b"\r\n", position) + 2  # no trailers: the empty line
                    break
                self._need(position + size + 2)
                spans.append((position, position + size))
                position += size + 2
        else:
            length = int(headers.get("content-length", "0"))
            self._need(position + length)
            spans.append((position, position + length))
            position += length
        self.start = position
        return status, spans

    def fetch(self, path: str) -> tuple[int, int]:
        """GET `path`: the status and the body's size (the body stays in the client's buffer)."""
        status, spans = self._response(path)
        return status, sum(stop - start for start, stop in spans)

    def get(self, path: str) -> tuple[int, bytes]:
        """GET `path`: the status and the whole (de-chunked) body."""
        status, spans = self._response(path)
        return status, b"".join(bytes(self.buffer[start:stop]) for start, stop in spans)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> KeepAliveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def inner_for(fn: Callable[[], Any], budget: float = 0.05, cap: int = 200) -> int:
    """How many back-to-back calls make one round last about `budget` seconds (at least one)."""
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    return max(1, min(cap, int(budget / once)))


def best_encoder() -> tuple[str, Callable[[Any], bytes]]:
    """The fastest JSON encoder available: orjson when installed, else the stdlib."""
    try:
        import orjson
    except ImportError:
        import json

        return "json (stdlib)", lambda doc: json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return f"orjson {orjson.__version__}", orjson.dumps
