"""Cassettes: recorded daemon interactions in vcrpy's YAML format, plus what replay needs.

File format (plain vcrpy loads it: ``vcr.serialize.deserialize`` / ``Cassette.load``)::

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
along without breaking it.

Matching is semantic: :func:`canonical_key` reduces a request to what the daemon actually reads
(method, path with its version prefix, and for ``/images/json`` the parsed ``all``, filters in
either JSON form, and the version-gated ``shared-size``/``manifests``/``identity``), so a docker CLI
request and a docker SDK request for the same thing give the same key, and replay is one dict
lookup.

Saving is safe under concurrency: an exclusive ``fcntl.flock`` on a hidden lock file beside the
cassette serialises writers (xdist workers, several processes), each of which re-reads the file,
merges its own interactions into it, and replaces it atomically (temp file, fsync, rename).
YAML is only ever read with a safe loader.
"""
from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .. import __version__
from .._core.daemon import split_version
from .._core.errors import DaemonError
from .._core.profiles import PROFILES, Profile, at_least, below, earliest_from
from .._core.query import bool_value, canonical_filters, filters_from_json, parse_form
from .._core.wire import is_chunked
from .._files.atomicfile import atomic_write_bytes

try:  # the libyaml classes are several times faster; both are safe
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = [
    "VCR_FORMAT",
    "FORMAT",
    "REDACTED",
    "SECRET_HEADERS",
    "CassetteError",
    "CassetteNotFoundError",
    "Interaction",
    "Cassette",
    "canonical_key",
    "describe_key",
    "profile_for",
    "scrub_headers",
    "scrub_interaction",
    "scrub_text",
    "pseudonymise",
    "atomic_write_bytes",
    "locked",
    "load",
    "tool_version",
]

VCR_FORMAT = 1  # vcrpy's own "version" key
FORMAT = 1  # metadata.dockerimages.format
REDACTED = "<redacted>"
#: Headers whose values never reach a cassette (request or response side).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-registry-auth", "x-registry-config",
                            "cookie", "set-cookie"})
#: Connection-level headers: meaningless in a cassette, re-created by whoever writes the response.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                        "proxy-connection"})
URI_BASE = "http://localhost"
_INSPECT = re.compile(r"^/images/(.+)/json$")

Key = tuple[Any, ...]


class CassetteError(ValueError):
    """A cassette that cannot be used; the message names the file and, when known, the interaction."""


class CassetteNotFoundError(CassetteError, FileNotFoundError):
    """The cassette file does not exist (also an OSError, for callers catching those)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "cassette file not found"


def tool_version() -> str:
    return f"pytest-dockerimages {__version__}"


# --------------------------------------------------------------------------- canonical key


def _effective_api(version: str | None, profile: Profile | None, default_api: str | None) -> str | None:
    if version is not None:
        return version
    if profile is not None:
        return profile.api_max
    return default_api


def _gate(api: str | None, floor: str | None) -> bool:
    """Does a parameter introduced at `floor` count at `api`? Unknown api: assume it does."""
    if floor is None:
        return False
    return api is None or at_least(api, floor)


def _images_json_query(raw_query: str, api: str | None, profile: Profile | None) -> tuple[Any, ...]:
    form = parse_form(raw_query)
    parts: list[tuple[str, Any]] = [("all", bool_value(form.get("all")))]
    raw_filters = form.get("filters")
    try:
        filters = filters_from_json(raw_filters, profile or PROFILES["docker-26.1"])
    except DaemonError:
        parts.append(("filters!", raw_filters))  # an error case: keep the exact text
        filters = None
    legacy = form.get("filter")
    if legacy:
        if profile is None:
            parts.append(("filter", legacy))
        elif filters is not None and api is not None and below(api, profile.legacy_filter_below) and not (
                profile.legacy_filter_needs_no_reference and "reference" in filters):
            filters.setdefault("reference", {})[legacy] = True  # what the daemon does with it
        elif filters is None:
            parts.append(("filter", legacy))
    if filters is not None:
        parts.append(("filters", tuple((k, tuple(v)) for k, v in canonical_filters(filters).items())))
    for name, field_name in (("shared-size", "shared_size_from"), ("manifests", "manifests_from"),
                             ("identity", "identity_from")):
        if _gate(api, _floor(profile, field_name)):
            parts.append((name, bool_value(form.get(name))))
    return tuple(parts)


def _floor(profile: Profile | None, field_name: str) -> str | None:
    """Where a parameter starts to count: the recorded daemon's profile field, else the earliest any release has."""
    return getattr(profile, field_name) if profile is not None else earliest_from(field_name)


def canonical_key(method: str, target: str, body: bytes | None = b"", *,
                  profile: Profile | None = None, default_api: str | None = None) -> Key:
    """What the daemon reads from a request, as a hashable value.

    ``profile`` (the recorded daemon's) decides which version-gated parameters count and what the
    legacy ``filter`` parameter means; without one every known parameter counts. ``default_api``
    is the version of an unversioned request when no profile is known.
    """
    method = method.upper()
    raw_path, _, raw_query = target.partition("?")
    path = urllib.parse.unquote(raw_path)
    version, route = split_version(path)
    api = _effective_api(version, profile, default_api)
    query: tuple[Any, ...]
    try:
        if route == "/images/json" and method == "GET":
            query = _images_json_query(raw_query, api, profile)
        elif route in ("/_ping", "/version"):
            query = ()
        elif _INSPECT.match(route) and method == "GET":
            form = parse_form(raw_query)
            counts = _gate(api, _floor(profile, "inspect_manifests_from"))
            query = (("manifests", bool_value(form.get("manifests"))),) if counts else ()
        else:
            form = parse_form(raw_query)
            query = tuple(sorted(form.values.items()))
    except DaemonError:
        query = (("raw", raw_query),)  # unparseable query: only the same bytes match
    digest = ""
    if method not in ("GET", "HEAD") and body:
        digest = hashlib.sha256(body).hexdigest()
    return (method, path, query, digest)


def describe_key(key: Key) -> str:
    """A one-line readable form of a key, for messages."""
    method, path, query, digest = key
    parts = [method, path]
    for name, value in query:
        if name == "filters":
            value = json.dumps({k: list(v) for k, v in value}, separators=(",", ":"))
        elif isinstance(value, tuple):
            value = ",".join(map(str, value))
        parts.append(f"{name}={value}")
    if digest:
        parts.append(f"body=sha256:{digest[:12]}")
    return " ".join(parts)


# --------------------------------------------------------------------------- scrubbing


def scrub_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Secret header values replaced by ``<redacted>`` (the header stays, so its use is visible);
    a password in a URL in any other header (``Location: https://user:pass@host``) too."""
    return [(k, REDACTED if k.lower() in SECRET_HEADERS else scrub_text(v)) for k, v in headers]


#: The user information of a URL (``https://user:password@host``, ``https://token@host``).
_URL_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@\"'<>\\]+@")
#: JSON fields holding credentials: ``POST /auth`` bodies and answers (the X-Registry-Auth payload).
SECRET_FIELDS = frozenset({"password", "identitytoken", "registrytoken"})
_SECRET_FIELD = re.compile(r'"(?:' + "|".join(SECRET_FIELDS) + r')"', re.IGNORECASE)


def scrub_text(text: str) -> str:
    """URL user information replaced: ``https://user:pass@host`` -> ``https://<redacted>@host``."""
    return _URL_USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text) if "://" in text else text


def _redact_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and k.lower() in SECRET_FIELDS and v else _redact_fields(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_fields(v) for v in value]
    return value


def scrub_body(body: bytes) -> bytes:
    """URL passwords and the values of JSON credential fields (``password``, ``IdentityToken``)."""
    if b"://" not in body and not _SECRET_FIELD.search(body.decode("latin-1")):
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    new = scrub_text(text)
    if _SECRET_FIELD.search(new):
        try:
            document = json.loads(new)
        except ValueError:
            document = None
        if document is not None:
            redacted = _redact_fields(document)
            if redacted != document:
                end = "\n" if new.endswith("\n") else ""
                new = json.dumps(redacted, separators=(",", ":"), ensure_ascii=False) + end
    return body if new == text else new.encode("utf-8")


def _scrub_target(target: str) -> str:
    """A URL password in the path or in a (percent-encoded) query value."""
    if "://" not in urllib.parse.unquote(target):
        return target
    raw_path, sep, raw_query = target.partition("?")
    path = scrub_text(raw_path)
    if not sep:
        return path
    try:
        form = parse_form(raw_query)
    except DaemonError:
        return path + sep + scrub_text(raw_query)
    pairs = [(k, v) for k, values in form.values.items() for v in values]
    scrubbed = [(scrub_text(k), scrub_text(v)) for k, v in pairs]
    return path + sep + (raw_query if scrubbed == pairs else urllib.parse.urlencode(scrubbed))


def scrub_interaction(interaction: "Interaction") -> "Interaction":
    """The interaction with no credential left: secret headers, URL passwords anywhere, JSON
    credential fields in bodies. Every cassette write goes through it."""
    scrubbed = Interaction(
        interaction.method, _scrub_target(interaction.target), tuple(scrub_headers(interaction.request_headers)),
        scrub_body(interaction.request_body), interaction.status, interaction.reason,
        tuple(scrub_headers(interaction.response_headers)), scrub_body(interaction.body), interaction.recorded_at)
    return interaction if scrubbed == interaction else scrubbed


def _replace_all(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        if old:
            text = text.replace(old, new)
    return text


def pseudonymise(interaction: "Interaction", hosts: Mapping[str, str],
                 replacements: Mapping[str, str] | None = None) -> "Interaction":
    """Registry host names replaced consistently (``host/`` -> ``pseudonym/``) in the response body
    (RepoTags, RepoDigests, error messages) and in the request target (reference filters, image
    names), plus literal ``replacements`` in bodies (e.g. the daemon's private data-root path)."""
    body_map = {f"{h}/": f"{p}/" for h, p in hosts.items()}
    body_map.update(replacements or {})
    if not body_map:
        return interaction
    body = interaction.body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        new_text = _replace_all(text, body_map)
        if new_text != text:
            body = new_text.encode("utf-8")
    target = _pseudonymise_target(interaction.target, {f"{h}/": f"{p}/" for h, p in hosts.items()})
    if body is interaction.body and target == interaction.target:
        return interaction
    return Interaction(interaction.method, target, interaction.request_headers, interaction.request_body,
                       interaction.status, interaction.reason, interaction.response_headers, body,
                       interaction.recorded_at)


def _pseudonymise_target(target: str, host_map: Mapping[str, str]) -> str:
    if not host_map:
        return target
    raw_path, sep, raw_query = target.partition("?")
    path = urllib.parse.unquote(raw_path)
    new_path = _replace_all(path, host_map)
    out_path = raw_path if new_path == path else urllib.parse.quote(new_path, safe="/:@")
    if not sep:
        return out_path
    try:
        form = parse_form(raw_query)
    except DaemonError:
        return out_path + sep + raw_query
    pairs = [(k, v) for k, values in form.values.items() for v in values]
    new_pairs = [(k, _replace_all(v, host_map)) for k, v in pairs]
    if new_pairs == pairs:
        return out_path + sep + raw_query
    return out_path + sep + urllib.parse.urlencode(new_pairs)


# --------------------------------------------------------------------------- interactions


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


# --------------------------------------------------------------------------- metadata and profiles


def profile_for(metadata: Mapping[str, Any]) -> Profile | None:
    """The fake's profile for a recorded daemon: by recorded name, else the closest to its engine and store."""
    from .._real.snapshot import profile_name_for

    name = metadata.get("profile")
    if isinstance(name, str) and name in PROFILES:
        return PROFILES[name]
    daemon = metadata.get("daemon") or {}
    version = str(daemon.get("Version") or "")
    if not version:
        return None
    return PROFILES[profile_name_for(version, str(daemon.get("image_store") or "graphdriver"))]


def build_metadata(version_doc: Mapping[str, Any] | None, info: Mapping[str, Any] | None,
                   recorded_at: str | None = None) -> dict[str, Any]:
    """``metadata.dockerimages`` of a recording: when, which daemon, which image store, which tool."""
    version_doc = version_doc or {}
    daemon = {k: version_doc.get(k) for k in ("Version", "ApiVersion", "MinAPIVersion", "Os")
              if version_doc.get(k) is not None}
    if info is not None:
        from .._real.snapshot import image_store_of

        daemon["image_store"] = image_store_of(info)
    meta: dict[str, Any] = {"format": FORMAT, "recorded_at": recorded_at or now_rfc3339(), "tool": tool_version(),
                            "daemon": daemon}
    profile = profile_for(meta)
    if profile is not None:
        meta["profile"] = profile.name
    return meta


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --------------------------------------------------------------------------- the cassette


@dataclass
class Cassette:
    """Interactions in recording order plus ``metadata`` (the ``dockerimages`` mapping)."""

    path: Path | None = None
    interactions: list[Interaction] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    # -- derived
    @property
    def profile(self) -> Profile | None:
        return profile_for(self.metadata)

    @property
    def api_version(self) -> str | None:
        value = (self.metadata.get("daemon") or {}).get("ApiVersion")
        return str(value) if value else None

    def key_of(self, method: str, target: str, body: bytes | None = b"") -> Key:
        return canonical_key(method, target, body, profile=self.profile, default_api=self.api_version)

    def index(self) -> dict[Key, list[Interaction]]:
        """Key -> interactions with that key, in recording order (replay plays them in turn)."""
        profile, api = self.profile, self.api_version
        out: dict[Key, list[Interaction]] = {}
        for interaction in self.interactions:
            out.setdefault(interaction.key(profile, api), []).append(interaction)
        return out

    def append(self, interaction: Interaction) -> None:
        with self._lock:
            self.interactions.append(interaction)

    # -- text
    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"interactions": [i.to_vcr() for i in self.interactions]}
        if self.metadata:
            doc["metadata"] = {"dockerimages": dict(self.metadata)}
        doc["version"] = VCR_FORMAT
        return doc

    def dumps(self) -> str:
        import yaml

        return yaml.dump(self.to_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                         default_flow_style=False, width=4096)

    @classmethod
    def loads(cls, text: str, source: str = "<cassette>", *, validate: bool = True) -> "Cassette":
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
        return cls.from_document(data, source, validate=validate)

    @classmethod
    def from_document(cls, data: Any, source: str = "<cassette>", *, validate: bool = True) -> "Cassette":
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
        cassette = cls(Path(source) if source != "<cassette>" else None, interactions, dict(meta))
        if validate:
            cassette.validate(source)
        return cassette

    def validate(self, source: str | None = None) -> None:
        """Every ``GET /images/json`` 200 body must be JSON valid against its API version's schema;
        raises `CassetteError` with the first problem."""
        problems = self.problems(source)
        if problems:
            raise CassetteError(problems[0])

    def problems(self, source: str | None = None, *, rules: bool = False) -> list[str]:
        """Each ``GET /images/json`` 200 body's problems, one line each, naming the file and the
        interaction. ``rules``: also the field rules of the body's recorded query, API version and
        profile (what ``assert_valid_images_json`` checks), not only the schema."""
        from .._files.schema import validate as schema_validate

        source = source or str(self.path or "<cassette>")
        default_api = self.api_version or (self.profile.api_max if self.profile else None)
        out: list[str] = []
        for i, it in enumerate(self.interactions):
            version, route = split_version(urllib.parse.unquote(it.target.split("?", 1)[0]))
            if it.method != "GET" or route != "/images/json" or it.status != 200:
                continue
            where = f"{source}: interaction {i} ({it.label()})"
            try:
                document = json.loads(it.body)
            except (ValueError, UnicodeDecodeError) as exc:
                out.append(f"{where}: response body is not valid JSON ({exc}); truncated cassette?")
                continue
            api = version or default_api
            if api is None:
                continue
            if rules:
                from ..assertions import images_json_problems

                found = images_json_problems(document, api, query=it.target.partition("?")[2], profile=self.profile)
                out += [f"{where}: {problem}" for problem in found]
                continue
            try:
                found = schema_validate("images-json", api, document)
            except ValueError as exc:
                out.append(f"{where}: {exc}")
                continue
            if found:
                listed = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
                out.append(f"{where}: body does not match the API {api} schema: {listed}")
        return out

    # -- files
    @classmethod
    def load(cls, path: str | os.PathLike[str], *, validate: bool = True) -> "Cassette":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CassetteNotFoundError(f"{path}: cassette file not found") from None
        except OSError as exc:
            raise CassetteError(f"{path}: cannot read cassette: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise CassetteError(f"{path}: not UTF-8 text (byte {exc.start}); corrupt cassette?") from None
        cassette = cls.loads(text, str(path), validate=validate)
        cassette.path = path
        return cassette

    def save(self, path: str | os.PathLike[str] | None = None, *, mode: str = "merge") -> Path:
        """Write under the lock, merging with what other writers saved meanwhile.

        ``mode="merge"``: keys already in the file keep their interactions, new keys are added.
        ``mode="replace_keys"`` (record mode ``all``): our keys replace the file's, other keys stay.
        ``mode="overwrite"``: the file becomes exactly this cassette.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise CassetteError("cassette has no path to save to")
        target.parent.mkdir(parents=True, exist_ok=True)  # exist_ok: race-free against other workers
        with locked(target):
            merged = self
            if mode != "overwrite" and target.exists() and target.stat().st_size:
                existing = Cassette.load(target, validate=False)
                merged = merge(existing, self, replace=(mode == "replace_keys"))
            data = merged.dumps().encode("utf-8")
            # Temp files are only made under this lock: any still there is a killed writer's.
            for stale in target.parent.glob(f".{target.name}.*.tmp"):
                with contextlib.suppress(OSError):
                    stale.unlink()
            atomic_write_bytes(target, data)
        self.path = target
        return target


def merge(existing: Cassette, ours: Cassette, *, replace: bool = False) -> Cassette:
    """Union by canonical key, keeping recording order; never drops a key either side has."""
    profile = ours.profile or existing.profile
    api = ours.api_version or existing.api_version
    our_keys: dict[Key, list[Interaction]] = {}
    for it in ours.interactions:
        our_keys.setdefault(it.key(profile, api), []).append(it)
    out: list[Interaction] = []
    seen: set[Key] = set()
    for it in existing.interactions:
        key = it.key(profile, api)
        if replace and key in our_keys:
            continue
        seen.add(key)
        out.append(it)
    for it in ours.interactions:
        key = it.key(profile, api)
        if key in seen:
            continue
        out.append(it)
    metadata = dict(existing.metadata)
    metadata.update(ours.metadata)
    return Cassette(ours.path or existing.path, out, metadata)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``.<name>.lock`` beside ``path`` (kept: deleting it would race)."""
    import fcntl

    lock_path = path.parent / f".{path.name}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --------------------------------------------------------------------------- loading with a cache

_CACHE: dict[tuple[str, int, int], Cassette] = {}
_CACHE_LOCK = threading.Lock()


def load(path: str | os.PathLike[str]) -> Cassette:
    """``Cassette.load`` with validation, cached per (path, mtime, size): a test session validates
    each cassette once. The result is shared: do not change it."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise CassetteNotFoundError(f"{p}: cassette file not found") from None
    cache_key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    with _CACHE_LOCK:
        found = _CACHE.get(cache_key)
    if found is not None:
        return found
    cassette = Cassette.load(p)
    with _CACHE_LOCK:
        _CACHE[cache_key] = cassette
    return cassette


def _jaccard(a: set[Any], b: set[Any]) -> float:
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def _query_similarity(a: tuple[Any, ...], b: tuple[Any, ...]) -> float:
    """0..1: same filter keys count most, then same filter values, then the other parameters."""
    da, db = dict(a), dict(b)
    fa, fb = dict(da.pop("filters", ()) or ()), dict(db.pop("filters", ()) or ())
    keys = _jaccard(set(fa), set(fb))
    pairs = _jaccard({(k, v) for k, vs in fa.items() for v in vs}, {(k, v) for k, vs in fb.items() for v in vs})
    rest = _jaccard(set(da.items()), set(db.items()))
    return (3 * keys + 2 * pairs + rest) / 6


def nearest(keys: Sequence[Key], wanted: Key, limit: int = 3) -> list[Key]:
    """The recorded keys closest to ``wanted``: same method and route first, then the most alike query."""
    w_method, w_path, w_query, _ = wanted
    w_route = split_version(w_path)[1]
    w_text = describe_key(wanted)

    def score(key: Key) -> float:
        method, path, query, _ = key
        s = 2.0 * _query_similarity(w_query, query)
        s += 0.2 * difflib.SequenceMatcher(None, w_text, describe_key(key)).ratio()
        if method == w_method:
            s += 1.0
        if split_version(path)[1] == w_route:
            s += 1.0
        if path == w_path:
            s += 0.5
        return s

    return sorted(keys, key=score, reverse=True)[:limit]
