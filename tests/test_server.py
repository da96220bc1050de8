"""Transport tests for the fake daemon's HTTP/1.1 server core (no Docker logic involved).

Every socket in here has a timeout, so a server bug shows up as a failure, never a hang.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import statistics
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_dockerimages._core.wire import Request, Response
from pytest_dockerimages._http.server import Server, ServerError, SocketInUseError
from pytest_dockerimages._http.unixhttp import UnixHTTPConnection, parse_docker_host, request, session_for
from pytest_dockerimages._real.fixture import skip_or_fail

TIMEOUT = 5.0
TRANSPORTS = ["unix", "tcp"]


class EchoBackend:
    """Answers with a JSON echo of the request; a few paths trigger special behaviour."""

    def __init__(self, tag: str = "echo") -> None:
        self.tag = tag

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/boom":
            raise RuntimeError("kaboom")
        if path == "/drop":
            return Response(200, drop_connection=True)
        if path == "/_ping":
            headers = [("Api-Version", "1.43"), ("Content-Type", "text/plain; charset=utf-8")]
            if request.method == "HEAD":
                return Response(200, headers + [("Content-Length", "0")])
            return Response(200, headers, b"OK")
        if path == "/nocontent":
            return Response(204, [("X-Tag", self.tag)])
        payload = {
            "tag": self.tag,
            "method": request.method,
            "target": request.target,
            "headers": [list(h) for h in request.headers],
            "body": request.body.decode("latin-1"),
        }
        headers = [("Content-Type", "application/json"), ("X-Tag", self.tag)]
        if path == "/close":
            headers.append(("Connection", "close"))
        body = json.dumps(payload).encode() + b"\n"
        if path.startswith("/big"):
            body = b"[" + b"0," * 100_000 + b"0]\n"
        return Response(200, headers, body, chunked=path.endswith("/chunked") or path == "/chunked")


# ---------------------------------------------------------------------------- helpers


@pytest.fixture(params=TRANSPORTS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with Server(EchoBackend(), transport=request.param, idle_timeout=10.0) as srv:
        yield srv


def connect(srv: Server) -> socket.socket:
    address = srv.address
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    sock.connect(address)
    return sock


def http_conn(srv: Server) -> http.client.HTTPConnection:
    address = srv.address
    if isinstance(address, str):
        return UnixHTTPConnection(address, timeout=TIMEOUT)
    return http.client.HTTPConnection(address[0], address[1], timeout=TIMEOUT)


class RawResponse:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)


def read_response(rfile: Any, head: bool = False) -> RawResponse:
    """Minimal strict response parser over one buffered reader (pipelining-safe)."""
    status_line = rfile.readline()
    assert status_line, "connection closed before a response"
    version, status, _ = status_line.decode("latin-1").split(" ", 2)
    assert version in ("HTTP/1.1", "HTTP/1.0")  # Go answers in the request's version
    headers: list[tuple[str, str]] = []
    while True:
        line = rfile.readline().decode("latin-1").rstrip("\r\n")
        if not line:
            break
        name, value = line.split(":", 1)
        headers.append((name, value.strip()))
    response = RawResponse(int(status), headers, b"")
    if head or response.status in (204, 304):
        return response
    if (response.header("Transfer-Encoding") or "").lower() == "chunked":
        body = b""
        while True:
            size = int(rfile.readline().split(b";")[0], 16)
            if size == 0:
                assert rfile.readline() == b"\r\n"
                break
            body += rfile.read(size)
            assert rfile.readline() == b"\r\n"
        response.body = body
    else:
        length = response.header("Content-Length")
        assert length is not None or version == "HTTP/1.0", "neither chunked nor Content-Length"
        response.body = rfile.read(int(length)) if length is not None else rfile.read()  # HTTP/1.0: up to EOF
    return response


def exchange(srv: Server, data: bytes, count: int = 1, head: bool = False) -> list[RawResponse]:
    with connect(srv) as sock, sock.makefile("rb") as rfile:
        sock.sendall(data)
        return [read_response(rfile, head=head) for _ in range(count)]


def assert_closed(sock: socket.socket) -> None:
    """The server closed its side: recv gives EOF (or a reset), never a timeout."""
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass


def get(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: docker", *extra, "", ""]
    return "\r\n".join(lines).encode()


# ---------------------------------------------------------------------------- addresses


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_addresses(transport: str) -> None:
    with Server(EchoBackend(), transport=transport) as srv:  # type: ignore[arg-type]
        parsed = parse_docker_host(srv.docker_host)
        address = srv.address
        if isinstance(address, str):
            assert transport == "unix"
            assert srv.docker_host == f"unix://{address}"
            assert srv.docker_host.endswith("/docker.sock")
            assert parsed.unix_path == address
            assert srv.base_url.startswith("http+unix://%2F")
            assert len(os.fsencode(address)) < 104
        else:
            host, port = address
            assert srv.docker_host == f"tcp://127.0.0.1:{port}"
            assert srv.base_url == f"http://127.0.0.1:{port}"
            assert (parsed.host, parsed.port) == (host, port)
        status, _, body = request(srv.docker_host, "GET", "/version")
        assert status == 200 and json.loads(body)["target"] == "/version"


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    srv = Server(EchoBackend(), transport="tcp", host="::1")
    try:
        srv.start()
    except OSError as exc:
        pytest.skip(f"cannot bind ::1: {exc}")
    try:
        port = srv.address[1]
        assert srv.docker_host == f"tcp://[::1]:{port}"
        assert request(srv.docker_host, "GET", "/v6")[0] == 200
    finally:
        srv.stop()


def test_not_started_properties_raise() -> None:
    srv = Server(EchoBackend())
    with pytest.raises(ServerError, match="not started"):
        _ = srv.docker_host


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "example.com"])
def test_non_loopback_host_refused(host: str) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        Server(EchoBackend(), transport="tcp", host=host)


def test_unix_permissions() -> None:
    with Server(EchoBackend()) as srv:
        path = srv.address
        assert isinstance(path, str)
        folder = os.path.dirname(path)
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ---------------------------------------------------------------------------- connection reuse


def test_keep_alive_many_requests(server: Server) -> None:
    with connect(server) as sock, sock.makefile("rb") as rfile:
        for i in range(200):
            sock.sendall(get(f"/n/{i}"))
            response = read_response(rfile)
            assert response.status == 200
            assert response.json()["target"] == f"/n/{i}"
            assert response.header("Connection") is None


def test_keep_alive_http_client(server: Server) -> None:
    conn = http_conn(server)
    try:
        for i in range(50):
            conn.request("GET", f"/images/json?i={i}")
            response = conn.getresponse()
            assert json.loads(response.read())["target"] == f"/images/json?i={i}"
        first_sock = conn.sock
        conn.request("GET", "/again")
        conn.getresponse().read()
        assert conn.sock is first_sock  # never reconnected
    finally:
        conn.close()


def test_pipelining_in_order(server: Server) -> None:
    data = b"".join(
        [
            get("/p/0"),
            get("/p/1/chunked"),
            b"HEAD /p/2 HTTP/1.1\r\nHost: docker\r\n\r\n",
            b"POST /p/3 HTTP/1.1\r\nHost: docker\r\nContent-Length: 5\r\n\r\nhello",
            b"POST /p/4 HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            get("/p/5"),
        ]
    )
    with connect(server) as sock, sock.makefile("rb") as rfile:
        sock.sendall(data)
        responses = [read_response(rfile, head=(i == 2)) for i in range(6)]
    assert [r.status for r in responses] == [200] * 6
    assert responses[0].json()["target"] == "/p/0"
    assert responses[1].json()["target"] == "/p/1/chunked"
    assert responses[1].header("Transfer-Encoding") == "chunked"
    assert int(responses[2].header("Content-Length") or "-1") > 0
    assert responses[3].json()["body"] == "hello"
    assert responses[4].json()["body"] == "abc"
    assert responses[5].json()["target"] == "/p/5"


@pytest.mark.parametrize(
    "request_head, connection, framed",
    [
        ("GET /h10 HTTP/1.0\r\n\r\n", None, True),
        ("GET /h10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "keep-alive", True),
        # a streamed body cannot be counted: Go sends it unframed to an HTTP/1.0 client and closes
        ("GET /h10/chunked HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", None, False),
        ("GET /h11 HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n", "close", True),
    ],
)
def test_http10_and_connection_close(server: Server, request_head: str, connection: str | None,
                                     framed: bool) -> None:
    """Go's framing: the request's version on the status line, no Connection header for an HTTP/1.0
    close, keep-alive only for an HTTP/1.0 client that asked and a body that could be counted."""
    with connect(server) as sock, sock.makefile("rb") as rfile:
        sock.sendall(request_head.encode())
        response = read_response(rfile)
        assert response.status == 200
        assert response.header("Transfer-Encoding") is None
        assert response.header("Content-Length") == (str(len(response.body)) if framed else None)
        assert response.header("Connection") == connection
        if connection == "keep-alive":
            sock.sendall(request_head.encode())
            assert read_response(rfile).status == 200
        else:
            assert rfile.read() == b""


def test_backend_connection_close_closes(server: Server) -> None:
    with connect(server) as sock, sock.makefile("rb") as rfile:
        sock.sendall(get("/close"))
        assert read_response(rfile).header("Connection") == "close"
        assert rfile.read() == b""


# ---------------------------------------------------------------------------- clients


def _via_http_client(srv: Server, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http_conn(srv)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _via_requests(srv: Server, path: str) -> tuple[int, dict[str, str], bytes]:
    with session_for(srv.docker_host) as session:
        response = session.get(path, timeout=TIMEOUT)
        return response.status_code, dict(response.headers), response.content


def _via_httpx(srv: Server, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        import httpx
    except ImportError:
        skip_or_fail("httpx is not installed (pip install -e .[test])")
    address = srv.address
    if isinstance(address, str):
        transport = httpx.HTTPTransport(uds=address)
        base = "http://docker"
    else:
        transport = httpx.HTTPTransport()
        base = srv.base_url
    with httpx.Client(transport=transport, base_url=base, timeout=TIMEOUT, trust_env=False) as client:
        response = client.get(path)
        return response.status_code, dict(response.headers), response.content


@pytest.mark.parametrize("client", [_via_http_client, _via_requests, _via_httpx], ids=["http.client", "requests", "httpx"])
@pytest.mark.parametrize("path", ["/chunked", "/big/chunked", "/plain", "/big"])
def test_clients_decode_bodies(server: Server, client: Any, path: str) -> None:
    status, headers, body = client(server, path)
    lower = {k.lower(): v for k, v in headers.items()}
    assert status == 200
    if path.endswith("chunked"):
        assert lower["transfer-encoding"] == "chunked"
        assert "content-length" not in lower
    else:
        assert lower["content-length"] == str(len(body))
    assert "date" in lower and lower["date"].endswith(" GMT")
    if path.startswith("/big"):
        assert body == b"[" + b"0," * 100_000 + b"0]\n"
    else:
        assert json.loads(body)["target"] == path


# ---------------------------------------------------------------------------- HEAD and status codes


def test_head_has_no_body(server: Server) -> None:
    with connect(server) as sock, sock.makefile("rb") as rfile:
        sock.sendall(b"HEAD /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
        ping = read_response(rfile, head=True)
        assert ping.status == 200 and ping.header("Content-Length") == "0"
        assert ping.header("Api-Version") == "1.43"
        sock.sendall(b"HEAD /x HTTP/1.1\r\nHost: docker\r\n\r\n" + get("/after-head"))
        head = read_response(rfile, head=True)
        assert int(head.header("Content-Length") or "0") > 0
        # If HEAD had leaked a body, this would parse garbage instead of the next response.
        assert read_response(rfile).json()["target"] == "/after-head"
    status, _, body = request(server.docker_host, "HEAD", "/chunked")
    assert status == 200 and body == b""


def test_204_has_no_body_or_length(server: Server) -> None:
    response = exchange(server, get("/nocontent") + get("/after"), count=2)
    assert response[0].status == 204 and response[0].header("Content-Length") is None
    assert response[1].json()["target"] == "/after"


def test_reason_phrases_and_header_order() -> None:
    class Teapot:
        def handle(self, request: Request) -> Response:
            return Response(418, [("B-Second", "2"), ("A-First", "1"), ("Date", "fixed")], b"x")

    with Server(Teapot()) as srv, connect(srv) as sock:
        sock.sendall(get("/"))
        data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 418 I'm a Teapot\r\nB-Second: 2\r\nA-First: 1\r\nDate: fixed\r\n")


# ---------------------------------------------------------------------------- limits and malformed input


HUGE = 8 * 1024 * 1024

H = b"Host: d\r\n"
TOO_LARGE = b"431 Request Header Fields Too Large"
BODY_TOO_LARGE = b"413 Request Entity Too Large: request body larger than 1048576 bytes"
BAD = b"400 Bad Request"

# The server's own limits answer as Go does past its head limit (431), a body past it 413 in the same
# plain-text form; tests/test_gohttp.py has every malformed request Go refuses, and dockerd's bytes.
LIMIT_CASES = [
    ("long-request-line", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", TOO_LARGE),
    ("huge-request-line", b"GET /" + b"a" * HUGE + b" HTTP/1.1\r\n" + H + b"\r\n", TOO_LARGE),
    ("big-header", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n", TOO_LARGE),
    ("huge-header", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * HUGE + b"\r\n\r\n", TOO_LARGE),
    ("many-small-headers", b"GET / HTTP/1.1\r\n" + H + b"X: y\r\n" * 2000 + b"\r\n", TOO_LARGE),
    ("101-headers", b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + H + b"\r\n",
     TOO_LARGE),
    ("body-length", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 2000000\r\n\r\n", BODY_TOO_LARGE),
    ("huge-body", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: %d\r\n\r\n" % HUGE + b"x" * HUGE, BODY_TOO_LARGE),
    ("chunked-body", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     + (b"4000\r\n" + b"x" * 0x4000 + b"\r\n") * 80, BODY_TOO_LARGE),
    ("one-huge-chunk", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n800000\r\n"
     + b"x" * 0x800000, BODY_TOO_LARGE),
    ("garbage", b"HELLO\r\n\r\n", BAD),
    ("no-version", b"GET /\r\n\r\n", BAD),
    ("no-colon", b"GET / HTTP/1.1\r\n" + H + b"Host\r\n\r\n", BAD),
    ("bad-length", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n", BAD),
    ("two-lengths", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx", BAD),
    ("unicode-digit-length", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: \xb2\r\n\r\nxx", BAD),
    ("no-host", b"GET / HTTP/1.1\r\n\r\n", b"400 Bad Request: missing required Host header"),
    ("space-before-colon", b"GET / HTTP/1.1\r\n" + H + b"X : y\r\n\r\n", b"400 Bad Request: invalid header name"),
    ("unknown-te", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", b"Unsupported transfer encoding"),
]


@pytest.mark.parametrize("data, body", [c[1:] for c in LIMIT_CASES], ids=[c[0] for c in LIMIT_CASES])
def test_limits_and_malformed(server: Server, data: bytes, body: bytes) -> None:
    sender_error: list[BaseException] = []
    with connect(server) as sock, sock.makefile("rb") as rfile:

        def send() -> None:
            view = memoryview(data)
            try:
                for start in range(0, len(view), 65536):
                    sock.sendall(view[start : start + 65536])
            except OSError as exc:  # the server may close after answering: fine
                sender_error.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        tracemalloc.start()
        try:
            sender.start()
            answer = rfile.read()
            sender.join(TIMEOUT)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert not sender.is_alive()
        status = body if body.startswith(b"4") else b"501 Not Implemented"
        assert answer == (b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          b"Connection: close\r\n\r\n" + body)
    # Nothing near the 8 MiB payloads was buffered by the server (limit is 1 MiB of body).
    assert peak < 3 * 1024 * 1024, f"peak traced memory {peak} bytes"


def test_expect_100_continue(server: Server) -> None:
    with connect(server) as sock, sock.makefile("rb") as rfile:
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: d\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        assert rfile.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert rfile.readline() == b"\r\n"
        sock.sendall(b"data")
        assert read_response(rfile).json()["body"] == "data"
        # Too large: refused before the client sends the body.
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: d\r\nExpect: 100-continue\r\nContent-Length: 9999999\r\n\r\n")
        assert rfile.readline().startswith(b"HTTP/1.1 413 Request Entity Too Large")


def test_request_passes_raw_target_and_headers(server: Server) -> None:
    target = "/images/json?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D&all=1"
    (response,) = exchange(server, get(target, "X-Registry-Auth: e30=", "x-lower:  spaced  "))
    echoed = response.json()
    assert echoed["target"] == target
    assert ["X-Registry-Auth", "e30="] in echoed["headers"]
    assert ["x-lower", "spaced"] in echoed["headers"]


# ---------------------------------------------------------------------------- misbehaving clients


def test_slow_client_does_not_block_others(server: Server) -> None:
    silent = connect(server)  # connects and sends nothing
    partial = connect(server)
    partial.sendall(b"GET /slow HTTP/1.1\r\nHost: do")  # stops mid-headers
    try:
        started = time.monotonic()
        for _ in range(5):
            status, _, _ = request(server.docker_host, "GET", "/fast", timeout=2)
            assert status == 200
        assert time.monotonic() - started < 2
    finally:
        silent.close()
        partial.close()


def test_half_closed_client_gets_answer(server: Server) -> None:
    with connect(server) as sock, sock.makefile("rb") as rfile:
        sock.sendall(get("/half") + get("/half2"))
        sock.shutdown(socket.SHUT_WR)
        assert read_response(rfile).json()["target"] == "/half"
        assert read_response(rfile).json()["target"] == "/half2"
        assert rfile.read() == b""


def test_idle_timeout_closes_connection() -> None:
    with Server(EchoBackend(), idle_timeout=0.3) as srv, connect(srv) as sock:
        sock.sendall(get("/once"))
        started = time.monotonic()
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK")
        assert 0.2 < time.monotonic() - started < 3


def test_drop_connection(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(get("/drop"))
        assert_closed(sock)
    conn = http_conn(server)
    try:
        conn.request("GET", "/drop")
        with pytest.raises(http.client.RemoteDisconnected):
            conn.getresponse()
    finally:
        conn.close()
    assert request(server.docker_host, "GET", "/ok")[0] == 200


# ---------------------------------------------------------------------------- backend errors


def test_backend_exception_becomes_500_and_is_recorded(server: Server) -> None:
    with connect(server) as sock, sock.makefile("rb") as rfile:
        sock.sendall(get("/boom") + get("/still-alive"))
        failed = read_response(rfile)
        assert failed.status == 500
        assert failed.header("Content-Type") == "application/json"
        assert failed.json() == {"message": "pytest-dockerimages internal error: RuntimeError: kaboom"}
        assert read_response(rfile).json()["target"] == "/still-alive"
    assert len(server.errors) == 1
    error = server.errors[0]
    assert isinstance(error, RuntimeError) and error.__traceback__ is not None
    with pytest.raises(RuntimeError, match="kaboom"):
        server.check_errors()


@pytest.mark.parametrize(
    "bad",
    [
        Response(200, [("X-Evil", "a\r\nInjected: 1")]),
        Response(99999),
        "not a response",
    ],
    ids=["header-injection", "bad-status", "wrong-type"],
)
def test_invalid_backend_response_is_500(bad: Any) -> None:
    class Bad:
        def handle(self, request: Request) -> Any:
            return bad

    with Server(Bad()) as srv:
        status, _, body = request(srv.docker_host, "GET", "/")
        assert status == 500
        assert json.loads(body)["message"].startswith("pytest-dockerimages internal error: ")
        assert len(srv.errors) == 1


def test_backend_swap_at_run_time(server: Server) -> None:
    conn = http_conn(server)
    try:
        conn.request("GET", "/a")
        assert json.loads(conn.getresponse().read())["tag"] == "echo"
        server.backend = EchoBackend("other")
        conn.request("GET", "/b")
        assert json.loads(conn.getresponse().read())["tag"] == "other"
    finally:
        conn.close()


# ---------------------------------------------------------------------------- lifecycle


def test_stop_from_inside_backend() -> None:
    """A backend may stop its own server (e.g. a fault-injection "daemon dies" scenario)."""
    holder: list[Server] = []

    class Stopper:
        def handle(self, request: Request) -> Response:
            holder[0].stop()
            return Response(200, [], b"bye")

    before = set(threading.enumerate())
    srv = Server(Stopper())
    holder.append(srv)
    srv.start()
    path = srv.address
    assert isinstance(path, str)
    try:
        request(srv.docker_host, "GET", "/")
    except (OSError, http.client.HTTPException):
        pass  # the answer may or may not make it out: the point is no deadlock
    deadline = time.monotonic() + TIMEOUT
    while (srv.running or set(threading.enumerate()) != before) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not srv.running and not os.path.exists(path)
    assert set(threading.enumerate()) == before


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stop_cleans_everything(transport: str) -> None:
    before = set(threading.enumerate())
    srv = Server(EchoBackend(), transport=transport, idle_timeout=30.0)  # type: ignore[arg-type]
    srv.start()
    address = srv.address
    idle = [connect(srv) for _ in range(3)]  # idle keep-alive connections at stop time
    for sock in idle:
        sock.sendall(get("/x"))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    silent = connect(srv)
    time.sleep(0.05)
    assert len(set(threading.enumerate()) - before) >= 5
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 2, "stop() waited for idle connections"
    assert set(threading.enumerate()) == before
    for sock in idle + [silent]:
        assert_closed(sock)
        sock.close()
    if isinstance(address, str):
        assert not os.path.exists(address)
        assert not os.path.exists(os.path.dirname(address))
    else:
        probe = socket.socket()
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
            probe.listen()
        finally:
            probe.close()
    srv.stop()  # idempotent


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_start_stop_twice(transport: str) -> None:
    before = set(threading.enumerate())
    srv = Server(EchoBackend(), transport=transport)  # type: ignore[arg-type]
    for _ in range(2):
        with srv:
            assert request(srv.docker_host, "GET", "/")[0] == 200
            with pytest.raises(ServerError, match="already started"):
                srv.start()
        assert not srv.running
    for _ in range(2):
        with Server(EchoBackend(), transport=transport) as other:  # type: ignore[arg-type]
            assert request(other.docker_host, "GET", "/")[0] == 200
    assert set(threading.enumerate()) == before


def test_explicit_unix_path(tmp_path: Any) -> None:
    path = tmp_path / "new-dir" / "docker.sock"
    with Server(EchoBackend(), unix_path=path) as srv:
        assert srv.docker_host == f"unix://{path}"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert request(srv.docker_host, "GET", "/")[0] == 200
    assert not path.exists()
    assert not path.parent.exists()  # created by the server, so removed by it


def test_live_socket_collision(tmp_path: Any) -> None:
    path = tmp_path / "docker.sock"
    with Server(EchoBackend(), unix_path=path):
        with pytest.raises(SocketInUseError, match="live socket.*docker.sock"):
            Server(EchoBackend(), unix_path=path).start()
        assert request(f"unix://{path}", "GET", "/")[0] == 200  # the first one is untouched


def test_stale_socket_is_replaced(tmp_path: Any) -> None:
    path = tmp_path / "docker.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    with Server(EchoBackend(), unix_path=path) as srv:
        assert request(srv.docker_host, "GET", "/")[0] == 200


def test_regular_file_is_not_replaced(tmp_path: Any) -> None:
    path = tmp_path / "docker.sock"
    path.write_text("not a socket")
    with pytest.raises(ServerError, match="not a unix socket"):
        Server(EchoBackend(), unix_path=path).start()
    assert path.read_text() == "not a socket"


# ---------------------------------------------------------------------------- concurrency and speed


def test_concurrent_clients(server: Server) -> None:
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with session_for(server.docker_host) as session:
                for i in range(20):
                    response = session.get(f"/w/{n}/{i}", timeout=TIMEOUT)
                    assert response.json()["target"] == f"/w/{n}/{i}"
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 4)
    assert not failures
    assert not any(t.is_alive() for t in threads)


def test_keep_alive_latency() -> None:
    """2,000 keep-alive GETs on one unix connection; the median must stay far below dockerd's."""

    class Trivial:
        def handle(self, request: Request) -> Response:
            return Response(200, [("Content-Type", "application/json")], b"[]\n")

    with Server(Trivial()) as srv, connect(srv) as sock:
        payload = get("/images/json", "User-Agent: bench")
        samples = []
        for _ in range(2000):
            started = time.perf_counter()
            sock.sendall(payload)
            data = sock.recv(65536)
            samples.append(time.perf_counter() - started)
            assert data.endswith(b"[]\n")
    median_us = statistics.median(samples) * 1e6
    print(f"median keep-alive latency over unix socket: {median_us:.1f} us")
    assert median_us < 2000
