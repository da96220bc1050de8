"""Tests of imagetools.cleaner against the fake daemon, using only the plugin's public fixtures."""
import pytest
from imagetools.cleaner import find_dangling, remove_dangling

OLD = "sha256:" + "0a" * 32
USED = "sha256:" + "0b" * 32
APP = "sha256:" + "0c" * 32
IMAGES = [
    {"id": APP, "tags": ["shop/app:2.0"], "created": "2024-05-01T00:00:00Z"},
    {"id": OLD, "created": "2024-04-01T00:00:00Z", "labels": {"stage": "build"}},
    {"id": USED, "created": "2024-03-01T00:00:00Z", "containers": ["f" * 64]},
]

# The same tests, once per daemon release and image store.
PROFILES = [
    pytest.param(name, marks=pytest.mark.dockerimages(images=IMAGES, profile=name), id=name)
    for name in ("docker-20.10", "docker-26.1", "docker-28.1-containerd")
]


@pytest.fixture(params=PROFILES)
def client(request, dockerimages_client, dockerimages_fake):
    assert dockerimages_fake.profile.name == request.param
    return dockerimages_client


def test_finds_only_dangling_images(client):
    assert sorted(image.id for image in find_dangling(client)) == sorted([OLD, USED])


def test_removes_dangling_and_reports_refusals(client, dockerimages_fake):
    result = remove_dangling(client)
    assert result.removed == [OLD]
    assert list(result.refused) == [USED]
    assert "being used by stopped container" in result.refused[USED]
    assert {image.id for image in dockerimages_fake.images} == {APP, USED}


def test_force_removes_images_used_by_containers(client, dockerimages_fake):
    result = remove_dangling(client, force=True)
    assert sorted(result.removed) == sorted([OLD, USED]) and not result.refused
    assert [image.id for image in dockerimages_fake.images] == [APP]


def test_dry_run_changes_nothing(client, dockerimages_fake):
    result = remove_dangling(client, dry_run=True)
    assert sorted(result.removed) == sorted([OLD, USED])
    assert len(dockerimages_fake.images) == 3
    assert not [r for r in dockerimages_fake.requests if r.method == "DELETE"]


def test_sends_the_dangling_filter(client, dockerimages_fake):
    find_dangling(client)
    listing = [r for r in dockerimages_fake.requests if r.path == "/images/json"]
    assert listing[-1].filters == {"dangling": ["true"]}


def test_an_image_untagged_during_the_test_becomes_dangling(client, dockerimages_fake):
    dockerimages_fake.remove("shop/app:2.0")  # like `docker rmi`: last tag gone, image gone
    dockerimages_fake.add({"tags": ["shop/app:3.0"]})
    dockerimages_fake.add({"id": APP, "created": "2024-05-01T00:00:00Z"})  # back, untagged
    assert APP in {image.id for image in find_dangling(client)}


def test_a_daemon_error_while_deleting_is_reported(client, dockerimages_fake):
    dockerimages_fake.fail_next(status=500, message="driver failed", path="/images/*", method="DELETE")
    result = remove_dangling(client, force=True)
    assert len(result.removed) == 1 and len(result.refused) == 1
    assert "driver failed" in next(iter(result.refused.values()))
