"""Generate `docker save`-format archives whose image IDs never change.

Why: a real daemon seeded for comparison tests must hold images with the same IDs on every
machine, run and engine, so that recorded bodies and the fake's profiles can name them. An
image ID on the graphdriver store is the sha256 of the config JSON, so every byte that goes
into a config (times, labels, layer digests) is fixed here, and layer tarballs are written
with fixed mtimes, modes and owners so their diff_ids are fixed too.

The archive is what `docker load -i` reads: `manifest.json` (one item per image, with the
optional "Parent" key that makes `docker load` record ParentId), `repositories`, one
`<config digest>.json` per image and one `<layer digest>/layer.tar` per distinct layer.

`build_oci_archive` writes the other format `docker load` reads: an OCI image layout (`oci-layout`,
`index.json`, `blobs/sha256/...`), which may hold a multi-platform index, plus the `manifest.json`
that `docker save` has added since Docker 25, so a graphdriver store (which reads only that file)
loads the same archive.

Stdlib only.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

__all__ = [
    "FIXED_MTIME",
    "ImageSpec",
    "BuiltImage",
    "DEFAULT_IMAGES",
    "layer_tar",
    "image_config",
    "build_images",
    "build_archive",
    "write_archive",
    "expected_ids",
    "sha256_hex",
    "IndexSpec",
    "OCI_IMAGES",
    "OCI_INDEXES",
    "build_oci_archive",
    "write_oci_archive",
]

#: mtime of every tar member (2023-11-14T22:13:20Z): tar headers carry mtimes, so they must be fixed.
FIXED_MTIME = 1700000000


@dataclass(frozen=True)
class ImageSpec:
    """One image to put into the archive.

    `files` become this image's own (top) layer. With `parent` set, the image is built on top
    of that image: it inherits its layers and history, and gets exactly one more history
    entry, because `docker load` rejects a "Parent" whose history is not a prefix of the
    child's ("image ... is not a valid parent for ...").
    """

    tags: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...]
    created: str | None  # RFC 3339, also the history entry's; None: the config has no "created" at all
    created_by: str
    labels: Mapping[str, str] | None = None  # None: no "Labels" key at all (daemons then return null)
    parent: str | None = None  # a tag of an earlier ImageSpec in the same archive
    architecture: str = "amd64"


@dataclass(frozen=True)
class BuiltImage:
    """An image as it ends up in the archive: its config bytes and the digests derived from them."""

    spec: ImageSpec
    config: bytes
    layers: tuple[bytes, ...]
    history: tuple[tuple[str | None, str], ...] = field(repr=False)

    @property
    def id(self) -> str:
        """The image ID a graphdriver-store daemon reports after `docker load`: sha256 of the config."""
        return "sha256:" + sha256_hex(self.config)


#: The default set. The history strings and times are chosen so that the IDs equal the ones in
#: the recorded daemon samples of this project (example/loaded:base = sha256:48c0e36a...,
#: example/loaded:app = sha256:2eb5098f..., example/epoch:0 = sha256:48864f46...).
DEFAULT_IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec(
        tags=("example/loaded:base", "example/loaded:latest"),
        files=(("hello", b"hello from layer 1\n"),),
        created="2023-11-14T22:13:20Z",
        created_by="make_image_tar.py: add /hello",
        labels={"org.example.kind": "loaded", "tier": "base"},
    ),
    ImageSpec(
        tags=("example/loaded:app",),
        files=(("example.conf", b"key=value\n"),),
        created="2024-01-02T03:04:05Z",
        created_by="make_image_tar.py: add /example.conf",
        labels={"org.example.kind": "loaded", "tier": "app", "a": "b"},
        parent="example/loaded:base",
    ),
    ImageSpec(
        tags=("example/epoch:0",),
        files=(("epoch", b"0\n"),),
        created="1970-01-01T00:00:00Z",
        created_by="make_image_tar.py: add /epoch",
        labels=None,
    ),
)


def sha256_hex(data: bytes) -> str:
    """Hex sha256; the unit of every ID and digest in the archive."""
    return hashlib.sha256(data).hexdigest()


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add a regular file with fixed metadata, so the tar bytes depend only on name and data."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = FIXED_MTIME
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def layer_tar(files: Sequence[tuple[str, bytes]]) -> bytes:
    """A layer tarball (uncompressed, so its diff_id is simply its sha256)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            _add_member(tar, name, data)
    return buf.getvalue()


def image_config(
    layers: Sequence[bytes],
    history: Sequence[tuple[str | None, str]],
    labels: Mapping[str, str] | None,
    created: str | None,
    architecture: str = "amd64",
) -> bytes:
    """Canonical config JSON (sorted keys, no spaces): its sha256 is the image ID. A None time
    leaves the "created" key out (of the config or the history entry), as some build tools do."""
    inner: dict[str, object] = {"Cmd": ["/hello"], "Env": ["PATH=/"]}
    if labels is not None:
        inner["Labels"] = dict(labels)
    cfg: dict[str, object] = {
        "architecture": architecture,
        "os": "linux",
        "config": inner,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256_hex(layer) for layer in layers]},
        "history": [{"created_by": by, **({"created": when} if when is not None else {})} for when, by in history],
    }
    if created is not None:
        cfg["created"] = created
    return json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()


def build_images(specs: Sequence[ImageSpec] = DEFAULT_IMAGES) -> list[BuiltImage]:
    """Resolve parents and compute every image's layers, history and config bytes."""
    by_tag: dict[str, BuiltImage] = {}
    built: list[BuiltImage] = []
    for spec in specs:
        layers: tuple[bytes, ...] = ()
        history: tuple[tuple[str | None, str], ...] = ()
        if spec.parent is not None:
            if spec.parent not in by_tag:
                raise ValueError(f"parent {spec.parent!r} of {spec.tags} must be an earlier image's tag")
            parent = by_tag[spec.parent]
            layers, history = parent.layers, parent.history
        layers = layers + (layer_tar(spec.files),)
        history = history + ((spec.created, spec.created_by),)
        config = image_config(layers, history, spec.labels, spec.created, spec.architecture)
        image = BuiltImage(spec, config, layers, history)
        for tag in spec.tags:
            by_tag[tag] = image
        built.append(image)
    return built


def build_archive(specs: Sequence[ImageSpec] = DEFAULT_IMAGES) -> bytes:
    """The whole `docker save`-format archive as bytes; identical bytes for identical specs."""
    images = build_images(specs)
    manifest: list[dict[str, object]] = []
    repositories: dict[str, dict[str, str]] = {}
    written: set[str] = set()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for image in images:
            config_hex = image.id.split(":", 1)[1]
            _add_member(tar, config_hex + ".json", image.config)
            layer_paths = []
            for layer in image.layers:
                path = sha256_hex(layer) + "/layer.tar"
                if path not in written:  # a parent's layers are shared, store them once
                    _add_member(tar, path, layer)
                    written.add(path)
                layer_paths.append(path)
            item: dict[str, object] = {
                "Config": config_hex + ".json",
                "RepoTags": list(image.spec.tags),
                "Layers": layer_paths,
            }
            if image.spec.parent is not None:
                item["Parent"] = next(i.id for i in images if image.spec.parent in i.spec.tags)
            manifest.append(item)
            for tag in image.spec.tags:
                repo, _, name = tag.rpartition(":")
                repositories.setdefault(repo, {})[name] = config_hex
        _add_member(tar, "manifest.json", json.dumps(manifest, sort_keys=True).encode())
        _add_member(tar, "repositories", json.dumps(repositories, sort_keys=True).encode())
    return buf.getvalue()


def write_archive(path: str | Path, specs: Sequence[ImageSpec] = DEFAULT_IMAGES) -> dict[str, str]:
    """Write the archive to `path`; returns {tag: image ID} for what `docker load` will create."""
    Path(path).write_bytes(build_archive(specs))
    return {tag: image.id for image in build_images(specs) for tag in image.spec.tags}


def expected_ids(specs: Sequence[ImageSpec] = DEFAULT_IMAGES) -> dict[str, str]:
    """{tag: image ID} without writing anything (graphdriver-store IDs)."""
    return {tag: image.id for image in build_images(specs) for tag in image.spec.tags}


@dataclass(frozen=True)
class IndexSpec:
    """A multi-platform image: an OCI index over one image per platform, known by `tag`."""

    tag: str
    images: tuple[ImageSpec, ...]  # one per architecture; their own tags are not used


#: The OCI-format set: an image whose config has no "created" (daemons list it with a zero time)
#: and nothing else a config usually has, besides layers.
OCI_IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec(tags=("example/nocreated:1",), files=(("nocreated", b"no created field\n"),), created=None,
              created_by="imagetar: add /nocreated"),
)
#: A two-platform index (amd64 and arm64, every blob in the archive).
OCI_INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec("example/multi:1", tuple(
        ImageSpec(tags=(), files=(("arch", f"{arch}\n".encode()),), created="2024-05-06T07:08:09Z",
                  created_by=f"imagetar: add /arch ({arch})", labels={"org.example.kind": "multi"},
                  architecture=arch)
        for arch in ("amd64", "arm64"))),
)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def build_oci_archive(specs: Sequence[ImageSpec] = OCI_IMAGES, indexes: Sequence[IndexSpec] = OCI_INDEXES) -> bytes:
    """An OCI image layout archive, with docker save's manifest.json beside it; identical bytes for
    identical specs. The layout's index names each image the way `docker save` does (the
    `io.containerd.image.name` and `org.opencontainers.image.ref.name` annotations); manifest.json
    lists the single-platform images and each index's amd64 image, under the same tags."""
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> dict[str, object]:
        blobs[sha256_hex(data)] = data
        return {"digest": "sha256:" + sha256_hex(data), "size": len(data)}

    def manifest_of(image: BuiltImage) -> tuple[dict[str, object], dict[str, object]]:
        """(descriptor of the image manifest, its manifest.json entry without RepoTags)."""
        config = {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(image.config)}
        layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **blob(layer)} for layer in image.layers]
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
        entry: dict[str, object] = {"Config": f"blobs/sha256/{sha256_hex(image.config)}",
                 "Layers": [f"blobs/sha256/{sha256_hex(layer)}" for layer in image.layers]}
        return {"mediaType": OCI_MANIFEST, **blob(_canonical(manifest))}, entry

    def named(tag: str) -> dict[str, str]:
        repo, _, ref = tag.rpartition(":")
        return {"io.containerd.image.name": f"docker.io/{repo}:{ref}", "org.opencontainers.image.ref.name": ref}

    top: list[dict[str, object]] = []
    docker_manifest: list[dict[str, object]] = []
    for image in build_images(specs):
        descriptor, entry = manifest_of(image)
        for tag in image.spec.tags:
            top.append({**descriptor, "annotations": named(tag)})
            docker_manifest.append({**entry, "RepoTags": [tag]})
    for index in indexes:
        children = []
        for image in build_images(index.images):
            descriptor, entry = manifest_of(image)
            children.append({**descriptor, "platform": {"architecture": image.spec.architecture, "os": "linux"}})
            if image.spec.architecture == "amd64":
                docker_manifest.append({**entry, "RepoTags": [index.tag]})
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
        top.append({"mediaType": OCI_INDEX, **blob(_canonical(document)), "annotations": named(index.tag)})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        _add_member(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add_member(tar, "index.json", _canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": top}))
        _add_member(tar, "manifest.json", json.dumps(docker_manifest, sort_keys=True).encode())
        for digest in sorted(blobs):
            _add_member(tar, f"blobs/sha256/{digest}", blobs[digest])
    return buf.getvalue()


def write_oci_archive(path: str | Path, specs: Sequence[ImageSpec] = OCI_IMAGES,
                      indexes: Sequence[IndexSpec] = OCI_INDEXES) -> None:
    """Write `build_oci_archive(...)` to `path`."""
    Path(path).write_bytes(build_oci_archive(specs, indexes))


if __name__ == "__main__":  # pragma: no cover - manual use: python -m pytest_dockerimages._real.imagetar OUT.tar
    import sys

    for tag, image_id in write_archive(sys.argv[1]).items():
        print(image_id, tag)
