"""The built-in image set: small but varied (tags, digests, labels, a parent chain, dangling and
digest-only images), served when no seed is given."""
from __future__ import annotations

from .model import Image

_L = "sha256:" + "0" * 56


def _layer(n: int, size: int) -> dict[str, object]:
    return {"digest": f"{_L}{n:08x}", "size": size}


def default_images() -> list[Image]:
    base = Image(tags=["example/base:1.0", "example/base:latest"], labels={"org.example.kind": "base", "tier": "base"},
                 created="2023-11-14T22:13:20Z", layers=[_layer(1, 7_340_032)],
                 digests=["localhost:5000/example/base@sha256:" + "b1" * 32])
    step = Image(labels={"org.example.kind": "base", "tier": "base"}, created="2024-01-02T03:04:05.123456789Z",
                 parent=base.id, layers=[_layer(1, 7_340_032), _layer(2, 1_024)])
    app = Image(tags=["example/app:1.2.3", "localhost:5000/example/app:1.2.3"],
                digests=["localhost:5000/example/app@sha256:" + "a1" * 32],
                labels={"org.example.kind": "app", "tier": "app", "maintainer": "team@example.invalid"},
                created="2024-01-02T03:04:06Z", parent=step.id,
                layers=[_layer(1, 7_340_032), _layer(2, 1_024), _layer(3, 52_428)], containers=["c" * 64])
    old_build = Image(labels={"org.example.kind": "app", "tier": "app"}, created="2024-01-01T10:00:00Z",
                      parent=step.id, layers=[_layer(1, 7_340_032), _layer(2, 1_024), _layer(4, 51_200)])
    pinned = Image(digests=["localhost:5000/example/pinned@sha256:" + "d1" * 32], labels=None,
                   created=0, layers=[_layer(5, 2_048)])
    tool = Image(tags=["tool:latest"], labels={"org.example.kind": "tool"}, created="2025-06-01T12:00:00Z",
                 layers=[_layer(6, 12_582_912)])
    return [base, step, app, old_build, pinned, tool]
