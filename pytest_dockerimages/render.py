"""ImageSummary documents per profile, API version and query, and the daemon's JSON encoding."""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from .filters import Entry
from .model import Image, ImageStore, Manifest
from .profiles import Profile, at_least, below
from .query import ListQuery
from .timestamps import unix_seconds

NONE_TAG = "<none>:<none>"
NONE_DIGEST = "<none>@<none>"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


def encode(document: Any) -> bytes:
    """json.Encoder with SetEscapeHTML(false): compact, UTF-8, trailing newline."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8", "replace") + b"\n"


def labels_value(image: Image, profile: Profile) -> dict[str, str] | None:
    if image.labels is None:
        return {} if profile.labels_when_none == "empty" else None
    return dict(sorted(image.labels.items()))


def image_manifests(image: Image) -> tuple[Manifest, ...]:
    """The index entries of a containerd-store image; a single-platform image has one."""
    if image.manifests:
        return image.manifests
    return (Manifest(id=image.id, platform={"architecture": image.architecture, "os": image.os},
                     size=_descriptor_size(image), content_size=image.size, unpacked_size=image.size,
                     containers=image.containers),)


def _descriptor_size(image: Image) -> int:
    return 400 + 100 * len(image.layers)


def descriptor(image: Image) -> dict[str, Any]:
    """The OCI descriptor of the image's target (containerd store, API >= 1.48)."""
    if image.descriptor is not None:
        return dict(image.descriptor)
    media_type = INDEX_MEDIA_TYPE if image.manifests else MANIFEST_MEDIA_TYPE
    return {"mediaType": media_type, "digest": image.id, "size": _descriptor_size(image)}


def _platform(platform: Mapping[str, str]) -> dict[str, str]:
    order = ("architecture", "os", "os.version", "os.features", "variant")
    out = {k: platform[k] for k in order if k in platform}
    out.update({k: v for k, v in platform.items() if k not in out})
    return out


def manifest_summary(m: Manifest, identity: bool) -> dict[str, Any]:
    """ImageManifestSummary in Go struct order."""
    desc: dict[str, Any] = {"mediaType": m.media_type, "digest": m.id, "size": m.size}
    out: dict[str, Any] = {
        "ID": m.id, "Descriptor": desc, "Available": m.available,
        "Size": {"Total": m.size + m.content_size + (m.unpacked_size if m.available else 0),
                 "Content": m.size + m.content_size},
        "Kind": m.kind,
    }
    if m.kind == "image":
        data: dict[str, Any] = {"Platform": _platform(m.platform)}
        if identity and m.identity is not None:
            data["Identity"] = m.identity
        data["Containers"] = list(m.containers) if m.containers else []
        data["Size"] = {"Unpacked": m.unpacked_size if m.available else 0}
        out["ImageData"] = data
    elif m.kind == "attestation" and m.attestation_for:
        out["AttestationData"] = {"For": m.attestation_for}
    return out


def container_count(image: Image, profile: Profile) -> int:
    if profile.is_containerd and image.manifests:
        return sum(len(m.containers) for m in image.manifests)
    return len(image.containers)


def _chains(image: Image) -> list[tuple[tuple[str, ...], int]]:
    """(chain id, layer size) for each layer: layers are shared by chain, as the layer store does."""
    out = []
    prefix: tuple[str, ...] = ()
    for layer in image.layers:
        prefix = (*prefix, layer.digest)
        out.append((prefix, layer.size))
    return out


def shared_sizes(listed: Iterable[Image], basis: Iterable[Image]) -> dict[str, int]:
    """SharedSize of each listed image: its layer chains that more than one image of `basis` uses."""
    counts: dict[tuple[str, ...], int] = {}
    for image in basis:
        for chain, _ in _chains(image):
            counts[chain] = counts.get(chain, 0) + 1
    return {image.id: sum(size for chain, size in _chains(image) if counts.get(chain, 0) > 1) for image in listed}


def summaries(entries: list[Entry], store: ImageStore, profile: Profile, api_version: str,
              query: ListQuery) -> list[dict[str, Any]]:
    """The response body of GET /images/json (a list of ImageSummary), sorted newest first."""
    entries = sorted(entries, key=lambda e: (-unix_seconds(e.image.created_ns or 0), e.image.id))
    shared: dict[str, int] = {}
    if query.shared_size:
        listed = [e.image for e in entries]
        shared = shared_sizes(listed, listed if profile.is_containerd else store.images)
    placeholders = profile.none_placeholders_below is None or below(api_version, profile.none_placeholders_below)
    with_descriptor = profile.is_containerd and at_least(api_version, profile.descriptor_from)
    with_containers = at_least(api_version, profile.containers_from)
    virtual = _virtual_size_rule(profile, api_version)
    out = []
    for entry in entries:
        image = entry.image
        doc: dict[str, Any] = {
            "Containers": container_count(image, profile) if with_containers else -1,
            "Created": unix_seconds(image.created_ns) if image.created_ns is not None else 0,
            "Id": image.id,
            "Labels": labels_value(image, profile),
            "ParentId": image.parent,
        }
        if with_descriptor:
            doc["Descriptor"] = descriptor(image)
        if query.manifests and profile.is_containerd:
            doc["Manifests"] = [manifest_summary(m, query.identity) for m in image_manifests(image)]
        tags: list[str] | None = list(entry.repo_tags)
        digests: list[str] | None = list(entry.repo_digests)
        if placeholders:
            if not tags and not digests:
                tags, digests = [NONE_TAG], [NONE_DIGEST]
            tags = tags or None
            digests = digests or None
        doc["RepoDigests"] = digests
        doc["RepoTags"] = tags
        doc["SharedSize"] = shared.get(image.id, 0) if query.shared_size else -1
        doc["Size"] = image.size
        if virtual == "yes" or (virtual == "nonzero" and image.size != 0):
            doc["VirtualSize"] = image.size
        out.append(doc)
    return out


def _virtual_size_rule(profile: Profile, api_version: str) -> str:
    rule = profile.virtual_size
    if rule == "always":
        return "yes"
    if rule == "never" or not below(api_version, "1.44"):
        return "no"
    return "nonzero" if rule == "below_1.44_nonzero" else "yes"
