"""7. Against plain vcrpy, for httpx over a unix socket.

The same interaction (one `GET /v1.45/images/json`, recorded from the fake) in one cassette
file, which both tools read (our cassettes are vcrpy's format):
* ours: the replay server on a unix socket, an `httpx.Client(transport=HTTPTransport(uds=...))`;
* ours, `dockerimages_httpx`: the same client code as vcrpy's, an `httpx.Client` on
  `HTTPTransport(uds=...)` made while `answered_like(server)` routes that socket to the replay
  backend, so like vcrpy's the request never reaches the socket (the target compares this one);
* ours in-process: `httpx.Client(transport=DockerImagesTransport(ReplayBackend(...)))`, for code
  that takes a transport (the CLI and Go need the server);
* vcrpy: `vcr.VCR(record_mode="none").use_cassette(file, allow_playback_repeats=True)`, which
  patches httpx so the request never reaches a socket.
Both time `client.get(url)` inside an open cassette; opening the cassette is timed apart.
"""
from __future__ import annotations

import statistics
import tempfile
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from bench_replay import _cassette
from common import Check, Result, fmt_s, inner_for, interleaved, one_round, paired_ratio, round_robin, synthetic_images

from pytest_dockerimages._cassettes.cassette import Cassette
from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._http.httpx_intercept import answered_like
from pytest_dockerimages._http.httpx_transport import DockerImagesTransport
from pytest_dockerimages._http.server import Server

URL = "http://localhost/v1.45/images/json"


def run(quick: bool) -> Result:
    try:
        import httpx
        import vcr
    except ImportError as exc:
        return Result("7. Against plain vcrpy (httpx, unix socket)", [], skipped=f"{exc.name} is not installed")
    import logging

    logging.getLogger("vcr").setLevel(logging.WARNING)
    rounds = 3 if quick else 11
    result = Result("7. Against plain vcrpy (httpx, unix socket): time per request, same cassette file",
                    ["listing", "vcrpy (patched httpx)", "ours: dockerimages_httpx (same client code)",
                     "ours: in-process transport", "ours: replay server (socket)", "dockerimages_httpx / vcrpy",
                     "transport / vcrpy", "server / vcrpy", "open cassette: ours", "open cassette: vcrpy"])
    for n in ([6] if quick else [6, 1_000]):
        store = ImageStore(default_images() if n == 6 else synthetic_images(n))
        with tempfile.TemporaryDirectory(prefix="bench-vcrpy-") as tmp:
            path = Path(tmp, "cassette.yaml")
            _cassette(store, 1).save(path, mode="overwrite")
            with Server(ReplayBackend(Cassette.load(path))) as server, \
                    httpx.Client(transport=httpx.HTTPTransport(uds=server.unix_path)) as ours, \
                    httpx.Client(transport=httpx.HTTPTransport(uds=server.unix_path)) as theirs, \
                    httpx.Client(transport=DockerImagesTransport(ReplayBackend(Cassette.load(path)))) as inproc:
                with answered_like(server):  # the code under test's client, made while dockerimages_httpx is on
                    intercepted = httpx.Client(transport=httpx.HTTPTransport(uds=server.unix_path))
                got = ours.get(URL)
                inner = inner_for(lambda: ours.get(URL), cap=300)
                recorder = vcr.VCR(record_mode="none")
                with recorder.use_cassette(str(path), allow_playback_repeats=True) as vcr_cassette:
                    expected = theirs.get(URL)
                    assert vcr_cassette.play_count == 1, "vcrpy must answer from its cassette"
                assert got.content == expected.content, "both must answer the recorded body"
                assert inproc.get(URL).content == got.content, "the in-process transport answers the same"
                with answered_like(server):
                    assert intercepted.get(URL).content == got.content, "dockerimages_httpx answers the same"

                def timed(client: httpx.Client, patch: AbstractContextManager[Any] | None = None) -> float:
                    """One round of `client.get`. vcrpy's patch and ours are process-wide while active,
                    so each is entered (untimed) for its own part of the round only."""
                    with patch or nullcontext():
                        return one_round(lambda: client.get(URL), inner)

                # Round-robin, so a noisy phase of the machine hits all four alike.
                samples = round_robin({
                    "vcrpy": lambda: timed(theirs, recorder.use_cassette(str(path), allow_playback_repeats=True)),
                    "httpx": lambda: timed(intercepted, answered_like(server)),
                    "inproc": lambda: timed(inproc),
                    "server": lambda: timed(ours)}, rounds=rounds)
                intercepted.close()
                median = {kind: statistics.median(values) for kind, values in samples.items()}
                ratio = {kind: paired_ratio(samples[kind], samples["vcrpy"]) for kind in ("httpx", "inproc", "server")}

                def open_vcrpy() -> None:
                    with recorder.use_cassette(str(path), allow_playback_repeats=True):
                        pass
                open_times = interleaved({"ours": lambda: ReplayBackend(Cassette.load(path)),
                                          "vcrpy": open_vcrpy}, rounds=rounds)
        result.rows.append([f"{n:,} images ({len(expected.content) / 1024:,.0f} KiB)",
                            *(fmt_s(median[kind]) for kind in ("vcrpy", "httpx", "inproc", "server")),
                            *(f"{ratio[kind]:.2f}x" for kind in ("httpx", "inproc", "server")),
                            fmt_s(open_times["ours"]), fmt_s(open_times["vcrpy"])])
        if not quick:
            result.checks.append(Check(f"dockerimages_httpx / vcrpy per request, {n:,} images", ratio["httpx"], 1.0))
    result.notes.append("dockerimages_httpx and vcrpy run the same client code, an httpx.Client on "
                        "HTTPTransport(uds=...): each patches httpx so the request never reaches the socket; "
                        "the in-process transport is DockerImagesTransport handed to httpx.Client; the replay "
                        "server column is a real HTTP exchange over a unix socket (what the docker CLI, Go and "
                        "other processes need), shown for what it adds; ratios are medians of per-round ratios")
    return result
