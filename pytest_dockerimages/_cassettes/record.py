"""The recording backend: forward every request to a real daemon, answer with its response, and
append the interaction (secrets redacted, registry hosts pseudonymised) to a cassette.

Forwarding uses ``http.client`` over the upstream's unix socket or TCP port, one connection per
request (cheap on a unix socket, and no state shared between the server's threads). Responses
are read whole: fine for ``/images/json`` and friends, not for streaming endpoints (events, logs
with follow), which would only be answered when they end.
"""
from __future__ import annotations

import http.client
import json
import os
import sys
from typing import Any, Callable, Iterable, Mapping, Sequence, TextIO

from .._core.wire import Request, Response, find_header, is_chunked
from .._http.unixhttp import connection_for
from .cassette import Cassette
from .format import HOP_BY_HOP, Interaction
from .metadata import build_metadata, now_rfc3339
from .scrub import pseudonymise, scrub_headers

__all__ = ["RecordingBackend", "default_docker_host", "record_matrix", "RecordError"]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class RecordError(RuntimeError):
    """The upstream daemon could not be reached or answered unusably."""


def default_docker_host(option: str | None = None) -> str:
    """``--dockerimages-docker-host``, else ``DOCKER_HOST``, else the default socket."""
    return option or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


class RecordingBackend:
    """``handle`` forwards to ``upstream_docker_host`` and records into ``cassette``.

    ``pseudonyms`` maps registry hosts to stand-ins (``{"registry.corp:5000": "registry.example"}``),
    applied to bodies and request targets; ``replacements`` are literal body substitutions (e.g. a
    private data-root path). ``playback`` (a callable returning a Response or None) answers
    requests it knows without forwarding them: record mode ``new_episodes``.
    """

    def __init__(self, upstream_docker_host: str, cassette: Cassette, *, pseudonyms: Mapping[str, str] | None = None,
                 replacements: Mapping[str, str] | None = None, timeout: float = 120.0,
                 playback: Callable[[Request], Response | None] | None = None,
                 fetch_metadata: bool = True, errors_if_no_info: bool = False) -> None:
        self.upstream = upstream_docker_host
        self.cassette = cassette
        self.pseudonyms = dict(pseudonyms or {})
        self.replacements = dict(replacements or {})
        self.timeout = timeout
        self.playback = playback
        self.errors: list[str] = []
        self.recorded = 0
        self.errors_if_no_info = errors_if_no_info
        if fetch_metadata:
            self.refresh_metadata()

    # -- upstream
    def _forward(self, method: str, target: str, headers: Sequence[tuple[str, str]] = (),
                 body: bytes = b"") -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = connection_for(self.upstream, timeout=self.timeout)
        try:
            send = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
            conn.putrequest(method, target, skip_host=find_header(send, "host") is not None,
                            skip_accept_encoding=True)
            for k, v in send:
                conn.putheader(k, v)
            if body or method not in ("GET", "HEAD"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            data = response.read()
            return response.status, response.reason, response.getheaders(), data
        except (OSError, http.client.HTTPException) as exc:
            raise RecordError(f"cannot reach the daemon at {self.upstream} to record {method} {target}: "
                              f"{type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()

    def get_json(self, path: str) -> Any:
        status, _, _, body = self._forward("GET", path, [("Host", "localhost")])
        if status != 200:
            raise RecordError(f"GET {path} on {self.upstream} answered {status}: {body[:200]!r}")
        return json.loads(body)

    def refresh_metadata(self) -> None:
        """Daemon version and image store (from /version and /info) into the cassette's metadata."""
        version = self.get_json("/version")
        try:
            info = self.get_json("/info")
        except RecordError:
            if not self.errors_if_no_info:
                info = None  # e.g. recording a fake daemon: the image store stays unknown
            else:
                raise
        self.cassette.metadata.update(build_metadata(version, info))

    # -- the Backend protocol
    def handle(self, request: Request) -> Response:
        if self.playback is not None:
            answer = self.playback(request)
            if answer is not None:
                return answer
        try:
            status, reason, headers, body = self._forward(request.method, request.target, request.headers,
                                                          request.body)
        except RecordError as exc:
            self.errors.append(str(exc))
            return Response(502, [("Content-Type", "application/json")],
                            (json.dumps({"message": f"pytest-dockerimages: {exc}"}) + "\n").encode())
        interaction = Interaction(
            method=request.method, target=request.target,
            request_headers=tuple(scrub_headers(request.headers)), request_body=request.body,
            status=status, reason=reason, response_headers=tuple(scrub_headers(headers)), body=body,
            recorded_at=now_rfc3339(),
        )
        self.cassette.append(pseudonymise(interaction, self.pseudonyms, self.replacements))
        self.recorded += 1
        # The client gets the daemon's own answer (unscrubbed: it is its own data).
        out_headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP
                       and (request.method == "HEAD" or k.lower() != "content-length")]
        return Response(status, out_headers, body, chunked=is_chunked(headers))


def record_matrix(backend: RecordingBackend, requests: Iterable[tuple[str, str]], *,
                  per_image: bool = True, last: Iterable[tuple[str, str]] = (),
                  progress: TextIO | None = None) -> int:
    """Send each ``(method, target)`` through ``backend``; then the inspect and the history of every
    image of the ``all=1`` listing (by id) at the daemon's API version; then ``last`` (the requests
    that change the daemon's state, such as prunes). ``progress`` (a TTY) gets a one-line counter."""
    requests, last = list(requests), list(last)
    api = str((backend.cassette.metadata.get("daemon") or {}).get("ApiVersion") or "")
    headers = (("Host", "localhost"), ("User-Agent", f"pytest-dockerimages/{_version()}"))
    count = 0
    total = len(requests) + len(last)

    def send(method: str, target: str) -> Response:
        nonlocal count
        count += 1
        if progress is not None:
            progress.write(f"\r\x1b[K[{count}/{total}] {method} {target[:100]}")
            progress.flush()
        return backend.handle(Request(method, target, headers))

    for method, target in requests:
        send(method, target)
    if per_image and api:
        ids = [entry["Id"] for entry in backend.get_json(f"/v{api}/images/json?all=1")]  # not recorded
        total += 2 * len(ids)
        for image_id in ids:
            send("GET", f"/v{api}/images/{image_id}/json")
            send("GET", f"/v{api}/images/{image_id}/history")
    for method, target in last:
        send(method, target)
    if progress is not None:
        progress.write(f"\r\x1b[K{count} requests recorded\n")
        progress.flush()
    if backend.errors:
        raise RecordError(backend.errors[0])
    return count


def _version() -> str:
    from .. import __version__

    return __version__


def is_tty(stream: TextIO = sys.stderr) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

