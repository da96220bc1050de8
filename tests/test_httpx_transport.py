"""DockerImagesTransport: httpx (sync and async) answered in-process by the fake or a cassette,
with exactly what the server would send over a socket."""
from __future__ import annotations

import asyncio

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
        transport = DockerImagesTransport(fake.server.backend)
        with httpx.Client(transport=transport, base_url="http://docker") as client:
            with pytest.raises(httpx.RemoteProtocolError, match="dropped the connection"):
                client.get("/images/json")
            assert client.get("/images/json").status_code == 200


def test_no_socket_is_involved() -> None:
    backend = FakeBackend(ImageStore(default_images()), get_profile("docker-20.10"))
    with httpx.Client(transport=DockerImagesTransport(backend), base_url="http://docker") as client:
        body = client.get("/images/json").json()
    assert body[0]["VirtualSize"] == body[0]["Size"]  # rendered as 20.10 does
