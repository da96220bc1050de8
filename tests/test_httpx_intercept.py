"""answered_in_process and the dockerimages_httpx fixture: httpx transports built by the code under
test with `uds=<our socket>` are answered in-process, and nothing else is touched."""
from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import httpx
import pytest

from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._fake.backend import FakeBackend
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._http.httpx_intercept import answered_in_process, answered_like

pytest_plugins = ["pytester"]


def _backend(profile: str = "docker-26.1") -> FakeBackend:
    return FakeBackend(ImageStore(default_images()), get_profile(profile))


def _get(transport: httpx.HTTPTransport, target: str = "/v1.45/images/json") -> httpx.Response:
    with httpx.Client(transport=transport, base_url="http://docker") as client:
        return client.get(target)


def _positional_uds(path: str) -> httpx.HTTPTransport:
    """HTTPTransport(..., path) with `uds` passed by position (its place differs between httpx releases)."""
    parameters = list(inspect.signature(httpx.HTTPTransport.__init__).parameters.values())[1:]
    place = [p.name for p in parameters].index("uds")
    return httpx.HTTPTransport(*(p.default for p in parameters[:place]), path)


def test_a_transport_made_while_active_needs_no_socket(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "nobody-listens.sock")  # the socket does not exist: only in-process can answer
    with answered_in_process(nowhere, _backend()):
        for transport in (httpx.HTTPTransport(uds=nowhere), _positional_uds(nowhere)):
            response = _get(transport)
            assert response.status_code == 200
            assert response.headers["Api-Version"] == "1.45"
            assert {tag for image in response.json() for tag in image["RepoTags"]} == \
                {tag.familiar for image in default_images() for tag in image.tags}


@pytest.mark.parametrize("when", ["made before", "other socket", "used after"])
def test_other_transports_go_through_httpx(tmp_path: Path, when: str) -> None:
    nowhere = str(tmp_path / "nobody-listens.sock")
    before = httpx.HTTPTransport(uds=nowhere)
    with answered_in_process(nowhere, _backend()):
        transport = {"made before": before,
                     "other socket": httpx.HTTPTransport(uds=str(tmp_path / "other.sock")),
                     "used after": httpx.HTTPTransport(uds=nowhere)}[when]
        if when != "used after":
            with pytest.raises(httpx.ConnectError):
                _get(transport)
    if when == "used after":  # the patch is gone with the route: the transport is httpx's own again
        with pytest.raises(httpx.ConnectError):
            _get(transport)


def test_httpx_is_restored_exactly() -> None:
    classes = (httpx.HTTPTransport, httpx.AsyncHTTPTransport)
    before = [(cls.__dict__["__init__"], cls.__dict__.get("handle_request"), cls.__dict__.get("handle_async_request"))
              for cls in classes]
    with answered_in_process("/nonexistent/a.sock", _backend()):
        with answered_in_process("/nonexistent/b.sock", _backend()):
            assert httpx.HTTPTransport.__dict__["__init__"] is not before[0][0]
        assert httpx.HTTPTransport.__dict__["__init__"] is not before[0][0]  # a still routes
    after = [(cls.__dict__["__init__"], cls.__dict__.get("handle_request"), cls.__dict__.get("handle_async_request"))
             for cls in classes]
    assert after == before


def test_nested_routes_to_one_socket_answer_from_the_innermost(tmp_path: Path) -> None:
    path = str(tmp_path / "d.sock")
    with answered_in_process(path, _backend("docker-26.1")):
        with answered_in_process(path, _backend("docker-20.10")):
            assert _get(httpx.HTTPTransport(uds=path), "/version").json()["ApiVersion"] == "1.41"
        assert _get(httpx.HTTPTransport(uds=path), "/version").json()["ApiVersion"] == "1.45"


def test_async_transport(tmp_path: Path) -> None:
    path = str(tmp_path / "a.sock")

    async def scenario() -> int:
        async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=path), base_url="http://docker") as client:
            return len((await client.get("/v1.45/images/json", params={"all": "1"})).json())

    with answered_in_process(path, _backend()):
        count = asyncio.run(scenario())
    assert count == len(default_images())


def test_same_bytes_as_over_the_socket() -> None:
    with FakeDaemon(images=default_images(), profile="docker-26.1") as fake:
        targets = ["/v1.45/images/json?all=1", "/v1.45/images/json?filters=%7B%22foo%22%3A%5B%22x%22%5D%7D",
                   "/v1.99/images/json"]
        over_socket = [_get(httpx.HTTPTransport(uds=fake.server.unix_path), t) for t in targets]
        with answered_in_process(fake.server.unix_path, fake.server.backend):
            in_process = [_get(httpx.HTTPTransport(uds=fake.server.unix_path), t) for t in targets]
    for got, expected in zip(in_process, over_socket, strict=True):
        assert (got.status_code, got.content, got.headers.get("Content-Type"), got.headers.get("Api-Version")) == \
            (expected.status_code, expected.content, expected.headers.get("Content-Type"),
             expected.headers.get("Api-Version"))


def test_answered_like_follows_a_swapped_backend() -> None:
    with FakeDaemon(images=default_images(), profile="docker-26.1") as fake, answered_like(fake.server):
        transport = httpx.HTTPTransport(uds=fake.server.unix_path)
        assert _get(transport, "/version").json()["ApiVersion"] == "1.45"
        fake.server.backend = _backend("docker-20.10")  # what a test may do; the socket would answer from it
        assert _get(transport, "/version").json()["ApiVersion"] == "1.41"


def test_fixture_answers_the_code_under_test_and_restores_httpx(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(r"""
        import httpx
        import pytest

        def list_tags(socket_path):  # the code under test: builds its own transport
            with httpx.Client(transport=httpx.HTTPTransport(uds=socket_path), base_url="http://docker") as c:
                return sorted(t for image in c.get("/images/json").json() for t in image["RepoTags"])

        ORIGINAL = httpx.HTTPTransport.__init__

        @pytest.mark.dockerimages(images=[{"tags": ["alpine:3.20"]}])
        def test_fake(dockerimages_httpx, dockerimages_fake):
            assert dockerimages_httpx.startswith("unix://")
            assert httpx.HTTPTransport.__init__ is not ORIGINAL
            assert "alpine:3.20" in list_tags(dockerimages_httpx[len("unix://"):])
            assert [r.path for r in dockerimages_fake.requests][-1].endswith("/images/json")

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_cassette(dockerimages_httpx):
            assert "example/loaded:app" in list_tags(dockerimages_httpx[len("unix://"):])

        def test_restored_afterwards():
            assert httpx.HTTPTransport.__init__ is ORIGINAL
    """)
    result = pytester.runpytest("-p", "dockerimages", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


@pytest.mark.parametrize("ci", ["", "true"])
def test_fixture_without_httpx_skips_or_fails_in_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                   ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile("""
        import sys

        def test_it(monkeypatch, request):
            monkeypatch.setitem(sys.modules, "httpx", None)  # as if httpx were not installed
            request.getfixturevalue("dockerimages_httpx")
    """)
    result = pytester.runpytest("-p", "dockerimages", "-rsf")
    result.assert_outcomes(**({"failed": 1} if ci else {"skipped": 1}))
    # in fnmatch, [[] and []] are a literal [ and ]
    result.stdout.fnmatch_lines(['*httpx is not installed (pip install "pytest-dockerimages[[]httpx[]]")*'])
    result.stdout.no_fnmatch_line("*Traceback*")
