"""2. Scale: 100 .. 100,000 images in the fake; cost per request against the bare serialisation.

For each size, one keep-alive client over the fake's unix socket asks for the plain listing
(warm: the store has answered it before), a label-filtered listing, and the plain listing on a
fresh store (cold: the first request after a change, caches empty). The reference is encoding
the same response body (as parsed JSON) with the fastest encoder available.
"""
from __future__ import annotations

import json

from common import (
    Check,
    KeepAliveClient,
    Result,
    best_encoder,
    fmt_s,
    inner_for,
    interleaved,
    median_setup_time,
    median_time,
    synthetic_images,
)

from pytest_dockerimages.fakedaemon import FakeDaemon
from pytest_dockerimages.profiles import get_profile
from pytest_dockerimages.server import Server
from pytest_dockerimages.wire import Request, Response


class _Constant:
    """A backend answering every request with one prebuilt response: what moving the body through
    the server, the socket and http.client costs, with no daemon logic at all."""

    def __init__(self, response: Response) -> None:
        self.response = response

    def handle(self, request: Request) -> Response:
        return self.response

PROFILES = ("docker-26.1", "docker-28.1-containerd")


def run(quick: bool) -> Result:
    sizes = [20, 200] if quick else [100, 1_000, 10_000, 100_000]
    encoder_name, encoder = best_encoder()
    result = Result("2. Scale: time per request by image count (keep-alive client, unix socket)",
                    ["profile", "images", "body", "plain (warm)", "label filter (warm)", "plain (cold)",
                     "label filter (cold)", "transport floor", f"encode only ({encoder_name})", "warm / encode"])
    all_images = synthetic_images(sizes[-1])
    for profile_name in PROFILES:
        api = get_profile(profile_name).api_max
        plain = f"/v{api}/images/json"
        filtered = f"/v{api}/images/json?filters=%7B%22label%22%3A%5B%22tier%3Dapp%22%5D%7D"
        times: dict[str, list[float]] = {"warm": [], "filtered warm": [], "cold": [], "filtered cold": []}
        ratio_at: dict[int, float] = {}
        for n in sizes:
            images = all_images[:n]
            big = n >= 10_000
            rounds = 3 if quick else (7 if n >= 100_000 else 11)
            # A cold request is one call per round, so small sizes get more rounds to steady the median.
            cold_rounds = 3 if quick else (5 if n >= 100_000 else (7 if big else 21))
            with FakeDaemon(images=images, profile=profile_name) as daemon, \
                    KeepAliveClient(daemon.docker_host) as client:
                status, body = client.get(plain)
                assert status == 200, body[:200]
                assert client.get(filtered)[0] == 200
                document = json.loads(body)
                constant = Response(200, [("Content-Type", "application/json")], body, chunked=True)
                with Server(_Constant(constant)) as server, KeepAliveClient(server.docker_host) as bare:
                    # Round-robin, so a noisy phase of the machine hits the fake and the floor alike.
                    measured = interleaved({"warm": lambda: client.fetch(plain),
                                            "filtered warm": lambda: client.fetch(filtered),
                                            "floor": lambda: bare.fetch(plain)},
                                           rounds=rounds, inner=inner_for(lambda: client.fetch(plain)))
                floor = measured.pop("floor")

                def cold_time(path: str) -> float:
                    """The first request on a new store (every per-store cache empty). Building the
                    store, and freeing the previous one with its caches, happen before the clock starts."""
                    return median_setup_time(lambda: daemon.reset(images=images), lambda: client.fetch(path),
                                             rounds=cold_rounds)

                measured["cold"] = cold_time(plain)
                measured["filtered cold"] = cold_time(filtered)
            enc = median_time(lambda: encoder(document), rounds=rounds, inner=inner_for(lambda: encoder(document)))
            for kind, seconds in measured.items():
                times[kind].append(seconds)
            ratio_at[n] = measured["warm"] / enc
            result.rows.append([profile_name, f"{n:,}", f"{len(body) / 1e6:.2f} MB", fmt_s(measured["warm"]),
                                fmt_s(measured["filtered warm"]), fmt_s(measured["cold"]),
                                fmt_s(measured["filtered cold"]), fmt_s(floor), fmt_s(enc),
                                f"{measured['warm'] / enc:.2f}x"])
        if not quick:
            for kind, series in times.items():
                steps = [series[i + 1] / series[i] for i in range(len(series) - 1)]
                result.checks.append(Check(f"{profile_name} {kind}: worst growth per 10x images "
                                           f"({', '.join(f'{s:.1f}x' for s in steps)})", max(steps), 12.0))
            result.checks.append(Check(f"{profile_name} 10,000 images: whole request / encode only",
                                       ratio_at[10_000], 3.0))
    result.notes.append("warm = the store answered this listing before (listing bodies are memoised per store); "
                        "cold = the first request on a new store (select + encode every listed image); "
                        "label filter = label=tier=app; transport floor = the same body from a server whose "
                        "backend returns a prebuilt response; the client receives into one buffer it keeps "
                        "(benchmarks/common.py KeepAliveClient)")
    return result
