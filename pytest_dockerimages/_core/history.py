"""`GET /images/{name}/history` as each daemon answers it (pure: store + request in, document out).

The entries are the image config's history, newest first. The first gets the image's id and the
following ones the ids of its ancestors, one per entry (the daemon walks ParentId, or on the
containerd store the classic builder's parent label); the rest are `<missing>`. `Tags` are the
references of that image: tags on the graphdriver store, every non-dangling name (digest
references too) on the containerd store; null when there are none.

An image without history data (`Image.history` is None: a marker dict, an older seed) gets one
entry per layer, as a daemon shows an image whose config lists one history entry per layer with
nothing but the image's creation time: `Created` the image's, `CreatedBy` and `Comment` empty,
`Size` the layer's size.

With `platform` (Docker 28+, API 1.48+) the graphdriver store answers 404 unless the image's own
platform matches; the containerd store answers the history of the index's best matching manifest
that is there (`Manifest.presence`), with containerd's platform matching (arm64 runs arm/v8 and
below, amd64 runs 386) and, for a manifest without its snapshots, the release's answer
(`Profile.history_missing_snapshot_error`).
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any, Mapping, Sequence

from .errors import DaemonError, not_found
from .filters import resolve_image
from .model import HistoryEntry, Image, ImageStore
from .platforms import best_manifest, check_image_platform, decode_platform
from .profiles import Profile, at_least
from .reference import Reference
from .timestamps import unix_seconds

MISSING_ID = "<missing>"


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """identity.ChainIDs: the snapshot name of each layer with those below it."""
    chains: list[str] = []
    for diff_id in diff_ids:
        chains.append(diff_id if not chains else
                      "sha256:" + hashlib.sha256(f"{chains[-1]} {diff_id}".encode()).hexdigest())
    return chains


def _unpacked_chains(store: ImageStore) -> frozenset[str]:
    """The snapshots the store holds: each image's layers and each unpacked manifest's diff ids."""
    chains: set[str] = set()
    for image in store.images:
        chains.update(chain_ids([layer.digest for layer in image.layers]))
        chains.update(c for m in image.manifests if m.found_as == "unpacked" for c in chain_ids(m.diff_ids))
    return frozenset(chains)


def platform_entries(store: ImageStore, image: Image, name: str, want: Mapping[str, Any],
                     profile: Profile) -> tuple[HistoryEntry, ...]:
    """The history of the platform the client asked for, or the daemon's 404."""
    if not profile.is_containerd:
        check_image_platform(image, name, want)
        return entries_of(image)
    manifest = best_manifest(image, name, want, strict=False, usable=lambda m: m.found_as != "absent")
    if manifest.found_as == "config":
        error = profile.history_missing_snapshot_error
        present = store.derived("unpacked_chains", _unpacked_chains)
        missing = next((c for c in chain_ids(manifest.diff_ids) if c not in present), None)
        if error is not None and missing is not None:
            raise not_found(error.format(chain=missing))
        if manifest.history is None:
            return tuple(replace(entry, size=0) for entry in entries_of(image))
    return manifest.history if manifest.history is not None else entries_of(image)


def entries_of(image: Image) -> tuple[HistoryEntry, ...]:
    """The image's history, oldest first; one entry per layer when the seed gave none."""
    if image.history is not None:
        return image.history
    return tuple(HistoryEntry(image.created_ns, "", "", layer.size) for layer in image.layers)


def history_tags(image: Image, profile: Profile) -> list[str] | None:
    """The `Tags` of one entry, in the order the daemon's store lists the references."""
    refs: tuple[Reference, ...] = image.tags + image.digests if profile.is_containerd else image.tags
    names = sorted(refs, key=lambda r: str(r))
    return [r.familiar for r in names] or None


def history_document(store: ImageStore, image: Image, profile: Profile,
                     entries: Sequence[HistoryEntry] | None = None) -> list[dict[str, Any]]:
    """The response body: HistoryResponseItem list, newest first, keys in Go struct order.
    `entries`: another platform's (default: the image's own)."""
    out = []
    for entry in reversed(entries_of(image) if entries is None else entries):
        out.append({"Comment": entry.comment,
                    "Created": unix_seconds(entry.created_ns) if entry.created_ns is not None else 0,
                    "CreatedBy": entry.created_by, "Id": MISSING_ID, "Size": entry.size, "Tags": None})
    current: Image | None = image
    for item in out:
        if current is None:
            break
        item["Id"] = current.id
        item["Tags"] = history_tags(current, profile)
        current = store.by_id.get(current.parent) if current.parent else None
    return out


def image_history(store: ImageStore, name: str, profile: Profile, api_version: str,
                  platform_text: str | None) -> list[dict[str, Any]]:
    """The route: the `platform` parameter (where the release reads it), then the image, then its history."""
    want = None
    if at_least(api_version, profile.history_platform_from) and platform_text:
        want = decode_platform(platform_text)
    image = resolve_image(store, name, profile)
    entries = None if want is None else platform_entries(store, image, name, want, profile)
    return history_document(store, image, profile, entries)


__all__ = ["DaemonError", "MISSING_ID", "chain_ids", "entries_of", "history_document", "image_history",
           "platform_entries"]
