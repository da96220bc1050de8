"""aiodocker (asyncio, aiohttp over the unix socket) against the fake: listing, filters, inspect, errors."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._files.schema import validate
from pytest_dockerimages._real.fixture import skip_or_fail

IMAGES = [
    {"tags": ["shop/app:1.0"], "labels": {"tier": "app"}, "created": "2024-05-01T00:00:00Z"},
    {"tags": ["shop/db:2"], "labels": {"tier": "db"}, "created": "2024-04-01T00:00:00Z"},
    {"labels": {"tier": "app"}, "created": "2024-03-01T00:00:00Z"},
]


def aiodocker_module() -> Any:
    try:
        import aiodocker
    except ImportError:
        skip_or_fail("aiodocker is not installed (pip install -e .[test])")
    return aiodocker


@pytest.mark.parametrize("profile", ["docker-20.10", "docker-26.1", "docker-28.1-containerd"])
def test_aiodocker_lists_filters_and_inspects(profile: str) -> None:
    aiodocker = aiodocker_module()

    async def scenario(fake: FakeDaemon) -> None:
        docker = aiodocker.Docker(url=fake.docker_host)
        try:
            everything = await docker.images.list()
            assert sorted(t for image in everything for t in image["RepoTags"] or [] if "<none>" not in t) == [
                "shop/app:1.0", "shop/db:2"]
            assert validate("images-json", fake.profile.api_max, everything, strict=True) == []
            dangling = await docker.images.list(filters={"dangling": ["true"]})
            assert [image["Labels"] for image in dangling] == [{"tier": "app"}]
            apps = await docker.images.list(filters={"label": ["tier=app"], "dangling": ["false"]})
            assert [image["RepoTags"] for image in apps] == [["shop/app:1.0"]]
            inspected = await docker.images.inspect("shop/db:2")
            assert inspected["RepoTags"] == ["shop/db:2"]
            with pytest.raises(aiodocker.DockerError) as info:
                await docker.images.inspect("nosuch")
            assert info.value.status == 404 and "No such image: nosuch:latest" in info.value.message
        finally:
            await docker.close()

    with FakeDaemon(images=IMAGES, profile=profile) as fake:
        asyncio.run(scenario(fake))
        listings = [r for r in fake.requests if r.path == "/images/json"]
        assert {r.api_version for r in listings} == {fake.profile.api_max}
        assert listings[1].filters == {"dangling": ["true"]}
        fake.check_errors()
