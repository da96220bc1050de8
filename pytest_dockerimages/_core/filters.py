"""Filter validation and image selection, per image store (pure: store + query in, entries out).

Parse, validate, then apply, in the order each daemon does, so the same error wins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .errors import DaemonError, invalid_parameter, not_found, system_error
from .model import Image, ImageStore
from .profiles import Profile
from .query import ListQuery
from .reference import DigestRef, PatternError, Reference, ReferenceError, glob_match, parse_any, parse_normalized
from .timestamps import TimestampError, parse_until, unix_seconds

Args = Mapping[str, Mapping[str, bool]]


@dataclass(frozen=True, slots=True)
class Entry:
    """One listed image with the references the daemon shows for it (before rendering)."""

    image: Image
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    position: int  # the image's index in its store's `listing_order`: per-image caches are lists


def _values(args: Args, key: str) -> list[str]:
    """Args.Get: the keys of the value set, whatever their boolean (sorted: Go's order is random)."""
    return sorted(args.get(key, {}))


def _invalid_filter(profile: Profile, key: str, values: list[str] | None = None) -> DaemonError:
    message = f"{profile.invalid_filter_word} '{key}"
    if values is not None:
        message += "=[" + " ".join(values) + "]"
    return invalid_parameter(message + "'")


def validate_keys(args: Args, profile: Profile) -> None:
    for key in sorted(args):
        if key not in profile.filter_keys:
            raise _invalid_filter(profile, key)


def dangling_only(args: Args, profile: Profile) -> bool | None:
    """None when absent; else whether only dangling images are asked for (or a 400)."""
    if "dangling" not in args:
        return None
    values = args["dangling"]
    if profile.dangling_exact_match:  # <= 23: ExactMatch("true") wins, empty set counts as true
        if not values or values.get("true", False):
            return True
        if values.get("false", False):
            return False
        raise _invalid_filter(profile, "dangling", _values(args, "dangling"))
    if not values:
        raise _invalid_filter(profile, "dangling")
    is_false = values.get("0", False) or values.get("false", False)
    is_true = values.get("1", False) or values.get("true", False)
    if is_false == is_true:
        raise _invalid_filter(profile, "dangling", _values(args, "dangling"))
    return is_true


def resolve_image(store: ImageStore, value: str, profile: Profile) -> Image:
    """GetImage(refOrID): id, digest, name[:tag], name@digest or short id; 404/400 as the daemon."""
    try:
        ref = parse_any(value, lowercase_message_names_repo=profile.lowercase_error_names_repo)
    except ReferenceError as exc:
        raise invalid_parameter(str(exc)) from None
    if isinstance(ref, DigestRef):
        found = store.by_id.get(ref.digest)
        if found is None:
            raise not_found(f"No such image: {ref.digest}")
        return found
    named = ref.with_default_tag()
    image = store.by_digest(named) if named.digest else store.by_tag(named)
    if image is None and named.digest and profile.is_containerd:
        image = next((i for i in store.images if i.id == named.digest and _has_repo(i, named)), None)
    if image is None:
        image = store.by_id_prefix(value)
    if image is None:
        raise not_found(f"No such image: {named.familiar}")
    return image


def _has_repo(image: Image, ref: Reference) -> bool:
    return any(t.name == ref.name for t in (*image.tags, *image.digests))


def _created_cutoffs(store: ImageStore, args: Args, key: str, profile: Profile) -> list[int]:
    cutoffs = []
    for value in _values(args, key):
        image = resolve_image(store, value, profile)
        if image.created_ns is not None:
            cutoffs.append(image.created_ns)
    if not profile.before_since_and and cutoffs:
        return cutoffs[-1:]  # <= 23: the last value walked wins (Go map order; we take the last sorted)
    return cutoffs


def _until_cutoffs(args: Args, profile: Profile, now_ns: int) -> list[int]:
    cutoffs = []
    for value in _values(args, "until"):
        try:
            cutoffs.append(parse_until(value, now_ns))
        except TimestampError as exc:
            text = str(exc) if not profile.until_error_prefix else profile.until_error_prefix + exc.reason
            raise DaemonError(profile.until_error_status, text) from None
    return cutoffs


# --- label matching ----------------------------------------------------------------------

def match_kv_list(values: list[str], labels: Mapping[str, str] | None) -> bool:
    """graphdriver MatchKVList: every `k` exists, every `k=v` equals; no labels never matches."""
    if not values:
        return True
    if not labels:
        return False
    for value in values:
        key, has_value, expected = value.partition("=")
        if key not in labels:
            return False
        if has_value and labels[key] != expected:
            return False
    return True


@dataclass(frozen=True)
class _LabelCheck:
    key: str
    value: str
    only_exists: bool
    negate: bool


_LABEL_LIMIT = 4096


def _label_checks(args: Args) -> list[_LabelCheck]:
    checks = []
    for filter_name in ("label", "label!"):
        for text in _values(args, filter_name):
            key, found, value = text.partition("=")
            if len(key) + len(value) > _LABEL_LIMIT:
                raise invalid_parameter(
                    f"label key and value length ({len(key) + len(value)} bytes) greater than maximum size "
                    f"({_LABEL_LIMIT} bytes), key: {key[:10]}: invalid argument")
            negate = key.endswith("!")
            if negate:
                key = key[:-1]
            checks.append(_LabelCheck(key, value, not found, negate != (filter_name == "label!")))
    return checks


def _containerd_labels_match(checks: list[_LabelCheck], labels: Mapping[str, str] | None,
                             missing_matches_negation: bool) -> bool:
    labels = labels or {}
    for check in checks:
        exists = check.key in labels
        if check.only_exists:
            if exists == check.negate:
                return False
            continue
        if not exists:
            if check.negate and missing_matches_negation:
                continue
            return False
        if (labels[check.key] == check.value) == check.negate:
            return False
    return True


# --- reference matching ------------------------------------------------------------------

def _targets(ref: Reference, profile: Profile) -> list[str]:
    targets = [ref.familiar, ref.familiar_name]
    if profile.reference_matches_canonical:
        targets += [str(ref.with_default_tag()), ref.name]
    return targets


def reference_matches(patterns: list[str], ref: Reference, profile: Profile) -> bool:
    """FamiliarMatch against every pattern (OR). A malformed pattern raises PatternError."""
    for pattern in patterns:
        targets = _targets(ref, profile)
        if glob_match(pattern, targets[0]):
            return True
        for target in targets[1:]:
            try:
                if glob_match(pattern, target):
                    return True
            except PatternError:
                pass
    return False


# --- selection -----------------------------------------------------------------------------

def select(store: ImageStore, query: ListQuery, profile: Profile, now_ns: int) -> list[Entry]:
    """The images GET /images/json lists, with their RepoTags/RepoDigests, in listing order (newest first)."""
    validate_keys(query.filters, profile)
    choose = _select_containerd if profile.is_containerd else _select_graphdriver
    if not query.filters:
        # The plain listing (the request clients send most) depends on nothing but the store,
        # `all` and the store kind: choose once per store, not on every request.
        key = ("unfiltered", profile.store, profile.dangling_record_name, query.all)
        return list(store.derived(key, lambda s: tuple(choose(s, query, profile, now_ns))))
    return choose(store, query, profile, now_ns)


def _sorted_refs(image: Image) -> list[Reference]:
    return sorted((*image.tags, *image.digests), key=str)


def listing_order(store: ImageStore) -> tuple[Image, ...]:
    """The store's images in the listing's order (newest Created second first, then by id); cached."""
    return store.derived("listing_order", lambda s: tuple(
        sorted(s.images, key=lambda i: (-unix_seconds(i.created_ns or 0), i.id))))


_RefRow = tuple[Reference, str, bool]  # (reference, its familiar text, whether it is a digest)


def _reference_rows(image: Image) -> tuple[_RefRow, ...]:
    """An image's references in the reference store's order, with their familiar text."""
    return tuple((ref, ref.familiar, bool(ref.digest)) for ref in _sorted_refs(image))


def _graphdriver_entry(image: Image, position: int) -> Entry:
    """What the list shows for an image when no reference filter applies."""
    rows = _reference_rows(image)
    return Entry(image, tuple(f for _, f, d in rows if not d), tuple(f for _, f, d in rows if d), position)


def _select_graphdriver(store: ImageStore, query: ListQuery, profile: Profile, now_ns: int) -> list[Entry]:
    args = query.filters
    only_dangling = dangling_only(args, profile)
    before = _created_cutoffs(store, args, "before", profile)
    before += _until_cutoffs(args, profile, now_ns) if "until" in args else []
    since = _created_cutoffs(store, args, "since", profile)
    before_cut = min(before) if before else None
    since_cut = max(since) if since else None
    has_label = "label" in args
    label_values = _values(args, "label")
    patterns = _values(args, "reference")
    has_reference = "reference" in args
    # Kept per store, by listing position, and built when the loop first reaches an image: a
    # listing neither formats every image's references again on each request, nor walks all
    # images an extra time on its first. The rows only when a reference filter needs them.
    entries: list[Entry | None] = store.derived("graphdriver_entries", lambda s: [None] * len(s.images))
    ref_rows: list[tuple[_RefRow, ...] | None] = (
        store.derived("graphdriver_ref_rows", lambda s: [None] * len(s.images)) if has_reference else [])
    out = []
    # Listing order, so the summaries' sort finds the entries already in order.
    for position, image in enumerate(listing_order(store)):
        if only_dangling and store.has_children(image.id):
            continue
        created = image.created_ns
        if before_cut is not None and (created is None or not created < before_cut):
            continue
        if since_cut is not None and (created is None or not created > since_cut):
            continue
        if has_label and not match_kv_list(label_values, image.labels):
            continue
        entry = entries[position]
        if entry is None:
            entry = entries[position] = _graphdriver_entry(image, position)
        tags_t, digests_t = entry.repo_tags, entry.repo_digests
        if has_reference:
            rows = ref_rows[position]
            if rows is None:
                rows = ref_rows[position] = _reference_rows(image)
            tags: list[str] = []
            digests: list[str] = []
            for ref, familiar, is_digest in rows:
                try:
                    if not reference_matches(patterns, ref, profile):
                        continue
                except PatternError as exc:
                    raise system_error(str(exc)) from None
                (digests if is_digest else tags).append(familiar)
            tags_t, digests_t = tuple(tags), tuple(digests)
            entry = Entry(image, tags_t, digests_t, position)
        if not tags_t and not digests_t:
            if query.all or not store.has_children(image.id):
                if "dangling" in args and not only_dangling:
                    continue
                if has_reference:
                    continue
            else:
                continue
        elif only_dangling and tags_t:
            continue
        out.append(entry)
    return out


@dataclass(frozen=True, slots=True)
class _Record:
    """A containerd image record: one per name (tag, pulled digest, or moby-dangling@id).

    `familiar` (what RepoTags shows) and `repo_digest` (`familiar-name@image-id`, what
    RepoDigests shows) are formatted once, when the store's records are built."""

    name: str
    ref: Reference
    image: Image
    dangling: bool
    familiar: str = ""
    repo_digest: str = ""


def _record(name: str, ref: Reference, image: Image, dangling: bool) -> _Record:
    return _Record(name, ref, image, dangling, ref.familiar, f"{ref.familiar_name}@{image.id}")


def image_records(image: Image, dangling_name: str | None) -> tuple[_Record, ...]:
    """One image's containerd records in name order, the order containerd's metadata store lists
    all records in (names are unique, so sorting an image's own records gives the same order)."""
    names = image.tags or image.digests
    if names:
        return tuple(sorted((_record(str(ref), ref, image, False) for ref in names), key=lambda r: r.name))
    repository = parse_normalized(str(dangling_name))  # one name per profile: always in parse's cache
    dangling = Reference(repository.domain, repository.path, None, image.id)
    return (_record(f"{dangling_name}@{image.id}", dangling, image, True),)


def _entry_of(image: Image, records: Sequence[_Record], position: int) -> Entry:
    """What the list shows for the records of one image that passed the filters (in name order):
    every name as a RepoTag, and the repository of the last one as its RepoDigest (none for the
    dangling record, an image's only record when it has no names)."""
    last = records[-1]
    tags = tuple(r.familiar for r in records if not r.dangling)
    return Entry(image, tags, () if last.dangling else (last.repo_digest,), position)


def _record_groups(store: ImageStore,
                   dangling_name: str | None) -> tuple[tuple[Image, tuple[_Record, ...], Entry], ...]:
    """Per image, in listing order: its records in name order and its entry when nothing filters.

    Same result as walking all records in name order and keeping, per image, the names that pass
    and the last passing record (what the daemon does), but each image's entry comes out once, in
    the order the summaries are sorted in, and the unfiltered listing needs no work at all."""
    groups = []
    for position, image in enumerate(listing_order(store)):
        records = image_records(image, dangling_name)
        groups.append((image, records, _entry_of(image, records, position)))
    return tuple(groups)


def _created_before(cut: int) -> Callable[[_Record], bool]:
    return lambda r: r.image.created_ns is not None and r.image.created_ns < cut


def _created_after(cut: int) -> Callable[[_Record], bool]:
    return lambda r: r.image.created_ns is not None and r.image.created_ns > cut


def _recorded_before(store: ImageStore, cut: int) -> Callable[[_Record], bool]:
    return lambda r: store.record_created_ns(r.image) < cut


def _select_containerd(store: ImageStore, query: ListQuery, profile: Profile, now_ns: int) -> list[Entry]:
    args = query.filters
    predicates: list[Callable[[_Record], bool]] = []
    for cut in _created_cutoffs(store, args, "before", profile):
        predicates.append(_created_before(cut))
    for cut in _created_cutoffs(store, args, "since", profile):
        predicates.append(_created_after(cut))
    for cut in _until_cutoffs(args, profile, now_ns) if "until" in args else []:
        predicates.append(_recorded_before(store, cut))
    checks = _label_checks(args)
    if checks:
        missing_ok = profile.negated_label_matches_missing
        predicates.append(lambda r: _containerd_labels_match(checks, r.image.labels, missing_ok))
    only_dangling = dangling_only(args, profile)
    if only_dangling is not None:
        predicates.append(lambda r: r.dangling == only_dangling)
    if "reference" in args:
        patterns = _values(args, "reference")

        def by_reference(record: _Record) -> bool:
            try:
                return reference_matches(patterns, record.ref, profile)
            except PatternError:
                return False
        predicates.append(by_reference)

    parents = store.derived("parents", lambda s: frozenset(image.parent for image in s.images if image.parent))
    name = profile.dangling_record_name
    out = []
    for image, records, unfiltered in store.derived(("containerd_groups", name), lambda s: _record_groups(s, name)):
        if not query.all and records[0].dangling and image.id in parents:
            continue  # a dangling record is an image's only one
        if not predicates:
            out.append(unfiltered)
            continue
        passing = [r for r in records if all(p(r) for p in predicates)]
        if len(passing) == len(records):
            out.append(unfiltered)  # the same entry object: its encoded summary is cached
        elif passing:
            out.append(_entry_of(image, passing, unfiltered.position))
    return out
