"""This project's matching and cassette files inside vcrpy (and pytest-recording).

For code that talks to a Docker daemon over TCP with requests, httpx or aiohttp and is already
tested with vcrpy: register this project's semantic request matcher and its cassette persister on
vcrpy's own ``VCR`` object, and the code under ``@pytest.mark.vcr`` (or ``vcr.use_cassette``) gets

- the matching the fake and replay use: what the daemon reads (method, path with its version,
  ``all``, filters in either JSON form, the version-gated flags), so a request the docker CLI and
  one the docker SDK send for the same thing match the same recording;
- cassette files written as this project writes them: credentials scrubbed (``Authorization``,
  ``X-Registry-Auth``, cookies, URL passwords, JSON password fields), under a file lock, atomically,
  read back with a safe YAML loader (a corrupt file is an error naming the place, not silently
  re-recorded), and replayable by ``dockerimages serve --cassette FILE`` for other clients.

With pytest-recording, in ``conftest.py``::

    import pytest
    from pytest_dockerimages import vcrpy as dockerimages_vcrpy


    def pytest_recording_configure(config, vcr):
        dockerimages_vcrpy.register(vcr)


    @pytest.fixture(scope="module")
    def vcr_config():
        return {"match_on": dockerimages_vcrpy.MATCH_ON}

With vcrpy alone: ``my_vcr = vcr.VCR(match_on=MATCH_ON)``, then ``register(my_vcr)``.

The host and port are not part of the match (a fake or a daemon on loopback gets a new port each
run); the file is vcrpy's YAML format, whatever ``serializer`` says. Importing this module imports
vcrpy: the pytest plugin itself never does.
"""
from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any, Sequence

try:
    from vcr.persisters.filesystem import CassetteNotFoundError
    from vcr.request import Request as VcrRequest
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("pytest_dockerimages.vcrpy needs vcrpy: pip install 'pytest-dockerimages[vcrpy]'",
                      name=exc.name) from exc

from ._cassettes.cassette import Cassette
from ._cassettes.format import CassetteError, Interaction
from ._cassettes.keys import canonical_key, describe_key

__all__ = ["MATCHER", "MATCH_ON", "DockerImagesPersister", "match_requests", "register"]

#: The name the matcher is registered under.
MATCHER = "dockerimages"
#: ``match_on`` for vcrpy / ``vcr_config``: the semantic matcher alone.
MATCH_ON = (MATCHER,)


def _target(uri: str) -> str:
    parts = urllib.parse.urlsplit(uri)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, list):  # vcrpy keeps an iterator body as the list of its parts
        return b"".join(part.encode("utf-8") if isinstance(part, str) else bytes(part) for part in body)
    return bytes(body)


def _key(request: Any) -> tuple[Any, ...]:
    return canonical_key(str(request.method), _target(str(request.uri)), _body(request.body))


def match_requests(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the two requests ask a Docker daemon for the same thing (raises
    AssertionError naming both canonical forms when they do not)."""
    first, second = _key(r1), _key(r2)
    assert first == second, f"{describe_key(first)} != {describe_key(second)}"


def _headers(values: Any) -> list[tuple[str, str]]:
    out = []
    for name, value in (values or {}).items():
        for item in value if isinstance(value, list) else [value]:
            out.append((str(name), item.decode("latin-1") if isinstance(item, bytes) else str(item)))
    return out


def _interaction(request: Any, response: Any, where: str) -> Interaction:
    """A vcrpy (request, response dict) pair as this project's Interaction."""
    headers: dict[str, list[str]] = {}
    for name, value in _headers(request.headers):
        headers.setdefault(name, []).append(value)
    body = _body(request.body)
    return Interaction.from_vcr({"request": {"method": request.method, "uri": request.uri, "headers": headers,
                                             "body": body or None},
                                 "response": response}, where)


def _vcr_pair(interaction: Interaction) -> tuple[VcrRequest, dict[str, Any]]:
    """An Interaction as vcrpy holds it in memory: a Request and the response dict, bodies as bytes."""
    data = interaction.to_vcr()
    request, response = data["request"], data["response"]
    response["body"] = {"string": interaction.body}
    return VcrRequest(request["method"], request["uri"], interaction.request_body or None,
                      request["headers"]), response


class DockerImagesPersister:
    """vcrpy persister: this project's cassette reading and writing (see the module docstring).

    ``extra_paths``: more cassettes to replay from (pytest-recording's ``@pytest.mark.vcr("a.yaml")``);
    only the test's own cassette is written."""

    def __init__(self, extra_paths: Sequence[str | Path] = ()) -> None:
        self.extra_paths = list(extra_paths)

    def load_cassette(self, cassette_path: str | Path, serializer: Any) -> tuple[list[Any], list[Any]]:
        pairs: list[tuple[VcrRequest, dict[str, Any]]] = []
        for path in dict.fromkeys(Path(p) for p in [cassette_path, *self.extra_paths]):
            if path.is_file() and path.read_bytes().strip():
                # a corrupt file raises CassetteError naming the place, instead of being recorded over
                pairs += [_vcr_pair(interaction) for interaction in Cassette.load(path).interactions]
        if not pairs:
            raise CassetteNotFoundError()  # vcrpy records it (in a record mode that allows it)
        return [request for request, _ in pairs], [response for _, response in pairs]

    @staticmethod
    def save_cassette(cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: Any) -> None:
        path = Path(cassette_path)
        interactions = [_interaction(request, response, f"{path}: interaction {i}")
                        for i, (request, response) in enumerate(zip(cassette_dict["requests"],
                                                                    cassette_dict["responses"], strict=True))]
        metadata: dict[str, Any] = {}
        if path.is_file() and path.stat().st_size:
            try:
                metadata = Cassette.load(path, validate=False).metadata  # keep what a recorder noted
            except CassetteError:
                metadata = {}
        # vcrpy hands over the whole cassette: it replaces the file (locked, atomic, scrubbed)
        Cassette(path, interactions, metadata).save(path, mode="overwrite")


def register(vcr: Any) -> Any:
    """Register the matcher (as ``"dockerimages"``) and the persister on a ``vcr.VCR``; returns it.
    Select the matcher with ``match_on=MATCH_ON`` (or in pytest-recording's ``vcr_config``)."""
    vcr.register_matcher(MATCHER, match_requests)
    # pytest-recording's own persister carries the marker's extra cassettes: keep them
    extra = getattr(getattr(vcr, "persister", None), "extra_paths", None) or ()
    vcr.register_persister(DockerImagesPersister(extra))
    return vcr
