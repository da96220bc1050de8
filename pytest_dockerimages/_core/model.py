"""What a daemon holds: images and the store that relates them (pure values, no I/O).

An `ImageStore` is immutable: a change builds a new store, so a request always reads one
consistent state while another thread swaps in the next one.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence, TypeVar

from .reference import Reference, ReferenceError, parse_normalized, why_invalid
from .timestamps import format_rfc3339_ns, to_ns

#: An image id (also a layer or manifest digest): `sha256:` and 64 lowercase hex digits.
ID_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX_PREFIX_RE = re.compile(r"^(?:sha256:)?[0-9a-f]+$")
MANIFEST_KINDS = ("image", "attestation", "unknown")
#: What GET /images/{name}/history?platform= finds of a manifest (see Manifest.presence).
MANIFEST_PRESENCE = ("unpacked", "config", "absent")
_T = TypeVar("_T")


class ModelError(ValueError):
    """An invalid image description; the message names the field."""


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _check_id(value: str, where: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise ModelError(f"{where}: expected 'sha256:' followed by 64 lowercase hex digits, got {value!r}")
    return value


def _check_int(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class Layer:
    """One layer: its digest (diff id) and size in bytes. Shared layers make SharedSize."""

    digest: str
    size: int

    @classmethod
    def coerce(cls, value: Any, where: str) -> Layer:
        if isinstance(value, Layer):
            return value
        if not isinstance(value, Mapping) or set(value) - {"digest", "size"} or "digest" not in value:
            raise ModelError(f"{where}: expected {{'digest': 'sha256:...', 'size': N}}, got {value!r}")
        return cls(_check_id(value["digest"], f"{where}.digest"), _check_int(value.get("size", 0), f"{where}.size"))


@dataclass(frozen=True)
class Manifest:
    """One entry of a containerd-store image index (rendered as Manifests[] from API 1.47).

    What `GET /images/{name}/history?platform=` answers for it: `presence` says what the content
    store holds of it, `unpacked` (its config and the snapshots of its layers), `config` (its config,
    not every snapshot: where a release reads a missing snapshot's size as an error, it names the
    first missing one of `diff_ids`) or `absent` (no manifest blob: its platform is not found); None, as in
    older seeds: `unpacked` if `available`, else `absent`. `history` is what that request showed
    (oldest first); None: the image's own history (all sizes 0 for `config`). A manifest whose
    manifest blob is there but not its config is `absent` here, though a daemon answers it with the
    content store's error: no seed image makes that state.
    """

    id: str
    kind: str = "image"
    platform: Mapping[str, str] = field(default_factory=lambda: {"architecture": "amd64", "os": "linux"})
    available: bool = True
    media_type: str = "application/vnd.oci.image.manifest.v1+json"
    size: int = 0  # the manifest blob's own size (its descriptor)
    content_size: int = 0
    unpacked_size: int = 0
    containers: tuple[str, ...] = ()
    attestation_for: str | None = None
    identity: Mapping[str, Any] | None = None
    descriptor: Mapping[str, Any] | None = None  # the daemon's own (annotations, platform), sent as given
    presence: str | None = None
    history: tuple[HistoryEntry, ...] | None = None
    diff_ids: tuple[str, ...] = ()  # its config's rootfs diff ids (empty: not known); snapshots are named by chain id
    # what inspect with this platform shows of its config (EXTRA_FIELDS: created, config, ...); empty: the image's
    extra: Mapping[str, Any] = field(default_factory=dict)

    _KEYS = {"id", "kind", "platform", "available", "media_type", "size", "content_size", "unpacked_size",
             "containers", "attestation_for", "identity", "descriptor", "presence", "history", "diff_ids", "extra"}

    @property
    def found_as(self) -> str:
        """`presence`, or what an older seed's `available` implies."""
        return self.presence or ("unpacked" if self.available else "absent")

    @classmethod
    def coerce(cls, value: Any, where: str, image_id: str, index: int) -> Manifest:
        if isinstance(value, Manifest):
            return value
        if not isinstance(value, Mapping):
            raise ModelError(f"{where}: expected a mapping, got {value!r}")
        unknown = set(value) - cls._KEYS
        if unknown:
            raise ModelError(f"{where}: unknown field(s) {sorted(unknown)}; known: {sorted(cls._KEYS)}")
        kind = value.get("kind", "image")
        if kind not in MANIFEST_KINDS:
            raise ModelError(f"{where}.kind: expected one of {MANIFEST_KINDS}, got {kind!r}")
        platform = value.get("platform", {"architecture": "amd64", "os": "linux"})
        if not isinstance(platform, Mapping) or not all(isinstance(v, str) for v in platform.values()):
            raise ModelError(f"{where}.platform: expected a mapping of strings, got {platform!r}")
        containers = value.get("containers", ())
        if isinstance(containers, str) or not all(isinstance(c, str) for c in containers):
            raise ModelError(f"{where}.containers: expected a list of container ids, got {containers!r}")
        manifest_id = value.get("id") or _sha256(f"{image_id}/manifest/{index}")
        attestation_for = value.get("attestation_for")
        if attestation_for is not None:
            _check_id(attestation_for, f"{where}.attestation_for")
        available = value.get("available", True)
        if not isinstance(available, bool):
            raise ModelError(f"{where}.available: expected true or false, got {available!r}")
        descriptor = value.get("descriptor")
        if descriptor is not None and not isinstance(descriptor, Mapping):
            raise ModelError(f"{where}.descriptor: expected a mapping (an OCI descriptor), got {descriptor!r}")
        presence = value.get("presence")
        if presence is not None and presence not in MANIFEST_PRESENCE:
            raise ModelError(f"{where}.presence: expected one of {MANIFEST_PRESENCE}, got {presence!r}")
        diff_ids = value.get("diff_ids", ())
        if isinstance(diff_ids, (str, Mapping)) or not isinstance(diff_ids, Sequence):
            raise ModelError(f"{where}.diff_ids: expected a list of layer digests, got {diff_ids!r}")
        return cls(
            id=_check_id(manifest_id, f"{where}.id"),
            kind=kind,
            platform=dict(platform),
            available=available,
            media_type=str(value.get("media_type", "application/vnd.oci.image.manifest.v1+json")),
            size=_check_int(value.get("size", 0), f"{where}.size"),
            content_size=_check_int(value.get("content_size", 0), f"{where}.content_size"),
            unpacked_size=_check_int(value.get("unpacked_size", 0), f"{where}.unpacked_size"),
            containers=tuple(containers),
            attestation_for=attestation_for,
            identity=value.get("identity"),
            descriptor=None if descriptor is None else dict(descriptor),
            presence=presence,
            history=_history(value.get("history"), f"{where}.history"),
            diff_ids=tuple(_check_id(d, f"{where}.diff_ids[{i}]") for i, d in enumerate(diff_ids)),
            extra=check_extra(value.get("extra"), f"{where}.extra"),
        )


#: What `extra` (an image's, or a manifest's for its platform) may hold: what inspect shows that no
#: other field says, as the daemon shows it (`config` and `container_config` by Go field name, only
#: the fields that are set). Other keys are kept, unread.
EXTRA_FIELDS: dict[str, type] = {
    "comment": str, "author": str, "docker_version": str, "container": str, "variant": str, "os_version": str,
    "last_tag_time": str, "created": str, "architecture": str, "os": str, "config": Mapping,
    "container_config": Mapping, "graph_driver": Mapping, "descriptors": Mapping, "identity": Mapping,
}


def check_extra(value: Any, where: str) -> dict[str, Any]:
    """An `extra` mapping, its known fields of the right JSON type."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ModelError(f"{where}: expected a mapping, got {value!r}")
    for key, kind in EXTRA_FIELDS.items():
        if value.get(key) is not None and not isinstance(value[key], kind):
            raise ModelError(f"{where}.{key}: expected {'a string' if kind is str else 'a mapping'}, "
                             f"got {value[key]!r}")
    return dict(value)


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of an image config's history, as `GET /images/{name}/history` shows it.

    `size` is what the daemon reports for the entry (its layer's size; 0 for an empty layer).
    The seed field `history` lists them oldest first, as the image config does."""

    created_ns: int | None = None
    created_by: str = ""
    comment: str = ""
    size: int = 0

    _KEYS = ("created", "created_by", "comment", "size")

    @classmethod
    def coerce(cls, value: Any, where: str) -> HistoryEntry:
        if isinstance(value, HistoryEntry):
            return value
        if not isinstance(value, Mapping):
            raise ModelError(f"{where}: expected a mapping, got {value!r}")
        unknown = set(value) - set(cls._KEYS)
        if unknown:
            raise ModelError(f"{where}: unknown field(s) {sorted(unknown)}; known: {list(cls._KEYS)}")
        for key in ("created_by", "comment"):
            if not isinstance(value.get(key, ""), str):
                raise ModelError(f"{where}.{key}: expected a string, got {value[key]!r}")
        created = value.get("created")
        try:
            created_ns = None if created is None else to_ns(created, field=f"{where}.created")
        except ValueError as exc:
            raise ModelError(str(exc)) from None
        return cls(created_ns, value.get("created_by", ""), value.get("comment", ""),
                   _check_int(value.get("size", 0), f"{where}.size"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"created": None if self.created_ns is None else format_rfc3339_ns(self.created_ns)}
        if self.created_by:
            out["created_by"] = self.created_by
        if self.comment:
            out["comment"] = self.comment
        out["size"] = self.size
        return out


def _history(value: Any, where: str) -> tuple[HistoryEntry, ...] | None:
    """A seed's `history` list (oldest first); None stays None (not known)."""
    if value is None:
        return None
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise ModelError(f"{where}: expected a list of entries (oldest first), got {value!r}")
    return tuple(HistoryEntry.coerce(h, f"{where}[{i}]") for i, h in enumerate(value))


def _parse_refs(values: Any, where: str, *, want_digest: bool) -> tuple[Reference, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise ModelError(f"{where}: expected a list of references, got {values!r}")
    out = []
    for i, text in enumerate(values):
        if not isinstance(text, str):
            raise ModelError(f"{where}[{i}]: expected a string, got {text!r}")
        try:
            ref = parse_normalized(text)
        except ReferenceError as exc:
            reason = why_invalid(text)
            detail = f"{exc}: {reason}" if reason and str(exc) == "invalid reference format" else str(exc)
            raise ModelError(f"{where}[{i}]: {text!r}: {detail}") from None
        if want_digest and ref.digest is None:
            raise ModelError(f"{where}[{i}]: {text!r} is not a digest reference (repo@sha256:...)")
        if not want_digest:
            if ref.digest is not None:
                raise ModelError(f"{where}[{i}]: {text!r} has a digest: put it in 'digests'")
            ref = ref.with_default_tag()
        out.append(ref)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, eq=False)
class Image:
    """One image as a daemon holds it.

    `tags` (`repo:tag`, familiar or canonical), `digests` (`repo@sha256:...`), `labels` (None = the
    config has no labels), `created` (unix seconds, RFC 3339 text or datetime; kept to the
    nanosecond), `id` (derived from the other fields when omitted), `parent`, `size`, `layers`,
    `containers`, `history` (entries oldest first; None: not known, see `history.py`), and for
    containerd-store profiles `manifests`, `descriptor` and `record_created` (when the store's
    record was made: what `until` compares there).
    """

    tags: tuple[Reference, ...]
    digests: tuple[Reference, ...]
    labels: Mapping[str, str] | None
    created_ns: int | None
    id: str
    parent: str
    size: int
    layers: tuple[Layer, ...]
    containers: tuple[str, ...]
    manifests: tuple[Manifest, ...]
    descriptor: Mapping[str, Any] | None
    record_created_ns: int | None
    os: str
    architecture: str
    extra: Mapping[str, Any]
    history: tuple[HistoryEntry, ...] | None

    _KEYS = ("tags", "digests", "labels", "created", "id", "parent", "size", "layers", "containers",
             "manifests", "descriptor", "record_created", "os", "architecture", "extra", "history")

    def __init__(self, *, tags: Sequence[str] | None = None, digests: Sequence[str] | None = None,
                 labels: Mapping[str, str] | None = None, created: Any = 0, id: str | None = None,
                 parent: str | None = "", size: int | None = None, layers: Sequence[Any] | None = None,
                 containers: Sequence[str] | None = None, manifests: Sequence[Any] | None = None,
                 descriptor: Mapping[str, Any] | None = None, record_created: Any = None,
                 os: str = "linux", architecture: str = "amd64", extra: Mapping[str, Any] | None = None,
                 history: Sequence[Any] | None = None) -> None:
        set_ = object.__setattr__
        set_(self, "tags", _parse_refs(tags, "tags", want_digest=False))
        set_(self, "digests", _parse_refs(digests, "digests", want_digest=True))
        if labels is not None and (not isinstance(labels, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in labels.items())):
            raise ModelError(f"labels: expected a mapping of strings to strings (or null), got {labels!r}")
        set_(self, "labels", None if labels is None else dict(labels))
        try:
            set_(self, "created_ns", None if created is None else to_ns(created))
            set_(self, "record_created_ns",
                 None if record_created is None else to_ns(record_created, field="record_created"))
        except ValueError as exc:
            raise ModelError(str(exc)) from None
        parsed_layers = tuple(Layer.coerce(v, f"layers[{i}]") for i, v in enumerate(layers or ()))
        if size is None:
            size = sum(layer.size for layer in parsed_layers)
        set_(self, "size", _check_int(size, "size"))
        set_(self, "parent", "" if not parent else _check_id(parent, "parent"))
        if containers is not None and (isinstance(containers, str) or not all(isinstance(c, str) for c in containers)):
            raise ModelError(f"containers: expected a list of container ids, got {containers!r}")
        set_(self, "containers", tuple(containers or ()))
        if descriptor is not None and not isinstance(descriptor, Mapping):
            raise ModelError(f"descriptor: expected a mapping (an OCI descriptor), got {descriptor!r}")
        set_(self, "descriptor", None if descriptor is None else dict(descriptor))
        set_(self, "os", str(os))
        set_(self, "architecture", str(architecture))
        set_(self, "extra", check_extra(extra, "extra"))
        set_(self, "history", _history(history, "history"))
        image_id = _check_id(id, "id") if id is not None else self._derived_id(parsed_layers, manifests)
        set_(self, "id", image_id)
        if not parsed_layers:
            parsed_layers = (Layer(_sha256(f"{image_id}/layer"), self.size),)
        set_(self, "layers", parsed_layers)
        set_(self, "manifests", tuple(
            Manifest.coerce(m, f"manifests[{i}]", image_id, i) for i, m in enumerate(manifests or ())))

    def _derived_id(self, layers: tuple[Layer, ...], manifests: Any) -> str:
        basis = {
            "tags": [str(t) for t in self.tags], "digests": [str(d) for d in self.digests],
            "labels": self.labels, "created": self.created_ns, "parent": self.parent, "size": self.size,
            "layers": [[layer.digest, layer.size] for layer in layers], "os": self.os,
            "architecture": self.architecture, "manifests": repr(manifests),
        }
        return _sha256(json.dumps(basis, sort_keys=True))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "image") -> Image:
        """Build from a seed entry; unknown keys are an error naming them."""
        if not isinstance(data, Mapping):
            raise ModelError(f"{where}: expected a mapping, got {data!r}")
        unknown = set(data) - set(cls._KEYS)
        if unknown:
            raise ModelError(f"{where}: unknown field(s) {sorted(unknown)}; known: {list(cls._KEYS)}")
        try:
            return cls(**dict(data))
        except ModelError as exc:
            raise ModelError(f"{where}: {exc}") from None
        except TypeError as exc:
            raise ModelError(f"{where}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Seed form: everything needed to rebuild an equal image."""
        out: dict[str, Any] = {"id": self.id}
        if self.tags:
            out["tags"] = [t.familiar for t in self.tags]
        if self.digests:
            out["digests"] = [d.familiar for d in self.digests]
        out["labels"] = None if self.labels is None else dict(self.labels)
        out["created"] = None if self.created_ns is None else format_rfc3339_ns(self.created_ns)
        if self.parent:
            out["parent"] = self.parent
        out["size"] = self.size
        out["layers"] = [{"digest": layer.digest, "size": layer.size} for layer in self.layers]
        if self.containers:
            out["containers"] = list(self.containers)
        if self.manifests:
            out["manifests"] = [_manifest_to_dict(m) for m in self.manifests]
        if self.descriptor is not None:
            out["descriptor"] = dict(self.descriptor)
        if self.record_created_ns is not None:
            out["record_created"] = format_rfc3339_ns(self.record_created_ns)
        if self.os != "linux":
            out["os"] = self.os
        if self.architecture != "amd64":
            out["architecture"] = self.architecture
        if self.extra:
            out["extra"] = dict(self.extra)
        if self.history is not None:
            out["history"] = [entry.to_dict() for entry in self.history]
        return out

    def __repr__(self) -> str:
        names = [t.familiar for t in self.tags] or [d.familiar for d in self.digests] or ["<untagged>"]
        return f"Image({self.id[7:19]} {', '.join(names)})"


def _manifest_to_dict(m: Manifest) -> dict[str, Any]:
    out: dict[str, Any] = {"id": m.id, "kind": m.kind, "platform": dict(m.platform), "available": m.available,
                           "media_type": m.media_type, "size": m.size, "content_size": m.content_size,
                           "unpacked_size": m.unpacked_size}
    if m.containers:
        out["containers"] = list(m.containers)
    if m.attestation_for:
        out["attestation_for"] = m.attestation_for
    if m.identity is not None:
        out["identity"] = m.identity
    if m.descriptor is not None:
        out["descriptor"] = dict(m.descriptor)
    if m.presence is not None:
        out["presence"] = m.presence
    if m.history is not None:
        out["history"] = [entry.to_dict() for entry in m.history]
    if m.diff_ids:
        out["diff_ids"] = list(m.diff_ids)
    if m.extra:
        out["extra"] = dict(m.extra)
    return out


class ImageStore:
    """An immutable set of images with the relations the daemon derives: children, lookups."""

    __slots__ = ("images", "by_id", "children", "_tag_index", "_digest_index", "loaded_at_ns", "_derived")

    def __init__(self, images: Iterable[Image] = (), loaded_at_ns: int = 0) -> None:
        by_id: dict[str, Image] = {}
        for image in images:
            by_id[image.id] = image  # a later image with the same id replaces the earlier one
        tag_index: dict[Reference, str] = {}
        digest_index: dict[Reference, str] = {}
        for image in by_id.values():
            for tag in image.tags:
                tag_index[tag] = image.id  # a tag lives on one image: the last one that claims it
            for digest in image.digests:
                digest_index[digest] = image.id
        # drop tags that moved to a later image
        fixed: list[Image] = []
        for image in by_id.values():
            kept = tuple(t for t in image.tags if tag_index[t] == image.id)
            if kept != image.tags:
                image = _with(image, tags=kept)
            fixed.append(image)
        self.images: tuple[Image, ...] = tuple(fixed)
        self.by_id = {image.id: image for image in self.images}
        children: dict[str, list[str]] = {}
        for image in self.images:
            if image.parent:
                children.setdefault(image.parent, []).append(image.id)
        self.children = children
        self._tag_index = tag_index
        self._digest_index = digest_index
        self.loaded_at_ns = loaded_at_ns
        self._derived: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return len(self.images)

    def derived(self, key: Hashable, build: Callable[[ImageStore], _T]) -> _T:
        """`build(self)`, computed once per store and kept: listing order, records, encoded summaries.

        Why: every request re-derived the same data from the same images (sorting refs, building
        containerd records, encoding JSON), which made a 10,000-image listing cost ~20x the bare
        serialisation. The store never changes (a change builds a new store, with an empty
        cache), so nothing kept here can go stale. Two threads may both build a missing value;
        the results are equal and the last write wins, so no lock is needed.
        """
        try:
            return self._derived[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._derived[key] = build(self)
            return value

    def has_children(self, image_id: str) -> bool:
        return image_id in self.children

    def by_tag(self, ref: Reference) -> Image | None:
        image_id = self._tag_index.get(ref)
        return self.by_id.get(image_id) if image_id else None

    def by_digest(self, ref: Reference) -> Image | None:
        image_id = self._digest_index.get(ref)
        return self.by_id.get(image_id) if image_id else None

    def by_id_prefix(self, term: str) -> Image | None:
        """The daemon's short-id search: a unique hex prefix, with or without `sha256:`."""
        if not _HEX_PREFIX_RE.match(term):
            return None
        prefix = term if term.startswith("sha256:") else "sha256:" + term
        found = [image for image_id, image in self.by_id.items() if image_id.startswith(prefix)]
        return found[0] if len(found) == 1 else None

    def record_created_ns(self, image: Image) -> int:
        """Containerd record time: given, else when the image was put into this store."""
        return image.record_created_ns if image.record_created_ns is not None else self.loaded_at_ns

    # --- changes: each returns a new store ---------------------------------------------
    def added(self, *images: Image) -> ImageStore:
        return ImageStore((*self.images, *images), self.loaded_at_ns)

    def without(self, image_id: str) -> ImageStore:
        return ImageStore((i for i in self.images if i.id != image_id), self.loaded_at_ns)

    def untagged(self, image: Image, ref: Reference) -> ImageStore:
        new = _with(image, tags=tuple(t for t in image.tags if t != ref),
                    digests=tuple(d for d in image.digests if d != ref))
        return ImageStore((new if i.id == image.id else i for i in self.images), self.loaded_at_ns)

    def tagged(self, image: Image, ref: Reference) -> ImageStore:
        images = [i for i in self.images if i.id != image.id]
        images.append(_with(image, tags=(*image.tags, ref)))  # last claim wins: the tag moves here
        return ImageStore(images, self.loaded_at_ns)


def _with(image: Image, **fields: tuple[Reference, ...]) -> Image:
    """A copy with other references (Image has a custom __init__, so dataclasses.replace does not
    apply, and the id must stay the image's own)."""
    clone = object.__new__(Image)
    for name in Image.__dataclass_fields__:
        object.__setattr__(clone, name, fields.get(name, getattr(image, name)))
    return clone


__all__ = ["HistoryEntry", "Image", "ImageStore", "Layer", "Manifest", "ModelError"]
