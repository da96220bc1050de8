"""Where a cold listing's time goes, and how each part grows with the image count.

    python benchmarks/profile_scale.py [--profile docker-26.1] [--sizes 10000 100000] [--top 15]
                                       [--query 'filters={"label":["tier=app"]}']

Profiles the first `GET /images/json` on a new store (in-process `respond`, no socket) at two
sizes, and prints the functions whose time grows most beyond linear: their own time at each
size, the growth, and the excess over 10x. A part that is superlinear by algorithm (a sort, a
quadratic loop) stands out; growth spread evenly over everything is the memory hierarchy.
Not a benchmark (no targets); `run.py` does not run it.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import time
from urllib.parse import quote

from common import synthetic_images

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.wire import Request

FunctionKey = tuple[str, int, str]


def _profile_once(images: list[Image], profile_name: str, query: str) -> tuple[float, dict[FunctionKey, float]]:
    """Wall time of one cold listing (unprofiled), and own time per function (profiled, another store)."""
    profile = get_profile(profile_name)
    request = Request("GET", f"/v{profile.api_max}/images/json" + (f"?{quote(query, safe='=&')}" if query else ""))
    gc.collect()
    gc.disable()
    try:
        store = ImageStore(images)
        t0 = time.perf_counter()
        respond(store, profile, request, 0)
        wall = time.perf_counter() - t0
        store = ImageStore(images)
        profiler = cProfile.Profile()
        profiler.runcall(respond, store, profile, request, 0)
    finally:
        gc.enable()
    own = {(path.rsplit("/", 1)[-1], line, name): stats[2]
           for (path, line, name), stats in pstats.Stats(profiler).stats.items()}  # type: ignore[attr-defined]
    return wall, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="docker-26.1")
    parser.add_argument("--sizes", nargs=2, type=int, default=[10_000, 100_000], metavar="N")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--query", default="", help="the listing's query string, unescaped")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    small, large = args.sizes
    images = synthetic_images(large)
    walls: dict[int, float] = {}
    own: dict[int, dict[FunctionKey, float]] = {}
    for n in (small, large):
        samples = [_profile_once(images[:n], args.profile, args.query) for _ in range(args.rounds)]
        walls[n] = statistics.median(wall for wall, _ in samples)
        keys = {key for _, times in samples for key in times}
        own[n] = {key: statistics.median(times.get(key, 0.0) for _, times in samples) for key in keys}
    scale = large / small
    print(f"{args.profile}: cold listing {walls[small] * 1e3:.1f} ms at {small:,} images, "
          f"{walls[large] * 1e3:.1f} ms at {large:,} ({walls[large] / walls[small]:.1f}x for {scale:g}x images)")
    rows = sorted(((own[large].get(key, 0.0) - scale * t, key, t, own[large].get(key, 0.0))
                   for key, t in own[small].items()), reverse=True)
    print(f"{'function':40} {'own time':>10} {'own time':>10} {'growth':>7} {'excess':>9}")
    print(f"{'':40} {f'{small:,}':>10} {f'{large:,}':>10}")
    for excess, (path, line, name), t_small, t_large in rows[:args.top]:
        growth = f"{t_large / t_small:.1f}x" if t_small else "-"
        print(f"{f'{name[:24]} {path}:{line}':40} {t_small * 1e3:8.2f}ms {t_large * 1e3:8.1f}ms {growth:>7} "
              f"{excess * 1e3:7.1f}ms")


if __name__ == "__main__":
    main()
