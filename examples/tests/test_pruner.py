"""imagetools.pruner against the fake daemon and, when one is installed, against a real dockerd of its own.

Both runs make the same assertions on the same kind of image set: the images labelled
`org.example.kind=imported` go, the rest stay. `assert_prune_consistent` checks the daemon's report
against the listings around it and the filters the job sent, so the test need not know which
records each release writes.
"""
import docker
import pytest
from imagetools.pruner import prune_labelled

from pytest_dockerimages.assertions import assert_prune_consistent, assert_prune_requested

LABEL = "org.example.kind=imported"
SENT = {"dangling": False, "label": LABEL}  # what prune_labelled asks the daemon
LOADED = {"org.example.kind": "loaded"}
IMAGES = [
    {"tags": ["example/loaded:base", "example/loaded:latest"], "labels": LOADED, "created": "2023-11-14T22:13:20Z",
     "layers": [{"digest": "sha256:" + "1" * 64, "size": 19}]},
    {"tags": ["example/loaded:app"], "labels": {**LOADED, "tier": "app"}, "created": "2024-01-02T03:04:05Z",
     "layers": [{"digest": "sha256:" + "1" * 64, "size": 19}, {"digest": "sha256:" + "2" * 64, "size": 10}]},
    {"tags": ["example/tiny:1.0", "example/tiny:latest"], "labels": {"a": "b", "org.example.kind": "imported"},
     "created": "2024-06-01T00:00:00Z", "layers": [{"digest": "sha256:" + "3" * 64, "size": 6}]},
    {"tags": ["example/built:1"], "labels": {"org.example.kind": "built"}, "created": "2024-06-02T00:00:00Z",
     "layers": [{"digest": "sha256:" + "1" * 64, "size": 19}, {"digest": "sha256:" + "4" * 64, "size": 4}]},
]
KEPT = {"example/loaded:base", "example/loaded:latest", "example/loaded:app", "example/built:1"}
REMOVED = {"example/tiny:1.0", "example/tiny:latest"}


def check_run(run, removed, kept):
    assert run.removed == removed
    assert kept <= run.after and not (removed & run.after)
    assert sorted(run.untagged) == sorted(removed)
    assert len(run.deleted) >= 1  # the image (and, on the graphdriver store, its layer)


@pytest.mark.parametrize("profile", ["docker-26.1", "docker-28.5-containerd", "docker-29.7-containerd"])
def test_prunes_the_labelled_images_and_keeps_the_rest(profile, dockerimages_fake):
    dockerimages_fake.reset(IMAGES, profile=profile)
    client = docker.DockerClient(base_url=dockerimages_fake.docker_host)
    before = client.api.images(all=True)
    run = prune_labelled(client, LABEL)
    check_run(run, REMOVED, KEPT)
    assert_prune_consistent(before, run.report, client.api.images(all=True), filters=SENT, profile=profile)
    assert run.reclaimed == (6 if profile != "docker-28.5-containerd" else 0)  # see README: containerd before 29
    assert_prune_requested(dockerimages_fake, filters=SENT, count=1)


def test_an_image_a_container_uses_keeps_a_tag(dockerimages_fake):
    used = dict(IMAGES[2], containers=["c" * 64])
    dockerimages_fake.reset([*IMAGES[:2], used, IMAGES[3]], profile="docker-26.1")
    run = prune_labelled(docker.DockerClient(base_url=dockerimages_fake.docker_host), LABEL)
    assert run.removed == {"example/tiny:1.0"} and "example/tiny:latest" in run.after and not run.deleted


def test_a_failed_prune_changes_nothing(dockerimages_fake):
    dockerimages_fake.reset(IMAGES, profile="docker-29.7-containerd")
    dockerimages_fake.fail_next(path="/images/prune", status=500, message="prune failed")
    client = docker.DockerClient(base_url=dockerimages_fake.docker_host)
    with pytest.raises(docker.errors.APIError, match="prune failed"):
        prune_labelled(client, LABEL)
    assert {t.familiar for i in dockerimages_fake.images for t in i.tags} == KEPT | REMOVED
    assert_prune_requested(dockerimages_fake, filters=SENT, count=1)


@pytest.mark.realdaemon
def test_the_same_against_a_real_daemon_of_its_own():
    from pytest_dockerimages._real.harness import MissingDaemonError, dockerimages_real_daemon_factory

    try:
        factory = dockerimages_real_daemon_factory("docker-29.7-containerd")
        daemon = factory.__enter__()
    except MissingDaemonError as exc:
        pytest.skip(str(exc))
    try:  # a private daemon, seeded with the project's image set: the prune deletes only there
        registry = daemon.seed["registry"]
        client = docker.DockerClient(base_url=daemon.docker_host)
        before = client.api.images(all=True)
        run = prune_labelled(client, LABEL)
        check_run(run, REMOVED | {f"{registry}/example/tiny:1.0"}, KEPT)
        assert_prune_consistent(before, run.report, client.api.images(all=True), filters=SENT,
                                profile="docker-29.7-containerd")
        assert run.reclaimed > 0
    finally:
        factory.__exit__(None, None, None)
