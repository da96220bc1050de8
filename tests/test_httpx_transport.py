"""DockerImagesTransport: httpx (sync and async) answered in-process by the fake or a cassette,
with exactly what the server would send over a socket."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import httpx
import pytest

from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.model import ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._fake.backend import FakeBackend
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._files.resources import data_dir
from pytest_dockerimages._http.httpx_transport import DockerImagesTransport

pytest_plugins = ["pytester"]

TARGETS = ["/_ping", "/version", "/v1.45/images/json?all=1",
           "/v1.45/images/json?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D",
           "/v1.45/images/json?filters=%7B%22foo%22%3A%5B%22x%22%5D%7D", "/v1.99/images/json", "/nope"]


@pytest.mark.parametrize("target", TARGETS)
def test_same_answer_as_over_the_socket(target: str) -> None:
    with FakeDaemon(images=default_images(), profile="docker-26.1") as fake:
        with httpx.Client(transport=httpx.HTTPTransport(uds=fake.server.unix_path), base_url="http://docker") as net:
            expected = net.get(target)
        backend = FakeBackend(fake.store, fake.profile)
        with httpx.Client(transport=DockerImagesTransport(backend), base_url="http://docker") as local:
            got = local.get(target)
    assert (got.status_code, got.content) == (expected.status_code, expected.content)
    for name in ("Api-Version", "Content-Type", "Server", "Docker-Experimental", "Ostype"):
        assert got.headers.get(name) == expected.headers.get(name)


def test_async_client_and_a_cassette() -> None:
    backend = ReplayBackend.from_file(data_dir("cassettes") / "docker-26.1.yaml")

    async def scenario() -> list[str]:
        async with httpx.AsyncClient(transport=DockerImagesTransport(backend), base_url="http://docker") as client:
            response = await client.get("/v1.45/images/json")
            response.raise_for_status()
            return [tag for image in response.json() for tag in image["RepoTags"]]

    assert "example/loaded:app" in asyncio.run(scenario())
    assert backend.misses == []


def test_a_dropped_connection_is_an_httpx_error() -> None:
    with FakeDaemon(images=default_images()) as fake:
        fake.drop_next(1)
        transport = DockerImagesTransport(fake.backend)
        with httpx.Client(transport=transport, base_url="http://docker") as client:
            with pytest.raises(httpx.RemoteProtocolError, match="dropped the connection"):
                client.get("/images/json")
            assert client.get("/images/json").status_code == 200


def test_no_socket_is_involved() -> None:
    backend = FakeBackend(ImageStore(default_images()), get_profile("docker-20.10"))
    with httpx.Client(transport=DockerImagesTransport(backend), base_url="http://docker") as client:
        body = client.get("/images/json").json()
    assert body[0]["VirtualSize"] == body[0]["Size"]  # rendered as 20.10 does


def test_it_is_an_httpx_transport_sync_and_async() -> None:
    transport = DockerImagesTransport(FakeBackend(ImageStore(()), get_profile(None)))
    assert isinstance(transport, httpx.BaseTransport) and isinstance(transport, httpx.AsyncBaseTransport)
    with transport as entered:  # httpx's own no-op open/close: there is no connection to hold
        assert entered is transport
    transport.close()

    async def scenario() -> None:
        async with transport as entered:
            assert entered is transport
        await transport.aclose()

    asyncio.run(scenario())


def test_fake_backend_is_what_the_socket_answers_with() -> None:
    """`FakeDaemon.backend`: faults, the request log and deletion apply, no server needed."""
    fake = FakeDaemon(images=[{"tags": ["shop/app:1.0"]}], profile="docker-26.1")  # never started
    image_id = fake.images[0].id
    fake.fail_next(1, status=503, message="busy", path="/images/json")
    with httpx.Client(transport=DockerImagesTransport(fake.backend), base_url="http://docker") as client:
        assert client.get("/v1.45/images/json").json() == {"message": "busy"}
        assert client.delete("/v1.45/images/shop/app:1.0").json() == [{"Untagged": "shop/app:1.0"},
                                                                       {"Deleted": image_id}]
        assert client.get("/v1.45/images/json").json() == []
    assert [(r.method, r.path, r.status) for r in fake.requests] == [
        ("GET", "/images/json", 503), ("DELETE", "/images/shop/app:1.0", 200), ("GET", "/images/json", 200)]
    assert not fake.running


def test_a_cassette_handle_backend_serves_the_transport(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        import httpx
        import pytest

        from pytest_dockerimages import DockerImagesTransport

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_in_process(dockerimages_cassette):
            transport = DockerImagesTransport(dockerimages_cassette.backend)
            with httpx.Client(transport=transport, base_url="http://docker") as client:
                tags = [t for image in client.get("/v1.45/images/json").json() for t in image["RepoTags"]]
            assert "example/loaded:app" in tags
    """))
    result = pytester.runpytest("-p", "dockerimages")
    result.assert_outcomes(passed=1)


def test_without_httpx_the_import_names_the_extra() -> None:
    code = textwrap.dedent("""
        import sys
        sys.modules["httpx"] = None  # as if httpx were not installed
        import pytest_dockerimages
        from pytest_dockerimages import FakeDaemon, Image  # the rest does not need httpx
        try:
            from pytest_dockerimages import DockerImagesTransport
        except ModuleNotFoundError as exc:
            print(exc.name)
            print(exc)
        else:
            raise SystemExit("DockerImagesTransport imported without httpx")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    name, message = out.splitlines()
    assert name == "httpx"
    assert 'pip install "pytest-dockerimages[httpx]"' in message and "DockerImagesTransport" in message
