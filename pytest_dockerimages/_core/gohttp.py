"""What Go's net/http server does with a request head before any handler sees it.

Every dockerd is a Go net/http server: a request Go cannot parse never reaches Docker's router.
Go writes a short plain-text answer itself and closes (``conn.serve`` in Go's server.go), e.g.
``400 Bad Request`` as status line and body, with ``Content-Type: text/plain; charset=utf-8`` and
``Connection: close``.
The checks and their order are Go's (``readRequest`` in request.go and server.go, ``readTransfer`` in
transfer.go, ``ReadMIMEHeader`` in net/textproto, ``ParseRequestURI`` in net/url); what differs between
the Go releases dockerd was built with is a :class:`GoRules` field, read from the daemon's profile.
Pure functions: the server reads bytes, this module decides.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .wire import Request, Response

#: Go's ``StatusText`` for the statuses its server writes itself (Python's phrases vary by version).
GO_STATUS_TEXT = {400: "Bad Request", 413: "Request Entity Too Large", 417: "Expectation Failed",
                  431: "Request Header Fields Too Large", 501: "Not Implemented", 505: "HTTP Version Not Supported"}
#: Go reads this much of a body a handler left unread before answering; past it the connection closes.
POST_HANDLER_READ_BYTES = 256 << 10
#: Go's limit on a chunk-size line and on a chunked body's trailer block (its bufio buffer).
CHUNK_LINE_MAX = 4096

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NAME_WITH_SPACES = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z ]+")  # textproto lets a space through
_BAD_VALUE_BYTE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # CTLs but tab; obs-text (0x80+) is fine
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
_HOST = re.compile(r"[0-9A-Za-z!$%&()*+,\-.:;=\[\]'_~]*")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_CTL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):")
_PORT = re.compile(r"(:[0-9]*)?")
#: Bytes Go's url package accepts unescaped in a host (``shouldEscape`` in encodeHost mode).
_HOST_BYTES = re.compile(r"[0-9A-Za-z\-_.~!$&'()*+,;=:\[\]<>\"%\x80-\U0010ffff]*")
_USERINFO = re.compile(r"[0-9A-Za-z\-._:~!$&'()*+,;=%@]*")


@dataclass(frozen=True)
class GoRules:
    """The request-parsing behaviours that differ between the Go releases of the covered daemons."""

    strict_header_syntax: bool = True  # Go >= 1.20: net/textproto refuses a bad header name or value itself
    strict_chunk_lines: bool = True  # CRLF-only chunk-size lines and bounded chunk overhead (Go >= 1.21.5)
    empty_content_length_ok: bool = True  # httplaxcontentlength=1, the default of a GOPATH-mode build

    @classmethod
    def of(cls, profile: object | None) -> "GoRules":
        """The rules of a profile (or of the newest Go when there is none, e.g. a test backend)."""
        if profile is None:
            return cls()
        return cls(**{name: bool(getattr(profile, name, default)) for name, default in
                      (("strict_header_syntax", True), ("strict_chunk_lines", True),
                       ("empty_content_length_ok", True))})


_PLAIN, _PLAIN_TYPE = "Content-Type", "text/plain; charset=utf-8"


class GoRejection(Exception):
    """A request Go's server answers itself before any handler, then closes; `raw` is its exact bytes."""

    def __init__(self, status: int, text: str = "", body: str | None = None) -> None:
        super().__init__(text or GO_STATUS_TEXT[status])
        self.status = status
        self.text = text
        self.body = body

    @property
    def public(self) -> str:
        """The status line's text after ``HTTP/1.1 ``, Go's ``statusError`` form when there is a text."""
        return f"{self.status} {GO_STATUS_TEXT[self.status]}" + (f": {self.text}" if self.text else "")

    def raw(self) -> bytes:
        body = self.public if self.body is None else self.body
        return (f"HTTP/1.1 {self.public}\r\n{_PLAIN}: {_PLAIN_TYPE}\r\nConnection: close\r\n\r\n"
                f"{body}").encode("latin-1")

    def as_response(self) -> Response:
        """The same answer where there is no status text to carry it (an HTTP/2 stream)."""
        body = self.public if self.body is None else self.body
        return Response(self.status, [(_PLAIN, _PLAIN_TYPE)], body.encode("latin-1"))


def bad_request(text: str = "") -> GoRejection:
    return GoRejection(400, text)


#: Past the server's limit on a request head: Go's only answer to an oversized head.
def head_too_large() -> GoRejection:
    return GoRejection(431)


def unsupported_transfer_encoding() -> GoRejection:
    return GoRejection(501, body="Unsupported transfer encoding")


def unsupported_version() -> GoRejection:
    return GoRejection(505, "unsupported protocol version")


# --------------------------------------------------------------------------- request line


def parse_request_line(line: bytes) -> tuple[str, str, int, int]:
    """(method, target, major, minor) of a request line, or Go's 400 (it skips no empty line either)."""
    method, sp1, rest = line.partition(b" ")
    target, sp2, proto = rest.partition(b" ")
    version = _VERSION.fullmatch(proto)
    if not sp1 or not sp2 or _TOKEN.fullmatch(method) is None or version is None:
        raise bad_request()
    method_s, target_s = method.decode("ascii"), target.decode("latin-1")
    if not request_uri_ok(method_s, target_s):
        raise bad_request()
    return method_s, target_s, int(version.group(1)), int(version.group(2))


def request_uri_ok(method: str, target: str) -> bool:
    """Whether Go's ``url.ParseRequestURI`` accepts a request target (CONNECT's authority form too)."""
    raw = "http://" + target if method == "CONNECT" and not target.startswith("/") else target
    if not raw or _CTL.search(raw):
        return False
    if raw == "*":
        return True
    scheme = _SCHEME.match(raw)
    if raw.startswith(":"):
        return False  # "missing protocol scheme"
    rest = raw[scheme.end():] if scheme else raw
    rest = rest[:-1] if rest.endswith("?") and rest.count("?") == 1 else rest.partition("?")[0]
    if not rest.startswith("/"):
        return scheme is not None  # rootless with a scheme is opaque; without one Go refuses it
    if scheme is not None and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        if not _authority_ok(authority):
            return False
        rest = slash + path
    return _BAD_ESCAPE.search(rest) is None


def _authority_ok(authority: str) -> bool:
    userinfo, at, host = authority.rpartition("@")
    if at and (_USERINFO.fullmatch(userinfo) is None or _BAD_ESCAPE.search(userinfo)):
        return False
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0 or _PORT.fullmatch(host[end + 1:]) is None:
            return False
    elif ":" in host and _PORT.fullmatch(host[host.rfind(":"):]) is None:
        return False
    return _HOST_BYTES.fullmatch(host) is not None and _BAD_ESCAPE.search(host) is None


# --------------------------------------------------------------------------- header fields


def header_field(line: bytes, rules: GoRules) -> tuple[str, str] | None:
    """One header line (continuations already folded in) as (name, value); None when Go drops it.

    With `strict_header_syntax` a bad name or value is Go's plain 400 here; a name with a space
    passes (Go's server refuses it later, see `check_head`), as everything does on Go 1.19.
    """
    name, colon, value = line.partition(b":")
    if not colon:
        raise bad_request()
    if not name:
        if rules.strict_header_syntax:
            raise bad_request()
        return None  # Go 1.19 skips an empty name
    if rules.strict_header_syntax and (_NAME_WITH_SPACES.fullmatch(name) is None
                                       or _BAD_VALUE_BYTE.search(value) is not None):
        raise bad_request()
    return name.decode("latin-1"), value.strip(b" \t").decode("latin-1")


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name]


@dataclass(frozen=True)
class Framing:
    """How the body that follows a head is framed: chunked, or `length` bytes."""

    chunked: bool
    length: int


def check_head(rules: GoRules, method: str, target: str, major: int, minor: int,
               headers: list[tuple[str, str]]) -> Framing:
    """The checks Go makes once the head is read, in Go's order: Host count, body framing, version,
    Host presence and syntax, then header names and values. Returns the body's framing."""
    hosts = header_values(headers, "host")
    if len(hosts) > 1:
        raise bad_request()  # "too many Host headers", a plain 400
    framing = _framing(rules, (major, minor) >= (1, 1), headers)
    h2_preface = method == "PRI" and target == "*" and (major, minor) == (2, 0) and not headers
    if major != 1 and not h2_preface:
        raise unsupported_version()
    if (major, minor) >= (1, 1) and not hosts and not h2_preface and method != "CONNECT":
        raise bad_request("missing required Host header")
    if hosts and _HOST.fullmatch(hosts[0]) is None:
        raise bad_request("malformed Host header")
    for name, value in headers:
        if _TOKEN.fullmatch(name.encode("latin-1")) is None:
            raise bad_request("invalid header name")
        if _BAD_VALUE_BYTE.search(value.encode("latin-1")) is not None:
            raise bad_request("invalid header value")
    return framing


def _framing(rules: GoRules, http11: bool, headers: list[tuple[str, str]]) -> Framing:
    encodings = header_values(headers, "transfer-encoding")
    if encodings and http11:  # HTTP/1.0 ignores Transfer-Encoding
        if len(encodings) != 1 or encodings[0].lower() != "chunked":
            raise unsupported_transfer_encoding()
        return Framing(True, 0)  # chunked wins over any Content-Length
    lengths = [v.strip(" \t\r\n") for v in header_values(headers, "content-length")]
    if not lengths:
        return Framing(False, 0)
    if any(v != lengths[0] for v in lengths[1:]):
        raise bad_request()
    value = lengths[0]
    if not value and rules.empty_content_length_ok:
        return Framing(False, 0)
    digits = value.lstrip("0") or "0"  # ParseUint takes any number of leading zeros
    if not value.isascii() or not value.isdigit() or len(digits) > 19 or int(digits) >= 2**63:
        raise bad_request()
    return Framing(False, int(digits))


# --------------------------------------------------------------------------- chunked bodies


class BadChunk(Exception):
    """The body's chunked encoding is broken: Go answers the request, then closes the connection."""


def chunk_size(line: bytes, rules: GoRules) -> int:
    """The size of a chunk-size line (with its line ending), as Go's chunked reader reads it."""
    if len(line) > CHUNK_LINE_MAX or not line.endswith(b"\n"):
        raise BadChunk("chunk-size line too long")
    if rules.strict_chunk_lines and line.find(b"\r") != len(line) - 2:
        raise BadChunk("chunk-size line not ended by CRLF")
    size = line.rstrip(b" \t\r\n").partition(b";")[0]
    if _HEX.fullmatch(size) is None:
        raise BadChunk("malformed chunk size")
    return int(size, 16)


def chunk_overhead(line: bytes, size: int) -> int:
    """What a chunk adds to Go's count of non-data bytes (it refuses more than 16 KiB in all)."""
    return len(line.rstrip(b"\r\n")) + 2 - 16 - 2 * size


def trailers_ok(block: bytes, rules: GoRules) -> bool:
    """Whether Go accepts the trailer block after the last chunk (its final empty line included)."""
    if block == b"\r\n":
        return True
    if len(block) > CHUNK_LINE_MAX or not block.endswith(b"\r\n\r\n"):
        return False
    try:
        for line in block.splitlines()[:-1]:
            if line[:1] in (b" ", b"\t"):
                continue
            header_field(line, rules)
    except GoRejection:
        return False
    return True


def keep_alive(http10: bool, headers: list[tuple[str, str]]) -> bool:
    """Whether the connection stays open after the answer, by the request's Connection headers.

    HTTP/1.0 keeps alive when the first one says keep-alive (``wantsHttp10KeepAlive``); HTTP/1.1
    unless any says close, or the first has a close token (``shouldClose``, ``wantsClose``).
    """
    values = header_values(headers, "connection")
    first = values[0] if values else ""
    if http10:
        return has_token(first, "keep-alive")
    return not has_token(first, "close") and not any(
        part.strip(" \t").lower() == "close" for value in values for part in value.split(","))


def has_token(value: str, token: str) -> bool:
    """Go's ``hasToken``: `token` among the space-, comma- or tab-separated words, in any case."""
    return token in (word.lower() for word in re.split(r"[ ,\t]", value))


def wants_continue(headers: list[tuple[str, str]]) -> bool:
    return has_token(next(iter(header_values(headers, "expect")), ""), "100-continue")


def expectation_failed(headers: list[tuple[str, str]]) -> bool:
    """An ``Expect`` other than 100-continue: Go answers 417 itself (``sendExpectationFailed``)."""
    expect = next(iter(header_values(headers, "expect")), "")
    return bool(expect) and not has_token(expect, "100-continue")


def server_answer(request: Request) -> Response | None:
    """What Go's server answers itself to a request it read: 417 for an unmet ``Expect``
    (``sendExpectationFailed``), 200 for ``OPTIONS *`` (``globalOptionsHandler``); else None."""
    if expectation_failed(list(request.headers)):
        return Response(417, [("Connection", "close")])
    if request.method == "OPTIONS" and request.target == "*":
        return Response(200, [("Content-Length", "0")])
    return None
