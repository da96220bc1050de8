"""`POST /images/prune` as each daemon decides it, as pure functions on an `ImageStore`.

`prune_images(store, filters_text, profile, now_ns)` returns the new store and the report
(`{"ImagesDeleted": [...] | None, "SpaceReclaimed": N}`) or raises `DaemonError`; the fake applies
the new store atomically, so the next listing shows the result.

Graphdriver (daemon/images/image_prune.go): the candidates are the heads (images without children)
or, with `dangling=false`, every image, less untagged images with children, images created after
`until` and images whose labels fail `label`/`label!`; each goes through `DELETE /images` without
force, by each of its references (in the reference store's order) or by id, and a refused delete
(409: a container uses it, a child needs it) is skipped. `Deleted` lists the image ids and then the
layer chains each one released; `SpaceReclaimed` sums those layers' sizes.

Containerd (daemon/containerd/image_prune.go): the candidates are image records (one per name),
dangling ones only unless `dangling=false`, filtered as the listing filters them; an image a
container uses keeps one record. Each removed record gives `Untagged`; an image whose last record
went (a tagged image's RepoDigests are no records of their own) gives `Deleted` for its target (and
the manifests of an index); `SpaceReclaimed` is the unshared content of the removed images (Docker 29
also counts their unpacked snapshots).

The daemon walks its candidates in Go map order (random); the fake takes them in listing order, so a
report lists the same records as the daemon's, in an order the daemon may also have chosen.
"""
from __future__ import annotations

import hashlib
from typing import Any

from .deletion import delete_image
from .errors import DaemonError
from .filters import (
    _invalid_filter,
    _until_cutoffs,
    _values,
    dangling_only,
    image_records,
    listing_order,
    match_kv_list,
    select,
)
from .model import Image, ImageStore, _with
from .profiles import Profile
from .query import FilterArgs, ListQuery, filters_from_json
from .render import image_manifests

PRUNE_FILTER_KEYS = frozenset({"dangling", "label", "label!", "until"})


def parse_prune_filters(text: str, profile: Profile) -> dict[str, dict[str, bool]]:
    """filters.FromJSON, then Validate against the keys prune accepts."""
    args = filters_from_json(text, profile)
    for key in sorted(args):
        if key not in PRUNE_FILTER_KEYS:
            raise _invalid_filter(profile, key)
    return args


def prune_dangling_only(args: FilterArgs, profile: Profile) -> bool:
    """Whether only dangling images go: true unless `dangling` says false (or the daemon refuses)."""
    if "dangling" not in args:
        return True
    if not profile.dangling_exact_match:
        only = dangling_only(args, profile)
        return True if only is None else only
    values = args["dangling"]  # <= 23: ExactMatch, "false" checked first; an empty set matches anything
    if not values or values.get("false", False) or values.get("0", False):
        return False
    if values.get("true", False) or values.get("1", False):
        return True
    raise _invalid_filter(profile, "dangling", _values(args, "dangling"))


# --------------------------------------------------------------------------- graphdriver


def chain_ids(image: Image) -> list[str]:
    """The layer store's ChainIDs of the image's layers, bottom first (identity.ChainIDs)."""
    out: list[str] = []
    for layer in image.layers:
        chain = layer.digest if not out else "sha256:" + hashlib.sha256(
            f"{out[-1]} {layer.digest}".encode()).hexdigest()
        out.append(chain)
    return out


def _layer_sizes(store: ImageStore) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for image in store.images:
        for chain, layer in zip(chain_ids(image), image.layers, strict=True):
            sizes.setdefault(chain, layer.size)
    return sizes


def _graphdriver_until(args: FilterArgs, profile: Profile, now_ns: int) -> int | None:
    if "until" not in args:
        return None
    if len(args["until"]) > 1:
        raise DaemonError(profile.until_error_status, "more than one until filter specified")
    return _until_cutoffs(args, profile, now_ns)[0]


def _labels_match(args: FilterArgs, image: Image) -> bool:
    """matchLabels: `label` must all match; `label!` given and all matching excludes the image."""
    if "label" in args and not match_kv_list(_values(args, "label"), image.labels):
        return False
    return not ("label!" in args and match_kv_list(_values(args, "label!"), image.labels))


def _with_released_layers(records: list[dict[str, str]], before: ImageStore, after: ImageStore,
                          reported: set[str]) -> list[dict[str, str]]:
    """Insert, after each deleted image, the layer chains its deletion released (top first)."""
    deleted = [r["Deleted"] for r in records if "Deleted" in r]
    out: list[dict[str, str]] = []
    for record in records:
        out.append(record)
        image_id = record.get("Deleted")
        if image_id is None or image_id not in before.by_id:
            continue
        later = deleted[deleted.index(image_id) + 1:]
        still_used = {c for image in (*after.images, *(before.by_id[i] for i in later)) for c in chain_ids(image)}
        for chain in reversed(chain_ids(before.by_id[image_id])):
            if chain not in still_used and chain not in reported:
                reported.add(chain)
                out.append({"Deleted": chain})
    return out


def _prune_graphdriver(store: ImageStore, args: FilterArgs, profile: Profile,
                       now_ns: int) -> tuple[ImageStore, list[dict[str, str]], int]:
    only_dangling = prune_dangling_only(args, profile)
    until = _graphdriver_until(args, profile, now_ns)
    candidates = []
    for image in listing_order(store):
        if only_dangling and store.has_children(image.id):
            continue  # imageStore.Heads(): images without children
        if not (image.tags or image.digests) and store.has_children(image.id):
            continue
        if until is not None and (image.created_ns is None or image.created_ns > until):
            continue
        if not _labels_match(args, image):
            continue
        candidates.append(image.id)
    sizes = _layer_sizes(store)
    records: list[dict[str, str]] = []
    reported: set[str] = set()
    for image_id in candidates:
        current = store.by_id.get(image_id)
        if current is None:
            continue  # pruned with a child earlier in this walk
        refs = sorted((*current.tags, *current.digests), key=str)
        if refs and only_dangling and any(r.digest is None for r in refs):
            continue  # a tagged image is not dangling
        names = [str(r) for r in refs] or [image_id.split(":", 1)[1]]
        for name in names:
            try:
                new_store, deleted = delete_image(store, name, profile, force=False, prune=True)
            except DaemonError:
                continue  # imageDeleteFailed: conflicts and missing references are skipped
            records += _with_released_layers(deleted, store, new_store, reported)
            store = new_store
    reclaimed = sum(sizes[r["Deleted"]] for r in records if r.get("Deleted") in sizes)
    return store, records, reclaimed


# --------------------------------------------------------------------------- containerd


def _used_by_containers(image: Image) -> bool:
    return bool(image.containers) or any(m.containers for m in image.manifests)


def _unshared_size(image: Image, remaining: ImageStore, *, snapshots: bool) -> int:
    """What removing the image frees: content (and, with `snapshots`, unpacked layers) that no
    remaining image shares."""
    if not snapshots:
        return sum(m.size + m.content_size for m in image.manifests) if image.manifests else 0
    used = {c for other in remaining.images for c in chain_ids(other)}
    return image.size - sum(layer.size for chain, layer in zip(chain_ids(image), image.layers, strict=True)
                            if chain in used)


def _prune_containerd(store: ImageStore, args: FilterArgs, profile: Profile,
                      now_ns: int) -> tuple[ImageStore, list[dict[str, str]], int]:
    only_dangling = prune_dangling_only(args, profile)
    rest = {k: v for k, v in args.items() if k != "dangling"}
    query = ListQuery(all=True, filters=rest, shared_size=False, manifests=False, identity=False)
    passing = {entry.image.id: set(entry.repo_tags) for entry in select(store, query, profile, now_ns)}
    records: list[dict[str, str]] = []
    reclaimed = 0
    for image in listing_order(store):
        if image.id not in passing:
            continue
        names = [r for r in image_records(image, profile.dangling_record_name) if not only_dangling or r.dangling]
        names = [r for r in names if r.dangling or r.familiar in passing[image.id]]
        if not names:
            continue
        everything = len(names) == len(image_records(image, profile.dangling_record_name))
        if _used_by_containers(image) and everything:
            names = names[:-1]  # the last name of a used image stays (a dangling one too)
        if not names:
            continue
        current = store.by_id[image.id]
        for record in names:
            ref = record.ref
            records.append({"Untagged": image.id if record.dangling else record.familiar})
            current = _with(current, tags=tuple(t for t in current.tags if t != ref),
                            digests=tuple(d for d in current.digests if d != ref))
        records_left = current.tags if image.tags else current.digests  # a tagged image's digests are no records
        if record.dangling or not records_left:
            store = store.without(image.id)
            records.append({"Deleted": image.id})
            records += [{"Deleted": m.id} for m in image_manifests(image) if image.manifests and m.id != image.id]
            reclaimed += _unshared_size(image, store, snapshots=profile.prune_counts_snapshots)
        else:
            store = ImageStore((current if i.id == image.id else i for i in store.images), store.loaded_at_ns)
    return store, records, reclaimed


def prune_images(store: ImageStore, filters_text: str, profile: Profile,
                 now_ns: int) -> tuple[ImageStore, dict[str, Any]]:
    """`POST /images/prune?filters=...`: the new store and the ImagesPruneReport."""
    args = parse_prune_filters(filters_text, profile)
    prune = _prune_containerd if profile.is_containerd else _prune_graphdriver
    new_store, records, reclaimed = prune(store, args, profile, now_ns)
    return new_store, {"ImagesDeleted": records or None, "SpaceReclaimed": reclaimed}


__all__ = ["PRUNE_FILTER_KEYS", "chain_ids", "parse_prune_filters", "prune_images"]
