"""8. The docker SDK in-process: `DockerImagesAdapter` (a requests transport adapter) against the
unix socket the SDK uses by default.

Two `docker.APIClient`s on the same server (the fake, and the replay server of a cassette holding
the same listing): one as the SDK comes (`UnixHTTPAdapter`, a keep-alive connection to the
socket), one with `DockerImagesAdapter(server's backend)` mounted, so requests go straight to the
backend. Both time `client.get(url).content` for `GET /v1.45/images/json`; the bodies are
checked byte-identical first. Rounds are taken round-robin and the ratio is the median of the
per-round ratios.
"""
from __future__ import annotations

import statistics
from typing import Any

from bench_replay import _cassette
from common import Check, Result, fmt_s, inner_for, one_round, paired_ratio, round_robin, synthetic_images

from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._http.requests_adapter import DockerImagesAdapter
from pytest_dockerimages._http.server import Server

TARGET = "/v1.45/images/json"


def run(quick: bool) -> Result:
    try:
        import docker
    except ImportError as exc:
        return Result("8. docker SDK: in-process adapter vs unix socket", [], skipped=f"{exc.name} is not installed")
    rounds = 3 if quick else 11
    result = Result("8. docker SDK (requests): in-process adapter vs unix socket, time per request",
                    ["listing", "backend", "socket (UnixHTTPAdapter)", "in-process (DockerImagesAdapter)",
                     "in-process / socket"])
    for n in ([6] if quick else [6, 1_000]):
        images = default_images() if n == 6 else synthetic_images(n)
        with FakeDaemon(images=images, profile="docker-26.1") as fake, \
                Server(ReplayBackend(_cassette(ImageStore(images), 10))) as replay:
            for name, server in (("fake", fake.server), ("cassette", replay)):
                socket_client = docker.APIClient(base_url=server.docker_host, version="1.45")
                local = DockerImagesAdapter(server.backend).mount(
                    docker.APIClient(base_url=server.docker_host, version="1.45"))
                url = socket_client.base_url + TARGET

                def fetch(client: Any) -> bytes:
                    return bytes(client.get(url).content)

                body = fetch(socket_client)
                assert fetch(local) == body, "both paths must answer the same bytes"
                inner = inner_for(lambda: fetch(socket_client), cap=300)
                samples = round_robin({"socket": lambda: one_round(lambda: fetch(socket_client), inner),
                                       "local": lambda: one_round(lambda: fetch(local), inner)}, rounds=rounds)
                socket_client.close()
                local.close()
                ratio = paired_ratio(samples["local"], samples["socket"])
                result.rows.append([f"{n:,} images ({len(body) / 1024:,.0f} KiB)", name,
                                    fmt_s(statistics.median(samples["socket"])),
                                    fmt_s(statistics.median(samples["local"])), f"{ratio:.2f}x"])
                if not quick:
                    result.checks.append(Check(f"in-process / socket per request, {name}, {n:,} images", ratio, 1.0))
    result.notes.append("the same client code (docker.APIClient.get); the adapter skips the socket, the HTTP "
                        "framing on both sides and the server thread; ratios are medians of per-round ratios")
    return result
