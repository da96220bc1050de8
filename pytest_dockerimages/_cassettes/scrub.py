"""Scrubbing and pseudonyms: no credential reaches a cassette, and registry hosts can be renamed.

Every cassette write goes through :func:`scrub_interaction` (``Interaction.to_vcr``); the recorder
applies :func:`pseudonymise` to what it records.
"""
from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .._core.errors import DaemonError
from .._core.query import parse_form

if TYPE_CHECKING:  # pragma: no cover
    from .format import Interaction

__all__ = ["REDACTED", "SECRET_HEADERS", "SECRET_FIELDS", "scrub_headers", "scrub_text", "scrub_body",
           "scrub_interaction", "pseudonymise"]

REDACTED = "<redacted>"
#: Headers whose values never reach a cassette (request or response side).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-registry-auth", "x-registry-config",
                            "cookie", "set-cookie"})


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


def scrub_interaction(interaction: Interaction) -> Interaction:
    """The interaction with no credential left: secret headers, URL passwords anywhere, JSON
    credential fields in bodies. Every cassette write goes through it."""
    scrubbed = dataclasses.replace(
        interaction, target=_scrub_target(interaction.target),
        request_headers=tuple(scrub_headers(interaction.request_headers)),
        request_body=scrub_body(interaction.request_body),
        response_headers=tuple(scrub_headers(interaction.response_headers)), body=scrub_body(interaction.body))
    return interaction if scrubbed == interaction else scrubbed


def _replace_all(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        if old:
            text = text.replace(old, new)
    return text


def pseudonymise(interaction: Interaction, hosts: Mapping[str, str],
                 replacements: Mapping[str, str] | None = None) -> Interaction:
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
    return dataclasses.replace(interaction, target=target, body=body)


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
