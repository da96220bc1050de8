"""2. Scale: 100 .. 100,000 images in the fake; cost per request against the bare serialisation.

For each size, one keep-alive client over the fake's unix socket asks for the plain listing
(warm: the store has answered it before), a label-filtered listing, and the plain listing on a
fresh store (cold: the first request after a change, caches empty). The reference is encoding
the same response body (as parsed JSON) with the fastest encoder available. All sizes stay up
together and are measured round-robin, so growth compares figures taken moments apart.
"""
from __future__ import annotations

import gc
import json
import statistics
from contextlib import ExitStack
from typing import Callable

from common import (
    Check,
    KeepAliveClient,
    Result,
    best_encoder,
    fmt_s,
    inner_for,
    one_round,
    paired_ratio,
    round_robin,
    synthetic_images,
)

from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.wire import Request, Response
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._http.server import Server


class _Constant:
    """A backend answering every request with one prebuilt response: what moving the body through
    the server, the socket and http.client costs, with no daemon logic at all."""

    def __init__(self, response: Response) -> None:
        self.response = response

    def handle(self, request: Request) -> Response:
        return self.response

PROFILES = ("docker-26.1", "docker-28.1-containerd")
KINDS = ("warm", "filtered warm", "cold", "filtered cold")


def _cold_sampler(daemon: FakeDaemon, images: list, client: KeepAliveClient, path: str,
                  repeats: int) -> Callable[[], float]:
    """One figure of the first request on a new store (every per-store cache empty): the median of
    `repeats` such requests. Building the store, and freeing the previous one with its caches,
    happen before the clock starts."""

    def sample() -> float:
        samples = []
        for _ in range(repeats):
            daemon.reset(images=images)
            samples.append(one_round(lambda: client.fetch(path), 1))
        return statistics.median(samples)

    return sample


def run(quick: bool) -> Result:
    sizes = [20, 200] if quick else [100, 1_000, 10_000, 100_000]
    encoder_name, encoder = best_encoder()
    result = Result("2. Scale: time per request by image count (keep-alive client, unix socket)",
                    ["profile", "images", "body", "plain (warm)", "label filter (warm)", "plain (cold)",
                     "label filter (cold)", "transport floor", f"encode only ({encoder_name})", "warm / encode"])
    all_images = synthetic_images(sizes[-1])
    warm_rounds, cold_rounds = (3, 3) if quick else (11, 9)
    for profile_name in PROFILES:
        api = get_profile(profile_name).api_max
        plain = f"/v{api}/images/json"
        filtered = f"/v{api}/images/json?filters=%7B%22label%22%3A%5B%22tier%3Dapp%22%5D%7D"
        with ExitStack() as stack:
            warm: dict[tuple[int, str], Callable[[], float]] = {}
            cold: dict[tuple[int, str], Callable[[], float]] = {}
            body_size: dict[int, int] = {}
            for n in sizes:
                images = all_images[:n]
                daemon = stack.enter_context(FakeDaemon(images=images, profile=profile_name))
                client = stack.enter_context(KeepAliveClient(daemon.docker_host))
                status, body = client.get(plain)
                assert status == 200, body[:200]
                assert client.get(filtered)[0] == 200
                body_size[n] = len(body)
                document = json.loads(body)
                constant = Response(200, [("Content-Type", "application/json")], body, chunked=True)
                server = stack.enter_context(Server(_Constant(constant)))
                bare = stack.enter_context(KeepAliveClient(server.docker_host))
                calls = {"warm": lambda c=client: c.fetch(plain),
                         "filtered warm": lambda c=client: c.fetch(filtered),
                         "floor": lambda b=bare: b.fetch(plain),
                         "encode": lambda d=document: encoder(d)}
                for kind, call in calls.items():
                    inner = inner_for(call)
                    warm[n, kind] = lambda call=call, inner=inner: one_round(call, inner)
                # A cold figure is one call, so small sizes take the median of several per round.
                repeats = 1 if quick else {100: 9, 1_000: 7, 10_000: 5}.get(n, 1)
                cold[n, "cold"] = _cold_sampler(daemon, images, client, plain, repeats)
                cold[n, "filtered cold"] = _cold_sampler(daemon, images, client, filtered, repeats)
            # Every size and kind round-robin: a noisy phase of the machine lands on all sizes alike,
            # and each growth figure is the median of per-round ratios of neighbouring sizes.
            # What is built so far lives until the end: frozen, the full collection each sample
            # starts with (one_round) skips its millions of objects instead of walking them.
            gc.collect()
            gc.freeze()
            try:
                samples = round_robin(warm, rounds=warm_rounds) | round_robin(cold, rounds=cold_rounds)
            finally:
                gc.unfreeze()
        median = {key: statistics.median(values) for key, values in samples.items()}
        for n in sizes:
            result.rows.append([profile_name, f"{n:,}", f"{body_size[n] / 1e6:.2f} MB",
                                *(fmt_s(median[n, kind]) for kind in KINDS),
                                fmt_s(median[n, "floor"]), fmt_s(median[n, "encode"]),
                                f"{paired_ratio(samples[n, 'warm'], samples[n, 'encode']):.2f}x"])
        if not quick:
            for kind in KINDS:
                steps = [paired_ratio(samples[big, kind], samples[small, kind])
                         for small, big in zip(sizes, sizes[1:], strict=False)]
                result.checks.append(Check(f"{profile_name} {kind}: worst growth per 10x images "
                                           f"({', '.join(f'{s:.1f}x' for s in steps)})", max(steps), 12.0))
            result.checks.append(Check(f"{profile_name} 10,000 images: whole request / encode only",
                                       paired_ratio(samples[10_000, "warm"], samples[10_000, "encode"]), 3.0))
    result.notes.append("warm = the store answered this listing before (listing bodies are memoised per store); "
                        "cold = the first request on a new store (select + encode every listed image); "
                        "label filter = label=tier=app; transport floor = the same body from a server whose "
                        "backend returns a prebuilt response; the client receives into one buffer it keeps "
                        "(benchmarks/common.py KeepAliveClient)")
    result.notes.append("all sizes and kinds of a profile are measured round-robin; cells are medians over rounds, "
                        "growth and warm / encode are medians of per-round ratios")
    return result
