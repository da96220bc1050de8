"""The standard request matrix: what `dockerimages record --matrix standard` sends to a daemon.

Data only. ``STANDARD`` holds ``(method, target)`` templates; ``{api}`` is the daemon's own API
version (what the docker CLI and the docker SDK negotiate) and ``{registry}`` the host of the
local registry the image set was pushed to. :func:`standard_matrix` fills them in. Targets are
percent-encoded the way clients send them (Go's ``url.Values.Encode`` for the CLI forms).

``CLI_COMMANDS`` and ``SDK_CALLS`` are the docker CLI commands and docker SDK ``APIClient`` calls
that `scripts/record_cassettes.py` also runs through the recording proxy, so the cassettes hold
exactly what those clients send; `tests/test_replay_clients.py` replays the same list.
"""
from __future__ import annotations

import json
import urllib.parse
from typing import Any

__all__ = ["STANDARD", "VERSIONED", "CLI_COMMANDS", "SDK_CALLS", "standard_matrix", "images_json", "MATRICES"]


def _filters(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def images_json(prefix: str = "", /, **params: Any) -> str:
    """``{prefix}/images/json?...`` with params encoded as url.Values.Encode does (``+`` for spaces,
    everything but unreserved characters escaped); ``filters`` may be given as a dict/list value."""
    pairs = []
    for key, value in params.items():
        key = key.replace("_", "-") if key == "shared_size" else key
        if key == "filters" and not isinstance(value, str):
            value = _filters(value)
        pairs.append((key, str(value)))
    query = urllib.parse.urlencode(pairs)
    return f"{prefix}/images/json" + (f"?{query}" if query else "")


# (method, target) templates, unversioned requests first: the daemon answers them at its own API version.
STANDARD: tuple[tuple[str, str], ...] = (
    ("HEAD", "/_ping"),
    ("GET", "/_ping"),
    ("GET", "/version"),
    ("HEAD", "/v{api}/_ping"),
    ("GET", "/v{api}/_ping"),
    ("GET", "/v{api}/version"),
    # plain and flags
    ("GET", images_json()),
    ("GET", images_json(all=1)),
    ("GET", images_json(all="true")),
    ("GET", images_json(**{"shared-size": 1})),
    ("GET", images_json(all=1, **{"shared-size": 1})),
    ("GET", images_json(digests=1)),
    ("GET", images_json(manifests=1)),
    # dangling, both JSON forms
    ("GET", images_json(filters={"dangling": {"true": True}})),
    ("GET", images_json(filters={"dangling": ["true"]})),
    ("GET", images_json(filters={"dangling": {"false": True}})),
    ("GET", images_json(filters={"dangling": ["false"]})),
    ("GET", images_json(all=1, filters={"dangling": {"true": True}})),
    # labels
    ("GET", images_json(filters={"label": {"org.example.kind": True}})),
    ("GET", images_json(filters={"label": {"org.example.kind=built": True}})),
    ("GET", images_json(filters={"label": {"a=b": True, "org.example.kind=imported": True}})),
    ("GET", images_json(filters={"label": {"org.example.kind!=built": True}})),
    ("GET", images_json(filters={"label!": {"org.example.kind": True}})),
    # references
    ("GET", images_json(filters={"reference": {"example/loaded": True}})),
    ("GET", images_json(filters={"reference": {"example/loaded:app": True}})),
    ("GET", images_json(filters={"reference": {"example/*": True}})),
    ("GET", images_json(filters={"reference": {"example/*:1.0": True}})),
    ("GET", images_json(filters={"reference": {"*/example/*": True}})),
    ("GET", images_json(filters={"reference": {"example/tiny": True, "example/built": True}})),
    ("GET", images_json(filters={"reference": {"{registry}/example/tiny": True}})),
    ("GET", images_json(filters={"reference": {"nothing/here": True}})),
    # before / since / until
    ("GET", images_json(filters={"before": {"example/tiny:1.0": True}})),
    ("GET", images_json(filters={"since": {"example/loaded:base": True}})),
    ("GET", images_json(all=1, filters={"since": {"example/loaded:base": True}})),
    ("GET", images_json(filters={"until": {"2024-01-01T00:00:00Z": True}})),
    ("GET", images_json(filters={"until": {"1704067200": True}})),
    ("GET", images_json(filters={"until": {"876000h": True}})),
    # combined
    ("GET", images_json(filters={"dangling": {"true": True}, "label": {"org.example.kind=built": True}})),
    # error cases
    ("GET", images_json(filters={"nope": {"x": True}})),
    ("GET", images_json(filters="{bad")),
    ("GET", images_json(filters={"dangling": {"maybe": True}})),
    ("GET", images_json(filters={"before": {"no/such:image": True}})),
    ("GET", images_json(filter="example/loaded")),
    # the docker CLI's form (map-of-bool filters) and docker-py's (slice filters, only_ids=0&all=0)
    ("GET", images_json("/v{api}")),
    ("GET", images_json("/v{api}", all=1)),
    ("GET", images_json("/v{api}", filters={"dangling": {"true": True}})),
    ("GET", images_json("/v{api}", filters={"reference": {"example/loaded": True}})),
    ("GET", images_json("/v{api}", filters={"label": {"org.example.kind=built": True}})),
    ("GET", images_json("/v{api}", only_ids=0, all=0)),
    ("GET", images_json("/v{api}", only_ids=0, all=1)),
    ("GET", images_json("/v{api}", only_ids=0, all=0, filters={"dangling": ["true"]})),
    ("GET", images_json("/v{api}", only_ids=0, all=0, filters={"reference": ["example/loaded"]})),
    ("GET", images_json("/v{api}", only_ids=0, all=0, filters={"label": ["org.example.kind=built"]})),
)

#: Every version in VERSIONED gets a plain, an all+shared-size and a legacy-filter request.
VERSIONED: tuple[str, ...] = ("1.12", "1.24", "1.40", "1.41", "1.42", "1.43", "1.44", "1.45", "1.46")


def _versioned() -> list[tuple[str, str]]:
    out = []
    for v in VERSIONED:
        prefix = f"/v{v}"
        out += [("GET", images_json(prefix)), ("GET", images_json(prefix, all=1, **{"shared-size": 1})),
                ("GET", images_json(prefix, filter="example/loaded"))]
    return out


def standard_matrix(api_version: str, registry: str = "localhost:5000") -> list[tuple[str, str]]:
    """The matrix for one daemon: templates filled in (the registry part is percent-encoded)."""
    encoded_registry = urllib.parse.quote_plus(registry)
    out = []
    for method, template in (*STANDARD, *_versioned()):
        target = template.replace("{api}", api_version)
        # {registry} sits inside an already encoded filters value
        target = target.replace(urllib.parse.quote_plus("{registry}"), encoded_registry)
        out.append((method, target))
    return out


MATRICES = {"standard": standard_matrix}

#: docker CLI commands (arguments after `docker`); each runs through the proxy while recording.
CLI_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}} {{.Digest}}"),
    ("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}} {{.Digest}}"),
    ("images", "-q", "--no-trunc"),
    ("images", "-q", "--no-trunc", "--filter", "dangling=true"),
    ("images", "-q", "--no-trunc", "--filter", "label=org.example.kind=built"),
    ("images", "-q", "--no-trunc", "--filter", "reference=example/*"),
    ("images", "-q", "--no-trunc", "--filter", "before=example/tiny:1.0"),
    ("images", "-q", "--no-trunc", "example/loaded"),
)

#: docker SDK ``APIClient`` calls: (method name, kwargs).
SDK_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("images", {}),
    ("images", {"all": True}),
    ("images", {"quiet": True}),
    ("images", {"filters": {"dangling": True}}),
    ("images", {"filters": {"label": "org.example.kind=built"}}),
    ("images", {"name": "example/loaded"}),
)
