"""GET /images/{name}/json: `platform` and `manifests` per release, and the document's shape per
release and API version. Rows are what the nine real daemons answered for the project's image set
(example/multi:1: an amd64 + arm64 OCI index, arm64's content there but not unpacked; values from
their snapshots), and moby's image_routes.go / image_inspect.go at each profile's tag."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from pytest_dockerimages._core.daemon import respond
from pytest_dockerimages._core.model import Image, ImageStore, ModelError
from pytest_dockerimages._core.profiles import PROFILES, get_profile
from pytest_dockerimages._core.wire import Request

INDEX = "sha256:ba6401dff63a157392136331341ca3843755660fdafebfabf66dd32db22371f7"
AMD64 = "sha256:48e1f3266d675e1b3785879bf0d21db55f9269067aed391cbf9546b9b9f16992"
ARM64 = "sha256:82772178aa95cc79670678e251c53df3336c4e6741d6c65dc7cec921937a824a"
AMD64_DIFF = "sha256:cb0534aad9dadd237b0cc8471354c04033fd16409a3ee0eec00cdc20011865bc"
ARM64_DIFF = "sha256:f336787a4e253acee86154a982b72e2e1a4315b198b79d51cbb566935ecd1974"
CONFIG = {"Env": ["PATH=/"], "Cmd": ["/hello"]}
LABELS = {"org.example.kind": "multi"}


def _manifest(digest: str, arch: str, diff_id: str, **fields: Any) -> dict[str, Any]:
    platform = {"architecture": arch, "os": "linux"}
    return {"id": digest, "platform": platform, "size": 398, "content_size": 10597, "diff_ids": [diff_id],
            "descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 398,
                           "platform": platform},
            "extra": {"created": "2024-05-06T07:08:09Z", "architecture": arch, "os": "linux",
                      "config": {**CONFIG, "Labels": LABELS}}, **fields}


def _multi(**arm64: Any) -> Image:
    """example/multi:1 as docker-28.1-containerd's snapshot keeps it."""
    return Image(
        id=INDEX, tags=["example/multi:1"], labels=LABELS, created="2024-05-06T07:08:09Z", size=30182,
        layers=[{"digest": AMD64_DIFF, "size": 8192}],
        descriptor={"mediaType": "application/vnd.oci.image.index.v1+json", "digest": INDEX, "size": 491},
        manifests=[_manifest(AMD64, "amd64", AMD64_DIFF, presence="unpacked", unpacked_size=8192),
                   _manifest(ARM64, "arm64", ARM64_DIFF, **{"presence": "config", **arm64})],
        extra={"config": CONFIG, "last_tag_time": "2026-12-02T12:18:39.12794799Z",
               "graph_driver": {"Data": None, "Name": "native"}})


MULTI = _multi()
#: the graphdriver store loads the index's amd64 image only
LOADED = Image(tags=["example/multi:1"], labels=LABELS, created="2024-05-06T07:08:09Z", size=6,
               layers=[{"digest": AMD64_DIFF, "size": 6}], extra={"config": CONFIG})
LINUX = '{{"os":"linux","architecture":"{}"}}'


def inspect(profile: str, version: str, image: Image, query: str = "", name: str = "example/multi:1") -> tuple[
        int, Any]:
    response = respond(ImageStore([image]), get_profile(profile), Request(
        "GET", f"/v{version}/images/{quote(name, safe='/:@')}/json{query}"), 0)
    return response.status, json.loads(response.body)


def _platform(text: str) -> str:
    return "?platform=" + quote(text, safe="")


def _not_provided(platform: str) -> str:
    return f"image with reference example/multi:1 was found but does not provide the specified platform ({platform})"


def _no_match(platform: str) -> str:
    return (f"image with reference example/multi:1 was found but its platform (linux/amd64) does not match the "
            f"specified platform ({platform})")


# (Id, Architecture, RootFS.Layers[0], Size) of a 200; the message of an error
AMD = (AMD64, "amd64", AMD64_DIFF, 491 + 398 + 10597)
ARM = (ARM64, "arm64", ARM64_DIFF, 491 + 398 + 10597)
WHOLE = (INDEX, "amd64", AMD64_DIFF, 491 + 398 + 10597)  # no platform: the host's (amd64) config, the index's id


@pytest.mark.parametrize(("profile", "version", "platform", "status", "expected"), [
    # containerd store, API 1.49+: the index's manifest of exactly that platform (OnlyStrict), its config and id
    ("docker-28.1-containerd", "1.49", LINUX.format("amd64"), 200, AMD),
    ("docker-28.1-containerd", "1.49", LINUX.format("arm64"), 200, ARM),  # content there, not unpacked
    ("docker-28.5-containerd", "1.51", '{"os":"linux","architecture":"arm64","variant":"v8"}', 200, ARM),
    ("docker-29.7-containerd", "1.55", '{"OS":"Linux","Architecture":"aarch64"}', 200, ARM),
    ("docker-29.7-containerd", "1.49", LINUX.format("arm64"), 200, ARM),
    # strict: amd64 does not answer 386, nor arm64 arm/v7; an OS or platform the index lacks
    ("docker-28.1-containerd", "1.49", LINUX.format("386"), 404, _not_provided("linux/386")),
    ("docker-29.7-containerd", "1.55", '{"os":"linux","architecture":"arm","variant":"v7"}', 404,
     _not_provided("linux/arm/v7")),
    ("docker-29.7-containerd", "1.55", '{"os":"windows","architecture":"amd64"}', 404,
     _not_provided("windows/amd64")),
    ("docker-29.7-containerd", "1.55", '{"os":"linux","os.version":"6.1","architecture":"s390x"}', 404,
     _not_provided("linux(6.1)/s390x")),
    # below 1.49 (history reads it from 1.48) and on 26.1 the parameter is not read
    ("docker-28.1-containerd", "1.48", LINUX.format("arm64"), 200, WHOLE),
    ("docker-29.7-containerd", "1.48", "{not-json", 200, WHOLE),
    ("docker-26.1-containerd", "1.45", LINUX.format("arm64"), 200, WHOLE),
    # malformed or incomplete: httputils.DecodePlatform's 400, before the image is looked up
    ("docker-28.1-containerd", "1.49", "nope", 400, "failed to parse platform: invalid character 'o' in literal "
                                                    "null (expecting 'u')"),
    ("docker-29.7-containerd", "1.55", "{not-json", 400, "failed to parse platform: invalid character 'n' looking "
                                                         "for beginning of object key string"),
    ("docker-28.5-containerd", "1.51", "[]", 400, "failed to parse platform: json: cannot unmarshal array into Go "
                                                  "value of type v1.Platform"),
    ("docker-29.7-containerd", "1.55", '{"os":"linux"}', 400, "both OS and Architecture must be provided"),
    ("docker-29.7-containerd", "1.55", "", 200, WHOLE),  # empty: not given
])
def test_platform_on_the_containerd_store(profile: str, version: str, platform: str, status: int,
                                          expected: Any) -> None:
    code, body = inspect(profile, version, MULTI, _platform(platform))
    assert code == status, body
    if status == 200:
        assert (body["Id"], body["Architecture"], body["RootFS"]["Layers"][0], body["Size"]) == expected
    else:
        assert body["message"] == expected


@pytest.mark.parametrize(("profile", "version", "platform", "status", "expected"), [
    # graphdriver store, API 1.49+: the image's own platform must match (OnlyPlatformWithFallback)
    ("docker-28.1", "1.49", LINUX.format("amd64"), 200, None),
    ("docker-29.7", "1.55", '{"os":"linux","architecture":"amd64","variant":"v2"}', 200, None),
    ("docker-28.5", "1.51", LINUX.format("arm64"), 404, _no_match("linux/arm64")),
    ("docker-29.7", "1.55", LINUX.format("386"), 404, _no_match("linux/386")),
    ("docker-29.7", "1.55", "{not-json", 400, "failed to parse platform: invalid character 'n' looking for "
                                              "beginning of object key string"),
    ("docker-28.1", "1.48", LINUX.format("arm64"), 200, None),
    ("docker-26.1", "1.45", LINUX.format("arm64"), 200, None),
    ("docker-20.10", "1.41", "{not-json", 200, None),
])
def test_platform_on_the_graphdriver_store(profile: str, version: str, platform: str, status: int,
                                           expected: str | None) -> None:
    code, body = inspect(profile, version, LOADED, _platform(platform))
    assert code == status, body
    assert (body["Id"] == LOADED.id) if status == 200 else (body["message"] == expected)


@pytest.mark.parametrize(("profile", "arm64", "status"), [
    # 28 answers only a manifest whose content is all there (Available); 29 any the index lists
    ("docker-28.5-containerd", {"available": False}, 404),
    ("docker-29.7-containerd", {"available": False}, 200),
    ("docker-28.1-containerd", {"available": False, "presence": "absent"}, 404),
])
def test_a_manifest_whose_content_is_missing(profile: str, arm64: dict[str, Any], status: int) -> None:
    code, body = inspect(profile, "1.49", _multi(**arm64), _platform(LINUX.format("arm64")))
    assert code == status, body
    if status == 404:
        assert body["message"] == _not_provided("linux/arm64")


def test_docker_29_answers_a_platform_without_its_manifest_blob_with_an_empty_config() -> None:
    """daemon/containerd/image_inspect.go at docker-v29.7.2: ReadConfig's NotFound is ignored, so the
    descriptor's manifest answers with nothing of its config; Size counts the index and the manifest."""
    image = _multi(available=False, presence="absent", content_size=0)
    code, body = inspect("docker-29.7-containerd", "1.55", image, _platform(LINUX.format("arm64")))
    assert code == 200
    assert (body["Id"], body["Architecture"], body["Os"], body["RootFS"], body["Config"], body["Size"]) == (
        ARM64, "", "", {}, {}, 491 + 398)


@pytest.mark.parametrize(("profile", "version", "query", "status", "manifests"), [
    ("docker-28.1-containerd", "1.48", "?manifests=1", 200, [AMD64, ARM64]),
    ("docker-29.7-containerd", "1.55", "?manifests=true", 200, [AMD64, ARM64]),
    ("docker-28.1-containerd", "1.47", "?manifests=1", 200, None),  # read from 1.48
    ("docker-29.7-containerd", "1.55", "?manifests=0", 200, None),
    ("docker-28.1", "1.49", "?manifests=1", 200, None),  # the graphdriver store has none
    ("docker-29.7-containerd", "1.55", "?manifests=1&platform=" + quote(LINUX.format("amd64")), 400, None),
    ("docker-29.7-containerd", "1.48", "?manifests=1&platform=" + quote(LINUX.format("amd64")), 200, [AMD64, ARM64]),
])
def test_manifests(profile: str, version: str, query: str, status: int, manifests: list[str] | None) -> None:
    code, body = inspect(profile, version, MULTI if "containerd" in profile else LOADED, query)
    assert code == status, body
    if status == 400:
        assert body["message"] == "conflicting options: manifests and platform options cannot both be set"
    else:
        shown = [m["ID"] for m in body["Manifests"]] if "Manifests" in body else None
        assert shown == manifests


# --- the document's shape: key order per release and API version (as the real daemons wrote them) ----------

BUILT = Image(tags=["example/built:1"], parent="sha256:" + "5" * 64, created=1700000100, labels={"b": "2", "a": "1"},
              extra={"config": {"Env": ["PATH=/"], "Cmd": ["/hello"], "Image": "sha256:" + "5" * 64,
                                "Hostname": "097dd7c0da3b"},
                     "container": "245748c33bca61c663dc7467e42e08798d10525a03b24fc036cf2c5cbfc07643",
                     "container_config": {"Hostname": "245748c33bca", "Env": ["PATH=/"], "Cmd": ["/bin/sh"]},
                     "docker_version": "28.5.2", "graph_driver": {"Data": None, "Name": "vfs"}})
V20_KEYS = ["Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Container", "ContainerConfig",
            "DockerVersion", "Author", "Config", "Architecture", "Os", "Size", "VirtualSize", "GraphDriver", "RootFS",
            "Metadata"]
CONTAINER_CONFIG_KEYS = ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty",
                         "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint",
                         "OnBuild", "Labels"]
LEGACY_149 = ["AttachStderr", "AttachStdin", "AttachStdout", "Cmd", "Domainname", "Entrypoint", "Env", "Hostname",
              "Image", "Labels", "OnBuild", "OpenStdin", "StdinOnce", "Tty", "User", "Volumes", "WorkingDir"]


@pytest.mark.parametrize(("profile", "version", "keys", "config_keys"), [
    ("docker-20.10", "1.41", V20_KEYS, CONTAINER_CONFIG_KEYS),
    ("docker-26.1", "1.45", [k for k in V20_KEYS if k not in ("Container", "ContainerConfig", "VirtualSize")],
     CONTAINER_CONFIG_KEYS),
    # 28.5: Config, a map merged with the legacy fields, goes last with its keys sorted
    ("docker-28.5", "1.44", [k for k in V20_KEYS if k not in ("Config", "VirtualSize")] + ["Config"], LEGACY_149),
    ("docker-28.5", "1.51", [k for k in V20_KEYS if k not in ("Config", "Container", "ContainerConfig",
                                                              "VirtualSize")] + ["Config"],
     ["Cmd", "Entrypoint", "Env", "Labels", "OnBuild", "User", "Volumes", "WorkingDir"]),
    # 29: a legacy field makes the whole answer one sorted map
    ("docker-29.7", "1.44", sorted(k for k in V20_KEYS if k != "VirtualSize"), LEGACY_149),
    ("docker-29.7", "1.55", ["Architecture", "Config", "Created", "DockerVersion", "GraphDriver", "Id", "Metadata",
                             "Os", "Parent", "RepoDigests", "RepoTags", "RootFS", "Size"], ["Cmd", "Env", "Labels"]),
])
def test_key_order(profile: str, version: str, keys: list[str], config_keys: list[str]) -> None:
    code, body = inspect(profile, version, BUILT, name="example/built:1")
    assert code == 200
    assert (list(body), list(body["Config"])) == (keys, config_keys)
    assert body["Config"]["Labels"] == {"a": "1", "b": "2"} and list(body["Config"]["Labels"]) == ["a", "b"]


@pytest.mark.parametrize(("version", "keys"), [
    # no Parent, no DockerVersion from 1.52: the struct's own order, the snapshotter not named
    ("1.52", ["Id", "RepoTags", "RepoDigests", "Created", "Config", "Architecture", "Os", "Size", "RootFS", "Metadata",
              "Descriptor"]),
    ("1.51", ["Architecture", "Author", "Comment", "Config", "Created", "Descriptor", "DockerVersion", "GraphDriver",
              "Id", "Metadata", "Os", "Parent", "RepoDigests", "RepoTags", "RootFS", "Size"]),
])
def test_docker_29_struct_order_without_legacy_fields(version: str, keys: list[str]) -> None:
    code, body = inspect("docker-29.7-containerd", version, MULTI)
    assert code == 200
    assert list(body) == keys
    if version == "1.52":
        assert list(body["RootFS"]) == ["Type", "Layers"] and list(body["Descriptor"]) == ["mediaType", "digest",
                                                                                           "size"]


@pytest.mark.parametrize(("profile", "container_config"), [
    ("docker-26.1-containerd", "empty"),  # 26.1's GetImage: a zero container.Config
    ("docker-28.1-containerd", "absent"),
    ("docker-29.7-containerd", None),  # 29's legacy field: null
    ("docker-29.7", "set"),
])
def test_container_config_below_1_45(profile: str, container_config: str | None) -> None:
    code, body = inspect(profile, "1.44", BUILT, name="example/built:1")
    assert code == 200
    value = body.get("ContainerConfig", "absent")
    if container_config == "empty":
        assert value["Hostname"] == "" and value["Env"] is None
    elif container_config == "set":
        assert (value["Hostname"], value["Cmd"], list(value)[-1]) == ("245748c33bca", ["/bin/sh"], "Labels")
        assert "OnBuild" not in value  # 29's container.Config: OnBuild omitempty, MacAddress gone
    else:
        assert value == container_config


TINY = "sha256:" + "e" * 64
EPOCH = "reg.example/example/epoch@sha256:" + "f" * 64


@pytest.mark.parametrize(("profile", "name", "tags", "digests"), [
    # 26.1: each record's name and its repository at the digest, none deduplicated, a digest record no tag
    ("docker-26.1-containerd", "example/tiny:1.0",
     ["example/tiny:1.0", "example/tiny:latest", "reg.example/example/tiny:1.0"],
     ["example/tiny@" + TINY, "example/tiny@" + TINY, "reg.example/example/tiny@" + TINY]),
    ("docker-26.1-containerd", EPOCH, [], [EPOCH]),
    # 28+: every record a tag, the digests deduplicated
    ("docker-28.1-containerd", "example/tiny:1.0", ["example/tiny:1.0", "example/tiny:latest",
                                                    "reg.example/example/tiny:1.0"],
     ["example/tiny@" + TINY, "reg.example/example/tiny@" + TINY]),
    ("docker-29.7-containerd", EPOCH, [EPOCH], [EPOCH]),
])
def test_containerd_references(profile: str, name: str, tags: list[str], digests: list[str]) -> None:
    images = [Image(id=TINY, tags=["example/tiny:1.0", "example/tiny:latest", "reg.example/example/tiny:1.0"]),
              Image(id=EPOCH.split("@")[1], digests=[EPOCH])]
    image = next(i for i in images if name in [r.familiar for r in (*i.tags, *i.digests)])
    code, body = inspect(profile, "1.44", image, name=name)
    assert (code, body["RepoTags"], body["RepoDigests"]) == (200, tags, digests)


@pytest.mark.parametrize(("profile", "docker_version"), [
    ("docker-26.1-containerd", "26.1.5+dfsg1"),  # 26.1's containerd GetImage: the daemon's own version
    ("docker-28.1-containerd", ""), ("docker-28.1", "28.5.2"),  # the graphdriver store: the image config's
])
def test_docker_version(profile: str, docker_version: str) -> None:
    assert inspect(profile, "1.44", BUILT, name="example/built:1")[1]["DockerVersion"] == docker_version


def test_the_descriptor_is_the_record_a_name_resolves_to() -> None:
    """By id: the first record in name order (base before latest); by tag: that record's."""
    base = {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": "sha256:" + "c" * 64,
            "size": 420, "annotations": {"org.opencontainers.image.ref.name": "base"}}
    latest = {**base, "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    image = Image(id="sha256:" + "c" * 64, tags=["example/loaded:base", "example/loaded:latest"], descriptor=latest,
                  extra={"descriptors": {"example/loaded:base": base}})
    for name, expected in (("sha256:" + "c" * 64, base), ("example/loaded:latest", latest),
                           ("example/loaded:base", base), ("cccccccccccc", base)):
        code, body = inspect("docker-29.7-containerd", "1.55", image, name=name)
        assert (code, body["Descriptor"]) == (200, expected), name


@pytest.mark.parametrize(("profile", "message"), [
    ("docker-20.10", "no such image: nosuch/image:1: No such image: nosuch/image:1"),  # LookupImage wraps it
    ("docker-26.1", "No such image: nosuch/image:1"),
    ("docker-29.7-containerd", "No such image: nosuch/image:1"),
])
def test_unknown_image(profile: str, message: str) -> None:
    code, body = inspect(profile, get_profile(profile).api_max, MULTI, name="nosuch/image:1")
    assert (code, body["message"]) == (404, message)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_an_image_without_details_still_answers(profile: str) -> None:
    """A hand-written seed (no extra): empty config, the defaults of old."""
    image = Image(tags=["plain:1"], created=1700000000)
    code, body = inspect(profile, get_profile(profile).api_max, image, name="plain:1")
    assert code == 200 and body["Id"] == image.id
    assert body["Metadata"] == {"LastTagTime": "0001-01-01T00:00:00Z"}


@pytest.mark.parametrize(("extra", "error"), [
    ({"config": ["Env"]}, "extra.config: expected a mapping"),
    ({"last_tag_time": 5}, "extra.last_tag_time: expected a string"),
])
def test_extra_fields_are_checked(extra: dict[str, Any], error: str) -> None:
    with pytest.raises(ModelError, match=error):
        Image(tags=["x:1"], extra=extra)
    with pytest.raises(ModelError, match="manifests\\[0\\]." + error):
        Image(tags=["x:1"], manifests=[{"extra": extra}])


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_snapshot_keeps_what_inspect_shows(profile: str) -> None:
    """Snapshot the fake (the same HTTP a daemon gets) and load the seed: every inspect the check
    sends (each version, name, platform, manifests=1) is answered alike, byte for byte."""
    from pytest_dockerimages._real.check import inspect_probes
    from pytest_dockerimages._real.snapshot import NotOk, snapshot_with

    store, row = ImageStore([MULTI, BUILT, Image(tags=["plain:1"], created=1700000000)]), get_profile(profile)

    def fetch(path: str) -> object:
        response = respond(store, row, Request("GET", path), 0)
        if response.status != 200:
            raise NotOk(f"GET {path} answered {response.status}")
        return json.loads(response.body)

    snapshot = snapshot_with(fetch)
    assert snapshot.seed.profile == profile
    copy = ImageStore(snapshot.seed.images)
    probes = inspect_probes(list(store.images), row)
    assert len(probes) > 15
    for probe in probes:
        before, after = (respond(s, row, Request("GET", probe.target), 0) for s in (store, copy))
        assert (after.status, after.body) == (before.status, before.body), probe.target
