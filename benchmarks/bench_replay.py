"""5. Replay: loading a cassette, matching a request in it, and replay latency against the fake.

* load: `Cassette.load` (YAML, then every listing body validated against its schema) plus
  `ReplayBackend` building its index, for a cassette of 1,000 interactions;
* matching: `ReplayBackend.lookup` for a cassette of 10, 1,000 and 10,000 interactions (a
  request's canonical key is one dict lookup, so it must not grow with the cassette);
* latency: one keep-alive client asking the replay server and the fake for the same listing.
"""
from __future__ import annotations

import json
import tempfile
import time
import urllib.parse
from pathlib import Path

from common import Check, KeepAliveClient, Result, fmt_s, inner_for, interleaved, median_time, synthetic_images

from pytest_dockerimages._cassettes.cassette import Cassette
from pytest_dockerimages._cassettes.format import Interaction
from pytest_dockerimages._cassettes.metadata import build_metadata
from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._http.server import Server

PROFILE = "docker-26.1"
VERSION_DOC = {"Version": "26.1.5+dfsg1", "ApiVersion": "1.45", "MinAPIVersion": "1.24", "Os": "linux"}
INFO = {"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"]]}


def _target(i: int) -> str:
    """A distinct listing request per i (a label filter), as a docker client sends it."""
    filters = json.dumps({"label": {f"n={i}": True}}, separators=(",", ":"))
    return "/v1.45/images/json?" + urllib.parse.urlencode({"filters": filters})


def _interaction(store: ImageStore, target: str) -> Interaction:
    """The fake's answer to `target`, as a recorder would have stored it."""
    response = respond(store, get_profile(PROFILE), Request("GET", target), time.time_ns())
    headers = tuple(response.headers) + ((("Transfer-Encoding", "chunked"),) if response.chunked else ())
    return Interaction(method="GET", target=target, request_headers=(("User-Agent", "bench"),), request_body=b"",
                       status=response.status, reason="OK", response_headers=headers, body=response.body)


def _cassette(store: ImageStore, count: int, body_target: str = "/v1.45/images/json") -> Cassette:
    """`count` interactions with distinct keys, each answered with `body_target`'s listing body."""
    template = _interaction(store, body_target)
    interactions = [template.__class__(**{**template.__dict__, "target": _target(i)}) for i in range(count - 1)]
    interactions.append(template)
    return Cassette(None, interactions, build_metadata(VERSION_DOC, INFO, "2026-01-01T00:00:00Z"))


def run(quick: bool) -> Result:
    load_size = 50 if quick else 1_000
    lookup_sizes = [10, 100] if quick else [10, 1_000, 10_000]
    latency_sizes = [6, 50] if quick else [6, 1_000]
    rounds = 3 if quick else 9
    result = Result("5. Replay: cassette load, matching, latency against the fake",
                    ["measure", "cassette", "median", "compared with"])
    small_store = ImageStore(default_images())

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        path = Path(tmp, "cassette.yaml")
        _cassette(small_store, load_size).save(path, mode="overwrite")
        size_kb = path.stat().st_size / 1024

        def load() -> None:
            ReplayBackend(Cassette.load(path))
        took = median_time(load, rounds=rounds)
        result.rows.append(["load + validate + index", f"{load_size:,} interactions ({size_kb:,.0f} KiB YAML)",
                            fmt_s(took), "target 0.5 s"])
        if not quick:
            result.checks.append(Check("loading a cassette of 1,000 interactions", took, 0.5, " s"))

    # All sizes measured round-robin, so a noisy phase of the machine hits each of them alike.
    lookup_calls = {}
    for n in lookup_sizes:
        backend = ReplayBackend(_cassette(small_store, n))
        request = Request("GET", _target(n // 2))
        assert backend.lookup(request) is not None
        lookup_calls[n] = (lambda b, r: lambda: b.lookup(r))(backend, request)
    inner = inner_for(lookup_calls[lookup_sizes[0]], cap=2000)
    lookups = interleaved(lookup_calls, rounds=rounds, inner=inner)
    for n in lookup_sizes:
        result.rows.append(["lookup (request -> canonical key, kept after its first use; + dict)",
                            f"{n:,} interactions", fmt_s(lookups[n]),
                            f"{lookups[n] / lookups[lookup_sizes[0]]:.2f}x the {lookup_sizes[0]}-interaction one"])
    if not quick:
        result.checks.append(Check("lookup with 10,000 interactions / with 10", lookups[10_000] / lookups[10], 1.5))

    for n in latency_sizes:
        images = default_images() if n == 6 else synthetic_images(n)
        store = ImageStore(images)
        cassette = _cassette(store, 10)
        path_ = "/v1.45/images/json"
        with FakeDaemon(images=images, profile=PROFILE) as fake, Server(ReplayBackend(cassette)) as replay, \
                KeepAliveClient(fake.docker_host) as to_fake, KeepAliveClient(replay.docker_host) as to_replay:
            fake_body, replay_body = to_fake.get(path_)[1], to_replay.get(path_)[1]
            assert fake_body == replay_body, "replay must answer the recorded body"
            inner = inner_for(lambda: to_fake.fetch(path_), cap=500)
            times = interleaved({"fake": lambda: to_fake.fetch(path_), "replay": lambda: to_replay.fetch(path_)},
                                rounds=rounds * 2, inner=inner)
        ratio = times["replay"] / times["fake"]
        result.rows.append(["replay latency (keep-alive, unix socket)", f"listing of {n:,} images",
                            fmt_s(times["replay"]), f"{ratio:.2f}x the fake's {fmt_s(times['fake'])}"])
        if not quick:
            result.checks.append(Check(f"replay latency / fake latency, {n:,} images", ratio, 1.2))
    return result
