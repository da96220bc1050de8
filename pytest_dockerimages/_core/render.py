"""ImageSummary documents per profile, API version and query, and the daemon's JSON encoding."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Literal, Mapping

from .filters import Entry, select
from .model import Image, ImageStore, Manifest
from .profiles import Profile, at_least, below
from .query import ListQuery, filters_key
from .timestamps import unix_seconds

NONE_TAG = "<none>:<none>"
NONE_DIGEST = "<none>@<none>"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


def encode(document: Any) -> bytes:
    """json.Encoder with SetEscapeHTML(false): compact, UTF-8, trailing newline."""
    return _encode_value(document) + b"\n"


def _encode_value(document: Any) -> bytes:
    """`encode` without the newline. Encoding a list item by item and joining the pieces with
    commas gives the same bytes as encoding the whole list, which `summaries_body` relies on."""
    text = _to_json(document)
    if "\u2028" in text or "\u2029" in text:
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8", "replace")


def _json_encoder() -> Callable[[Any], str]:
    """Compact JSON text, no ASCII escaping. Why not `json.dumps`: it builds a new encoder at every
    call, a quarter of a summary's cost; the stdlib's C encoder, made once, is used when present."""
    from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

    plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    if c_make_encoder is None:
        return plain

    def unsupported(value: Any) -> Any:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    try:
        made = c_make_encoder(None, unsupported, encode_basestring, None, ":", ",", False, False, True)
    except TypeError:  # another signature in this Python
        return plain

    def fast(document: Any) -> str:
        return "".join(made(document, 0))

    sample = {"a": [1, None, True, "\u00e9<>&\u2028"], "b": {"c": -1.5}}
    return fast if fast(sample) == plain(sample) else plain


_to_json = _json_encoder()


def labels_value(image: Image, profile: Profile) -> dict[str, str] | None:
    if image.labels is None:
        return {} if profile.labels_when_none == "empty" else None
    return dict(sorted(image.labels.items()))


def image_manifests(image: Image) -> tuple[Manifest, ...]:
    """The index entries of a containerd-store image; a single-platform image has one."""
    if image.manifests:
        return image.manifests
    # the daemon's image Size is its manifests' Size.Total (content plus unpacked snapshot): keep that
    # true, the layers' snapshots unpacked where they leave room for content (a snapshot of a daemon
    # without manifests), else half of it, as no daemon said otherwise
    layers = sum(layer.size for layer in image.layers)
    unpacked, size = layers if 0 < layers < image.size else image.size // 2, _descriptor_size(image)
    return (Manifest(id=image.id, platform={"architecture": image.architecture, "os": image.os},
                     size=size, content_size=max(image.size - unpacked - size, 0), unpacked_size=unpacked,
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
    """ImageManifestSummary in Go struct order: Size is {Content, Total}, ImageData is Platform,
    [Identity], Size, Containers (null without containers), as the daemon encodes them."""
    desc: dict[str, Any] = dict(m.descriptor) if m.descriptor is not None else {
        "mediaType": m.media_type, "digest": m.id, "size": m.size}
    content = m.size + m.content_size
    out: dict[str, Any] = {
        "ID": m.id, "Descriptor": desc, "Available": m.available,
        "Size": {"Content": content, "Total": content + (m.unpacked_size if m.available else 0)},
        "Kind": m.kind,
    }
    if m.kind == "image":
        data: dict[str, Any] = {"Platform": _platform(m.platform)}
        if identity and m.identity is not None:
            data["Identity"] = m.identity
        data["Size"] = {"Unpacked": m.unpacked_size if m.available else 0}
        data["Containers"] = list(m.containers) if m.containers else None
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


@dataclass(frozen=True)
class _Plan:
    """What a summary's shape depends on besides the image: derived from profile, version, query."""

    placeholders: bool
    with_descriptor: bool
    with_containers: bool
    virtual: str
    manifests: bool
    identity: bool
    shared_size: bool
    empty_refs_null: bool = False  # the image service's own nil slices (what /system/df shows), not the router's []

    @classmethod
    def of(cls, profile: Profile, api_version: str, query: ListQuery) -> _Plan:
        return cls(
            placeholders=profile.none_placeholders_below is None or below(api_version, profile.none_placeholders_below),
            with_descriptor=profile.is_containerd and at_least(api_version, profile.descriptor_from),
            with_containers=at_least(api_version, profile.containers_from),
            virtual=virtual_size_rule(profile, api_version),
            manifests=query.manifests and profile.is_containerd,
            identity=query.identity,
            shared_size=query.shared_size,
        )


def _shared(entries: list[Entry], store: ImageStore, profile: Profile) -> dict[str, int]:
    listed = [e.image for e in entries]
    return shared_sizes(listed, listed if profile.is_containerd or profile.shared_size_over_listed else store.images)


def _summary(entry: Entry, profile: Profile, plan: _Plan, shared_size: int) -> dict[str, Any]:
    """One ImageSummary in Go struct order."""
    image = entry.image
    doc: dict[str, Any] = {
        "Containers": container_count(image, profile) if plan.with_containers else -1,
        "Created": unix_seconds(image.created_ns) if image.created_ns is not None else 0,
        "Id": image.id,
        "Labels": labels_value(image, profile),
        "ParentId": image.parent,
    }
    if plan.with_descriptor:
        doc["Descriptor"] = descriptor(image)
    if plan.manifests:
        doc["Manifests"] = [manifest_summary(m, plan.identity) for m in image_manifests(image)]
    tags: list[str] | None = list(entry.repo_tags)
    digests: list[str] | None = list(entry.repo_digests)
    if plan.placeholders:
        if not tags and not digests:
            tags, digests = [NONE_TAG], [NONE_DIGEST]
    if plan.placeholders or plan.empty_refs_null:
        tags = tags or None
        digests = digests or None
    doc["RepoDigests"] = digests
    doc["RepoTags"] = tags
    doc["SharedSize"] = shared_size
    doc["Size"] = image.size
    if plan.virtual == "yes" or (plan.virtual == "nonzero" and image.size != 0):
        doc["VirtualSize"] = image.size
    return doc


def summaries(entries: list[Entry], store: ImageStore, profile: Profile, api_version: str,
              query: ListQuery) -> list[dict[str, Any]]:
    """The response body of GET /images/json (a list of ImageSummary), sorted newest first."""
    return planned_summaries(entries, store, profile, _Plan.of(profile, api_version, query))


def planned_summaries(entries: list[Entry], store: ImageStore, profile: Profile, plan: _Plan) -> list[dict[str, Any]]:
    """`summaries` for a plan of the caller's (what /system/df renders), sorted newest first."""
    entries = sorted(entries, key=lambda e: (-unix_seconds(e.image.created_ns or 0), e.image.id))
    shared = _shared(entries, store, profile) if plan.shared_size else {}
    return [_summary(e, profile, plan, shared.get(e.image.id, 0) if plan.shared_size else -1) for e in entries]


def summaries_body(entries: list[Entry], store: ImageStore, profile: Profile, api_version: str,
                   query: ListQuery) -> bytes:
    """`encode(summaries(...))`, byte for byte, for entries that `select` took from this `store`.

    Why: encoding is most of a listing's cost, and the same image renders to the same bytes
    every time for the same profile, API version and query flags. So each summary's JSON is
    encoded once and kept on the (immutable) store, per image, with what else it depends on
    (its RepoTags/RepoDigests after filtering, its SharedSize); a response joins the pieces.
    One piece per image and plan is kept (the latest), in a list indexed by the entry's listing
    position (no dict to grow and probe), so the cache stays as big as the store.
    `entries` come in the order `select` yields them, the store's listing order, which is the
    order `summaries` sorts into: no sorting here.
    """
    plan = _Plan.of(profile, api_version, query)
    shared = _shared(entries, store, profile) if query.shared_size else None
    cache: list[tuple[tuple[str, ...], tuple[str, ...], int, bytes] | None] = store.derived(
        ("summary_fragments", profile, plan), lambda s: [None] * len(s.images))
    parts = []
    for entry in entries:
        shared_size = shared.get(entry.image.id, 0) if shared is not None else -1
        hit = cache[entry.position]
        if hit is not None and hit[0] == entry.repo_tags and hit[1] == entry.repo_digests and hit[2] == shared_size:
            parts.append(hit[3])
            continue
        fragment = _encode_value(_summary(entry, profile, plan, shared_size))
        cache[entry.position] = (entry.repo_tags, entry.repo_digests, shared_size, fragment)
        parts.append(fragment)
    return b"[" + b",".join(parts) + b"]\n"


def listing_body(store: ImageStore, profile: Profile, api_version: str, query: ListQuery, now_ns: int) -> bytes:
    """The GET /images/json body: `select`, then `summaries_body`, memoised per store.

    Why: an answer depends on nothing but the store, the profile, the rendering plan, `all` and
    the filters, except `until`, whose durations ("10m") count back from the clock. The store never
    changes, so repeating a listing (what clients, poll loops and tests do most) costs a dict lookup.
    The plain listing is kept for the store's life; filtered ones in a bounded memo
    (`FILTERED_BODIES_KEPT` bodies, `FILTERED_BYTES_KEPT` bytes in all, oldest out first).
    """
    plan = _Plan.of(profile, api_version, query)

    def build(s: ImageStore) -> bytes:
        return summaries_body(select(s, query, profile, now_ns), s, profile, api_version, query)

    if not query.filters:
        return store.derived(("plain_listing_body", profile, plan, query.all), build)
    if "until" in query.filters:
        return build(store)
    memo: dict[Hashable, bytes] = store.derived("filtered_listing_bodies", lambda _: {})
    key = (profile, plan, query.all, filters_key(query.filters))
    body = memo.get(key)
    if body is None:
        body = build(store)
        _keep(memo, key, body)
    return body


FILTERED_BODIES_KEPT = 32
FILTERED_BYTES_KEPT = 128 << 20


def _keep(memo: dict[Hashable, bytes], key: Hashable, body: bytes) -> None:
    """Insert, then drop the oldest bodies past the bounds. Threads may race here; losing a body
    only costs building it again, so a failed pop is ignored."""
    if len(body) > FILTERED_BYTES_KEPT:
        return
    memo[key] = body
    try:
        while len(memo) > FILTERED_BODIES_KEPT or sum(map(len, list(memo.values()))) > FILTERED_BYTES_KEPT:
            memo.pop(next(iter(memo)), None)
    except (StopIteration, RuntimeError):
        pass


def sends_virtual_size(profile: Profile, api_version: str) -> bool:
    """VirtualSize (always equal to Size) is in the documents at this API version (removed in 1.44)."""
    return profile.virtual_size_below is None or below(api_version, profile.virtual_size_below)


def virtual_size_rule(profile: Profile, api_version: str) -> Literal["yes", "nonzero", "no"]:
    """Whether a summary has VirtualSize: "yes", "nonzero" (omitted when 0, Go's omitempty) or "no"."""
    if not sends_virtual_size(profile, api_version):
        return "no"
    return "nonzero" if profile.virtual_size_omits_zero else "yes"
