"""Generate `docker save`-format archives whose image IDs never change.

Why: a real daemon seeded for comparison tests must hold images with the same IDs on every
machine, run and engine, so that recorded bodies and the fake's profiles can name them. An
image ID on the graphdriver store is the sha256 of the config JSON, so every byte that goes
into a config (times, labels, layer digests) is fixed here, and layer tarballs are written
with fixed mtimes, modes and owners so their diff_ids are fixed too.

The archive is what `docker load -i` reads: `manifest.json` (one item per image, with the
optional "Parent" key that makes `docker load` record ParentId), `repositories`, one
`<config digest>.json` per image and one `<layer digest>/layer.tar` per distinct layer.

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
    created: str  # RFC 3339, also the created time of this image's history entry
    created_by: str
    labels: Mapping[str, str] | None = None  # None: no "Labels" key at all (daemons then return null)
    parent: str | None = None  # a tag of an earlier ImageSpec in the same archive


@dataclass(frozen=True)
class BuiltImage:
    """An image as it ends up in the archive: its config bytes and the digests derived from them."""

    spec: ImageSpec
    config: bytes
    layers: tuple[bytes, ...]
    history: tuple[tuple[str, str], ...] = field(repr=False)

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
    history: Sequence[tuple[str, str]],
    labels: Mapping[str, str] | None,
    created: str,
) -> bytes:
    """Canonical config JSON (sorted keys, no spaces): its sha256 is the image ID."""
    inner: dict[str, object] = {"Cmd": ["/hello"], "Env": ["PATH=/"]}
    if labels is not None:
        inner["Labels"] = dict(labels)
    cfg = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": inner,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256_hex(layer) for layer in layers]},
        "history": [{"created": when, "created_by": by} for when, by in history],
    }
    return json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()


def build_images(specs: Sequence[ImageSpec] = DEFAULT_IMAGES) -> list[BuiltImage]:
    """Resolve parents and compute every image's layers, history and config bytes."""
    by_tag: dict[str, BuiltImage] = {}
    built: list[BuiltImage] = []
    for spec in specs:
        layers: tuple[bytes, ...] = ()
        history: tuple[tuple[str, str], ...] = ()
        if spec.parent is not None:
            if spec.parent not in by_tag:
                raise ValueError(f"parent {spec.parent!r} of {spec.tags} must be an earlier image's tag")
            parent = by_tag[spec.parent]
            layers, history = parent.layers, parent.history
        layers = layers + (layer_tar(spec.files),)
        history = history + ((spec.created, spec.created_by),)
        image = BuiltImage(spec, image_config(layers, history, spec.labels, spec.created), layers, history)
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


if __name__ == "__main__":  # pragma: no cover - manual use: python -m pytest_dockerimages._real.imagetar OUT.tar
    import sys

    for tag, image_id in write_archive(sys.argv[1]).items():
        print(image_id, tag)
