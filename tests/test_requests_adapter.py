"""DockerImagesAdapter: requests (and so the docker SDK) answered in-process by the fake or a
cassette, with exactly what the server sends over the socket."""
from __future__ import annotations

from typing import Any

import pytest
from requires import require_module

from pytest_dockerimages import DockerImagesAdapter
from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._files.resources import builtin_cassette
from pytest_dockerimages._http.server import Server

docker = require_module("docker", reason="needs the docker SDK for Python (pip install docker)")
requests = require_module("requests")

TARGETS = [("GET", "/_ping"), ("HEAD", "/_ping"), ("GET", "/version"), ("GET", "/v1.45/images/json?all=1"),
           ("GET", "/v1.45/images/json?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D"),
           ("GET", "/v1.45/images/json?filters=%7B%22foo%22%3A%5B%22x%22%5D%7D"), ("GET", "/v1.99/images/json"),
           ("GET", "/v1.45/images/example%2Fapp%3A1.2.3/json"), ("GET", "/nope")]


def answer(client: Any, method: str, target: str) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Status, reason, headers in order (Date's value aside: it is the clock) and the body bytes."""
    response = client.request(method, client.base_url + target)
    headers = [(k, "<date>" if k == "Date" else v) for k, v in response.raw.headers.items()]
    return response.status_code, response.reason, headers, response.content


def both(docker_host: str, backend: Any) -> tuple[Any, Any]:
    over_socket = docker.APIClient(base_url=docker_host, version="1.45")
    in_process = DockerImagesAdapter(backend).mount(docker.APIClient(base_url=docker_host, version="1.45"))
    return over_socket, in_process


@pytest.mark.parametrize(("method", "target"), TARGETS)
def test_the_fake_answers_byte_for_byte_as_over_the_socket(method: str, target: str) -> None:
    with FakeDaemon(images=default_images(), profile="docker-26.1") as fake:
        net, local = both(fake.docker_host, fake.server.backend)
        expected = answer(net, method, target)
        before = len(fake.requests)
        got = answer(local, method, target)
        assert len(fake.requests) == before + 1  # the fake saw it: logged like any request
    assert got == expected


@pytest.mark.parametrize(("method", "target"), TARGETS[:5])  # what the cassette recorded
def test_a_cassette_answers_byte_for_byte_as_over_the_socket(method: str, target: str) -> None:
    path = builtin_cassette("docker-26.1")
    assert path is not None
    backend = ReplayBackend.from_file(path)
    with Server(backend) as server:
        net, local = both(server.docker_host, backend)
        assert answer(local, method, target) == answer(net, method, target)
    assert backend.misses == []


def test_the_sdk_lists_images_in_process_without_the_socket() -> None:
    with FakeDaemon(images=default_images(), profile="docker-26.1") as fake:
        client = docker.DockerClient(base_url=fake.docker_host, version="1.45")
        expected = sorted(tag for image in client.images.list(all=True) for tag in image.tags)
        DockerImagesAdapter(fake.server.backend).mount(client)
        fake.server.stop()  # nothing listens any more: only the adapter can answer
        got = sorted(tag for image in client.images.list(all=True) for tag in image.tags)
    assert got == expected and "example/app:1.2.3" in got


def test_mounts_on_a_tcp_client_too() -> None:
    with FakeDaemon(images=default_images(), transport="tcp") as fake:
        assert fake.docker_host.startswith("tcp://")
        net, local = both(fake.docker_host, fake.server.backend)
        assert isinstance(local.get_adapter(local.base_url + "/_ping"), DockerImagesAdapter)
        assert not isinstance(net.get_adapter(net.base_url + "/_ping"), DockerImagesAdapter)
        assert answer(local, "GET", "/v1.45/images/json") == answer(net, "GET", "/v1.45/images/json")


def test_a_dropped_connection_is_a_requests_error() -> None:
    with FakeDaemon(images=default_images()) as fake:
        client = DockerImagesAdapter(fake.server.backend).mount(docker.APIClient(base_url=fake.docker_host,
                                                                                 version="1.45"))
        fake.drop_next(1)
        with pytest.raises(requests.ConnectionError, match="dropped the connection"):
            client.images()
        assert client.images()


def test_fixtures_with_the_fake_and_with_a_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(r"""
        import pytest
        from pytest_dockerimages import DockerImagesAdapter

        @pytest.mark.dockerimages(images=[{"tags": ["shop/app:1.0"]}])
        def test_fake(dockerimages_client_in_process, dockerimages_fake):
            api = dockerimages_client_in_process.api
            assert isinstance(api.get_adapter(api.base_url), DockerImagesAdapter)
            assert [i.tags for i in dockerimages_client_in_process.images.list()] == [["shop/app:1.0"]]
            assert "/images/json" in [r.path for r in dockerimages_fake.requests]

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_cassette(dockerimages_client_in_process):
            tags = {t for image in dockerimages_client_in_process.images.list() for t in image.tags}
            assert "example/loaded:app" in tags

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_cassette_miss_fails(dockerimages_client_in_process):
            dockerimages_client_in_process.api.get(dockerimages_client_in_process.api.base_url + "/nowhere")

        def test_client_keeps_the_socket(dockerimages_client):
            assert not isinstance(dockerimages_client.api.get_adapter(dockerimages_client.api.base_url),
                                  DockerImagesAdapter)
    """)
    result = pytester.runpytest("-p", "dockerimages", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*_ test_cassette_miss_fails _*", "*request(s) not found in cassette*",
                                 "*GET /nowhere"])
