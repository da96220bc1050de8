"""The standard request matrix: what `dockerimages record --matrix standard` sends to a daemon.

Data only. ``STANDARD`` holds ``(method, target)`` templates; ``{api}`` is the daemon's own API
version (what the docker CLI and the docker SDK negotiate) and ``{registry}`` the host of the
local registry the image set was pushed to. :func:`standard_matrix` fills them in. Targets are
percent-encoded the way clients send them (Go's ``url.Values.Encode`` for the CLI forms).
``PRUNE`` (:func:`prune_matrix`, only with ``--include-prune``) changes the daemon's images, so it is
sent last, each prune followed by the listings that show what it did.

``CLI_COMMANDS`` and ``SDK_CALLS`` are the docker CLI commands and docker SDK ``APIClient`` calls
that `scripts/record_cassettes.py` also runs through the recording proxy, so the cassettes hold
exactly what those clients send; `tests/test_replay_clients.py` replays the same list. The
``*_PRUNE_*`` ones change the daemon: the script runs them after everything else, each followed by
the client's ``*_LISTINGS``.
"""
from __future__ import annotations

import json
import urllib.parse
from typing import Any, Iterable

__all__ = ["STANDARD", "VERSIONED", "PRUNE", "CLI_COMMANDS", "SDK_CALLS", "CLI_PRUNE_COMMANDS", "SDK_PRUNE_CALLS",
           "CLI_LISTINGS", "SDK_LISTINGS", "standard_matrix", "prune_matrix", "images_json", "image_history",
           "images_prune", "MATRICES"]


def _filters(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def images_json(prefix: str = "", /, **params: Any) -> str:
    """``{prefix}/images/json?...`` with params encoded as url.Values.Encode does (``+`` for spaces,
    everything but unreserved characters escaped); ``filters`` may be given as a dict/list value."""
    return f"{prefix}/images/json" + _query({key.replace("_", "-") if key == "shared_size" else key: value
                                             for key, value in params.items()})


def _query(params: dict[str, Any]) -> str:
    """Encoded as url.Values.Encode does; a value that is not a string is sent as compact JSON (1, a filters dict)."""
    pairs = [(key, value if isinstance(value, str) else _filters(value)) for key, value in params.items()]
    return "?" + urllib.parse.urlencode(pairs) if pairs else ""


def image_history(prefix: str, name: str, /, **params: Any) -> str:
    """``{prefix}/images/{name}/history?...``; a ``platform`` dict is sent as the CLI sends it (compact JSON)."""
    return f"{prefix}/images/{name}/history" + _query(params)


def images_prune(prefix: str, /, **params: Any) -> str:
    """``{prefix}/images/prune?...``; ``filters`` may be given as a dict/list value."""
    return f"{prefix}/images/prune" + _query(params)


AMD64 = {"architecture": "amd64", "os": "linux"}  # the docker CLI's --platform linux/amd64, in its key order

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
    # image history: by tag (every image by id follows the matrix), a build's ancestors, a missing image
    ("GET", image_history("", "example/loaded:app")),
    ("GET", image_history("/v{api}", "example/loaded:app")),
    ("GET", image_history("/v{api}", "example/built:1")),
    ("GET", image_history("/v{api}", "example/tiny:latest")),
    ("GET", image_history("/v{api}", "no/such:image")),
    # ... the platform parameter (API 1.48+ on Docker 28+; ignored before): the CLI's JSON, the same with
    # other key order and spaces, a platform the image lacks, bad JSON
    ("GET", image_history("/v{api}", "example/loaded:app", platform=AMD64)),
    ("GET", image_history("/v{api}", "example/loaded:app",
                          platform=json.dumps({"os": "linux", "architecture": "amd64"}))),
    ("GET", image_history("/v{api}", "example/multi:1", platform={"architecture": "arm64", "os": "linux"})),
    ("GET", image_history("/v{api}", "example/loaded:app", platform="{bad")),
    # system df: plain (what the CLI, -v or not, and the SDK send), sections by type (API 1.42+, in any
    # order), an unknown type, Docker 29's verbose (API 1.52+)
    ("GET", "/system/df"),
    ("GET", "/v{api}/system/df"),
    ("GET", "/v{api}/system/df?type=image"),
    ("GET", "/v{api}/system/df?type=container&type=image"),
    ("GET", "/v{api}/system/df?type=image&type=container"),
    ("GET", "/v{api}/system/df?type=volume&type=build-cache"),
    ("GET", "/v{api}/system/df?type=nope"),
    ("GET", "/v{api}/system/df?verbose=1"),
    ("GET", "/v{api}/system/df?type=image&verbose=1"),
    # ... at the versions older clients speak: type is ignored below 1.42, Docker 29 sorts keys below 1.44
    ("GET", "/v1.41/system/df"),
    ("GET", "/v1.41/system/df?type=image"),
    ("GET", "/v1.43/system/df"),
)

#: POST /images/prune, only with --include-prune (it DELETES images), after everything else: a refused
#: filter, then docker-py's images.prune() (no filters), the CLI's `image prune -f` and
#: `image prune -a -f --filter label=...`, each followed by the listings that show what it did.
PRUNE: tuple[tuple[str, str], ...] = (
    ("POST", images_prune("/v{api}", filters={"nope": {"x": True}})),
    ("POST", images_prune("/v{api}")),
    ("GET", images_json("/v{api}")),
    ("GET", images_json("/v{api}", all=1)),
    ("POST", images_prune("/v{api}", filters={"dangling": {"true": True}})),
    ("GET", images_json("/v{api}")),
    ("GET", images_json("/v{api}", all=1)),
    ("POST", images_prune("/v{api}", filters={"dangling": {"false": True},
                                              "label": {"org.example.kind=imported": True}})),
    ("GET", images_json("/v{api}")),
    ("GET", images_json("/v{api}", all=1)),
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


def _filled(templates: Iterable[tuple[str, str]], api_version: str, registry: str) -> list[tuple[str, str]]:
    encoded_registry = urllib.parse.quote_plus(registry)
    out = []
    for method, template in templates:
        target = template.replace("{api}", api_version)
        # {registry} sits inside an already encoded filters value
        target = target.replace(urllib.parse.quote_plus("{registry}"), encoded_registry)
        out.append((method, target))
    return out


def standard_matrix(api_version: str, registry: str = "localhost:5000") -> list[tuple[str, str]]:
    """The matrix for one daemon: templates filled in (the registry part is percent-encoded)."""
    return _filled((*STANDARD, *_versioned()), api_version, registry)


def prune_matrix(api_version: str, registry: str = "localhost:5000") -> list[tuple[str, str]]:
    """The prunes for one daemon (and the listings after each): what --include-prune adds, last."""
    return _filled(PRUNE, api_version, registry)


MATRICES = {"standard": standard_matrix}

#: the docker CLI's templates: absolute times only, so a live run and its replay print the same
FMT = "{{.ID}} {{.Repository}}:{{.Tag}} {{.Digest}}"
HISTORY_FMT = "{{.ID}} {{.CreatedAt}} {{.Size}} {{.CreatedBy}}"
DF_IMAGES_FMT = "{{range .Images}}{{.ID}} {{.Containers}} {{.Size}} {{.SharedSize}} {{.UniqueSize}}\n{{end}}"

#: docker CLI commands (arguments after `docker`); each runs through the proxy while recording.
CLI_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("images", "--no-trunc", "--format", FMT),
    ("images", "-a", "--no-trunc", "--format", FMT),
    ("images", "-q", "--no-trunc"),
    ("images", "-q", "--no-trunc", "--filter", "dangling=true"),
    ("images", "-q", "--no-trunc", "--filter", "label=org.example.kind=built"),
    ("images", "-q", "--no-trunc", "--filter", "reference=example/*"),
    ("images", "-q", "--no-trunc", "--filter", "before=example/tiny:1.0"),
    ("images", "-q", "--no-trunc", "example/loaded"),
    ("image", "history", "--no-trunc", "--format", HISTORY_FMT, "example/loaded:app"),
    ("image", "history", "--no-trunc", "--format", HISTORY_FMT, "example/built:1"),
    ("system", "df"),
    ("system", "df", "-v", "--format", DF_IMAGES_FMT),
)

#: docker SDK ``APIClient`` calls: (method name, kwargs).
SDK_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("images", {}),
    ("images", {"all": True}),
    ("images", {"quiet": True}),
    ("images", {"filters": {"dangling": True}}),
    ("images", {"filters": {"label": "org.example.kind=built"}}),
    ("images", {"name": "example/loaded"}),
    ("history", {"image": "example/loaded:app"}),
    ("df", {}),
)

#: What shows a prune's result to each client: run after each of its prunes.
CLI_LISTINGS: tuple[tuple[str, ...], ...] = CLI_COMMANDS[:2]
SDK_LISTINGS: tuple[tuple[str, dict[str, Any]], ...] = SDK_CALLS[:2]

#: Prunes (they DELETE images): recorded only from a daemon of one's own, after everything else. The
#: SDK's first (`client.images.prune()` is what the dockerimages_client fixture's users call), so its
#: answer shows real deletions; the CLI's label prune removes images the SDK's left.
SDK_PRUNE_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("prune_images", {}),
    ("prune_images", {"filters": {"dangling": False, "label": "org.example.kind=built"}}),
)
CLI_PRUNE_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("image", "prune", "-f"),
    ("image", "prune", "-a", "-f", "--filter", "label=org.example.kind=imported"),
)
