"""7. Against plain vcrpy, for httpx over a unix socket.

The same interaction (one `GET /v1.45/images/json`, recorded from the fake) in one cassette
file, which both tools read (our cassettes are vcrpy's format):
* ours: the replay server on a unix socket, an `httpx.Client(transport=HTTPTransport(uds=...))`;
* ours in-process: `httpx.Client(transport=DockerImagesTransport(ReplayBackend(...)))`, which like
  vcrpy never reaches a socket (for httpx code; the CLI and Go need the server);
* vcrpy: `vcr.VCR(record_mode="none").use_cassette(file, allow_playback_repeats=True)`, which
  patches httpx so the request never reaches a socket.
Both time `client.get(url)` inside an open cassette; opening the cassette is timed apart.
"""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from bench_replay import _cassette
from common import Check, Result, fmt_s, inner_for, interleaved, one_round, synthetic_images

from pytest_dockerimages.backends.replay import ReplayBackend
from pytest_dockerimages.cassette import Cassette
from pytest_dockerimages.defaults import default_images
from pytest_dockerimages.httpx_transport import DockerImagesTransport
from pytest_dockerimages.model import ImageStore
from pytest_dockerimages.server import Server

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
                    ["listing", "ours (replay server)", "ours (in-process transport)", "vcrpy (patched httpx)",
                     "server / vcrpy", "in-process / vcrpy", "open cassette: ours", "open cassette: vcrpy"])
    for n in ([6] if quick else [6, 1_000]):
        store = ImageStore(default_images() if n == 6 else synthetic_images(n))
        with tempfile.TemporaryDirectory(prefix="bench-vcrpy-") as tmp:
            path = Path(tmp, "cassette.yaml")
            _cassette(store, 1).save(path, mode="overwrite")
            with Server(ReplayBackend(Cassette.load(path))) as server, \
                    httpx.Client(transport=httpx.HTTPTransport(uds=server.unix_path)) as ours, \
                    httpx.Client(transport=httpx.HTTPTransport(uds=server.unix_path)) as theirs, \
                    httpx.Client(transport=DockerImagesTransport(ReplayBackend(Cassette.load(path)))) as inproc:
                got = ours.get(URL)
                inner = inner_for(lambda: ours.get(URL), cap=300)
                recorder = vcr.VCR(record_mode="none")
                with recorder.use_cassette(str(path), allow_playback_repeats=True) as vcr_cassette:
                    expected = theirs.get(URL)
                    assert vcr_cassette.play_count == 1, "vcrpy must answer from its cassette"
                assert got.content == expected.content, "both must answer the recorded body"
                assert inproc.get(URL).content == got.content, "the in-process transport answers the same"
                # Round-robin, so a noisy phase of the machine hits all three alike. vcrpy's patch
                # is process-wide while its cassette is open, so it is opened (untimed) for its
                # own part of each round only.
                samples: dict[str, list[float]] = {"vcrpy": [], "ours": [], "inproc": []}
                for _ in range(rounds):
                    with recorder.use_cassette(str(path), allow_playback_repeats=True):
                        samples["vcrpy"].append(one_round(lambda: theirs.get(URL), inner))
                    samples["ours"].append(one_round(lambda: ours.get(URL), inner))
                    samples["inproc"].append(one_round(lambda: inproc.get(URL), inner))
                vcrpy_t, ours_t, inproc_t = (statistics.median(samples[k]) for k in ("vcrpy", "ours", "inproc"))

                def open_vcrpy() -> None:
                    with recorder.use_cassette(str(path), allow_playback_repeats=True):
                        pass
                open_times = interleaved({"ours": lambda: ReplayBackend(Cassette.load(path)),
                                          "vcrpy": open_vcrpy}, rounds=rounds)
        ratio, inproc_ratio = ours_t / vcrpy_t, inproc_t / vcrpy_t
        result.rows.append([f"{n:,} images ({len(expected.content) / 1024:,.0f} KiB)", fmt_s(ours_t), fmt_s(inproc_t),
                            fmt_s(vcrpy_t), f"{ratio:.2f}x", f"{inproc_ratio:.2f}x", fmt_s(open_times["ours"]),
                            fmt_s(open_times["vcrpy"])])
        if not quick:
            result.checks.append(Check(f"in-process transport / vcrpy per request, {n:,} images", inproc_ratio, 1.0))
    result.notes.append("the target compares like with like: vcrpy answers httpx in-process, and so does "
                        "DockerImagesTransport; the replay server column is a real HTTP exchange over a unix "
                        "socket (what the docker CLI, Go and other processes need), shown for what it adds")
    return result
