"""HTTP/2 over cleartext with prior knowledge (h2c), for profiles whose daemon speaks it.

Docker 29 serves HTTP/1.1, HTTP/2 and h2c on the same listeners (moby's
``daemon/command/daemon.go`` sets ``http.Protocols`` with ``SetUnencryptedHTTP2``): a client
that opens a connection with the HTTP/2 preface gets an HTTP/2 SETTINGS frame back. Earlier
releases hand the preface to their HTTP/1 router. The framing here is the ``h2`` library's
(imported only when such a connection arrives); this module only maps streams to
:class:`Request` / :class:`Response` and keeps the HTTP/1.1 path's limits: header and body
size, an idle timeout on every read, and a bound on concurrent streams.
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Callable

from .._core.wire import Request, Response

#: What a client sends first on an HTTP/2 connection with prior knowledge (RFC 9113 §3.4).
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_CONCURRENT_STREAMS = 250  # Go's http2 server default
#: Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2); the HTTP/1 framing headers too.
_NOT_IN_H2 = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
                        "content-length"})


def starts_with_preface(conn: socket.socket, timeout: float) -> bool:
    """Peek (without consuming) whether the connection opens with the HTTP/2 preface.

    The peek blocks until the client sends (the socket's own timeout bounds it); only a connection
    whose first bytes are a prefix of the preface waits for more, so HTTP/1 clients pay one recv.
    """
    deadline = time.monotonic() + timeout
    while True:
        head = conn.recv(len(PREFACE), socket.MSG_PEEK)
        if not head or not PREFACE.startswith(head):
            return False
        if len(head) == len(PREFACE):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.001)  # the rest of the preface is on its way: a recv would return the same bytes


class _Stream:
    __slots__ = ("headers", "body", "pending")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers
        self.body = bytearray()
        self.pending: memoryview | None = None


def serve_h2c(
    conn: socket.socket,
    handle: Callable[[Request], Response],
    *,
    max_header_bytes: int,
    max_body: int,
    too_large: Response,
    date: Callable[[], str],
    stopping: threading.Event,
) -> None:
    """Serve one h2c connection until the client or the server closes it.

    `too_large` is the HTTP/1.1 path's 413 answer, sent for a stream whose body passes `max_body`;
    `date` gives the Date header every answer carries, as on the HTTP/1.1 path.
    """
    from h2.config import H2Configuration
    from h2.connection import H2Connection
    from h2.events import (
        ConnectionTerminated,
        DataReceived,
        RequestReceived,
        StreamEnded,
        StreamReset,
        WindowUpdated,
    )
    from h2.exceptions import ProtocolError, StreamClosedError
    from h2.settings import SettingCodes

    h2 = H2Connection(H2Configuration(client_side=False, header_encoding="latin-1"))
    h2.local_settings = type(h2.local_settings)(client=False, initial_values={
        SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
        SettingCodes.MAX_HEADER_LIST_SIZE: max_header_bytes,
    })
    h2.initiate_connection()
    conn.sendall(h2.data_to_send())
    streams: dict[int, _Stream] = {}

    def answer(stream_id: int, response: Response, method: str) -> None:
        headers = [(":status", str(int(response.status)))]
        headers += [(name.lower(), value) for name, value in response.headers if name.lower() not in _NOT_IN_H2]
        if not any(name == "date" for name, _ in headers):
            headers.append(("date", date()))
        body = response.body
        no_body = method == "HEAD" or response.status in (204, 304) or response.status < 200
        if not response.chunked or no_body:  # Go's http2 server sets it when the handler wrote it all
            headers.append(("content-length", str(len(body))))
        if no_body or not body:
            h2.send_headers(stream_id, headers, end_stream=True)
            streams.pop(stream_id, None)
            return
        h2.send_headers(stream_id, headers)
        streams[stream_id].pending = memoryview(body)

    def flush(stream_id: int) -> None:
        stream = streams.get(stream_id)
        if stream is None or stream.pending is None:
            return
        view = stream.pending
        while view:
            window = min(h2.local_flow_control_window(stream_id), h2.max_outbound_frame_size)
            if window <= 0:
                stream.pending = view
                return
            h2.send_data(stream_id, bytes(view[:window]))
            view = view[window:]
        h2.end_stream(stream_id)
        del streams[stream_id]

    while not stopping.is_set():
        data = conn.recv(65536)
        if not data:
            return
        try:
            events: list[Any] = h2.receive_data(data)
        except ProtocolError:
            conn.sendall(h2.data_to_send())
            return
        for event in events:
            if isinstance(event, RequestReceived):
                streams[event.stream_id] = _Stream([(str(k), str(v)) for k, v in event.headers])
            elif isinstance(event, DataReceived):
                h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                stream = streams.get(event.stream_id)
                if stream is None:
                    continue
                stream.body += event.data
                if len(stream.body) > max_body:  # as the HTTP/1.1 path: 413, and stop reading that stream
                    answer(event.stream_id, too_large, "POST")
                    flush(event.stream_id)
                    with contextlib.suppress(StreamClosedError):  # the client may have ended it already
                        h2.reset_stream(event.stream_id, error_code=0)  # NO_ERROR: stop sending the body
                    streams.pop(event.stream_id, None)
            elif isinstance(event, StreamEnded):
                stream = streams.get(event.stream_id)
                if stream is None or stream.pending is not None:
                    continue
                request = _request_of(stream)
                response = handle(request)
                if response.drop_connection:
                    return
                answer(event.stream_id, response, request.method)
                flush(event.stream_id)
            elif isinstance(event, WindowUpdated):
                for stream_id in [event.stream_id] if event.stream_id else list(streams):
                    flush(stream_id)
            elif isinstance(event, StreamReset):
                streams.pop(event.stream_id, None)
            elif isinstance(event, ConnectionTerminated):
                conn.sendall(h2.data_to_send())
                return
        conn.sendall(h2.data_to_send())


def _request_of(stream: _Stream) -> Request:
    """The HTTP/1-shaped request of a stream: pseudo-headers become method, target and Host."""
    pseudo = {name: value for name, value in stream.headers if name.startswith(":")}
    headers = tuple((name, value) for name, value in stream.headers if not name.startswith(":"))
    if ":authority" in pseudo:
        headers = (("host", pseudo[":authority"]), *headers)
    return Request(method=pseudo.get(":method", "GET"), target=pseudo.get(":path", "/"), headers=headers,
                   body=bytes(stream.body))
