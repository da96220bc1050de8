"""A small store with one image of each kind the daemon treats differently, for table-driven tests."""
from __future__ import annotations

import json
from typing import Any

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.timestamps import NANOS
from pytest_dockerimages._core.wire import Request


def _layer(n: int, size: int) -> dict[str, Any]:
    return {"digest": "sha256:" + f"{n:064x}", "size": size}


BASE = Image(tags=["ex/base:1", "ex/base:latest"], labels={"tier": "base", "a": "1"},
             created="1970-01-01T00:16:40.500000000Z", layers=[_layer(1, 100)])
MID = Image(labels={"tier": "base"}, created=2000, parent=BASE.id, layers=[_layer(1, 100), _layer(2, 10)])
APP = Image(tags=["ex/app:1", "localhost:5000/ex/app:1"], digests=["localhost:5000/ex/app@sha256:" + "a" * 64],
            labels={"tier": "app", "a": "b=c"}, created=3000, parent=MID.id,
            layers=[_layer(1, 100), _layer(2, 10), _layer(3, 5)], containers=["c" * 64])
DANGLING = Image(labels={"tier": "app"}, created=2500, parent=MID.id, layers=[_layer(1, 100), _layer(2, 10), _layer(4, 7)])
PINNED = Image(digests=["localhost:5000/ex/pinned@sha256:" + "b" * 64], labels=None, created=0, layers=[_layer(5, 2)])
ALPINE = Image(tags=["alpine:3.19"], labels={"a": "1"}, created="1970-01-01T00:16:40.700000000Z", layers=[_layer(6, 3)])
EMPTY = Image(tags=["ex/empty:1"], labels={}, created=1500, size=0, layers=[])

IMAGES = {"base": BASE, "mid": MID, "app": APP, "dangling": DANGLING, "pinned": PINNED, "alpine": ALPINE,
          "empty": EMPTY}
NAMES = {image.id: name for name, image in IMAGES.items()}
STORE = ImageStore(IMAGES.values(), loaded_at_ns=4000 * NANOS)
NOW_NS = 5000 * NANOS


def get(profile: str, target: str, method: str = "GET", store: ImageStore = STORE) -> tuple[int, Any, dict[str, str]]:
    """One request through the pure daemon: (status, parsed body or text, headers)."""
    response = respond(store, get_profile(profile), Request(method, target), NOW_NS)
    headers = dict(response.headers)
    if headers.get("Content-Type") == "application/json":
        return response.status, json.loads(response.body), headers
    return response.status, response.body.decode(), headers


def names(body: list[dict[str, Any]]) -> list[str]:
    """The seeded names of the listed images, newest first."""
    return [NAMES[item["Id"]] for item in body]


def q(filters: dict[str, Any], **params: str) -> str:
    """An /images/json target with filters in the slice form (as docker-py sends)."""
    from urllib.parse import urlencode

    query = dict(params)
    if filters:
        query["filters"] = json.dumps(filters)
    return "/images/json" + ("?" + urlencode(query) if query else "")
