"""HTTP/1.1 server core of the fake Docker daemon: transport only, no Docker logic.

Every Docker client (docker CLI, docker SDK for Python, httpx, aiodocker, Go) reaches the
daemon through ``DOCKER_HOST``, so the fake must speak plain HTTP/1.1 the way dockerd does:
keep-alive, pipelining, chunked JSON bodies, HEAD without a body, over a unix socket (the
default, private to the user) or a loopback TCP port.  Whatever sits behind it (fake data,
cassette replay, recording) is a :class:`~pytest_dockerimages._core.wire.Backend`.

Design choices, and why:

* One daemon thread per connection, tracked so :meth:`Server.stop` can wake and join every
  one of them: tests must not leak threads, sockets or folders between each other.
* Reads go through a buffered ``socket.makefile('rb')`` with bounded ``readline`` calls, so an
  oversized request line, header block or body is refused (414/431/413) after reading at most
  the limit, never an unbounded amount of data.
* Each response is serialised into a few buffers (head, body) written with one ``sendmsg``
  (writev), so a large body is never copied: one syscall per request keeps latency far below
  dockerd's and avoids Nagle/delayed-ACK stalls.
* An exception in the backend is answered with a 500 and kept in :attr:`Server.errors`, so
  a pytest fixture can re-raise it inside the test that triggered it.
"""
from __future__ import annotations

import errno
import http
import ipaddress
import os
import re
import selectors
import shutil
import socket
import stat
import sys
import tempfile
import threading
import time
import urllib.parse
from email.utils import formatdate
from types import TracebackType
from typing import BinaryIO, Literal, cast

from .._core.wire import Backend, Request, Response, find_header, speaks_h2c
from .h2c import starts_with_preface

__all__ = ["Server", "ServerError", "SocketInUseError", "RemoteHostRefused"]

Transport = Literal["unix", "tcp"]

#: Limits a real client never reaches; anything beyond them is refused without buffering it.
MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100
MAX_BODY = 1024 * 1024
#: Idle keep-alive timeout (seconds), also bounds every read from a slow client.
IDLE_TIMEOUT = 30.0
#: How long a closing connection keeps draining client data so the client reads our answer
#: instead of a TCP reset (a "lingering close", as nginx and Go do).
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 16 * 1024 * 1024
#: sun_path is 108 bytes on Linux (104 on the BSDs and macOS), including the trailing NUL.
_SUN_PATH_MAX = 108 if sys.platform.startswith("linux") else 104

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE_RE = re.compile(rb"(" + _TOKEN + rb") ([^\x00-\x20\x7f]+) HTTP/(\d)\.(\d)")
_HEADER_RE = re.compile(rb"(" + _TOKEN + rb"):[ \t]*((?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x20\x7f])?)[ \t]*")
_DIGITS_RE = re.compile(r"[0-9]{1,18}")
_CHUNK_SIZE_RE = re.compile(rb"[0-9A-Fa-f]{1,16}")
#: The first line of the HTTP/2 preface; a daemon that does not speak h2c routes it as a request.
_H2_PREFACE_LINE = b"PRI * HTTP/2.0"
_NO_BODY_STATUSES = frozenset({204, 304})
_REASONS: dict[int, str] = {s.value: s.phrase for s in http.HTTPStatus}


class ServerError(RuntimeError):
    """The fake daemon cannot start or is used in the wrong state."""


class RemoteHostRefused(ValueError):
    """A non-loopback TCP host without the explicit opt-in; `reason` is the message without the
    Python hint, so the command line can name its own flag instead."""

    def __init__(self, host: str) -> None:
        self.reason = f"refusing to listen on non-loopback host {host!r}: the fake daemon has no authentication"
        super().__init__(f"{self.reason}; pass allow_remote=True if you really mean it")


class SocketInUseError(ServerError):
    """Another process (a real dockerd, another fake) already listens on the requested socket."""


class _Reject(Exception):
    """Raised while parsing: answer ``status`` with a JSON message, then close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _GoStatusError(_Reject):
    """A rejection Go's net/http writes itself, before any handler: a plain-text status line and body.

    Its exact bytes (``conn.serve`` in Go's server.go) are what every dockerd sends.
    """

    def raw(self) -> bytes:
        public = f"{self.status} {_REASONS.get(self.status, '')}: {self.message}"
        return (f"HTTP/1.1 {public}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
                f"{public}").encode("latin-1")


class _Eof(Exception):
    """The client went away (EOF or timeout) before a whole request arrived: close silently."""


class _ParsedRequest:
    """A request plus the connection-level facts the writer needs (version, keep-alive)."""

    __slots__ = ("request", "http10", "keep_alive")

    def __init__(self, request: Request, http10: bool, keep_alive: bool) -> None:
        self.request = request
        self.http10 = http10
        self.keep_alive = keep_alive


class _DateCache:
    """RFC 7231 ``Date`` value, recomputed at most once a second (formatting costs ~10 µs)."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""
        self._lock = threading.Lock()

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            with self._lock:
                self._value = formatdate(second, usegmt=True)
                self._second = second
        return self._value


_DATE = _DateCache()


def _json_message(message: str) -> bytes:
    """The ``{"message": ...}`` error body dockerd uses, without importing json per call."""
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in escaped)
    return ('{"message":"' + escaped + '"}\n').encode("utf-8")


def _error_response(status: int, message: str) -> Response:
    return Response(
        status=status,
        headers=[("Content-Type", "application/json")],
        body=_json_message(message),
    )


def _tokens(value: str | None) -> set[str]:
    """Lower-cased comma-separated tokens of a header such as ``Connection``."""
    if not value:
        return set()
    return {part.strip().lower() for part in value.split(",") if part.strip()}


class _RequestReader:
    """Reads requests off one connection, enforcing every size limit while reading."""

    def __init__(
        self,
        rfile: BinaryIO,
        *,
        max_request_line: int,
        max_header_bytes: int,
        max_headers: int,
        max_body: int,
        send_continue: "_ContinueSender",
    ) -> None:
        self._rfile = rfile
        self._max_line = max_request_line
        self._max_header_bytes = max_header_bytes
        self._max_headers = max_headers
        self._max_body = max_body
        self._send_continue = send_continue

    def read(self) -> _ParsedRequest | None:
        """Next request, ``None`` on a clean EOF between requests."""
        line = self._request_line()
        if line is None:
            return None
        match = _REQUEST_LINE_RE.fullmatch(line)
        if match is None:
            raise _Reject(400, "malformed HTTP request line")
        method_b, target_b, major, minor = match.groups()
        if major != b"1" and line != _H2_PREFACE_LINE:
            raise _GoStatusError(505, "unsupported protocol version")
        http10 = minor == b"0"
        headers = self._headers()
        request_headers = tuple(headers)
        connection = _tokens(find_header(headers, "connection"))
        keep_alive = "keep-alive" in connection if http10 else "close" not in connection
        if major != b"1":  # Go's HTTP/1 server hands "PRI * HTTP/2.0" to the router, then closes
            keep_alive = False
        body = self._body(headers, http10)
        request = Request(
            method=method_b.decode("ascii"),
            target=target_b.decode("latin-1"),
            headers=request_headers,
            body=body,
        )
        return _ParsedRequest(request, http10, keep_alive)

    def _request_line(self) -> bytes | None:
        # RFC 9112 §2.2: ignore a few empty lines before the request line (old clients send them).
        for _ in range(4):
            raw = self._rfile.readline(self._max_line + 3)
            if not raw:
                return None
            line = raw.rstrip(b"\r\n")
            if len(line) > self._max_line or (not raw.endswith(b"\n") and len(raw) > self._max_line):
                raise _Reject(414, f"request line longer than {self._max_line} bytes")
            if not raw.endswith(b"\n"):
                raise _Eof()
            if line:
                return line
        raise _Reject(400, "too many empty lines before the request line")

    def _headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        budget = self._max_header_bytes
        while True:
            raw = self._rfile.readline(budget + 3)
            if not raw.endswith(b"\n"):
                if len(raw) > budget:
                    raise _Reject(431, f"request headers larger than {self._max_header_bytes} bytes")
                raise _Eof()
            budget -= len(raw)
            if budget < 0:
                raise _Reject(431, f"request headers larger than {self._max_header_bytes} bytes")
            line = raw.rstrip(b"\r\n")
            if not line:
                return headers
            if len(headers) >= self._max_headers:
                raise _Reject(431, f"more than {self._max_headers} request headers")
            match = _HEADER_RE.fullmatch(line)
            if match is None:
                raise _Reject(400, "malformed request header")
            headers.append((match.group(1).decode("ascii"), match.group(2).decode("latin-1")))

    def _body(self, headers: list[tuple[str, str]], http10: bool) -> bytes:
        transfer_encoding = find_header(headers, "transfer-encoding")
        lengths = {v.strip() for k, v in headers if k.lower() == "content-length"}
        if transfer_encoding is not None:
            if lengths:
                # Both framings at once is the request-smuggling pattern: refuse it.
                raise _Reject(400, "both Transfer-Encoding and Content-Length given")
            codings = [c.strip().lower() for c in transfer_encoding.split(",")]
            if codings[-1] != "chunked" or http10:
                raise _Reject(501, f"unsupported Transfer-Encoding: {transfer_encoding}")
            self._maybe_continue(headers, http10)
            return self._chunked_body()
        if not lengths:
            return b""
        if len(lengths) > 1:
            raise _Reject(400, "conflicting Content-Length headers")
        value = lengths.pop()
        if _DIGITS_RE.fullmatch(value) is None:  # str.isdigit() would accept "²"
            raise _Reject(400, "invalid Content-Length")
        length = int(value)
        if length > self._max_body:
            raise _Reject(413, f"request body larger than {self._max_body} bytes")
        if length == 0:
            return b""
        self._maybe_continue(headers, http10)
        body = self._rfile.read(length)
        if len(body) != length:
            raise _Eof()
        return body

    def _maybe_continue(self, headers: list[tuple[str, str]], http10: bool) -> None:
        """curl waits (1 s) for ``100 Continue`` before sending a big body; do not make it wait."""
        if not http10 and "100-continue" in _tokens(find_header(headers, "expect")):
            self._send_continue()

    def _chunked_body(self) -> bytes:
        body = bytearray()
        while True:
            raw = self._rfile.readline(4096)
            if not raw.endswith(b"\n"):
                if len(raw) >= 4096:
                    raise _Reject(400, "chunk size line too long")
                raise _Eof()
            size_text = raw.split(b";", 1)[0].strip()
            if _CHUNK_SIZE_RE.fullmatch(size_text) is None:  # int(x, 16) would accept "0x1f", "+5", "1_0"
                raise _Reject(400, "malformed chunk size")
            size = int(size_text, 16)
            if size == 0:
                self._trailers()
                return bytes(body)
            if len(body) + size > self._max_body:
                raise _Reject(413, f"request body larger than {self._max_body} bytes")
            chunk = self._rfile.read(size)
            if len(chunk) != size:
                raise _Eof()
            body += chunk
            crlf = self._rfile.readline(3)
            if crlf not in (b"\r\n", b"\n"):
                if not crlf:
                    raise _Eof()
                raise _Reject(400, "chunk not terminated by CRLF")

    def _trailers(self) -> None:
        """Trailers are read (bounded by the header budget) and discarded: no Docker API uses them."""
        budget = self._max_header_bytes
        while True:
            raw = self._rfile.readline(budget + 3)
            if not raw.endswith(b"\n"):
                if len(raw) > budget:
                    raise _Reject(431, "request trailers too large")
                raise _Eof()
            budget -= len(raw)
            if raw in (b"\r\n", b"\n"):
                return


class _ContinueSender:
    """Writes ``HTTP/1.1 100 Continue`` at most once per request."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def __call__(self) -> None:
        self._sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")


def serialize_response(response: Response, *, method: str, http10: bool, close: bool) -> bytes:
    """The bytes of one response: status line, headers in the backend's order, framing, body.

    (`response_buffers` joined; the server itself sends the buffers without joining them.)
    """
    return b"".join(response_buffers(response, method=method, http10=http10, close=close))


def response_buffers(response: Response, *, method: str, http10: bool, close: bool) -> list[bytes]:
    """`serialize_response` as a list of buffers: head, then the body (framed) as it is, uncopied.

    ``Content-Length``/``Transfer-Encoding`` from the backend are replaced by the framing that
    matches the body actually sent (a replayed header must never make a client hang).
    HTTP/1.0 clients cannot decode chunked bodies, so they get ``Content-Length`` instead.
    """
    status = int(response.status)
    if not 100 <= status <= 999:
        raise ValueError(f"invalid HTTP status {status!r}")
    reason = _REASONS.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {reason}"]
    body = response.body
    is_head = method == "HEAD"
    no_body = is_head or status in _NO_BODY_STATUSES or status < 200
    chunked = response.chunked and not http10
    has_date = False
    has_connection = False
    backend_length: str | None = None
    for name, value in response.headers:
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value or ":" in name:
            raise ValueError(f"invalid response header {name!r}: {value!r}")
        lname = name.lower()
        if lname == "content-length":
            backend_length = value
            continue
        if lname == "transfer-encoding":
            continue
        if lname == "date":
            has_date = True
        elif lname == "connection":
            has_connection = True
        lines.append(f"{name}: {value}")
    if not has_date:
        lines.append(f"Date: {_DATE.now()}")
    if close and not has_connection:
        lines.append("Connection: close")
    elif http10 and not close and not has_connection:
        lines.append("Connection: keep-alive")
    payload: list[bytes] = []
    if status in _NO_BODY_STATUSES or status < 200:
        if backend_length is not None and status == 304:
            lines.append(f"Content-Length: {backend_length}")
    elif is_head:
        if backend_length is not None:
            lines.append(f"Content-Length: {backend_length}")
        elif chunked:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {len(body)}")
    elif chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = [b"%x\r\n" % len(body), body, b"\r\n0\r\n\r\n"] if body else [b"0\r\n\r\n"]
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = [body]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return [head] if no_body else [head, *payload]


def _send_buffers(conn: socket.socket, buffers: list[bytes]) -> None:
    """`sendall` of several buffers in one writev (`sendmsg`), without joining them first.

    Why: a listing of 100,000 images is ~50 MB; joining head and body copied it twice per
    response, and at that size each fresh copy costs page faults, a third of the request.
    """
    views = [memoryview(b) for b in buffers if b]
    while views:
        sent = conn.sendmsg(views)
        while sent and views:
            if sent >= len(views[0]):
                sent -= len(views.pop(0))
            else:
                views[0] = views[0][sent:]
                sent = 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _live_socket_at(path: str) -> bool:
    """True when something accepts connections on the unix socket ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


class Server:
    """A threaded HTTP/1.1 server answering every request with ``backend.handle``.

    ``Server(backend)`` listens on a fresh unix socket in a private 0700 folder;
    ``Server(backend, transport="tcp")`` on a free loopback port.  ``start()`` returns once
    connections are accepted; ``stop()`` (or leaving the ``with`` block) ends every thread and
    removes everything the server created.  ``server.backend`` may be replaced at any time;
    each request reads it once.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        transport: Transport = "unix",
        unix_path: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        idle_timeout: float = IDLE_TIMEOUT,
        max_request_line: int = MAX_REQUEST_LINE,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_headers: int = MAX_HEADERS,
        max_body: int = MAX_BODY,
        join_timeout: float = 5.0,
    ) -> None:
        if transport not in ("unix", "tcp"):
            raise ValueError(f"transport must be 'unix' or 'tcp', not {transport!r}")
        if transport == "tcp" and not allow_remote and not _is_loopback(host):
            raise RemoteHostRefused(host)
        if transport == "unix" and not hasattr(socket, "AF_UNIX"):
            raise ServerError("unix sockets are not available on this platform; use transport='tcp'")
        self.backend: Backend = backend
        self.transport: Transport = transport
        self.errors: list[BaseException] = []
        self.idle_timeout = idle_timeout
        self.join_timeout = join_timeout
        self._requested_unix_path = os.fspath(unix_path) if unix_path is not None else None
        self._host = "127.0.0.1" if host == "localhost" else host
        self._requested_port = port
        self._limits = dict(
            max_request_line=max_request_line,
            max_header_bytes=max_header_bytes,
            max_headers=max_headers,
            max_body=max_body,
        )
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._accept_thread: threading.Thread | None = None
        self._connections: dict[threading.Thread, socket.socket] = {}
        self._stopping = threading.Event()
        self._unix_path: str | None = None
        self._unix_inode: int | None = None
        self._created_dir: str | None = None
        self._port: int | None = None
        self._conn_counter = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "Server":
        """Bind and listen, then accept in a background thread; returns once connectable."""
        if self._listener is not None:
            raise ServerError("server already started")
        self._stopping.clear()
        self.errors.clear()
        listener = self._bind_unix() if self.transport == "unix" else self._bind_tcp()
        listener.setblocking(False)
        self._listener = listener
        self._wakeup = socket.socketpair()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"dockerimages-accept-{self.address}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Close the listener, end and join every connection thread, remove socket and folder.

        Idempotent.  Connections are shut down (not just closed) so that threads blocked in a
        read wake up at once instead of after the idle timeout.
        """
        if self._listener is None:
            return
        self._stopping.set()
        if self._wakeup is not None:
            try:
                self._wakeup[1].send(b"x")
            except OSError:
                pass
        if self._accept_thread is not None:
            self._accept_thread.join(self.join_timeout)
        self._listener.close()
        with self._lock:
            connections = list(self._connections.items())
            for _, sock in connections:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        deadline = time.monotonic() + self.join_timeout
        current = threading.current_thread()  # stop() may be called from inside a backend
        for thread, _ in connections:
            if thread is current:
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._wakeup is not None:
            for end in self._wakeup:
                end.close()
        self._cleanup_unix()
        self._listener = None
        self._wakeup = None
        self._accept_thread = None
        self._port = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def running(self) -> bool:
        return self._listener is not None

    @property
    def address(self) -> str | tuple[str, int]:
        """The unix socket path, or ``(host, port)`` for TCP."""
        self._require_running()
        if self.transport == "unix":
            assert self._unix_path is not None
            return self._unix_path
        assert self._port is not None
        return (self._host, self._port)

    @property
    def unix_path(self) -> str | None:
        return self._unix_path if self.transport == "unix" and self.running else None

    @property
    def port(self) -> int | None:
        return self._port if self.transport == "tcp" and self.running else None

    @property
    def docker_host(self) -> str:
        """Value for ``DOCKER_HOST``: ``unix:///abs/docker.sock`` or ``tcp://127.0.0.1:PORT``."""
        address = self.address
        if isinstance(address, str):
            return "unix://" + address
        return f"tcp://{_bracket(address[0])}:{address[1]}"

    @property
    def base_url(self) -> str:
        """URL prefix for HTTP clients: ``http://127.0.0.1:PORT`` or ``http+unix://<quoted path>``."""
        address = self.address
        if isinstance(address, str):
            return "http+unix://" + urllib.parse.quote(address, safe="")
        return f"http://{_bracket(address[0])}:{address[1]}"

    def check_errors(self) -> None:
        """Re-raise the first backend exception (for fixtures, like pytest-httpserver)."""
        if self.errors:
            raise self.errors[0]

    def __repr__(self) -> str:
        where = self.docker_host if self.running else "stopped"
        return f"<Server {where} backend={self.backend!r}>"

    def _require_running(self) -> None:
        if self._listener is None:
            raise ServerError("server not started: call start() or use it as a context manager")

    # ------------------------------------------------------------------ binding

    def _bind_tcp(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if os.name == "posix":
                # Lets a restarted server reuse its port while old connections sit in TIME_WAIT.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._requested_port))
            sock.listen(128)
        except BaseException:
            sock.close()
            raise
        self._port = int(sock.getsockname()[1])
        return sock

    def _bind_unix(self) -> socket.socket:
        if self._requested_unix_path is None:
            path = self._private_socket_path()
        else:
            path = os.path.abspath(self._requested_unix_path)
            self._prepare_unix_path(path)
        if len(os.fsencode(path)) >= _SUN_PATH_MAX:
            self._remove_created_dir()
            raise ServerError(f"unix socket path too long ({len(os.fsencode(path))} bytes): {path}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            os.chmod(path, 0o600)
            sock.listen(128)
        except BaseException:
            sock.close()
            self._remove_created_dir()
            raise
        self._unix_path = path
        self._unix_inode = os.stat(path).st_ino
        return sock

    def _private_socket_path(self) -> str:
        """``<tmp>/dimg-XXXX/docker.sock`` in a fresh 0700 folder; /tmp if $TMPDIR is too long."""
        base = tempfile.gettempdir()
        if len(os.fsencode(base)) > _SUN_PATH_MAX - 40 and os.path.isdir("/tmp"):
            base = "/tmp"
        folder = tempfile.mkdtemp(prefix="dimg-", dir=base)
        os.chmod(folder, 0o700)
        self._created_dir = folder
        return os.path.join(folder, "docker.sock")

    def _prepare_unix_path(self, path: str) -> None:
        """Create the parent if missing; refuse a live socket; remove a stale one."""
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, mode=0o700)
            self._created_dir = parent
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise ServerError(f"{path} exists and is not a unix socket; refusing to replace it")
        if _live_socket_at(path):
            raise SocketInUseError(
                f"a live socket already accepts connections at {path} (a real dockerd or another "
                "fake daemon?); stop it or choose another unix_path"
            )
        os.unlink(path)

    def _cleanup_unix(self) -> None:
        path = self._unix_path
        if path is not None:
            try:
                if os.stat(path).st_ino == self._unix_inode:
                    os.unlink(path)
            except FileNotFoundError:
                pass
        self._unix_path = None
        self._unix_inode = None
        self._remove_created_dir()

    def _remove_created_dir(self) -> None:
        folder, self._created_dir = self._created_dir, None
        if folder is None:
            return
        if self._requested_unix_path is None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            try:
                os.rmdir(folder)  # only if empty: the user may have put things there
            except OSError:
                pass

    # ------------------------------------------------------------------ accepting

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._wakeup is not None
        listener, wake = self._listener, self._wakeup[0]
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is wake or self._stopping.is_set():
                        return
                    self._accept_one(listener)

    def _accept_one(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                time.sleep(0.05)  # out of descriptors: back off instead of spinning
            return
        conn.setblocking(True)
        conn.settimeout(self.idle_timeout)
        if conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._stopping.is_set():
                conn.close()
                return
            self._conn_counter += 1
            thread = threading.Thread(
                target=self._serve_connection,
                args=(conn,),
                name=f"dockerimages-conn-{self._conn_counter}",
                daemon=True,
            )
            self._connections[thread] = conn
        thread.start()

    # ------------------------------------------------------------------ one connection

    def _serve_connection(self, conn: socket.socket) -> None:
        if speaks_h2c(self.backend):
            try:
                if starts_with_preface(conn, self.idle_timeout):
                    self._serve_h2c(conn)
                    return
            except OSError:
                self._close(conn)
                return
        rfile = cast(BinaryIO, conn.makefile("rb", buffering=65536))
        linger = False
        try:
            linger = self._serve_requests(conn, rfile)
        except (OSError, _Eof):
            pass  # client vanished, timed out, or stop() shut the socket: nothing to answer
        except Exception as exc:  # a server bug must not kill the server, but must be seen
            self.errors.append(exc)
        finally:
            rfile.close()
            if linger:
                _linger_close(conn)
            self._close(conn)

    def _serve_h2c(self, conn: socket.socket) -> None:
        from .h2c import serve_h2c

        try:
            serve_h2c(conn, self._respond, max_header_bytes=self._limits["max_header_bytes"],
                      max_body=self._limits["max_body"], stopping=self._stopping, date=_DATE.now,
                      too_large=_error_response(413, f"request body larger than {self._limits['max_body']} bytes"))
        except OSError:
            pass  # client vanished, timed out, or stop() shut the socket
        except Exception as exc:  # a server bug must not kill the server, but must be seen
            self.errors.append(exc)
        finally:
            self._close(conn)

    def _close(self, conn: socket.socket) -> None:
        with self._lock:
            conn.close()
            self._connections.pop(threading.current_thread(), None)

    def _serve_requests(self, conn: socket.socket, rfile: BinaryIO) -> bool:
        """Answer requests in order until the connection should close.

        Returns True when the close must "linger" (unread client data may be pending).
        """
        reader = _RequestReader(rfile, send_continue=_ContinueSender(conn), **self._limits)
        while not self._stopping.is_set():
            try:
                parsed = reader.read()
            except _GoStatusError as reject:
                conn.sendall(reject.raw())
                return True
            except _Reject as reject:
                data = serialize_response(
                    _error_response(reject.status, reject.message), method="GET", http10=False, close=True
                )
                conn.sendall(data)
                return True
            if parsed is None:
                return False
            request = parsed.request
            response = self._respond(request)
            if response.drop_connection:
                return False
            close = (
                not parsed.keep_alive
                or "close" in _tokens(response.header("Connection"))
                or self._stopping.is_set()
            )
            try:
                buffers = response_buffers(response, method=request.method, http10=parsed.http10, close=close)
            except Exception as exc:
                self._record(exc, request)
                buffers = response_buffers(
                    _internal_error(exc), method=request.method, http10=parsed.http10, close=close
                )
            _send_buffers(conn, buffers)
            if close:
                return True
        return False

    def _respond(self, request: Request) -> Response:
        backend = self.backend  # read once: tests may swap it while requests are in flight
        try:
            response = backend.handle(request)
            if not isinstance(response, Response):
                raise TypeError(f"backend returned {type(response).__name__}, expected Response")
            return response
        except Exception as exc:
            self._record(exc, request)
            return _internal_error(exc)

    def _record(self, exc: Exception, request: Request) -> None:
        add_note = getattr(exc, "add_note", None)
        if add_note is not None:
            add_note(f"pytest-dockerimages: while handling {request.method} {request.target}")
        self.errors.append(exc)


def _internal_error(exc: BaseException) -> Response:
    return _error_response(500, f"pytest-dockerimages internal error: {type(exc).__name__}: {exc}")


def _linger_close(conn: socket.socket) -> None:
    """Half-close, then discard client data for a bounded time and amount before closing.

    Closing a TCP socket with unread data sends a reset that can destroy the error response
    still in flight to the client; reading (into one reused buffer) avoids that.
    """
    try:
        conn.shutdown(socket.SHUT_WR)
        buffer = bytearray(65536)
        deadline = time.monotonic() + LINGER_SECONDS
        drained = 0
        while drained < LINGER_MAX_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            conn.settimeout(remaining)
            n = conn.recv_into(buffer)
            if n == 0:
                break
            drained += n
    except OSError:
        pass


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
