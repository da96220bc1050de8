"""A downstream project's typed module: every public name of pytest_dockerimages, used as a user would.

Not a test of this suite (no ``test_`` prefix): tests/test_packaging.py copies it next to a fresh venv
holding the installed wheel, type-checks it there with ``mypy --strict --disallow-any-expr`` and
basedpyright (strict, ``reportAny``), then runs it. Every name in ``pytest_dockerimages.__all__`` is
used below, each with ``assert_type`` or an annotated use; since no expression here may be ``Any``,
a name that reaches a user untyped is an error. Keep it that way: no ``Any``, no casts, no ignores.
"""
from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from pathlib import Path
from typing import Callable, Literal, assert_type

import httpx
import pytest

from pytest_dockerimages import (
    DEFAULT_PROFILE,
    PROFILES,
    DaemonError,
    DockerImagesAdapter,
    DockerImagesTransport,
    FakeDaemon,
    Image,
    ImageStore,
    Interaction,
    Layer,
    LoggedRequest,
    Manifest,
    ModelError,
    NoSuchImage,
    Profile,
    Request,
    Seed,
    SeedError,
    __version__,
    assert_containers_counted,
    assert_containers_default,
    assert_filter_semantics,
    assert_ids_well_formed,
    assert_images_requested,
    assert_no_placeholders,
    assert_no_removal_requested,
    assert_placeholders_for_untagged,
    assert_prune_consistent,
    assert_prune_requested,
    assert_shared_size_computed,
    assert_shared_size_default,
    assert_sorted_by_created,
    assert_valid_images_json,
    assert_valid_system_df,
    assert_virtual_size_rule,
    default_images,
    delete_image,
    dump_seed,
    get_profile,
    load_seed,
)
from pytest_dockerimages.assertions import assert_valid_images_json as documented_path

LAYER = "sha256:" + "1" * 64
MANIFEST = "sha256:" + "2" * 64


# --------------------------------------------------------------------------- hook implementations (conftest.py)

def pytest_dockerimages_default_images(config: pytest.Config) -> list[Image] | None:
    return default_images()


def pytest_dockerimages_before_record(interaction: Interaction, cassette_path: Path,
                                      config: pytest.Config) -> Interaction | Literal[False] | None:
    if interaction.status >= 500:
        return False
    return dataclasses.replace(interaction, body=interaction.body.replace(b"team@", b"someone@"))


def pytest_dockerimages_match_request(request: Request, candidates: list[Interaction],
                                      config: pytest.Config) -> Interaction | None:
    wanted = request.target.split("/", 2)[-1]
    return next((c for c in candidates if c.target.split("/", 2)[-1] == wanted), None)


# --------------------------------------------------------------------------- a test, with the fixture annotated

def test_lists_images(dockerimages_fake: FakeDaemon) -> None:
    with httpx.Client(transport=DockerImagesTransport(dockerimages_fake.backend), base_url="http://docker") as client:
        body: bytes = client.get("/v1.45/images/json").content
    assert_valid_images_json(body, "1.45", profile=dockerimages_fake.profile)
    assert_images_requested(dockerimages_fake, count=1)


# --------------------------------------------------------------------------- the rest of the API

def model() -> ImageStore:
    layer = Layer(LAYER, 1024)
    manifest = Manifest(MANIFEST, size=512)
    layers: list[Layer] = [layer]
    manifests: list[Manifest] = [manifest]
    image = Image(tags=["shop/app:1.0"], created="2024-05-01T00:00:00Z", layers=layers, manifests=manifests)
    assert_type(image, Image)
    assert_type(image.id, str)
    assert_type([t.familiar for t in image.tags], list[str])
    assert_type(image.layers[0], Layer)
    assert_type(image.manifests[0], Manifest)
    store = ImageStore([image, *default_images()])
    assert_type(store.images, tuple[Image, ...])
    new, records = delete_image(store, "shop/app:1.0", get_profile(DEFAULT_PROFILE), force=True)
    assert_type(new, ImageStore)
    assert_type(records, list[dict[str, str]])
    try:
        Image(tags=["NOT A TAG"])
    except ModelError as error:
        message: str = str(error)
        assert message
    return store


def profiles() -> Profile:
    default: str = DEFAULT_PROFILE
    assert default in PROFILES
    assert_type(PROFILES, dict[str, Profile])
    profile = get_profile("docker-26.1")
    assert_type(profile, Profile)
    assert_type(profile.api_max, str)
    return PROFILES[DEFAULT_PROFILE]


def seeds(folder: Path) -> Seed:
    written = dump_seed(default_images(), folder / "seed.yaml", profile="docker-26.1")
    assert_type(written, Path)
    seed = load_seed(written)
    assert_type(seed, Seed)
    assert_type(seed.images, tuple[Image, ...])
    (folder / "bad.yaml").write_text("images: 7\n")
    try:
        load_seed(folder / "bad.yaml")
    except SeedError as error:
        assert "bad.yaml" in str(error)
    else:
        raise AssertionError("a bad seed was read")
    return seed


def fake_daemon(seed: Seed) -> list[LoggedRequest]:
    with FakeDaemon(seed=seed, profile="docker-26.1") as fake:
        assert_type(fake, FakeDaemon)
        assert_type(fake.docker_host, str)
        assert_type(fake.images, list[Image])
        fake.add(Image(tags=["shop/extra:1"]))
        try:
            fake.remove("nothing:here")
        except NoSuchImage as missing:
            assert_type(missing.status, int)
            error: DaemonError = missing  # a 404 as the daemon words it
            assert_type(error.message, str)
        adapter = DockerImagesAdapter(fake.backend)  # for the docker SDK: adapter.mount(docker_client)
        assert_type(adapter, DockerImagesAdapter)
        adapter.close()
        transport = DockerImagesTransport(fake.backend)
        assert_type(transport, DockerImagesTransport)
        with httpx.Client(transport=transport, base_url="http://docker") as client:
            body = client.get("/v1.45/images/json", params={"all": "1"}).content
        universe = client_listing(fake, "/v1.45/images/json?all=1")
        assert_filter_semantics(fake, None, body, all=True)
        assert_filter_semantics(universe, '{"dangling": ["true"]}', client_listing(fake, "/v1.45/images/json?"
                                "filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D&all=1"), all=True)
        assert_images_requested(fake, all=True, count=3)
        checks: list[Callable[[bytes], None]] = [
            assert_shared_size_default, assert_no_placeholders, assert_sorted_by_created, assert_ids_well_formed,
            assert_containers_default,
        ]
        for check in checks:
            check(body)
        assert_virtual_size_rule(body, "1.45", profile="docker-26.1")
        documented_path(body, "1.45", query="all=1", profile=fake.profile)
        old: Callable[[bytes], None] = assert_placeholders_for_untagged
        old(client_listing(fake, "/v1.41/images/json"))
        cleaner(fake)
        requests = fake.requests
        assert_type(requests, list[LoggedRequest])
        assert_type(requests[0].filters, dict[str, list[str]])
        return requests


def cleaner(fake: FakeDaemon) -> None:
    """A cleaner's test: what it saw in /system/df, that it pruned what the filters say, and only then."""
    assert_no_removal_requested(fake)
    with httpx.Client(transport=DockerImagesTransport(fake.backend), base_url="http://docker") as client:
        df: bytes = client.get("/v1.45/system/df", params={"type": ["image", "container"]}).content
        before = client.get("/v1.45/images/json").content
        filters = '{"dangling": ["false"], "label": ["org.example.kind=tool"]}'
        report = client.post("/v1.45/images/prune", params={"filters": filters}).content
        after = client.get("/v1.45/images/json").content
    assert_valid_system_df(df, "1.45", query="type=image&type=container", profile=fake.profile)
    df_checks: list[Callable[[bytes], None]] = [assert_shared_size_computed, assert_containers_counted]
    for check in df_checks:
        check(df)
    assert_prune_consistent(before, report, after, filters=filters, profile="docker-26.1", now_ns=None)
    assert_prune_requested(fake, filters=filters, api_version="1.45", count=1)


def client_listing(fake: FakeDaemon, target: str) -> bytes:
    async def get() -> bytes:
        async with httpx.AsyncClient(transport=DockerImagesTransport(fake.backend), base_url="http://docker") as c:
            response = await c.get(target)
        return response.content

    return asyncio.run(get())


def hooks() -> None:
    recorded = Interaction("GET", "/v1.45/images/json", (), b"", 200, "OK", (), b"[]")
    request = Request("GET", "/v1.30/images/json", (("Host", "docker"),))
    assert_type(request.path, str)
    assert_type(request.header("host"), str | None)
    chosen = pytest_dockerimages_match_request(request, [recorded], _no_config())
    assert chosen is recorded
    kept = pytest_dockerimages_before_record(recorded, Path("x.yaml"), _no_config())
    assert isinstance(kept, Interaction) and kept.body == b"[]"


def _no_config() -> pytest.Config:
    return pytest.Config.__new__(pytest.Config)  # the hooks above do not read it


def main() -> None:
    version: str = __version__
    assert version
    assert len(model()) >= 2
    assert profiles().name == DEFAULT_PROFILE
    with tempfile.TemporaryDirectory() as folder:
        seed = seeds(Path(folder))
    assert len(fake_daemon(seed)) >= 4
    hooks()
    print("downstream module ran")


if __name__ == "__main__":
    main()
