"""Security: private sockets, loopback only, no credential in a cassette, no traffic to a real
daemon outside record mode, nothing outliving the test session.

* Unix sockets live in a fresh 0700 folder and are 0600 (FakeDaemon, the session fixture's daemon,
  the cassette fixture's server); TCP listens on loopback, other hosts only with allow_remote.
* Recording through the proxy with every kind of credential present (Authorization,
  Proxy-Authorization, X-Registry-Auth, X-Registry-Config, Cookie, Set-Cookie, passwords in URLs
  in request targets, response headers and bodies, `POST /auth` passwords and identity tokens):
  the cassette file's bytes contain none of them.
* With DOCKER_HOST pointing at a sentinel that counts connections, a whole session using the fake,
  the client fixtures and replayed cassettes (with a miss and a fallback) never contacts it.
* That session (every fixture, a docker CLI child, a TCP fake, a recording) leaves no thread, no
  child or descendant process, no socket file or private folder, and no listening port.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import stat
import textwrap
import urllib.parse
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from reliability_support import ConnectionSentinel

from pytest_dockerimages._cassettes.cassette import Cassette
from pytest_dockerimages._cassettes.record import RecordingBackend
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import PROFILES
from pytest_dockerimages._core.wire import Request, Response
from pytest_dockerimages._fake.backend import FakeBackend
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._http.server import Server
from pytest_dockerimages._http.unixhttp import request

# --------------------------------------------------------------------------- sockets


def _assert_private(docker_host: str) -> None:
    path = docker_host[len("unix://"):]
    folder = os.path.dirname(path)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, oct(os.stat(folder).st_mode)
    assert os.stat(folder).st_uid == os.getuid() == os.stat(path).st_uid


def test_fake_daemon_socket_is_private_and_tcp_is_loopback_only() -> None:
    with FakeDaemon() as daemon:
        _assert_private(daemon.docker_host)
    with FakeDaemon(transport="tcp") as daemon:
        assert daemon.server.address[0] == "127.0.0.1"
    for host in ("0.0.0.0", "192.0.2.7", "::", "example.invalid"):
        with pytest.raises(ValueError, match="refusing to listen on non-loopback host"):
            FakeDaemon(transport="tcp", host=host)
    # Only an explicit allow_remote lifts the check (constructed, never started: nothing listens).
    assert not Server(FakeBackend(ImageStore([]), PROFILES["docker-26.1"]), transport="tcp", host="0.0.0.0",
                      allow_remote=True).running


# --------------------------------------------------------------------------- credentials

SECRETS = {
    "authorization": "Bearer AUTHZ-SECRET-1",
    "authorization-lower": "Basic QUxJQ0U6QVVUSFotU0VDUkVULTI=",
    "proxy": "Basic PROXY-SECRET-3",
    "x-registry-auth": base64.urlsafe_b64encode(json.dumps(
        {"username": "u", "password": "XRA-SECRET-4", "serveraddress": "registry.corp"}).encode()).decode(),
    "x-registry-config": base64.urlsafe_b64encode(json.dumps(
        {"registry.corp": {"username": "u", "password": "XRC-SECRET-5"}}).encode()).decode(),
    "cookie": "session=COOKIE-SECRET-6",
    "set-cookie": "sid=SETCOOKIE-SECRET-7; HttpOnly",
    "target": "TARGET-SECRET-8",
    "location": "LOCATION-SECRET-9",
    "www-authenticate": "REALM-SECRET-10",
    "label": "LABEL-SECRET-11",
    "auth-body": "AUTHBODY-SECRET-12",
    "auth-url": "AUTHURL-SECRET-13",
    "identity-token": "IDTOKEN-SECRET-14",
}


class _LeakyUpstream:
    """A daemon stand-in whose answers carry credentials in headers and bodies."""

    def __init__(self) -> None:
        images = [Image(tags=["app:1"], created=1_700_000_000,
                        labels={"src": f"https://bob:{SECRETS['label']}@registry.corp/team/app"})]
        self.fake = FakeBackend(ImageStore(images), PROFILES["docker-26.1"])
        self.seen: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.seen.append(request)
        if request.path.endswith("/auth"):
            return Response(200, [("Content-Type", "application/json")],
                            json.dumps({"Status": "Login Succeeded", "IdentityToken": SECRETS["identity-token"]}).encode())
        if request.path.endswith("/info"):
            return Response(200, [("Content-Type", "application/json")], b'{"Driver":"overlay2"}\n')
        response = self.fake.handle(request)
        response.headers += [("Set-Cookie", SECRETS["set-cookie"]),
                             ("Location", f"https://alice:{SECRETS['location']}@registry.corp/v2/"),
                             ("Www-Authenticate", f'Bearer realm="https://carol:{SECRETS["www-authenticate"]}@auth.corp/t"')]
        return response


def test_no_credential_is_ever_written_to_a_cassette(tmp_path: Path) -> None:
    upstream = _LeakyUpstream()
    path = tmp_path / "rec.yaml"
    with Server(upstream) as daemon:
        backend = RecordingBackend(daemon.docker_host, Cassette(path))
        with Server(backend) as proxy:
            headers = [("Authorization", SECRETS["authorization"]), ("authorization", SECRETS["authorization-lower"]),
                       ("Proxy-Authorization", SECRETS["proxy"]), ("X-Registry-Auth", SECRETS["x-registry-auth"]),
                       ("X-Registry-Config", SECRETS["x-registry-config"]), ("Cookie", SECRETS["cookie"])]
            label = f"src=https://dave:{SECRETS['target']}@registry.corp/team/app"
            target = "/v1.45/images/json?filters=" + urllib.parse.quote(json.dumps({"label": [label]}))
            status, got_headers, body = request(proxy.docker_host, "GET", target, headers=headers)
            assert status == 200 and any(SECRETS["location"] in v for _, v in got_headers)
            login = json.dumps({"username": "u", "password": SECRETS["auth-body"],
                                "serveraddress": f"https://erin:{SECRETS['auth-url']}@registry.corp"}).encode()
            status, _, body = request(proxy.docker_host, "POST", "/v1.45/auth", headers=headers, body=login)
            assert status == 200 and SECRETS["identity-token"].encode() in body
            status, _, body = request(proxy.docker_host, "GET", "/v1.45/images/json", headers=headers)
            assert status == 200 and SECRETS["label"].encode() in body  # the client gets the real answer
    # the daemon got every credential (recording must not break authentication)...
    forwarded = upstream.seen[-1]
    assert forwarded.header("X-Registry-Auth") == SECRETS["x-registry-auth"]
    assert any(r.body == login for r in upstream.seen)
    backend.cassette.save()
    data = path.read_bytes()
    # ...but the file holds none, in any spelling
    for name, secret in SECRETS.items():
        assert secret.encode() not in data, f"{name} leaked into the cassette"
        assert urllib.parse.quote(secret, safe="").encode() not in data, f"{name} leaked (percent-encoded)"
    assert data.count(b"<redacted>") >= 10
    # and what is left is still a usable cassette: the listing replays
    loaded = Cassette.load(path)
    assert [i.status for i in loaded.interactions] == [200, 200, 200]


# --------------------------------------------------------------------------- a whole session

_CONFTEST = """
    import json, os, threading
    from pathlib import Path

    import pytest

    from pytest_dockerimages._fake.fakedaemon import FakeDaemon

    REPORT = Path(os.environ["LEAK_REPORT"])
    PORTS = []
    UPSTREAM = FakeDaemon(profile="docker-26.1")  # what record mode talks to (never DOCKER_HOST's sentinel)


    def pytest_configure(config):
        UPSTREAM.start()
        config.option.dockerimages_docker_host = UPSTREAM.docker_host


    def children():
        out = []
        for task in Path("/proc/self/task").iterdir():
            try:
                out += (task / "children").read_text().split()
            except OSError:
                pass
        return out


    def pytest_unconfigure(config):
        # After every fixture, the session ones too, has been torn down.
        UPSTREAM.stop()
        REPORT.write_text(json.dumps({
            "threads": sorted(t.name for t in threading.enumerate() if t is not threading.main_thread()),
            "children": children(),
            "ports": PORTS,
            "upstream": [r.path for r in UPSTREAM.requests],
        }))
"""

_TESTS = """
    import os, shutil, stat, subprocess

    import pytest

    from conftest import PORTS
    from pytest_dockerimages._fake.fakedaemon import FakeDaemon
    from pytest_dockerimages._http.unixhttp import request


    def private(host):
        path = host[len("unix://"):]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


    def test_fake_and_host(dockerimages_fake, dockerimages_host):
        private(dockerimages_host)
        assert os.environ["DOCKER_HOST"] == dockerimages_host
        assert request(dockerimages_host, "GET", "/images/json")[0] == 200
        if shutil.which("docker"):
            out = subprocess.run(["docker", "images", "-q"], capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr


    def test_client(dockerimages_client):
        assert dockerimages_client.images.list()


    @pytest.mark.dockerimages_cassette("docker-26.1")
    def test_replay(dockerimages_cassette, dockerimages_host):
        private(dockerimages_cassette.docker_host)
        assert request(dockerimages_host, "GET", "/v1.45/images/json")[0] == 200


    @pytest.mark.dockerimages_cassette("docker-26.1", fallback=True)
    def test_replay_fallback(dockerimages_cassette):
        target = "/v1.45/images/json?filters=%7B%22label%22%3A%5B%22nosuch%22%5D%7D"
        assert request(dockerimages_cassette.docker_host, "GET", target)[0] == 200


    @pytest.mark.dockerimages_cassette("docker-26.1")
    def test_replay_miss_fails(dockerimages_cassette):
        request(dockerimages_cassette.docker_host, "GET", "/v1.45/images/json?filters=%7B%22label%22%3A%5B%22q%22%5D%7D")


    @pytest.mark.dockerimages_cassette("recorded", record_mode="all")
    def test_record(dockerimages_cassette):
        assert request(dockerimages_cassette.docker_host, "GET", "/v1.45/images/json")[0] == 200


    def test_tcp_fake():
        with FakeDaemon(transport="tcp") as daemon:
            PORTS.append(daemon.server.address[1])
            assert request(daemon.docker_host, "GET", "/_ping")[0] == 200
"""


@pytest.fixture
def session_dirs(tmp_path: Path) -> Iterator[dict[str, Path]]:
    # A short private TMPDIR: the fake's socket folders go there (sun_path is short).
    tmp = Path(os.environ.get("TMPDIR", "/tmp"), f"dimg-leak-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(mode=0o700)
    try:
        yield {"tmp": tmp, "report": tmp_path / "report.json"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _running_with(mark: str) -> list[str]:
    """Processes whose environment carries `mark` (descendants of the session, orphaned or not)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark.encode() in (entry / "environ").read_bytes():
                found.append(entry.name + " " + (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:100])
        except OSError:
            continue
    return found


_REAL_DAEMON_TEST = """

    def test_real_daemon(dockerimages_real_daemon):
        assert request(dockerimages_real_daemon.docker_host, "GET", "/_ping")[0] == 200
"""


@pytest.mark.parametrize("real", [False, pytest.param(True, marks=pytest.mark.realdaemon)],
                         ids=["fakes", "fakes-and-a-real-daemon"])
def test_a_session_never_contacts_a_real_daemon_and_leaves_nothing_behind(
        pytester: pytest.Pytester, session_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, real: bool) -> None:
    tmp, report = session_dirs["tmp"], session_dirs["report"]
    mark = f"DIMG_LEAK_{uuid.uuid4().hex}"
    pytester.makeconftest(textwrap.dedent(_CONFTEST))
    pytester.makepyfile(test_session=textwrap.dedent(_TESTS) + (textwrap.dedent(_REAL_DAEMON_TEST) if real else ""))
    if real:
        from pytest_dockerimages._real.fixture import skip_or_fail
        from pytest_dockerimages._real.harness import missing_requirements

        missing = missing_requirements("docker-26.1")
        if missing:
            skip_or_fail(f"docker-26.1: missing {', '.join(missing)}; run `sudo bash scripts/install-daemons.sh`")
    hosts = ("unix", "tcp") if not real else ("unix",)
    with ConnectionSentinel(str(tmp / "real-docker.sock")) as unix_daemon, ConnectionSentinel() as tcp_daemon:
        for name, host in ((n, {"unix": unix_daemon, "tcp": tcp_daemon}[n].docker_host) for n in hosts):
            monkeypatch.setenv("DOCKER_HOST", host)
            monkeypatch.setenv("TMPDIR", str(tmp))
            monkeypatch.setenv("LEAK_REPORT", str(report))
            monkeypatch.setenv("DIMG_LEAK_MARK", mark)
            monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
            result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", f"--basetemp={tmp / ('bt-' + name)}")
            outcomes = result.parseoutcomes()
            assert outcomes.get("failed") == 1 and "test_replay_miss_fails" in result.stdout.str(), result.stdout.str()
            assert outcomes.get("passed", 0) + outcomes.get("skipped", 0) == 6 + real, outcomes
            assert not real or "test_session.py::test_real_daemon PASSED" in result.stdout.str()
            assert (pytester.path / "cassettes" / "recorded.yaml").is_file()
            left = json.loads(report.read_text())
            assert left["threads"] == [], f"threads alive at the end of the session: {left['threads']}"
            assert left["children"] == [], f"child processes alive at the end of the session: {left['children']}"
            # Only the recording test talked to the record-mode daemon: replay (record mode none) never did.
            assert left["upstream"] == ["/version", "/info", "/images/json"], left["upstream"]
            for port in left["ports"]:
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
            assert _running_with(mark) == [], "processes of the session still running"
            sockets = [str(p) for p in tmp.rglob("*") if p.is_socket() and p.name != "real-docker.sock"]
            assert sockets == [], f"socket files left behind: {sockets}"
            folders = [p.name for p in tmp.iterdir() if p.name.startswith("dimg-")]
            assert folders == [], f"private socket folders left behind: {folders}"
        assert unix_daemon.connections == 0 and tcp_daemon.connections == 0, "the real daemon was contacted"
