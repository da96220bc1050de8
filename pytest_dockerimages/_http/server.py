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
  oversized request line, header block or body is refused (431/413) after reading at most
  the limit, never an unbounded amount of data.
* What dockerd's Go server refuses or answers itself, before Docker's router, is decided by
  :mod:`~pytest_dockerimages._core.gohttp` and written as Go writes it (plain text, then close).
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
from typing import BinaryIO, Callable, Literal, cast

from .._core.gohttp import (
    CHUNK_LINE_MAX,
    POST_HANDLER_READ_BYTES,
    BadChunk,
    Framing,
    GoRejection,
    GoRules,
    bad_request,
    check_head,
    chunk_overhead,
    chunk_size,
    head_too_large,
    header_field,
    keep_alive,
    parse_request_line,
    server_answer,
    trailers_ok,
    wants_continue,
)
from .._core.wire import Backend, Request, Response, speaks_h2c
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


def too_large(max_body: int) -> GoRejection:
    """The fake's own refusal of a body past its limit (dockerd has none), in Go's plain-text form."""
    return GoRejection(413, f"request body larger than {max_body} bytes")


class _RequestReader:
    """Reads requests off one connection as Go's server does, enforcing every size limit while reading.

    What Go would refuse raises its :class:`GoRejection`; the fake's own lower limits (request line,
    head, header count) answer as Go does past its head limit (431), a body past ``max_body`` 413.
    """

    def __init__(
        self,
        rfile: BinaryIO,
        *,
        max_request_line: int,
        max_header_bytes: int,
        max_headers: int,
        max_body: int,
        send_continue: "_ContinueSender",
        rules: Callable[[], GoRules],
    ) -> None:
        self._rfile = rfile
        self._max_line = max_request_line
        self._max_header_bytes = max_header_bytes
        self._max_headers = max_headers
        self._max_body = max_body
        self._send_continue = send_continue
        self._rules = rules

    def read(self) -> _ParsedRequest | None:
        """Next request, ``None`` on a clean EOF between requests."""
        line = self._request_line()
        if line is None:
            return None
        rules = self._rules()  # read per request: the backend (and its profile) may be swapped
        method, target, major, minor = parse_request_line(line)
        headers = self._headers(rules, self._max_header_bytes - len(line))
        framing = check_head(rules, method, target, major, minor, headers)
        http10 = (major, minor) == (1, 0)
        body, broken = self._body(framing, headers, http10, rules)
        # Go discards what a handler left unread, up to 256 KiB; past that it closes the connection
        unread = framing.length if not framing.chunked else len(body) - 1
        keep = (major == 1 and keep_alive(http10, headers) and not broken
                and unread < POST_HANDLER_READ_BYTES)
        request = Request(method=method, target=target, headers=tuple(headers), body=body)
        return _ParsedRequest(request, http10, keep)

    def _request_line(self) -> bytes | None:
        raw = self._rfile.readline(self._max_line + 3)
        if not raw:
            return None
        if not raw.endswith(b"\n"):
            if len(raw) > self._max_line:
                raise head_too_large()
            raise _Eof()
        line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        if len(line) > self._max_line:
            raise head_too_large()
        return line

    def _headers(self, rules: GoRules, budget: int) -> list[tuple[str, str]]:
        """Header lines until the empty one; a line starting with a space or tab continues the last."""
        headers: list[tuple[str, str]] = []
        pending: bytes | None = None
        while True:
            raw = self._rfile.readline(max(budget, 0) + 1)
            budget -= len(raw)
            if budget < 0:
                raise head_too_large()
            if not raw.endswith(b"\n"):
                raise _Eof()
            line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            if line[:1] in (b" ", b"\t"):
                if pending is None:
                    raise bad_request()  # Go: malformed MIME header initial line
                pending = pending.rstrip(b" \t") + b" " + line.strip(b" \t")
                continue
            if pending is not None:
                field = header_field(pending, rules)
                if field is not None:
                    headers.append(field)
                    if len(headers) > self._max_headers:
                        raise head_too_large()
            if not line:
                return headers
            if b":" not in line:
                raise bad_request()  # Go refuses a line without a colon before reading on
            pending = line

    def _body(self, framing: Framing, headers: list[tuple[str, str]], http10: bool,
              rules: GoRules) -> tuple[bytes, bool]:
        """The body, and whether its chunked encoding broke (Go then answers and closes)."""
        if framing.chunked:
            self._maybe_continue(headers, http10)
            return self._chunked_body(rules)
        length = framing.length
        if length > self._max_body:
            raise too_large(self._max_body)
        if length == 0:
            return b"", False
        self._maybe_continue(headers, http10)
        body = self._rfile.read(length)
        if len(body) != length:
            raise _Eof()
        return body, False

    def _maybe_continue(self, headers: list[tuple[str, str]], http10: bool) -> None:
        """curl waits (1 s) for ``100 Continue`` before sending a big body; do not make it wait."""
        if not http10 and wants_continue(headers):
            self._send_continue()

    def _chunked_body(self, rules: GoRules) -> tuple[bytes, bool]:
        body = bytearray()
        excess = 0
        while True:
            raw = self._rfile.readline(CHUNK_LINE_MAX + 1)
            if not raw.endswith(b"\n") and len(raw) <= CHUNK_LINE_MAX:
                raise _Eof()
            try:
                size = chunk_size(raw, rules)
            except BadChunk:
                return bytes(body), True
            excess = max(excess + chunk_overhead(raw, size), 0)
            if rules.strict_chunk_lines and excess > 16 * 1024:
                return bytes(body), True  # Go: chunked encoding contains too much non-data
            if size == 0:
                return bytes(body), not trailers_ok(self._trailers(), rules)
            if len(body) + size > self._max_body:
                raise too_large(self._max_body)
            chunk = self._rfile.read(size)
            if len(chunk) != size:
                raise _Eof()
            body += chunk
            crlf = self._rfile.read(2)
            if len(crlf) != 2:
                raise _Eof()
            if crlf != b"\r\n":
                return bytes(body), True

    def _trailers(self) -> bytes:
        """The trailer block up to its empty line, read no further than Go would look (4 KiB)."""
        block = b""
        while True:
            raw = self._rfile.readline(CHUNK_LINE_MAX + 1 - len(block))
            block += raw
            if not raw.endswith(b"\n"):
                if len(block) > CHUNK_LINE_MAX:
                    return block
                raise _Eof()
            if raw in (b"\r\n", b"\n"):
                return block


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

    Framing is Go's (``chunkWriter.writeHeader`` in server.go): the backend's headers in its order,
    then Date, Content-Length, Connection and Transfer-Encoding. A backend's Content-Length stays
    where it is (as a handler's own does) if it is a HEAD's or matches the body; otherwise the one
    matching the body actually sent replaces it (a replayed header must never make a client hang).
    A HEAD answered without a body gets no Content-Length, as Go sends none. An HTTP/1.0 client
    gets a streamed (chunked) body unframed, and the caller closes after it.
    """
    status = int(response.status)
    if not 100 <= status <= 999:
        raise ValueError(f"invalid HTTP status {status!r}")
    reason = _REASONS.get(status, "Unknown")
    lines = [f"HTTP/1.{0 if http10 else 1} {status} {reason}"]
    body = response.body
    is_head = method == "HEAD"
    bodiless_status = status in _NO_BODY_STATUSES or status < 200
    no_body = is_head or bodiless_status
    streamed = response.chunked  # Go wrote it before the handler ended: it could not count it
    has_date = has_connection = has_length = False
    for name, value in response.headers:
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value or ":" in name:
            raise ValueError(f"invalid response header {name!r}: {value!r}")
        lname = name.lower()
        if lname == "content-length":
            if not (no_body or (not streamed and value == str(len(body)))):
                continue
            has_length = True
        elif lname == "transfer-encoding":
            continue
        elif lname == "date":
            has_date = True
        elif lname == "connection":
            has_connection = True
        lines.append(f"{name}: {value}")
    if not has_date:
        lines.append(f"Date: {_DATE.now()}")
    if not has_length and not bodiless_status and not streamed and (body or not is_head):
        lines.append(f"Content-Length: {len(body)}")
    if has_connection:
        pass
    elif close and not http10:
        lines.append("Connection: close")
    elif http10 and not close:
        lines.append("Connection: keep-alive")
    payload: list[bytes] = [body]
    if streamed and not no_body and not http10:
        lines.append("Transfer-Encoding: chunked")
        payload = [b"%x\r\n" % len(body), body, b"\r\n0\r\n\r\n"] if body else [b"0\r\n\r\n"]
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
                      too_large=too_large(self._limits["max_body"]).as_response())
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
        reader = _RequestReader(rfile, send_continue=_ContinueSender(conn), rules=self._go_rules, **self._limits)
        while not self._stopping.is_set():
            try:
                parsed = reader.read()
            except GoRejection as reject:  # Go answers these itself, in plain text, and closes
                conn.sendall(reject.raw())
                return True
            if parsed is None:
                return False
            request = parsed.request
            response = server_answer(request) or self._respond(request)
            if response.drop_connection:
                return False
            close = (
                not parsed.keep_alive
                or "close" in _tokens(response.header("Connection"))
                or (parsed.http10 and response.chunked)  # an unframed body ends with the connection
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

    def _go_rules(self) -> GoRules:
        return GoRules.of(getattr(self.backend, "profile", None))

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
