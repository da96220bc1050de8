"""Requests Go's net/http server answers before dockerd's router: the fake writes Go's exact bytes.

A table of malformed (and odd but accepted) requests, each sent with a raw socket to a FakeDaemon
of every profile over unix and TCP, and compared byte for byte, Date aside, with what dockerd
answers. A second request (to `/nope`, asking to close) follows each one on the same connection,
so an answer that keeps the connection open shows as that answer plus the second one's 404.
The real-daemon test sends the same bytes to each real release and to the fake of its profile.
"""
from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass
from typing import Iterator

import pytest
from requires import EACH_RELEASE, unseeded_real_daemon

from pytest_dockerimages import FakeDaemon
from pytest_dockerimages._core import gohttp
from pytest_dockerimages._core.gohttp import GoRejection, GoRules
from pytest_dockerimages._core.profiles import PROFILES, Profile
from pytest_dockerimages._real.harness import RealDaemon

_DATE = re.compile(rb"Date: [^\r]*\r\n")
H = b"Host: d\r\n"
PROBE = b"GET /nope HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
NOT_FOUND = (b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n"
             b'{"message":"page not found"}\n')
NOT_FOUND_CLOSE = NOT_FOUND.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
KEPT = NOT_FOUND + NOT_FOUND_CLOSE  # answered, connection kept: the probe is answered too
CLOSED = NOT_FOUND_CLOSE  # answered, then closed: the probe never is
HTTP10 = NOT_FOUND.replace(b"HTTP/1.1", b"HTTP/1.0")  # HTTP/1.0 without keep-alive: no Connection header


def go(public: bytes, body: bytes | None = None) -> bytes:
    """Go's own plain-text answer (``conn.serve``): status line, two headers, the status again."""
    return (b"HTTP/1.1 " + public + b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
            + (public if body is None else body))


BAD = go(b"400 Bad Request")
NO_HOST = go(b"400 Bad Request: missing required Host header")
BAD_NAME = go(b"400 Bad Request: invalid header name")
BAD_VALUE = go(b"400 Bad Request: invalid header value")
VERSION = go(b"505 HTTP Version Not Supported: unsupported protocol version")
ENCODING = go(b"501 Not Implemented", b"Unsupported transfer encoding")
HEAD_TOO_LARGE = go(b"431 Request Header Fields Too Large")
BODY_TOO_LARGE = go(b"413 Request Entity Too Large: request body larger than 1048576 bytes")


def req(line: bytes, headers: bytes = H, body: bytes = b"") -> bytes:
    return line + b"\r\n" + headers + b"\r\n" + body


POST = b"POST /nope HTTP/1.1"
CHUNKED = H + b"Transfer-Encoding: chunked\r\n"


@dataclass(frozen=True)
class Case:
    name: str
    request: bytes
    answer: bytes  # what dockerd answers (Date aside), the second request's answer included
    unless: tuple[str, bytes] | None = None  # (profile field, answer where that field is False)
    fake_limit: bool = False  # refused by the fake's lower limit only: dockerd would answer it

    def answer_for(self, profile: Profile) -> bytes:
        if self.unless is not None and not getattr(profile, self.unless[0]):
            return self.unless[1]
        return self.answer


CASES = [
    # request line (Go skips no empty line, knows no HTTP version but 1.x, checks the target as a URL)
    Case("garbage", b"HELLO\r\n\r\n", BAD),
    Case("no-version", b"GET /nope\r\n" + H + b"\r\n", BAD),
    Case("extra-word", req(b"GET /nope HTTP/1.1 x"), BAD),
    Case("two-spaces", req(b"GET  /nope HTTP/1.1"), BAD),
    Case("tab-separated", req(b"GET\t/nope HTTP/1.1"), BAD),
    Case("bad-method", req(b"G@T /nope HTTP/1.1"), BAD),
    Case("bad-version", req(b"GET /nope HTTP/x.y"), BAD),
    Case("lower-case-version", req(b"GET /nope http/1.1"), BAD),
    Case("two-digit-version", req(b"GET /nope HTTP/10.1"), BAD),
    Case("rootless-target", req(b"GET nope HTTP/1.1"), BAD),
    Case("control-in-target", req(b"GET /no\x01pe HTTP/1.1"), BAD),
    Case("del-in-target", req(b"GET /no\x7fpe HTTP/1.1"), BAD),
    Case("bad-escape-in-path", req(b"GET /a%zz HTTP/1.1"), BAD),
    Case("empty-line-first", b"\r\n" + req(b"GET /nope HTTP/1.1"), BAD),
    Case("http-0.9", req(b"GET /nope HTTP/0.9"), VERSION),
    Case("http-2.0", req(b"GET /nope HTTP/2.0"), VERSION),
    Case("http-3.0", req(b"GET /nope HTTP/3.0"), VERSION),
    Case("http-1.2", req(b"GET /nope HTTP/1.2"), KEPT),
    Case("bad-escape-in-query", req(b"GET /nope?a=%zz HTTP/1.1"), KEPT),
    Case("high-byte-in-target", req(b"GET /no\xffpe HTTP/1.1"), KEPT),
    Case("lf-line-ends", b"GET /nope HTTP/1.1\nHost: d\n\n", KEPT),
    Case("options-asterisk", req(b"OPTIONS * HTTP/1.1"), b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + CLOSED),
    Case("options-asterisk-1.0", req(b"OPTIONS * HTTP/1.0", b""), b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
    # Host
    Case("no-host", req(b"GET /nope HTTP/1.1", b""), NO_HOST),
    Case("no-host-absolute-target", req(b"GET http://d/nope HTTP/1.1", b""), NO_HOST),
    Case("host-with-space-before-colon", req(b"GET /nope HTTP/1.1", b"Host : d\r\n"), NO_HOST),
    Case("two-hosts", req(b"GET /nope HTTP/1.1", H + b"host: d\r\n"), BAD),
    Case("malformed-host", req(b"GET /nope HTTP/1.1", b"Host: a b\r\n"), go(b"400 Bad Request: malformed Host header")),
    Case("empty-host", req(b"GET /nope HTTP/1.1", b"Host:\r\n"), KEPT),
    Case("no-host-http-1.0", req(b"GET /nope HTTP/1.0", b""), HTTP10),
    # header lines
    Case("no-colon", req(b"GET /nope HTTP/1.1", H + b"Foo\r\n"), BAD),
    Case("space-before-colon", req(b"GET /nope HTTP/1.1", H + b"Foo : bar\r\n"), BAD_NAME),
    Case("continuation-first", req(b"GET /nope HTTP/1.1", b" Foo: a\r\n" + H), BAD),
    Case("continuation", req(b"GET /nope HTTP/1.1", H + b"Foo: a\r\n  b\r\n"), KEPT),
    Case("high-byte-in-value", req(b"GET /nope HTTP/1.1", H + b"Foo: a\xffb\r\n"), KEPT),
    Case("empty-name", req(b"GET /nope HTTP/1.1", H + b": bar\r\n"), BAD, ("strict_header_syntax", KEPT)),
    Case("bad-name", req(b"GET /nope HTTP/1.1", H + b"Fo(o: bar\r\n"), BAD, ("strict_header_syntax", BAD_NAME)),
    Case("control-in-value", req(b"GET /nope HTTP/1.1", H + b"Foo: a\x01b\r\n"), BAD,
         ("strict_header_syntax", BAD_VALUE)),
    Case("nul-in-value", req(b"GET /nope HTTP/1.1", H + b"Foo: a\x00b\r\n"), BAD, ("strict_header_syntax", BAD_VALUE)),
    Case("cr-in-value", req(b"GET /nope HTTP/1.1", H + b"Foo: a\rb\r\n"), BAD, ("strict_header_syntax", BAD_VALUE)),
    Case("del-in-value", req(b"GET /nope HTTP/1.1", H + b"Foo: a\x7fb\r\n"), BAD, ("strict_header_syntax", BAD_VALUE)),
    # Content-Length
    Case("length-not-a-number", req(POST, H + b"Content-Length: abc\r\n"), BAD),
    Case("length-negative", req(POST, H + b"Content-Length: -1\r\n"), BAD),
    Case("length-plus", req(POST, H + b"Content-Length: +1\r\n", b"x"), BAD),
    Case("length-hex", req(POST, H + b"Content-Length: 0x1\r\n", b"x"), BAD),
    Case("length-list", req(POST, H + b"Content-Length: 1, 1\r\n", b"x"), BAD),
    Case("length-unicode-digit", req(POST, H + b"Content-Length: \xb2\r\n", b"xx"), BAD),
    Case("length-past-int63", req(POST, H + b"Content-Length: 99999999999999999999\r\n"), BAD),
    Case("two-lengths-differ", req(POST, H + b"Content-Length: 1\r\nContent-Length: 2\r\n", b"xx"), BAD),
    Case("two-lengths-same", req(POST, H + b"Content-Length: 1\r\nContent-Length: 1\r\n", b"x"), KEPT),
    Case("length-spaces-and-zeros", req(POST, H + b"Content-Length:  0001 \r\n", b"x"), KEPT),
    Case("length-empty", req(POST, H + b"Content-Length:\r\n"), KEPT, ("empty_content_length_ok", BAD)),
    # Transfer-Encoding
    Case("encoding-gzip", req(POST, H + b"Transfer-Encoding: gzip\r\n"), ENCODING),
    Case("encoding-identity", req(POST, H + b"Transfer-Encoding: identity\r\n"), ENCODING),
    Case("encoding-list", req(POST, H + b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), ENCODING),
    Case("encoding-twice", req(POST, CHUNKED + b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n"), ENCODING),
    Case("encoding-capitalised", req(POST, H + b"Transfer-Encoding: Chunked\r\n", b"0\r\n\r\n"), KEPT),
    Case("encoding-and-length", req(POST, CHUNKED + b"Content-Length: 3\r\n", b"0\r\n\r\n"), KEPT),
    Case("encoding-on-http-1.0", req(b"POST /nope HTTP/1.0", b"Transfer-Encoding: gzip\r\n"), HTTP10),
    # chunked bodies: Go answers a broken one as usual, then closes the connection
    Case("chunk-size-not-hex", req(POST, CHUNKED, b"zz\r\n"), CLOSED),
    Case("chunk-size-0x", req(POST, CHUNKED, b"0x3\r\nabc\r\n0\r\n\r\n"), CLOSED),
    Case("chunk-size-17-digits", req(POST, CHUNKED, b"00000000000000003\r\nabc\r\n0\r\n\r\n"), CLOSED),
    Case("chunk-size-line-too-long", req(POST, CHUNKED, b"1" + b";" * 5000 + b"\r\nx\r\n0\r\n\r\n"), CLOSED),
    Case("chunk-data-not-crlf", req(POST, CHUNKED, b"3\r\nabcXY0\r\n\r\n"), CLOSED),
    Case("chunk-data-lf", req(POST, CHUNKED, b"3\r\nabc\n0\r\n\r\n"), CLOSED),
    Case("chunk-size-lf", req(POST, CHUNKED, b"3\nabc\r\n0\r\n\r\n"), CLOSED, ("strict_chunk_lines", KEPT)),
    Case("chunk-extensions-outweigh-data", req(POST, CHUNKED, (b"1;" + b"e" * 1000 + b"\r\nx\r\n") * 20 + b"0\r\n\r\n"),
         CLOSED, ("strict_chunk_lines", KEPT)),
    Case("chunk-16-digits", req(POST, CHUNKED, b"0000000000000003\r\nabc\r\n0\r\n\r\n"), KEPT),
    Case("chunk-extension", req(POST, CHUNKED, b'3;x="a b";y\r\nabc\r\n0\r\n\r\n'), KEPT),
    Case("chunk-size-trailing-space", req(POST, CHUNKED, b"3 \r\nabc\r\n0\r\n\r\n"), KEPT),
    Case("chunk-trailer", req(POST, CHUNKED, b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"), KEPT),
    # what Go reads of an unread body after answering: 256 KiB, then it closes
    Case("length-256k-less-1", req(POST, H + b"Content-Length: 262143\r\n", b"x" * 262143), KEPT),
    Case("length-256k", req(POST, H + b"Content-Length: 262144\r\n", b"x" * 262144), CLOSED),
    Case("chunked-256k", req(POST, CHUNKED, b"40000\r\n" + b"x" * 0x40000 + b"\r\n0\r\n\r\n"), KEPT),
    Case("chunked-256k-and-1", req(POST, CHUNKED, b"40001\r\n" + b"x" * 0x40001 + b"\r\n0\r\n\r\n"), CLOSED),
    # Connection and Expect
    Case("close-in-second-connection-header", req(b"GET /nope HTTP/1.1", H + b"Connection: x\r\nConnection: close\r\n"),
         CLOSED),
    Case("keep-alive-in-second-header-1.0", req(b"GET /nope HTTP/1.0", b"Connection: x\r\nConnection: keep-alive\r\n"),
         HTTP10),
    Case("keep-alive-1.0", req(b"GET /nope HTTP/1.0", b"Connection: keep-alive\r\n"),
         NOT_FOUND.replace(b"HTTP/1.1", b"HTTP/1.0").replace(b"\r\n\r\n", b"\r\nConnection: keep-alive\r\n\r\n")
         + NOT_FOUND_CLOSE),
    Case("expect-other", req(b"GET /nope HTTP/1.1", H + b"Expect: foo\r\n"),
         b"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
    Case("expect-other-1.0", req(b"GET /nope HTTP/1.0", b"Expect: foo\r\n"),
         b"HTTP/1.0 417 Expectation Failed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
    # the router's clean-path redirect: Go sets no Content-Length on a HEAD whose handler wrote nothing
    Case("head-redirect", req(b"HEAD //nope HTTP/1.1"), b"HTTP/1.1 301 Moved Permanently\r\nLocation: /nope\r\n\r\n"
         + NOT_FOUND_CLOSE),
    Case("get-redirect", req(b"GET //nope HTTP/1.1"),
         b"HTTP/1.1 301 Moved Permanently\r\nLocation: /nope\r\nContent-Length: 0\r\n\r\n" + NOT_FOUND_CLOSE),
    Case("head-not-found", req(b"HEAD /nope HTTP/1.1"), NOT_FOUND[:-29] + NOT_FOUND_CLOSE),
    # past Go's own head limit (1 MiB + 4 KiB, request line included): its 431
    Case("request-line-past-1mib", req(b"GET /" + b"a" * ((1 << 20) + 5000) + b" HTTP/1.1"), HEAD_TOO_LARGE),
    # the fake's lower limits: dockerd answers these; the fake refuses them in Go's form
    Case("request-line-past-8k", req(b"GET /" + b"a" * 9000 + b" HTTP/1.1"), HEAD_TOO_LARGE, fake_limit=True),
    Case("header-past-64k", req(b"GET /nope HTTP/1.1", H + b"X: " + b"a" * 70000 + b"\r\n"), HEAD_TOO_LARGE,
         fake_limit=True),
    Case("header-101", req(b"GET /nope HTTP/1.1", H + b"X: y\r\n" * 101), HEAD_TOO_LARGE, fake_limit=True),
    Case("body-past-1mib", req(POST, H + b"Content-Length: 2000000\r\n", b"x" * 2000000), BODY_TOO_LARGE,
         fake_limit=True),
    Case("chunked-past-1mib", req(POST, CHUNKED, (b"100000\r\n" + b"x" * 0x100000 + b"\r\n") * 2 + b"0\r\n\r\n"),
         BODY_TOO_LARGE, fake_limit=True),
]


def exchange(address: str | tuple[str, int], payload: bytes) -> bytes:
    """Send the request and the probe, read until the server closes; without the Date header."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(address)
        sender = threading.Thread(target=_send, args=(sock, payload + PROBE), daemon=True)
        sender.start()
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except ConnectionResetError:  # Go closes with the rest of the request unread: the answer came first
            pass
        sender.join(10)
    return _DATE.sub(b"", out)


def _send(sock: socket.socket, payload: bytes) -> None:
    try:
        sock.sendall(payload)
    except OSError:
        pass  # the server answered and closed before reading it all


@pytest.fixture(scope="module", params=[(p, t) for p in PROFILES for t in ("unix", "tcp")],
                ids=[f"{p}-{t}" for p in PROFILES for t in ("unix", "tcp")])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeDaemon]:
    profile, transport = request.param
    with FakeDaemon(profile=profile, transport=transport) as daemon:
        yield daemon


def test_the_fake_answers_each_request_as_dockerd(fake: FakeDaemon) -> None:
    wrong = {case.name: (answer, case.answer_for(fake.profile)) for case in CASES
             if (answer := exchange(fake.server.address, case.request)) != case.answer_for(fake.profile)}
    assert not wrong, wrong
    assert fake.server.errors == []


def test_the_table_is_well_formed() -> None:
    """The table's names are unique and each override names a real profile field that some profile flips."""
    assert len({c.name for c in CASES}) == len(CASES)
    for case in CASES:
        if case.unless is not None:
            assert {getattr(p, case.unless[0]) for p in PROFILES.values()} == {True, False}, case.name


# --------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize("line, parsed", [
    (b"GET /a HTTP/1.1", ("GET", "/a", 1, 1)),
    (b"PRI * HTTP/2.0", ("PRI", "*", 2, 0)),
    (b"GET http://d:80/a?x HTTP/1.0", ("GET", "http://d:80/a?x", 1, 0)),
    (b"CONNECT d:443 HTTP/1.1", ("CONNECT", "d:443", 1, 1)),
    (b"GET x:y HTTP/1.1", ("GET", "x:y", 1, 1)),  # opaque: Go routes it
    (b"GET /a?%zz HTTP/1.1", ("GET", "/a?%zz", 1, 1)),  # the query is not unescaped
])
def test_request_lines_go_accepts(line: bytes, parsed: tuple[str, str, int, int]) -> None:
    assert gohttp.parse_request_line(line) == parsed


@pytest.mark.parametrize("line", [
    b"", b"GET", b"GET /a", b"GET /a HTTP/1.1 ", b"GET /a HTTP/1.10", b"GET /a HTTP/1", b" GET /a HTTP/1.1",
    b"GET /a\tb HTTP/1.1", b"GET a HTTP/1.1", b"GET :a HTTP/1.1", b"GET /%2 HTTP/1.1", b"GET http://d:x/ HTTP/1.1",
    b"GET http://[::1/ HTTP/1.1", b"GET http://a{b/ HTTP/1.1", b"GET http://u%zz@d/ HTTP/1.1", b"G\xc9T / HTTP/1.1",
])
def test_request_lines_go_refuses(line: bytes) -> None:
    with pytest.raises(GoRejection) as refused:
        gohttp.parse_request_line(line)
    assert refused.value.raw() == BAD


@pytest.mark.parametrize("line, strict, lenient", [
    (b"Foo: bar ", ("Foo", "bar"), ("Foo", "bar")),
    (b"Foo:\tbar baz", ("Foo", "bar baz"), ("Foo", "bar baz")),
    (b"Foo :bar", ("Foo ", "bar"), ("Foo ", "bar")),  # Go's server refuses the name later
    (b": bar", BAD, None),  # Go 1.19 drops the line
    (b"F(o: bar", BAD, ("F(o", "bar")),
    (b"Foo: a\x00b", BAD, ("Foo", "a\x00b")),
    (b"Foo", BAD, BAD),
])
def test_header_lines(line: bytes, strict: object, lenient: object) -> None:
    for rules, want in ((GoRules(), strict), (GoRules(strict_header_syntax=False), lenient)):
        if want == BAD:
            with pytest.raises(GoRejection):
                gohttp.header_field(line, rules)
        else:
            assert gohttp.header_field(line, rules) == want


@pytest.mark.parametrize("headers, first", [
    # the order Go checks in: Host count, body framing, version, Host presence and syntax, names and values
    ([("Host", "a"), ("Host", "b"), ("Transfer-Encoding", "gzip")], BAD),
    ([("Transfer-Encoding", "gzip"), ("X y", "1")], ENCODING),
    ([("Content-Length", "x")], BAD),
    ([("X y", "1")], NO_HOST),
    ([("Host", "a b"), ("X y", "1")], go(b"400 Bad Request: malformed Host header")),
    ([("Host", "d"), ("X", "\x01"), ("X y", "1")], BAD_VALUE),
])
def test_head_checks_come_in_go_s_order(headers: list[tuple[str, str]], first: bytes) -> None:
    with pytest.raises(GoRejection) as refused:
        gohttp.check_head(GoRules(), "GET", "/", 1, 1, headers)
    assert refused.value.raw() == first


def test_version_is_checked_after_the_framing() -> None:
    with pytest.raises(GoRejection) as refused:
        gohttp.check_head(GoRules(), "GET", "/", 3, 0, [("Transfer-Encoding", "x")])
    assert refused.value.raw() == ENCODING


@pytest.mark.parametrize("headers, http10, keep", [
    ([], False, True), ([("Connection", "close")], False, False), ([("Connection", "Keep-Alive, Close")], False, False),
    ([("Connection", "x"), ("connection", "close")], False, False), ([("Connection", "x close")], False, False),
    ([], True, False), ([("Connection", "keep-alive")], True, True), ([("Connection", "x"), ("Connection", "keep-alive")],
                                                                    True, False),
])
def test_keep_alive(headers: list[tuple[str, str]], http10: bool, keep: bool) -> None:
    assert gohttp.keep_alive(http10, headers) is keep


@pytest.mark.parametrize("line, strict, lenient", [
    (b"1f\r\n", 31, 31), (b"1F;ext=1\r\n", 31, 31), (b"3 \t\r\n", 3, 3), (b"3\n", None, 3), (b"3\r\r\n", None, 3),
    (b"3 ;x\r\n", None, None), (b"+3\r\n", None, None), (b"\r\n", None, None), (b"1" * 17 + b"\r\n", None, None),
])
def test_chunk_size_lines(line: bytes, strict: int | None, lenient: int | None) -> None:
    for rules, want in ((GoRules(), strict), (GoRules(strict_chunk_lines=False), lenient)):
        if want is None:
            with pytest.raises(gohttp.BadChunk):
                gohttp.chunk_size(line, rules)
        else:
            assert gohttp.chunk_size(line, rules) == want


# --------------------------------------------------------------------------- real daemons


@pytest.fixture(scope="module", params=EACH_RELEASE)
def real(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    yield from unseeded_real_daemon(request.param)


def test_malformed_requests_match_the_real_daemon(real: RealDaemon) -> None:
    """Each request of the table (the fake's own limits aside) gets the same bytes from the real
    daemon and from the fake of its profile, Date aside; and those are the table's."""
    theirs_path = real.docker_host.removeprefix("unix://")
    with FakeDaemon(profile=real.variant.name) as fake:
        wrong = {}
        for case in CASES:
            if case.fake_limit:
                continue
            theirs, mine = exchange(theirs_path, case.request), exchange(fake.server.address, case.request)
            if theirs != mine or mine != case.answer_for(fake.profile):
                wrong[case.name] = {"dockerd": theirs[:300], "fake": mine[:300]}
    assert not wrong, wrong
