"""`assert_filter_semantics`: a listing is exactly what the daemon lists for these filters over a
universe of images, decided by the daemon's own `select` over a store rebuilt from that universe."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .._core.errors import DaemonError
from .._core.filters import Entry, resolve_image, select
from .._core.listed import build_images
from .._core.model import Image, ImageStore, ModelError
from .._core.profiles import DEFAULT_PROFILE, PROFILES, Profile, get_profile
from .._core.query import ListQuery
from .._core.render import NONE_DIGEST, NONE_TAG
from .._core.timestamps import NANOS, TimestampError, parse_until
from .common import (
    Body,
    FiltersLike,
    Problem,
    ProfileLike,
    canonical_text,
    documents,
    fail,
    filter_args,
    image_label,
    label,
)


def _looks_containerd(docs: Sequence[Mapping[str, Any]]) -> bool:
    """Containerd-store listings give themselves away: digest records in RepoTags, RepoDigests that
    point at the image id itself (the graphdriver's point at a manifest), or a Descriptor."""
    for doc in docs:
        if "Descriptor" in doc or "Manifests" in doc:
            return True
        for tag in doc.get("RepoTags") or ():
            if isinstance(tag, str) and "@" in tag:
                return True
        for digest in doc.get("RepoDigests") or ():
            if isinstance(digest, str) and digest != NONE_DIGEST and digest.rpartition("@")[2] == doc.get("Id"):
                return True
    return False


def _guess_profile(docs: Sequence[Mapping[str, Any]]) -> Profile:
    """The profile a listing looks like: its image store, and the default profile's release unless the
    listing rules that out (an image with Labels null, where the release sends {}); then the newest
    release of the store that fits."""
    store = "containerd" if _looks_containerd(docs) else "graphdriver"
    fits = [p for p in PROFILES.values() if p.store == store]
    if any("Labels" in doc and doc["Labels"] is None for doc in docs):
        fits = [p for p in fits if p.labels_when_none == "null"] or fits
    default = get_profile(DEFAULT_PROFILE)
    return ([p for p in fits if p.engine_version == default.engine_version] or fits)[-1]  # oldest release first


def _image_from_summary(doc: Mapping[str, Any], containerd: bool, where: str) -> Image:
    """Rebuild the model image a summary shows, as snapshot and a cassette's fallback fake do."""
    try:
        return build_images([doc], {}, "containerd" if containerd else "graphdriver")[0]
    except (ModelError, TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"universe listing {where}: cannot rebuild the image: {exc}") from None


@dataclass
class _Universe:
    store: ImageStore
    profile: Profile
    seconds_only: bool  # rebuilt from a listing: Created is known to the second only
    record_times_known: bool  # containerd `until` reads record times, which only a store or seed holds
    note: str
    now_ns: int

    @property
    def precise(self) -> bool:
        return not self.seconds_only and (self.record_times_known or not self.profile.is_containerd)


def _universe(universe: Any, result_docs: Sequence[Mapping[str, Any]], profile: ProfileLike,
              now_ns: int | None) -> _Universe:
    """A FakeDaemon (anything with `.images` and `.profile`), a list of Image, or an `all=1` listing."""
    if hasattr(universe, "images") and hasattr(universe, "profile") and not isinstance(universe, (list, tuple)):
        chosen = get_profile(profile) if profile is not None else get_profile(universe.profile)
        store = getattr(universe, "store", None)
        if not isinstance(store, ImageStore):
            store = ImageStore(universe.images)
        clock = getattr(universe, "clock", None)
        now = now_ns if now_ns is not None else (clock() if callable(clock) else time.time_ns())
        return _Universe(store, chosen, False, True, f"profile {chosen.name}", now)
    now = now_ns if now_ns is not None else time.time_ns()
    if isinstance(universe, ImageStore):
        chosen = get_profile(profile)
        return _Universe(universe, chosen, False, True, f"profile {chosen.name}", now)
    if isinstance(universe, (list, tuple)) and universe and all(isinstance(i, Image) for i in universe):
        chosen = get_profile(profile)
        known = all(i.record_created_ns is not None for i in universe)
        return _Universe(ImageStore(universe), chosen, False, known, f"profile {chosen.name}", now)
    docs, problems = documents(universe)
    if problems:
        raise ValueError("universe: " + "; ".join(p.text for p in problems))
    if profile is not None:
        chosen = get_profile(profile)
        note = f"profile {chosen.name}"
    else:
        chosen = _guess_profile([*docs, *result_docs])
        note = f"profile {chosen.name}, guessed from the listing: pass profile= to be exact"
    images = [_image_from_summary(doc, chosen.is_containerd, label(doc, i)) for i, doc in enumerate(docs)]
    return _Universe(ImageStore(images), chosen, True, False, note, now)


def _run(u: _Universe, args: Mapping[str, Mapping[str, bool]], all_: bool) -> dict[str, Entry]:
    """The daemon's own selection over the universe."""
    query = ListQuery(all=all_, filters=args, shared_size=False, manifests=False, identity=False)
    return {entry.image.id: entry for entry in select(u.store, query, u.profile, u.now_ns)}


_TIME_KEYS = ("before", "since", "until")


def _uncertain(u: _Universe, args: Mapping[str, Mapping[str, bool]], candidates: Iterable[str]) -> set[str]:
    """Images the universe cannot decide: from a listing, Created is whole seconds, so an image created
    in the same second as a before/since image (or an `until` instant) may fall on either side; and
    containerd's `until` reads record times that neither a listing nor a plain image list holds."""
    out: set[str] = set()
    cut_seconds: set[int] = set()
    references: set[str] = set()
    partial_until: list[int] = []
    for key in ("before", "since"):
        for value in args.get(key, {}):
            try:
                image = resolve_image(u.store, value, u.profile)
            except DaemonError:
                continue
            references.add(image.id)
            if image.created_ns is not None:
                cut_seconds.add(image.created_ns // NANOS)
    for value in args.get("until", {}):
        try:
            partial_until.append(parse_until(value, u.now_ns))
        except TimestampError:
            continue
    for image_id in candidates:
        image = u.store.by_id[image_id]
        if "until" in args and u.profile.is_containerd and not u.record_times_known:
            out.add(image_id)
            continue
        if not u.seconds_only:
            continue
        seconds = (image.created_ns or 0) // NANOS
        if image_id not in references and seconds in cut_seconds:
            out.add(image_id)
        if any(seconds * NANOS < cut < (seconds + 1) * NANOS for cut in partial_until):
            out.add(image_id)
    return out


def _refs_of(image: Image) -> list[str]:
    return [r.familiar for r in (*image.tags, *image.digests)]


def _fact(key: str, value: str, image: Image, u: _Universe) -> str:
    """What about the image decides this filter value, so the reader need not look it up."""
    if key in ("label", "label!"):
        return f"its labels are {json.dumps(image.labels)}"
    if key == "dangling":
        tags = [t.familiar for t in image.tags]
        text = f"it has tags {tags}" if tags else "it has no tag"
        if u.store.has_children(image.id):
            text += " and child images"
        return text
    if key == "reference":
        refs = _refs_of(image)
        return f"its references are {refs}" if refs else "it has no tag or digest"
    if key in ("before", "since"):
        try:
            other = resolve_image(u.store, value, u.profile)
        except DaemonError as exc:
            return exc.message
        side = "earlier" if key == "before" else "later"
        return (f"{key} keeps images created strictly {side} than {value} ({other.id[7:19]}, Created "
                f"{(other.created_ns or 0) // NANOS}); this one has Created {(image.created_ns or 0) // NANOS}")
    if key == "until":
        try:
            cut = parse_until(value, u.now_ns) // NANOS
        except TimestampError as exc:
            return str(exc)
        if u.profile.is_containerd:
            return f"until compares the image record's creation time with {cut} (unix seconds)"
        return f"it was created at {(image.created_ns or 0) // NANOS}, the cutoff is {cut} (unix seconds)"
    return ""


def _why_excluded(image: Image, u: _Universe, args: Mapping[str, Mapping[str, bool]], all_: bool) -> str:
    """Name the filter value (or the `all` rule) that keeps the daemon from listing this image."""
    reasons = []
    for key in sorted(args):
        values = sorted(args[key])
        if image.id in _run(u, {key: args[key]}, all_):
            continue
        culprits = [v for v in values if image.id not in _run(u, {key: {v: True}}, all_)] if len(values) > 1 else []
        shown = culprits or values
        for value in shown[:3]:
            reasons.append(f"filter {key}={value!r} rejects it ({_fact(key, value, image, u)})")
        if not shown:
            reasons.append(f"filter {key} (no value) rejects it")
    if image.id not in _run(u, {}, all_):
        reasons.append("all=0 hides it: an untagged image with child images is an intermediate layer, listed only "
                       "with all=1")
    if not reasons:
        reasons.append(f"each filter alone keeps it, but not all of them together ({canonical_text(args)})")
    return "; ".join(reasons)


def _shown_refs(doc: Mapping[str, Any], key: str, placeholder: str) -> list[str]:
    values = doc.get(key)
    if not isinstance(values, list):
        return []
    return sorted(v for v in values if isinstance(v, str) and v != placeholder)


def _compare_refs(doc: Mapping[str, Any], where: str, entry: Entry, args: Mapping[str, Any]) -> list[Problem]:
    """RepoTags/RepoDigests as the daemon trims them by `reference` (order free: only the set is defined)."""
    problems = []
    rule = "reference trimming" if "reference" in args else "references"
    why = (f"the reference filter {sorted(args['reference'])} keeps only the matching names" if "reference" in args
           else "the universe lists these names")
    for key, placeholder, expected in (("RepoTags", NONE_TAG, entry.repo_tags),
                                       ("RepoDigests", NONE_DIGEST, entry.repo_digests)):
        got = _shown_refs(doc, key, placeholder)
        want = sorted(expected)
        if got != want:
            extra = sorted(set(got) - set(want))
            missing = sorted(set(want) - set(got))
            detail = ", ".join(part for part in (f"extra {extra}" if extra else "",
                                                 f"missing {missing}" if missing else "") if part)
            problems.append(Problem(rule, where, f"{key} is {got}, expected {want} ({detail}; {why})"))
    return problems


def assert_filter_semantics(universe: Any, filters: FiltersLike, result: Body, *, all: bool = False,
                            profile: ProfileLike = None, now_ns: int | None = None) -> None:
    """`result` is exactly what the daemon lists for `filters` (and `all`) over `universe`.

    `universe`: an `all=1` listing (list of summaries, bytes or text), a list of `Image`, or a
    FakeDaemon (its images, store and profile).  Soundness: every listed image satisfies every
    filter; completeness: every image that does is listed; and RepoTags/RepoDigests are trimmed
    by `reference` as the daemon does.  The decision is the daemon's own `select` over a store
    rebuilt from the universe.  A listing carries Created in whole seconds only, so images created
    in the same second as a before/since cutoff are accepted either way.  `now_ns` is the time
    `until` durations count from (default: the FakeDaemon's `clock`, else now).
    """
    __tracebackhide__ = True
    all_ = bool(all)
    docs, problems = documents(result)
    u = _universe(universe, docs, profile, now_ns)
    args = filter_args(filters, u.profile)
    title = f"listing does not match filters {canonical_text(args)}{' with all=1' if all_ else ''} ({u.note})"
    try:
        expected = _run(u, args, all_)
    except DaemonError as exc:
        problems.append(Problem("filters", "", f"the daemon answers {exc.status} {exc.message!r} to these filters, "
                                               f"not a listing"))
        fail(title, problems)
        return
    relaxed = expected
    uncertain: set[str] = set()
    if not u.precise and any(k in args for k in _TIME_KEYS):
        relaxed = _run(u, {k: v for k, v in args.items() if k not in _TIME_KEYS}, all_)
        uncertain = _uncertain(u, args, relaxed)
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        where = label(doc, i)
        image_id = doc.get("Id")
        if not isinstance(image_id, str):
            problems.append(Problem("Id", where, f"Id is {image_id!r}"))
            continue
        if image_id in seen:
            problems.append(Problem("Id", where, "listed twice, expected each image once"))
            continue
        seen.add(image_id)
        entry = expected.get(image_id) or (relaxed.get(image_id) if image_id in uncertain else None)
        if entry is not None:
            problems += _compare_refs(doc, where, entry, args)
            continue
        image = u.store.by_id.get(image_id)
        if image is None:
            problems.append(Problem("soundness", where, "listed, but the universe has no such image"))
            continue
        problems.append(Problem("soundness", where, "listed, but " + _why_excluded(image, u, args, all_)))
    for image_id, entry in expected.items():
        if image_id in seen or image_id in uncertain:
            continue
        refs = [*entry.repo_tags, *entry.repo_digests]
        problems.append(Problem("completeness", image_label(entry.image),
                                f"satisfies every filter{' (with all=1)' if all_ else ''} but is not listed "
                                f"(expected with RepoTags {list(entry.repo_tags)}" +
                                 (f", RepoDigests {list(entry.repo_digests)})" if refs else ")")))
    fail(title, problems)
