"""6. Schema validation: `schema.validate` on the summaries of 10,000 images."""
from __future__ import annotations

import json
import time

from common import Check, Result, fmt_s, median_time, synthetic_images

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._files import schema

PROFILES = ("docker-26.1", "docker-28.1-containerd")


def run(quick: bool) -> Result:
    n = 200 if quick else 10_000
    rounds = 3 if quick else 9
    result = Result(f"6. Schema validation of {n:,} image summaries (`schema.validate`)",
                    ["profile", "API", "strict", "first call (compiles)", "median", "per summary"])
    store = ImageStore(synthetic_images(n))
    worst = 0.0
    for profile_name in PROFILES:
        profile = get_profile(profile_name)
        api = profile.api_max
        document = json.loads(respond(store, profile, Request("GET", f"/v{api}/images/json?all=1"), 0).body)
        assert len(document) == n
        for strict in (False, True):
            t0 = time.perf_counter()
            problems = schema.validate("images-json", api, document, strict=strict)
            first = time.perf_counter() - t0
            assert problems == [], problems[:3]
            took = median_time(lambda: schema.validate("images-json", api, document, strict=strict), rounds=rounds)
            worst = max(worst, took)
            result.rows.append([profile_name, api, str(strict), fmt_s(first), fmt_s(took), fmt_s(took / n)])
    if not quick:
        result.checks.append(Check("validating 10,000 summaries, slowest case", worst * 1000, 100.0, " ms"))
    return result
