"""The HTTP/2 preface, as each release answers it: h2c on Docker 29, the router's 301 before.

Real daemons: Docker 29.7.2 answers `PRI * HTTP/2.0` with an HTTP/2 SETTINGS frame and then
serves HTTP/2 on the same socket; 20.10 to 28.5 route the `*` path and answer
`301 Moved Permanently` with `Location: /%2A` and `Connection: close`.
"""
from __future__ import annotations

import re
import socket
from typing import Iterator

import pytest
from requires import EACH_RELEASE, require_module, unseeded_real_daemon

from pytest_dockerimages import FakeDaemon
from pytest_dockerimages._core.pathclean import clean_path, escape_path
from pytest_dockerimages._core.profiles import PROFILES
from pytest_dockerimages._http.h2c import PREFACE
from pytest_dockerimages._real.harness import RealDaemon

httpx = require_module("httpx")
require_module("h2")

_DATE = re.compile(rb"Date: [^\r]+\r\n")


def raw_exchange(unix_path: str, payload: bytes, timeout: float = 2.0) -> bytes:
    """Send bytes, read until the peer closes (or goes quiet)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(unix_path)
        sock.sendall(payload)
        sock.settimeout(timeout)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except TimeoutError:
            pass
        return out


def h2_answers(unix_path: str) -> list[tuple[str, int, dict[str, str], bytes]]:
    transport = httpx.HTTPTransport(uds=unix_path, http1=False, http2=True)
    with httpx.Client(transport=transport, base_url="http://docker") as client:
        answers = []
        for target in ("/_ping", "/v1.50/images/json?all=1", "/nope", "/v1.12/images/json"):
            response = client.get(target)
            headers = {k: v for k, v in response.headers.items() if k != "date"}
            answers.append((response.http_version, response.status_code, headers, response.content))
        return answers


@pytest.mark.parametrize("path, cleaned", [
    ("/images/json", "/images/json"), ("//images/json", "/images/json"), ("/v1.45/./images/json", "/v1.45/images/json"),
    ("/images/../_ping", "/_ping"), ("/images/json/", "/images/json/"), ("*", "/*"), ("", "/"), ("/..", "/"),
    ("/a//b/", "/a/b/"),
])
def test_clean_path_is_gorilla_mux_clean_path(path: str, cleaned: str) -> None:
    assert clean_path(path) == cleaned


@pytest.mark.parametrize("target", ["/images/json", "/v1.45/images/json?all=1", "/", "/images/json/", "/.x",
                                    "/a/.b/", "/images/a%2Fb/json", "/a%2F%2Fb", "//x", "/a/./b", "/a/../b", "*",
                                    "/images/sha256%3Aab/json", "/a/..", "/%2E%2E/x"])
def test_redirect_only_for_a_path_the_router_would_clean(target: str) -> None:
    from urllib.parse import unquote

    from pytest_dockerimages._core.pathclean import redirect_to_clean
    from pytest_dockerimages._core.wire import Request

    path = unquote(target.split("?")[0])
    assert (redirect_to_clean(Request("GET", target)) is None) == (clean_path(path) == path)


@pytest.mark.parametrize("path, escaped", [("/*", "/%2A"), ("/a b", "/a%20b"), ("/a:b@c", "/a:b@c"), ("/é", "/%C3%A9")])
def test_location_is_escaped_as_go_writes_a_path(path: str, escaped: str) -> None:
    assert escape_path(path) == escaped


def test_only_docker_29_speaks_h2c() -> None:
    assert {name for name, p in PROFILES.items() if p.h2c_prior_knowledge} == {"docker-29.7", "docker-29.7-containerd"}


@pytest.mark.parametrize("profile", ["docker-29.7", "docker-29.7-containerd"])
def test_fake_serves_http2_with_prior_knowledge(profile: str) -> None:
    with FakeDaemon(profile=profile) as fake:
        answers = h2_answers(fake.server.unix_path or "")
        with httpx.Client(transport=httpx.HTTPTransport(uds=fake.server.unix_path), base_url="http://docker") as h1:
            listing = h1.get("/v1.50/images/json?all=1")
    assert [a[:2] for a in answers] == [("HTTP/2", 200), ("HTTP/2", 200), ("HTTP/2", 404), ("HTTP/2", 400)]
    assert answers[1][3] == listing.content  # the same body over either protocol
    assert answers[0][2]["api-version"] == "1.55" and answers[0][3] == b"OK"


@pytest.mark.parametrize("profile", ["docker-20.10", "docker-26.1", "docker-28.1-containerd"])
def test_fake_routes_the_preface_like_an_http1_daemon(profile: str) -> None:
    with FakeDaemon(profile=profile) as fake:
        answer = raw_exchange(fake.server.unix_path or "", PREFACE)
    assert _DATE.sub(b"", answer) == (b"HTTP/1.1 301 Moved Permanently\r\nLocation: /%2A\r\n"
                                       b"Content-Length: 0\r\nConnection: close\r\n\r\n")


def test_other_http2_request_lines_get_go_s_505() -> None:
    with FakeDaemon(profile="docker-29.7") as fake:
        answer = raw_exchange(fake.server.unix_path or "", b"GET /_ping HTTP/2.0\r\nHost: x\r\n\r\n")
    assert answer == (b"HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version\r\n"
                      b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
                      b"505 HTTP Version Not Supported: unsupported protocol version")


@pytest.mark.slow
def test_http1_clients_still_served_when_h2c_is_on() -> None:
    with FakeDaemon(profile="docker-29.7") as fake:
        answer = raw_exchange(fake.server.unix_path or "", b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        partial = raw_exchange(fake.server.unix_path or "", b"PRI * HTTP/2.0\r\n\r\n", timeout=0.5)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"OK")
    assert partial == b""  # half a preface: the daemon waits for the rest, as Go does


def test_h2c_body_over_the_limit_gets_413() -> None:
    with FakeDaemon(profile="docker-29.7") as fake:
        fake.server._limits["max_body"] = 1000
        transport = httpx.HTTPTransport(uds=fake.server.unix_path, http1=False, http2=True)
        with httpx.Client(transport=transport, base_url="http://docker") as client:
            response = client.post("/images/json", content=b"x" * 5000)
            after = client.get("/_ping")
    assert response.status_code == 413 and b"request body larger than 1000 bytes" in response.content
    assert after.status_code == 200  # the connection survives a refused stream


# --------------------------------------------------------------------------- real daemons


@pytest.fixture(scope="module", params=EACH_RELEASE)
def real(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    yield from unseeded_real_daemon(request.param)


def test_preface_answer_matches_the_real_daemon(real: RealDaemon) -> None:
    unix_path = real.docker_host.removeprefix("unix://")
    with FakeDaemon(profile=real.variant.name) as fake:
        mine = raw_exchange(fake.server.unix_path or "", PREFACE, timeout=1.0)
        my_h2 = h2_answers(fake.server.unix_path or "") if fake.profile.h2c_prior_knowledge else None
    theirs = raw_exchange(unix_path, PREFACE, timeout=1.0)
    if my_h2 is not None:
        # an HTTP/2 SETTINGS frame (type 4, stream 0) opens both answers
        assert theirs[3:4] == mine[3:4] == b"\x04" and theirs[5:9] == mine[5:9] == b"\0\0\0\0"
        assert h2_answers(unix_path) == my_h2
    else:
        assert _DATE.sub(b"", mine) == _DATE.sub(b"", theirs)  # byte for byte, header order included


def test_h2c_on_a_tcp_listener_too() -> None:
    with FakeDaemon(profile="docker-29.7", transport="tcp") as fake:
        with httpx.Client(http1=False, http2=True, base_url=f"http://127.0.0.1:{fake.server.port}") as client:
            response = client.get("/v1.55/images/json")
    assert response.http_version == "HTTP/2" and response.status_code == 200 and response.json() == fake_listing()


def fake_listing() -> object:
    with FakeDaemon(profile="docker-29.7") as fake:
        with httpx.Client(transport=httpx.HTTPTransport(uds=fake.server.unix_path), base_url="http://d") as h1:
            return h1.get("/v1.55/images/json").json()


@pytest.mark.parametrize("seed", range(40))
def test_garbage_after_the_preface_never_breaks_the_server(seed: int) -> None:
    """Random frames (valid headers, random types, flags, lengths and payloads) after the preface."""
    import random

    rng = random.Random(seed)
    frames = b"".join(
        len(payload).to_bytes(3, "big") + bytes([rng.randrange(12), rng.randrange(256)])
        + rng.randrange(2**31).to_bytes(4, "big") + payload
        for payload in (rng.randbytes(rng.randrange(40)) for _ in range(rng.randrange(1, 6))))
    with FakeDaemon(profile="docker-29.7") as fake:
        raw_exchange(fake.server.unix_path or "", PREFACE + frames, timeout=0.3)
        after = raw_exchange(fake.server.unix_path or "", b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        assert fake.server.errors == []
    assert after.startswith(b"HTTP/1.1 200 OK")


def test_a_slow_h2c_client_is_timed_out() -> None:
    with FakeDaemon(profile="docker-29.7") as fake:
        fake.server.idle_timeout = 0.3
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(fake.server.unix_path or "")
            sock.sendall(PREFACE)
            sock.settimeout(5)
            received = b""
            while chunk := sock.recv(65536):  # the server's SETTINGS, then EOF once it gives up on us
                received += chunk
    assert received[3:4] == b"\x04"
