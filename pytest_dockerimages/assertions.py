"""Assertion helpers for tests of code that talks to `GET /images/json`.

Each helper raises `AssertionError` with an itemised report (which image, which field, which rule,
what was expected) instead of a bare `assert a == b`, because a listing is a list of large
documents and "the 4th dict differs" tells a reader nothing.  Every helper sets
`__tracebackhide__` so that a failing user test shows the user's own line, not our internals.

The rules are not a second copy of the daemon: where a rule depends on a release it reads the
`Profile` row, and the filter checks rebuild an `ImageStore` and run the daemon's own `select`.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence, Union
from urllib.parse import urlencode

from ._core.daemon import split_version
from ._core.errors import DaemonError
from ._core.filters import Entry, resolve_image, select
from ._core.listed import build_images
from ._core.model import ID_RE, Image, ImageStore, ModelError
from ._core.profiles import (
    DEFAULT_PROFILE,
    PROFILES,
    Profile,
    at_least,
    below,
    earliest_from,
    get_profile,
    latest_below,
    version_tuple,
)
from ._core.query import ListQuery, bool_value, canonical_filters, filters_from_json, parse_form, parse_list_query
from ._core.render import NONE_DIGEST, NONE_TAG, virtual_size_rule
from ._core.timestamps import NANOS, TimestampError, parse_until
from ._files import schema

__all__ = [
    "assert_valid_images_json",
    "assert_filter_semantics",
    "assert_images_requested",
    "assert_shared_size_default",
    "assert_no_placeholders",
    "assert_placeholders_for_untagged",
    "assert_virtual_size_rule",
    "assert_sorted_by_created",
    "assert_ids_well_formed",
    "assert_containers_default",
]

Body = Union[bytes, bytearray, str, Sequence[Mapping[str, Any]]]
QueryLike = Union[str, Mapping[str, Any], None]
FiltersLike = Union[str, bytes, Mapping[str, Any], None]
ProfileLike = Union[str, Profile, None]

_INDEX_RE = re.compile(r"^\$?\[(\d+)\]")
_MAX_ITEMS = 40
# Where a rule changes for some release, for checks given no profile (from the profile rows), named so
# that a message can quote them.
_SHARED_SIZE_FROM = earliest_from("shared_size_from")
_PLACEHOLDERS_BELOW = latest_below("none_placeholders_below")
_VIRTUAL_SIZE_BELOW = latest_below("virtual_size_below")
_MANIFESTS_FROM = earliest_from("manifests_from")
_DESCRIPTOR_FROM = earliest_from("descriptor_from")
_CONTAINERS_FROM = earliest_from("containers_from")


# --------------------------------------------------------------------------- reporting

@dataclass(frozen=True)
class _Problem:
    """One broken rule at one place; `where` names the image (or the whole body)."""

    rule: str
    where: str
    text: str

    def line(self) -> str:
        return f"  - [{self.rule}] {self.where}: {self.text}" if self.where else f"  - [{self.rule}] {self.text}"


def _report(title: str, problems: Sequence[_Problem]) -> str:
    """The itemised message: a title, then one line per problem (capped, so a 500-image body stays readable)."""
    lines = [f"{title}: {len(problems)} problem(s)"]
    lines += [p.line() for p in problems[:_MAX_ITEMS]]
    if len(problems) > _MAX_ITEMS:
        lines.append(f"  ... and {len(problems) - _MAX_ITEMS} more")
    return "\n".join(lines)


def _fail(title: str, problems: Sequence[_Problem]) -> None:
    """Raise when there is anything to report; hidden from tracebacks like the public helpers."""
    __tracebackhide__ = True
    if problems:
        raise AssertionError(_report(title, problems))


def _first_name(doc: Mapping[str, Any]) -> str:
    """The first real tag (else digest) of a summary: what a human recognises an image by."""
    for key in ("RepoTags", "RepoDigests"):
        values = doc.get(key)
        if isinstance(values, list):
            for value in values:
                if isinstance(value, str) and value not in (NONE_TAG, NONE_DIGEST):
                    return value
    return "<untagged>"


def _label(doc: Any, index: int | None = None) -> str:
    """`#2 image 1395ae826b0e (example/built:1)`: position, short id and first tag."""
    prefix = f"#{index} " if index is not None else ""
    if not isinstance(doc, Mapping):
        return f"{prefix}item {doc!r:.40}"
    image_id = doc.get("Id")
    if isinstance(image_id, str) and image_id.startswith("sha256:"):
        short = image_id[7:19]
    else:
        short = repr(image_id)[:19]
    return f"{prefix}image {short} ({_first_name(doc)})"


def _image_label(image: Image) -> str:
    names = [t.familiar for t in image.tags] or [d.familiar for d in image.digests] or ["<untagged>"]
    return f"image {image.id[7:19]} ({names[0]})"


# --------------------------------------------------------------------------- input coercion

def _documents(body: Any) -> tuple[list[Mapping[str, Any]], list[_Problem]]:
    """Parse a body given as bytes, text or an already parsed list; non-summaries become problems."""
    problems: list[_Problem] = []
    parsed: Any = body
    if isinstance(body, (bytes, bytearray)):
        try:
            parsed = json.loads(bytes(body).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return [], [_Problem("JSON", "body", f"not a JSON document: {exc}")]
    elif isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            return [], [_Problem("JSON", "body", f"not a JSON document: {exc}")]
    if not isinstance(parsed, (list, tuple)):
        return [], [_Problem("schema", "body", f"expected a JSON array of ImageSummary, got {type(parsed).__name__}")]
    docs: list[Mapping[str, Any]] = []
    for i, item in enumerate(parsed):
        if isinstance(item, Mapping):
            docs.append(item)
        else:
            problems.append(_Problem("schema", f"#{i}", f"expected an ImageSummary object, got {item!r:.60}"))
    return docs, problems


def _int(doc: Mapping[str, Any], key: str) -> int | None:
    """The field as an int, or None when missing or mistyped (the schema rule reports those)."""
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _version(api_version: str) -> str:
    """Accept `v1.45` as well as `1.45` (clients print both)."""
    text = str(api_version).strip()
    return text[1:] if text[:1] in ("v", "V") else text


def _query_string(query: QueryLike) -> str:
    """A query given as a dict becomes the string a client would send (booleans as 1/0)."""
    if query is None:
        return ""
    if isinstance(query, str):
        return query[1:] if query.startswith("?") else query
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        if key == "filters" and not isinstance(value, str):
            pairs.append((key, json.dumps(_filters_map_form(value))))
        elif isinstance(value, bool):
            pairs.append((key, "1" if value else "0"))
        elif isinstance(value, (list, tuple)):
            pairs += [(key, str(v)) for v in value]
        else:
            pairs.append((key, str(value)))
    return urlencode(pairs)


def _filters_map_form(filters: Any) -> dict[str, dict[str, bool]]:
    """Any dict form (slice, map, a bare string, a bool) as the daemon's map-of-bool form."""
    if not isinstance(filters, Mapping):
        raise TypeError(f"filters: expected a dict or a JSON string, got {type(filters).__name__}")
    out: dict[str, dict[str, bool]] = {}
    for key, value in filters.items():
        if isinstance(value, bool):
            out[str(key)] = {"true" if value else "false": True}
        elif isinstance(value, str):
            out[str(key)] = {value: True}
        elif isinstance(value, Mapping):
            out[str(key)] = {str(k): bool(v) for k, v in value.items()}
        elif value is None:
            out[str(key)] = {}
        else:
            out[str(key)] = {str(v): True for v in value}
    return out


def _filter_args(filters: FiltersLike, profile: Profile) -> dict[str, dict[str, bool]]:
    """Filters as the daemon parses them; either JSON form, as text or as a dict."""
    if filters is None:
        return {}
    if isinstance(filters, (bytes, bytearray)):
        filters = bytes(filters).decode("utf-8")
    text = filters if isinstance(filters, str) else json.dumps(_filters_map_form(filters))
    try:
        return filters_from_json(text, profile)
    except DaemonError as exc:
        raise ValueError(f"filters {text!r} are malformed: the daemon answers {exc.status} {exc.message!r}") from None


def _canonical_text(args: Mapping[str, Mapping[str, bool]]) -> str:
    return json.dumps(canonical_filters(args), separators=(",", ":"))


# --------------------------------------------------------------------------- field rules

def _shared_size_problems(docs: Sequence[Mapping[str, Any]], computed: bool, why: str) -> list[_Problem]:
    """SharedSize is -1 (not computed) unless shared-size=1 was asked on API >= 1.42."""
    problems = []
    for i, doc in enumerate(docs):
        value = _int(doc, "SharedSize")
        if value is None:
            continue
        if computed and value < 0:
            problems.append(_Problem("SharedSize", _label(doc, i), f"SharedSize is {value}, expected >= 0 ({why})"))
        elif not computed and value != -1:
            problems.append(_Problem("SharedSize", _label(doc, i), f"SharedSize is {value}, expected -1 ({why})"))
    return problems


def _containers_problems(docs: Sequence[Mapping[str, Any]], computed: bool, why: str) -> list[_Problem]:
    """Containers is -1 unless the daemon counts containers (API >= 1.51 on releases that do)."""
    problems = []
    for i, doc in enumerate(docs):
        value = _int(doc, "Containers")
        if value is None:
            continue
        if computed and value < 0:
            problems.append(_Problem("Containers", _label(doc, i), f"Containers is {value}, expected >= 0 ({why})"))
        elif not computed and value != -1:
            problems.append(_Problem("Containers", _label(doc, i), f"Containers is {value}, expected -1 ({why})"))
    return problems


def _virtual_size_mode(api_version: str, profile: Profile | None) -> str:
    """How VirtualSize appears: "always", "nonzero" (omitempty), "never", or "optional" (no profile given)."""
    if profile is None:
        return "optional" if below(api_version, _VIRTUAL_SIZE_BELOW) else "never"
    return {"yes": "always", "nonzero": "nonzero", "no": "never"}[virtual_size_rule(profile, api_version)]


def _virtual_size_problems(docs: Sequence[Mapping[str, Any]], mode: str, api_version: str) -> list[_Problem]:
    """VirtualSize, where sent, equals Size; it was removed in API 1.44; some releases omit it when 0."""
    problems = []
    for i, doc in enumerate(docs):
        where = _label(doc, i)
        size = _int(doc, "Size")
        present = "VirtualSize" in doc
        if present and mode == "never":
            problems.append(_Problem("VirtualSize", where,
                                     f"VirtualSize is sent, expected no VirtualSize field (removed from API "
                                     f"{_VIRTUAL_SIZE_BELOW}; request was API {api_version})"))
            continue
        if present:
            virtual = _int(doc, "VirtualSize")
            if virtual is not None and size is not None and virtual != size:
                problems.append(_Problem("VirtualSize", where, f"VirtualSize is {virtual}, expected {size} "
                                                               f"(VirtualSize always equals Size)"))
            if mode == "nonzero" and size == 0:
                problems.append(_Problem("VirtualSize", where, "VirtualSize is sent for Size 0, expected no field "
                                                               "(this release omits VirtualSize when it is 0)"))
            continue
        if mode == "always":
            problems.append(_Problem("VirtualSize", where, f"VirtualSize is missing, expected {size} (sent below API "
                                                           f"{_VIRTUAL_SIZE_BELOW}, equal to Size)"))
        elif mode in ("nonzero", "optional") and size not in (None, 0):
            problems.append(_Problem("VirtualSize", where, f"VirtualSize is missing, expected {size} (below API "
                                                           f"{_VIRTUAL_SIZE_BELOW} it is sent whenever Size is not 0)"))
    return problems


def _placeholder_problems(docs: Sequence[Mapping[str, Any]]) -> list[_Problem]:
    """Below API 1.43: an empty list is null, and an image with no tag and no digest shows placeholders."""
    problems = []
    for i, doc in enumerate(docs):
        where = _label(doc, i)
        tags, digests = doc.get("RepoTags"), doc.get("RepoDigests")
        for key, value in (("RepoTags", tags), ("RepoDigests", digests)):
            if value == []:
                problems.append(_Problem("placeholders", where,
                                         f"{key} is [], expected null (below API "
                                         f"{_PLACEHOLDERS_BELOW} an empty list is sent as null)"))
        if not tags and not digests:
            problems.append(_Problem("placeholders", where, f"untagged image has RepoTags {json.dumps(tags)} and "
                                                            f"RepoDigests {json.dumps(digests)}, expected "
                                                            f'["{NONE_TAG}"] and ["{NONE_DIGEST}"] below API '
                                                            f"{_PLACEHOLDERS_BELOW}"))
            continue
        tag_ph = isinstance(tags, list) and NONE_TAG in tags
        digest_ph = isinstance(digests, list) and NONE_DIGEST in digests
        if (tag_ph or digest_ph) and (tags != [NONE_TAG] or digests != [NONE_DIGEST]):
            problems.append(_Problem("placeholders", where, f"RepoTags {json.dumps(tags)} with RepoDigests "
                                                            f"{json.dumps(digests)}: the placeholders come as a pair "
                                                            f'["{NONE_TAG}"] / ["{NONE_DIGEST}"], only for an image '
                                                            f"with no tag and no digest"))
    return problems


def _no_placeholder_problems(docs: Sequence[Mapping[str, Any]]) -> list[_Problem]:
    """From API 1.43: RepoTags and RepoDigests are always lists (maybe []), never null, never placeholders."""
    problems = []
    for i, doc in enumerate(docs):
        where = _label(doc, i)
        for key, placeholder in (("RepoTags", NONE_TAG), ("RepoDigests", NONE_DIGEST)):
            value = doc.get(key)
            if value is None:
                problems.append(_Problem("placeholders", where, f"{key} is null, expected a list ([] when empty; "
                                                                f"from API {_PLACEHOLDERS_BELOW} it is never null)"))
            elif isinstance(value, list) and placeholder in value:
                problems.append(_Problem("placeholders", where, f'{key} contains "{placeholder}", expected [] for an '
                                                                f"untagged image (no placeholders from API "
                                                                f"{_PLACEHOLDERS_BELOW})"))
    return problems


def _sorted_problems(docs: Sequence[Mapping[str, Any]]) -> list[_Problem]:
    """The daemon sorts newest first; images with equal Created may come in any order."""
    problems = []
    for i in range(1, len(docs)):
        previous, current = _int(docs[i - 1], "Created"), _int(docs[i], "Created")
        if previous is not None and current is not None and current > previous:
            problems.append(_Problem("Created order", _label(docs[i], i),
                                     f"Created {current} comes after {_label(docs[i - 1], i - 1)} with Created "
                                     f"{previous}, expected descending Created (newest first)"))
    return problems


def _id_problems(docs: Sequence[Mapping[str, Any]]) -> list[_Problem]:
    """Id is `sha256:` + 64 lowercase hex and unique; ParentId is "" or such an id."""
    problems = []
    seen: dict[str, int] = {}
    for i, doc in enumerate(docs):
        where = _label(doc, i)
        image_id = doc.get("Id")
        if not isinstance(image_id, str) or not ID_RE.match(image_id):
            problems.append(_Problem("Id", where, f"Id is {image_id!r}, expected 'sha256:' + 64 lowercase hex digits"))
        elif image_id in seen:
            problems.append(_Problem("Id", where, f"Id {image_id[7:19]} is listed twice (also #{seen[image_id]}), "
                                                  f"expected each image once"))
        else:
            seen[image_id] = i
        parent = doc.get("ParentId")
        if isinstance(parent, str) and parent and not ID_RE.match(parent):
            problems.append(_Problem("ParentId", where, f"ParentId is {parent!r}, expected '' or 'sha256:' + 64 "
                                                        f"lowercase hex digits"))
    return problems


def _presence_problems(docs: Sequence[Mapping[str, Any]], key: str, mode: str, why: str) -> list[_Problem]:
    """A field that is "required", "forbidden" or "optional" for this version, query and profile."""
    problems = []
    for i, doc in enumerate(docs):
        present = key in doc
        if mode == "forbidden" and present:
            problems.append(_Problem(key, _label(doc, i), f"{key} is sent, expected no {key} field ({why})"))
        elif mode == "required" and not present:
            problems.append(_Problem(key, _label(doc, i), f"{key} is missing, expected it ({why})"))
    return problems


def _labels_problems(docs: Sequence[Mapping[str, Any]], profile: Profile) -> list[_Problem]:
    """Releases that send `{}` for an image without labels never send null."""
    if profile.labels_when_none != "empty":
        return []
    return [_Problem("Labels", _label(doc, i), f"Labels is null, expected {{}} ({profile.name} sends an empty object)")
            for i, doc in enumerate(docs) if "Labels" in doc and doc["Labels"] is None]


def _schema_problems(docs: Sequence[Mapping[str, Any]], api_version: str, strict: bool) -> list[_Problem]:
    """The swagger of that API version; each message is re-attributed to the image it is about."""
    problems = []
    kind = "strict schema" if strict else "schema"
    for line in schema.validate("images-json", api_version, list(docs), strict=strict):
        path, _, text = line.partition(": ")
        match = _INDEX_RE.match(path)
        where = "body"
        if match and int(match.group(1)) < len(docs):
            index = int(match.group(1))
            where = _label(docs[index], index)
            path = path[match.end():].lstrip(".") or "(item)"
        problems.append(_Problem(f"{kind} {api_version}", where, f"{path}: {text}"))
    return problems


# --------------------------------------------------------------------------- small public checks

def assert_shared_size_default(body: Body) -> None:
    """Every SharedSize is -1: what the daemon sends unless shared-size=1 was asked on API >= 1.42."""
    __tracebackhide__ = True
    docs, problems = _documents(body)
    problems += _shared_size_problems(docs, False, f"SharedSize is -1 unless shared-size=1 is asked on API >= "
                                                   f"{_SHARED_SIZE_FROM}")
    _fail("SharedSize default", problems)


def assert_containers_default(body: Body) -> None:
    """Every Containers is -1: what the daemon sends when it does not count containers (API < 1.51)."""
    __tracebackhide__ = True
    docs, problems = _documents(body)
    problems += _containers_problems(docs, False, f"Containers is -1 where the daemon does not count containers: "
                                                  f"API < {_CONTAINERS_FROM} or a release without the count")
    _fail("Containers default", problems)


def assert_no_placeholders(body: Body) -> None:
    """API >= 1.43 style: RepoTags/RepoDigests are lists (`[]` when empty), never null or `<none>`."""
    __tracebackhide__ = True
    docs, problems = _documents(body)
    problems += _no_placeholder_problems(docs)
    _fail("no <none> placeholders (API >= 1.43 style)", problems)


def assert_placeholders_for_untagged(body: Body) -> None:
    """API < 1.43 style: empty lists are null and an untagged image shows `<none>:<none>`/`<none>@<none>`."""
    __tracebackhide__ = True
    docs, problems = _documents(body)
    problems += _placeholder_problems(docs)
    _fail("<none> placeholders for untagged images (API < 1.43 style)", problems)


def assert_virtual_size_rule(body: Body, api_version: str, *, profile: ProfileLike = None) -> None:
    """VirtualSize only below API 1.44 and equal to Size; with a profile, exactly when that release sends it."""
    __tracebackhide__ = True
    version = _version(api_version)
    chosen = get_profile(profile) if profile is not None else None
    docs, problems = _documents(body)
    problems += _virtual_size_problems(docs, _virtual_size_mode(version, chosen), version)
    _fail(f"VirtualSize rule (API {version})", problems)


def assert_sorted_by_created(body: Body) -> None:
    """Newest first: Created never increases along the list."""
    __tracebackhide__ = True
    docs, problems = _documents(body)
    problems += _sorted_problems(docs)
    _fail("descending Created order", problems)


def assert_ids_well_formed(body: Body) -> None:
    """Ids are `sha256:<64 hex>` and unique; ParentIds are empty or such ids."""
    __tracebackhide__ = True
    docs, problems = _documents(body)
    problems += _id_problems(docs)
    _fail("well-formed image ids", problems)


# --------------------------------------------------------------------------- the whole body

@dataclass(frozen=True)
class _Asked:
    """What the query asks for that changes the shape of the body."""

    shared_size: bool
    manifests: bool


def _asked(raw_query: str, api_version: str, profile: Profile | None) -> tuple[_Asked, list[_Problem]]:
    """Read the query as the daemon does; a query the daemon refuses cannot have a 200 listing."""
    try:
        if profile is not None:
            parsed = parse_list_query(raw_query, api_version, profile)
            return _Asked(parsed.shared_size, parsed.manifests), []
        form = parse_form(raw_query)
    except DaemonError as exc:
        return _Asked(False, False), [_Problem("query", "", f"the daemon answers {exc.status} {exc.message!r} to "
                                                            f"query {raw_query!r}, not a listing")]
    return _Asked(at_least(api_version, _SHARED_SIZE_FROM) and bool_value(form.get("shared-size")),
                  at_least(api_version, _MANIFESTS_FROM) and bool_value(form.get("manifests"))), []


def assert_valid_images_json(body: Body, api_version: str, *, query: QueryLike = None,
                             profile: ProfileLike = None, strict: bool = False) -> None:
    """The body is what a daemon answers to `GET /v<api_version>/images/json?<query>`.

    Checks the schema of that API version (`strict`: no fields the swagger does not define) and
    the rules that depend on version and query.  With `profile`, the release's own behaviour
    (e.g. Docker 20.10's placeholders and VirtualSize at every version, containerd-only fields);
    without, only what every release does.
    """
    __tracebackhide__ = True
    _fail(*_images_json_problems(body, api_version, query, profile, strict))


def images_json_problems(body: Body, api_version: str, *, query: QueryLike = None,
                         profile: ProfileLike = None, strict: bool = False) -> list[str]:
    """What `assert_valid_images_json` reports, one line per problem (empty: the body is valid);
    for tools that check many bodies, such as `dockerimages validate`."""
    return [p.line().strip().removeprefix("- ") for p in _images_json_problems(body, api_version, query, profile,
                                                                               strict)[1]]


def _images_json_problems(body: Body, api_version: str, query: QueryLike, profile: ProfileLike,
                          strict: bool) -> tuple[str, list[_Problem]]:
    version = _version(api_version)
    chosen = get_profile(profile) if profile is not None else None
    raw_query = _query_string(query)
    docs, problems = _documents(body)
    if chosen is not None and not chosen.supports(version):
        problems.append(_Problem("API version", "", f"{chosen.name} serves API {chosen.api_min} to {chosen.api_max}; "
                                                    f"it answers API {version} with a 400, not a listing"))
    asked, query_problems = _asked(raw_query, version, chosen)
    problems += query_problems
    if docs or not problems:
        problems += _schema_problems(docs, version, strict)

    shared_from = chosen.shared_size_from if chosen is not None else _SHARED_SIZE_FROM
    if asked.shared_size:
        why = f"shared-size=1 was asked on API {version} >= {shared_from}, so the daemon computes it"
    else:
        why = f"SharedSize is -1 unless shared-size=1 is asked on API >= {shared_from or _SHARED_SIZE_FROM}"
    problems += _shared_size_problems(docs, asked.shared_size, why)

    if chosen is not None:
        counted = at_least(version, chosen.containers_from)
        why = (f"{chosen.name} counts containers from API {chosen.containers_from}" if counted else
               f"{chosen.name} does not count containers at API {version}" +
               (f" (it does from {chosen.containers_from})" if chosen.containers_from else ""))
    else:
        counted = at_least(version, _CONTAINERS_FROM)
        why = (f"every release that serves API {version} >= {_CONTAINERS_FROM} counts containers" if counted else
               f"Containers is -1 below API {_CONTAINERS_FROM}")
    problems += _containers_problems(docs, counted, why)

    problems += _virtual_size_problems(docs, _virtual_size_mode(version, chosen), version)

    if chosen is not None:
        placeholders = chosen.none_placeholders_below is None or below(version, chosen.none_placeholders_below)
    else:
        placeholders = below(version, _PLACEHOLDERS_BELOW)
    problems += _placeholder_problems(docs) if placeholders else _no_placeholder_problems(docs)

    if chosen is not None:
        want = chosen.is_containerd and asked.manifests
        if chosen.manifests_from is None or not chosen.is_containerd:
            why = f"{chosen.name} never sends Manifests"
        else:
            why = f"{chosen.name} sends Manifests exactly when manifests=1 is asked on API >= {chosen.manifests_from}"
        problems += _presence_problems(docs, "Manifests", "required" if want else "forbidden", why)
        want = chosen.is_containerd and at_least(version, chosen.descriptor_from)
        problems += _presence_problems(
            docs, "Descriptor", "required" if want else "forbidden",
            f"{chosen.name} sends Descriptor from API {chosen.descriptor_from}" if chosen.descriptor_from else
            f"{chosen.name} never sends Descriptor")
        problems += _labels_problems(docs, chosen)
    else:
        problems += _presence_problems(docs, "Manifests", "optional" if asked.manifests else "forbidden",
                                       f"Manifests only with manifests=1 on API >= {_MANIFESTS_FROM}")
        problems += _presence_problems(docs, "Descriptor",
                                       "optional" if at_least(version, _DESCRIPTOR_FROM) else "forbidden",
                                       f"Descriptor only from API {_DESCRIPTOR_FROM}")
    problems += _id_problems(docs)
    problems += _sorted_problems(docs)
    where = (f"API {version}" + (f", profile {chosen.name}" if chosen else "")
             + (f", query {raw_query!r}" if raw_query else ""))
    return f"GET /images/json body is not what a daemon sends ({where})", problems


# --------------------------------------------------------------------------- filter semantics

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
    docs, problems = _documents(universe)
    if problems:
        raise ValueError("universe: " + "; ".join(p.text for p in problems))
    if profile is not None:
        chosen = get_profile(profile)
        note = f"profile {chosen.name}"
    else:
        chosen = _guess_profile([*docs, *result_docs])
        note = f"profile {chosen.name}, guessed from the listing: pass profile= to be exact"
    images = [_image_from_summary(doc, chosen.is_containerd, _label(doc, i)) for i, doc in enumerate(docs)]
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
        reasons.append(f"each filter alone keeps it, but not all of them together ({_canonical_text(args)})")
    return "; ".join(reasons)


def _shown_refs(doc: Mapping[str, Any], key: str, placeholder: str) -> list[str]:
    values = doc.get(key)
    if not isinstance(values, list):
        return []
    return sorted(v for v in values if isinstance(v, str) and v != placeholder)


def _compare_refs(doc: Mapping[str, Any], where: str, entry: Entry, args: Mapping[str, Any]) -> list[_Problem]:
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
            problems.append(_Problem(rule, where, f"{key} is {got}, expected {want} ({detail}; {why})"))
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
    docs, problems = _documents(result)
    u = _universe(universe, docs, profile, now_ns)
    args = _filter_args(filters, u.profile)
    title = f"listing does not match filters {_canonical_text(args)}{' with all=1' if all_ else ''} ({u.note})"
    try:
        expected = _run(u, args, all_)
    except DaemonError as exc:
        problems.append(_Problem("filters", "", f"the daemon answers {exc.status} {exc.message!r} to these filters, "
                                                f"not a listing"))
        _fail(title, problems)
        return
    relaxed = expected
    uncertain: set[str] = set()
    if not u.precise and any(k in args for k in _TIME_KEYS):
        relaxed = _run(u, {k: v for k, v in args.items() if k not in _TIME_KEYS}, all_)
        uncertain = _uncertain(u, args, relaxed)
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        where = _label(doc, i)
        image_id = doc.get("Id")
        if not isinstance(image_id, str):
            problems.append(_Problem("Id", where, f"Id is {image_id!r}"))
            continue
        if image_id in seen:
            problems.append(_Problem("Id", where, "listed twice, expected each image once"))
            continue
        seen.add(image_id)
        entry = expected.get(image_id) or (relaxed.get(image_id) if image_id in uncertain else None)
        if entry is not None:
            problems += _compare_refs(doc, where, entry, args)
            continue
        image = u.store.by_id.get(image_id)
        if image is None:
            problems.append(_Problem("soundness", where, "listed, but the universe has no such image"))
            continue
        problems.append(_Problem("soundness", where, "listed, but " + _why_excluded(image, u, args, all_)))
    for image_id, entry in expected.items():
        if image_id in seen or image_id in uncertain:
            continue
        refs = [*entry.repo_tags, *entry.repo_digests]
        problems.append(_Problem("completeness", _image_label(entry.image),
                                 f"satisfies every filter{' (with all=1)' if all_ else ''} but is not listed "
                                 f"(expected with RepoTags {list(entry.repo_tags)}" +
                                 (f", RepoDigests {list(entry.repo_digests)})" if refs else ")")))
    _fail(title, problems)


# --------------------------------------------------------------------------- requests sent

def _query_values(request: Any) -> dict[str, list[str]]:
    query = getattr(request, "query", None) or {}
    out: dict[str, list[str]] = {}
    for key, value in dict(query).items():
        out[str(key)] = [value] if isinstance(value, str) else [str(v) for v in value]
    return out


def _request_filters(request: Any, profile: Profile) -> dict[str, list[str]] | None:
    """The canonical filters of a logged request: its own `.filters`, else parsed from its query."""
    logged = getattr(request, "filters", None)
    if logged is not None:
        return {str(k): sorted(str(v) for v in values) for k, values in dict(logged).items()}
    text = _query_values(request).get("filters", [""])[0]
    if not text:
        return {}
    try:
        return canonical_filters(filters_from_json(text, profile))
    except DaemonError:
        return None


def _route(request: Any) -> tuple[str, str | None]:
    """(path without a version prefix, api version) whether or not the log already split them."""
    prefixed, path = split_version(str(getattr(request, "path", "")).split("?", 1)[0])
    return path, getattr(request, "api_version", None) or prefixed


def _describe_request(request: Any, profile: Profile) -> str:
    """`GET /v1.45/images/json all=true filters={"dangling":["true"]} shared-size=1`: canonical, comparable."""
    path, version = _route(request)
    method = str(getattr(request, "method", "GET"))
    parts = [method, (f"/v{version}" if version else "") + path]
    query = _query_values(request)
    if "all" in query:
        parts.append(f"all={'true' if bool_value(query['all'][0]) else 'false'}")
    filters = _request_filters(request, profile)
    if filters is None:
        parts.append(f"filters=<unparsable {query.get('filters', [''])[0]!r}>")
    elif filters:
        parts.append("filters=" + json.dumps(filters, separators=(",", ":")))
    for key in sorted(query):
        if key not in ("all", "filters"):
            parts += [f"{key}={value}" for value in query[key]]
    return " ".join(parts)


def assert_images_requested(fake_or_cassette: Any, *, filters: FiltersLike = None, all: bool | str | None = None,
                            api_version: str | None = None, count: int | None = None) -> None:
    """The code under test sent `GET /images/json` with these filters / all / API version.

    Compared as the daemon reads them: either filters JSON form, any key or value order, and any
    spelling of a boolean (`all=1`, `all=True`) are the same request.  `filters={}` means "no
    filters"; None means "any".  `count`: exactly that many matching requests (default: at least one).
    """
    __tracebackhide__ = True
    requests = list(fake_or_cassette.requests)
    raw_profile = getattr(fake_or_cassette, "profile", None)
    profile = get_profile(raw_profile) if isinstance(raw_profile, (str, Profile)) else get_profile()
    want_filters = canonical_filters(_filter_args(filters, profile)) if filters is not None else None
    want_all = None if all is None else (bool_value(all) if isinstance(all, str) else bool(all))
    want_version = version_tuple(_version(api_version)) if api_version is not None else None

    def matches(request: Any) -> bool:
        path, version = _route(request)
        if str(getattr(request, "method", "GET")).upper() != "GET" or path != "/images/json":
            return False
        if want_version is not None and (version is None or version_tuple(version) != want_version):
            return False
        query = _query_values(request)
        if want_all is not None and bool_value(query.get("all", [""])[0]) != want_all:
            return False
        return want_filters is None or _request_filters(request, profile) == want_filters

    found = [r for r in requests if matches(r)]
    if (count is None and found) or (count is not None and len(found) == count):
        return
    wanted = ["GET /images/json"]
    if api_version is not None:
        wanted.append(f"API {_version(api_version)}")
    if want_all is not None:
        wanted.append(f"all={'true' if want_all else 'false'}")
    if want_filters is not None:
        wanted.append("filters=" + (json.dumps(want_filters, separators=(",", ":")) if want_filters else "<none>"))
    times = "at least once" if count is None else f"exactly {count} time(s)"
    lines = [f"expected {' '.join(wanted)} {times}, found {len(found)} matching request(s); "
             f"{len(requests)} request(s) seen:"]
    lines += [("  * " if r in found else "  - ") + _describe_request(r, profile) for r in requests[:_MAX_ITEMS]]
    if len(requests) > _MAX_ITEMS:
        lines.append(f"  ... and {len(requests) - _MAX_ITEMS} more")
    if not requests:
        lines.append("  (none)")
    raise AssertionError("\n".join(lines))

