"""`DELETE /images/{name}` as the daemon decides it, as pure functions on an `ImageStore`.

`delete_image(store, value, profile, force=, prune=)` returns the new store and the daemon's
records (`[{"Untagged": ...}, {"Deleted": ...}]`) or raises `DaemonError` (404, 409); nothing here
touches a server or a lock. `fakedaemon` serves it as a route and uses it for `FakeDaemon.remove`
(its names stay importable from `fakedaemon`).
"""
from __future__ import annotations

from .errors import DaemonError
from .filters import resolve_image
from .model import Image, ImageStore
from .profiles import Profile
from .reference import DigestRef, Reference, ReferenceError, parse_any

__all__ = ["delete_image"]


def _short(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def _is_id_prefix(image_id: str, value: str) -> bool:
    """isImageIDPrefix: the caller named the image by (a prefix of) its id, not by a reference."""
    return image_id.startswith(value) or image_id.split(":", 1)[-1].startswith(value)


def _references(image: Image) -> list[Reference]:
    """Tags and digests, in the reference store's lexical order."""
    return sorted((*image.tags, *image.digests), key=lambda r: r.familiar)


def _single_reference(refs: list[Reference]) -> bool:
    """isSingleReference: all in one repository and at most one tag."""
    return len({r.name for r in refs}) <= 1 and sum(1 for r in refs if r.digest is None) <= 1


def _conflict(image: Image, store: ImageStore, *, soft: bool,
              references: bool = True) -> tuple[DaemonError, bool] | None:
    """checkImageDeleteConflict: (409 error, whether a container is the reason) or None.

    Containers in the model are treated as stopped ones (a soft conflict `force` overrides);
    dependent child images are a hard conflict even with `force`."""
    short = _short(image.id)
    if store.has_children(image.id):
        return DaemonError(409, f"conflict: unable to delete {short} (cannot be forced) - "
                                "image has dependent child images"), False
    if not soft:
        return None
    if references and _references(image):
        return DaemonError(409, f"conflict: unable to delete {short} (must be forced) - "
                                "image is referenced in multiple repositories"), False
    if image.containers:
        return DaemonError(409, f"conflict: unable to delete {short} (must be forced) - "
                                f"image is being used by stopped container {image.containers[0][:12]}"), True
    return None


def _untag_all(store: ImageStore, image_id: str, records: list[dict[str, str]]) -> ImageStore:
    for ref in _references(store.by_id[image_id]):
        store = store.untagged(store.by_id[image_id], ref)
        records.append({"Untagged": ref.familiar})
    return store


def _delete_helper(store: ImageStore, image_id: str, records: list[dict[str, str]], *,
                   force: bool, prune: bool, quiet: bool) -> ImageStore:
    """imageDeleteHelper: delete the image (and, pruning, its dangling parents) or refuse."""
    image = store.by_id[image_id]
    found = _conflict(image, store, soft=not force)
    if found is not None:
        error, used = found
        dangling = not _references(image) and not store.has_children(image_id)
        if quiet and (not dangling or used):
            return store
        raise error
    store = _untag_all(store, image_id, records)
    store = store.without(image_id)
    records.append({"Deleted": image_id})
    if prune and image.parent and image.parent in store.by_id:
        return _delete_helper(store, image.parent, records, force=False, prune=True, quiet=True)
    return store


def delete_image(store: ImageStore, value: str, profile: Profile, *, force: bool = False,
                 prune: bool = True) -> tuple[ImageStore, list[dict[str, str]]]:
    """`DELETE /images/{value}` as the graphdriver daemon decides it: new store and the records.

    A reference (`repo:tag`, `repo@digest`) is untagged; the image goes when that was its last
    reference (digests of the same repository go with the last tag of that repository).  An id
    removes the image with all its references when they are in one repository (or with
    `force`).  409 for dependent child images (even with force), for stopped containers and for
    references in several repositories (without force); 404 `No such image: x:latest`.
    Simplifications: `Deleted` lists only image ids (no layer chain ids), and the containerd
    store follows the same rules.
    """
    image = resolve_image(store, value, profile)
    records: list[dict[str, str]] = []
    refs = _references(image)
    if _is_id_prefix(image.id, value):
        if _single_reference(refs):
            found = _conflict(image, store, soft=not force, references=False)
            if found is not None:
                raise found[0]
            store = _untag_all(store, image.id, records)
        store = _delete_helper(store, image.id, records, force=force, prune=prune, quiet=False)
        return store, records
    try:
        parsed = parse_any(value)
    except ReferenceError as exc:  # resolve_image accepted it, so this does not happen
        raise DaemonError(400, str(exc)) from None
    if isinstance(parsed, DigestRef):  # a full id is handled above; keep mypy content
        raise DaemonError(404, f"No such image: {value}")
    ref = parsed.with_default_tag()
    if not force and _single_reference(refs) and image.containers:
        raise DaemonError(409, f'conflict: unable to remove repository reference "{value}" (must force) - '
                               f"container {image.containers[0][:12]} is using its referenced image "
                               f"{_short(image.id)}")
    store = store.untagged(image, ref)
    records.append({"Untagged": ref.familiar})
    current = store.by_id[image.id]
    if ref.digest is None and not any(t.name == ref.name for t in current.tags):
        for digest in [d for d in _references(current) if d.digest is not None and d.name == ref.name]:
            store = store.untagged(store.by_id[image.id], digest)
            records.append({"Untagged": digest.familiar})
    if _references(store.by_id[image.id]):
        return store, records
    store = _delete_helper(store, image.id, records, force=force, prune=prune, quiet=True)
    return store, records
