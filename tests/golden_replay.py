"""Shared by the golden tests: replay a captured interaction through the model and compare."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._core.timestamps import NANOS
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._files.seed import parse_seed

GOLDEN = Path(__file__).parent / "golden"
PROFILES = ("docker-20.10", "docker-26.1", "docker-26.1-containerd", "docker-28.1", "docker-28.1-containerd", "docker-28.5",
            "docker-28.5-containerd", "docker-29.7", "docker-29.7-containerd")


def load(profile: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{profile}.json").read_text())


def known_differences() -> dict[tuple[str, str], str]:
    import yaml

    rows = yaml.safe_load((GOLDEN / "known-differences.yaml").read_text()) or []
    return {(row["profile"], row["request"]): row["reason"] for row in rows}


def order_free(body: Any) -> Any:
    """Images with equal Created come back in no fixed order from a real daemon."""
    if isinstance(body, list) and all(isinstance(i, dict) and "Created" in i for i in body):
        return sorted(body, key=lambda i: (-i["Created"], i["Id"]))
    return body


def replay(golden: dict[str, Any], interaction: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    seed = parse_seed(golden["seed"], f"golden {golden['profile']}")
    now = interaction["now"] * NANOS
    store = ImageStore(seed.images, loaded_at_ns=now - 60 * NANOS)
    response = respond(store, get_profile(golden["profile"]), Request(interaction["method"], interaction["path"]), now)
    headers = {k: v for k, v in response.headers}
    if response.chunked:
        headers["Transfer-Encoding"] = "chunked"
    return response.status, headers, response.body


def differences(golden: dict[str, Any], interaction: dict[str, Any]) -> list[str]:
    """Readable differences between the daemon's answer and the model's; empty when they agree."""
    status, headers, body = replay(golden, interaction)
    problems = []
    if status != interaction["status"]:
        problems.append(f"status: daemon {interaction['status']}, model {status}")
    for key, value in interaction["headers"].items():
        if headers.get(key) != value:
            problems.append(f"header {key}: daemon {value!r}, model {headers.get(key)!r}")
    for key in headers:
        if key not in interaction["headers"] and key != "Content-Length":
            problems.append(f"header {key}: daemon sends none, model {headers[key]!r}")
    expected_text = interaction["body"]
    if "json" in interaction["headers"].get("Content-Type", ""):
        expected, actual = order_free(json.loads(expected_text)), order_free(json.loads(body))
        if expected != actual:
            problems.append("body:\n  daemon " + json.dumps(expected) + "\n  model  " + json.dumps(actual))
        elif body != json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode() + b"\n":
            problems.append("body encoding: expected compact JSON with a trailing newline")
    elif body.decode() != expected_text:
        problems.append(f"body: daemon {expected_text!r}, model {body.decode()!r}")
    return problems
