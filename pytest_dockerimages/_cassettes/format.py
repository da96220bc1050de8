"""The file format: vcrpy's YAML cassettes, with our metadata riding along.

Plain vcrpy loads these files (``vcr.serialize.deserialize`` / ``Cassette.load``)::

    interactions:
    - request:  {method: GET, uri: 'http://localhost/v1.41/images/json?all=1', body: null,
                 headers: {User-Agent: [...]}}
      response: {status: {code: 200, message: OK}, headers: {Api-Version: ['1.41'], ...},
                 body: {string: '[...]'}}
    metadata:
      dockerimages: {format: 1, recorded_at: ..., tool: pytest-dockerimages 0.1.0, profile: docker-26.1,
                     daemon: {Version: ..., ApiVersion: ..., MinAPIVersion: ..., Os: linux, image_store: graphdriver}}
    version: 1

vcrpy ignores keys it does not know and (from 6.0) keeps ``metadata`` aside, so the metadata rides
along without breaking it. YAML is only ever read with a safe loader.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any, Sequence

from .._core.profiles import Profile
from .._core.wire import is_chunked
from .keys import Key, canonical_key
from .scrub import scrub_interaction

try:  # the libyaml classes are several times faster; both are safe
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = ["VCR_FORMAT", "FORMAT", "URI_BASE", "HOP_BY_HOP", "CassetteError", "CassetteNotFoundError", "Interaction",
           "changes_state", "to_document", "read_document", "dump_yaml", "parse_yaml"]

VCR_FORMAT = 1  # vcrpy's own "version" key
FORMAT = 1  # metadata.dockerimages.format
#: Connection-level headers: meaningless in a cassette, re-created by whoever writes the response.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                        "proxy-connection"})
URI_BASE = "http://localhost"


def changes_state(method: str, status: int) -> bool:
    """A request the daemon carried out that may change what later reads see (a prune, a delete, a load):
    any method but GET and HEAD, answered 2xx. A refused one changed nothing."""
    return method.upper() not in ("GET", "HEAD") and 200 <= status < 300


class CassetteError(ValueError):
    """A cassette that cannot be used; the message names the file and, when known, the interaction."""


class CassetteNotFoundError(CassetteError, FileNotFoundError):
    """The cassette file does not exist (also an OSError, for callers catching those)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "cassette file not found"


@dataclass(frozen=True)
class Interaction:
    method: str
    target: str  # path + "?query", as sent
    request_headers: tuple[tuple[str, str], ...]
    request_body: bytes
    status: int
    reason: str
    response_headers: tuple[tuple[str, str], ...]
    body: bytes
    recorded_at: str = ""

    def key(self, profile: Profile | None = None, default_api: str | None = None) -> Key:
        return canonical_key(self.method, self.target, self.request_body, profile=profile, default_api=default_api)

    def label(self) -> str:
        return f"{self.method} {self.target}"

    @property
    def chunked(self) -> bool:
        return is_chunked(self.response_headers)

    def to_vcr(self) -> dict[str, Any]:
        """vcrpy's interaction dict (request._to_dict() and the response dict it stores), scrubbed
        of credentials (:func:`scrub_interaction`): whatever built the interaction, none is written."""
        it = scrub_interaction(self)
        req_headers: dict[str, list[str]] = {}
        for k, v in it.request_headers:
            req_headers.setdefault(k, []).append(v)
        resp_headers: dict[str, list[str]] = {}
        for k, v in it.response_headers:
            resp_headers.setdefault(k, []).append(v)
        return {
            "request": {"method": it.method, "uri": URI_BASE + it.target,
                        "body": _text_or_bytes(it.request_body) if it.request_body else None,
                        "headers": req_headers},
            "response": {"status": {"code": it.status, "message": it.reason},
                         "headers": resp_headers, "body": {"string": _text_or_bytes(it.body)}},
        }

    @classmethod
    def from_vcr(cls, data: Any, where: str) -> "Interaction":
        if not isinstance(data, dict):
            raise CassetteError(f"{where}: expected a mapping with request and response")
        request, response = data.get("request"), data.get("response")
        if not isinstance(request, dict) or not isinstance(response, dict):
            raise CassetteError(f"{where}: needs both 'request' and 'response' mappings (truncated file?)")
        method, uri = request.get("method"), request.get("uri")
        if not isinstance(method, str) or not isinstance(uri, str):
            raise CassetteError(f"{where}: request needs a 'method' and a 'uri' string")
        parts = urllib.parse.urlsplit(uri)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        where = f"{where} ({method} {target})"
        status = response.get("status")
        if not isinstance(status, dict) or not isinstance(status.get("code"), int):
            raise CassetteError(f"{where}: response needs 'status: {{code: N, message: ...}}'")
        body = response.get("body")
        if not isinstance(body, dict) or "string" not in body:
            raise CassetteError(f"{where}: response needs 'body: {{string: ...}}' (truncated file?)")
        return cls(
            method=method, target=target,
            request_headers=_headers(request.get("headers"), f"{where}: request headers"),
            request_body=_as_bytes(request.get("body"), f"{where}: request body"),
            status=status["code"], reason=str(status.get("message") or ""),
            response_headers=_headers(response.get("headers"), f"{where}: response headers"),
            body=_as_bytes(body["string"], f"{where}: response body"),
        )


def _text_or_bytes(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # YAML !!binary


def _as_bytes(value: Any, where: str) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise CassetteError(f"{where}: expected text, got {type(value).__name__}")


def _headers(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise CassetteError(f"{where}: expected a mapping of header names to lists of values")
    out = []
    for name, values in value.items():
        for item in values if isinstance(values, list) else [values]:
            out.append((str(name), str(item)))
    return tuple(out)


# --------------------------------------------------------------------------- the whole document


def to_document(interactions: Sequence[Interaction], metadata: dict[str, Any]) -> dict[str, Any]:
    """The document of a cassette: ``version`` last, so a file cut short is seen as truncated."""
    doc: dict[str, Any] = {"interactions": [i.to_vcr() for i in interactions]}
    if metadata:
        doc["metadata"] = {"dockerimages": dict(metadata)}
    doc["version"] = VCR_FORMAT
    return doc


def read_document(data: Any, source: str) -> tuple[list[Interaction], dict[str, Any]]:
    """The interactions and ``metadata.dockerimages`` of a parsed document; errors name ``source``."""
    if not isinstance(data, dict) or "interactions" not in data:
        raise CassetteError(f"{source}: not a cassette (expected a mapping with 'interactions' and 'version')")
    version = data.get("version")
    if "version" not in data:  # written last: a file cut at a line boundary still parses as YAML
        raise CassetteError(f"{source}: no 'version: {VCR_FORMAT}' at the end of the file: truncated cassette?")
    if version != VCR_FORMAT:
        raise CassetteError(f"{source}: unknown cassette format version {version!r} (this tool reads version "
                            f"{VCR_FORMAT}, vcrpy's format)")
    raw_meta = data.get("metadata") or {}
    if not isinstance(raw_meta, dict):
        raise CassetteError(f"{source}: metadata: expected a mapping")
    meta = raw_meta.get("dockerimages") or {}
    if not isinstance(meta, dict):
        raise CassetteError(f"{source}: metadata.dockerimages: expected a mapping")
    if meta and meta.get("format") != FORMAT:
        raise CassetteError(f"{source}: unknown dockerimages cassette format {meta.get('format')!r} "
                            f"(this tool reads format {FORMAT}); re-record it or upgrade pytest-dockerimages")
    entries = data["interactions"]
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise CassetteError(f"{source}: interactions: expected a list")
    interactions = [Interaction.from_vcr(entry, f"{source}: interaction {i}") for i, entry in enumerate(entries)]
    return interactions, dict(meta)


def dump_yaml(document: dict[str, Any]) -> str:
    import yaml

    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=4096)


def parse_yaml(text: str, source: str) -> Any:
    """The YAML document (safe loader); an error names ``source`` and the line and column."""
    import yaml

    if not text.strip():
        raise CassetteError(f"{source}: empty cassette file")
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader (CSafeLoader/SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CassetteError(f"{source}{where}: invalid YAML ({problem}); truncated or corrupt cassette?") from None
    return data
