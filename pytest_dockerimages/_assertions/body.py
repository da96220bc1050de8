"""Checks of one `GET /images/json` body: the schema of its API version and the field rules that depend
on the version, the query and the release (`assert_valid_images_json`; `checks.py` has each rule alone)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .._core.errors import DaemonError
from .._core.model import ID_RE
from .._core.profiles import Profile, at_least, below, earliest_from, get_profile, latest_below
from .._core.query import bool_value, parse_form, parse_list_query
from .._core.render import NONE_DIGEST, NONE_TAG, virtual_size_rule
from .._files import schema
from .common import (
    Body,
    Problem,
    ProfileLike,
    QueryLike,
    api_version_problems,
    documents,
    fail,
    int_field,
    label,
    plain_version,
    query_string,
)

_INDEX_RE = re.compile(r"^\$?\[(\d+)\]")
# Where a rule changes for some release, for checks given no profile (from the profile rows), named so
# that a message can quote them.
SHARED_SIZE_FROM = earliest_from("shared_size_from")
_PLACEHOLDERS_BELOW = latest_below("none_placeholders_below")
_VIRTUAL_SIZE_BELOW = latest_below("virtual_size_below")
_MANIFESTS_FROM = earliest_from("manifests_from")
_DESCRIPTOR_FROM = earliest_from("descriptor_from")
CONTAINERS_FROM = earliest_from("containers_from")


# --------------------------------------------------------------------------- field rules

def uncounted_problems(docs: Sequence[Mapping[str, Any]], key: str, computed: bool, why: str) -> list[Problem]:
    """A count the daemon computes only when asked or able (SharedSize: shared-size=1 on API >= 1.42;
    Containers: API >= 1.51 on releases that count) is -1 otherwise, and never negative when computed."""
    problems = []
    for i, doc in enumerate(docs):
        value = int_field(doc, key)
        if value is None:
            continue
        if computed and value < 0:
            problems.append(Problem(key, label(doc, i), f"{key} is {value}, expected >= 0 ({why})"))
        elif not computed and value != -1:
            problems.append(Problem(key, label(doc, i), f"{key} is {value}, expected -1 ({why})"))
    return problems


def virtual_size_mode(api_version: str, profile: Profile | None) -> str:
    """How VirtualSize appears: "always", "nonzero" (omitempty), "never", or "optional" (no profile given)."""
    if profile is None:
        return "optional" if below(api_version, _VIRTUAL_SIZE_BELOW) else "never"
    return {"yes": "always", "nonzero": "nonzero", "no": "never"}[virtual_size_rule(profile, api_version)]


def virtual_size_problems(docs: Sequence[Mapping[str, Any]], mode: str, api_version: str) -> list[Problem]:
    """VirtualSize, where sent, equals Size; it was removed in API 1.44; some releases omit it when 0."""
    problems = []
    for i, doc in enumerate(docs):
        where = label(doc, i)
        size = int_field(doc, "Size")
        present = "VirtualSize" in doc
        if present and mode == "never":
            problems.append(Problem("VirtualSize", where,
                                    f"VirtualSize is sent, expected no VirtualSize field (removed from API "
                                    f"{_VIRTUAL_SIZE_BELOW}; request was API {api_version})"))
            continue
        if present:
            virtual = int_field(doc, "VirtualSize")
            if virtual is not None and size is not None and virtual != size:
                problems.append(Problem("VirtualSize", where, f"VirtualSize is {virtual}, expected {size} "
                                                              f"(VirtualSize always equals Size)"))
            if mode == "nonzero" and size == 0:
                problems.append(Problem("VirtualSize", where, "VirtualSize is sent for Size 0, expected no field "
                                                              "(this release omits VirtualSize when it is 0)"))
            continue
        if mode == "always":
            problems.append(Problem("VirtualSize", where, f"VirtualSize is missing, expected {size} (sent below API "
                                                          f"{_VIRTUAL_SIZE_BELOW}, equal to Size)"))
        elif mode in ("nonzero", "optional") and size not in (None, 0):
            problems.append(Problem("VirtualSize", where, f"VirtualSize is missing, expected {size} (below API "
                                                          f"{_VIRTUAL_SIZE_BELOW} it is sent whenever Size is not 0)"))
    return problems


def placeholder_problems(docs: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Below API 1.43: an empty list is null, and an image with no tag and no digest shows placeholders."""
    problems = []
    for i, doc in enumerate(docs):
        where = label(doc, i)
        tags, digests = doc.get("RepoTags"), doc.get("RepoDigests")
        for key, value in (("RepoTags", tags), ("RepoDigests", digests)):
            if value == []:
                problems.append(Problem("placeholders", where,
                                        f"{key} is [], expected null (below API "
                                        f"{_PLACEHOLDERS_BELOW} an empty list is sent as null)"))
        if not tags and not digests:
            problems.append(Problem("placeholders", where, f"untagged image has RepoTags {json.dumps(tags)} and "
                                                           f"RepoDigests {json.dumps(digests)}, expected "
                                                           f'["{NONE_TAG}"] and ["{NONE_DIGEST}"] below API '
                                                           f"{_PLACEHOLDERS_BELOW}"))
            continue
        tag_ph = isinstance(tags, list) and NONE_TAG in tags
        digest_ph = isinstance(digests, list) and NONE_DIGEST in digests
        if (tag_ph or digest_ph) and (tags != [NONE_TAG] or digests != [NONE_DIGEST]):
            problems.append(Problem("placeholders", where, f"RepoTags {json.dumps(tags)} with RepoDigests "
                                                           f"{json.dumps(digests)}: the placeholders come as a pair "
                                                           f'["{NONE_TAG}"] / ["{NONE_DIGEST}"], only for an image '
                                                           f"with no tag and no digest"))
    return problems


def no_placeholder_problems(docs: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """From API 1.43: RepoTags and RepoDigests are always lists (maybe []), never null, never placeholders."""
    problems = []
    for i, doc in enumerate(docs):
        where = label(doc, i)
        for key, placeholder in (("RepoTags", NONE_TAG), ("RepoDigests", NONE_DIGEST)):
            value = doc.get(key)
            if value is None:
                problems.append(Problem("placeholders", where, f"{key} is null, expected a list ([] when empty; "
                                                               f"from API {_PLACEHOLDERS_BELOW} it is never null)"))
            elif isinstance(value, list) and placeholder in value:
                problems.append(Problem("placeholders", where, f'{key} contains "{placeholder}", expected [] for an '
                                                               f"untagged image (no placeholders from API "
                                                               f"{_PLACEHOLDERS_BELOW})"))
    return problems


def sorted_problems(docs: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """The daemon sorts newest first; images with equal Created may come in any order."""
    problems = []
    for i in range(1, len(docs)):
        previous, current = int_field(docs[i - 1], "Created"), int_field(docs[i], "Created")
        if previous is not None and current is not None and current > previous:
            problems.append(Problem("Created order", label(docs[i], i),
                                    f"Created {current} comes after {label(docs[i - 1], i - 1)} with Created "
                                    f"{previous}, expected descending Created (newest first)"))
    return problems


def id_problems(docs: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Id is `sha256:` + 64 lowercase hex and unique; ParentId is "" or such an id."""
    problems = []
    seen: dict[str, int] = {}
    for i, doc in enumerate(docs):
        where = label(doc, i)
        image_id = doc.get("Id")
        if not isinstance(image_id, str) or not ID_RE.match(image_id):
            problems.append(Problem("Id", where, f"Id is {image_id!r}, expected 'sha256:' + 64 lowercase hex digits"))
        elif image_id in seen:
            problems.append(Problem("Id", where, f"Id {image_id[7:19]} is listed twice (also #{seen[image_id]}), "
                                                 f"expected each image once"))
        else:
            seen[image_id] = i
        parent = doc.get("ParentId")
        if isinstance(parent, str) and parent and not ID_RE.match(parent):
            problems.append(Problem("ParentId", where, f"ParentId is {parent!r}, expected '' or 'sha256:' + 64 "
                                                       f"lowercase hex digits"))
    return problems


def _presence_problems(docs: Sequence[Mapping[str, Any]], key: str, mode: str, why: str) -> list[Problem]:
    """A field that is "required", "forbidden" or "optional" for this version, query and profile."""
    problems = []
    for i, doc in enumerate(docs):
        present = key in doc
        if mode == "forbidden" and present:
            problems.append(Problem(key, label(doc, i), f"{key} is sent, expected no {key} field ({why})"))
        elif mode == "required" and not present:
            problems.append(Problem(key, label(doc, i), f"{key} is missing, expected it ({why})"))
    return problems


def _labels_problems(docs: Sequence[Mapping[str, Any]], profile: Profile) -> list[Problem]:
    """Releases that send `{}` for an image without labels never send null."""
    if profile.labels_when_none != "empty":
        return []
    return [Problem("Labels", label(doc, i), f"Labels is null, expected {{}} ({profile.name} sends an empty object)")
            for i, doc in enumerate(docs) if "Labels" in doc and doc["Labels"] is None]


def _schema_problems(docs: Sequence[Mapping[str, Any]], api_version: str, strict: bool) -> list[Problem]:
    """The swagger of that API version; each message is re-attributed to the image it is about."""
    problems = []
    kind = "strict schema" if strict else "schema"
    for line in schema.validate("images-json", api_version, list(docs), strict=strict):
        path, _, text = line.partition(": ")
        match = _INDEX_RE.match(path)
        where = "body"
        if match and int(match.group(1)) < len(docs):
            index = int(match.group(1))
            where = label(docs[index], index)
            path = path[match.end():].lstrip(".") or "(item)"
        problems.append(Problem(f"{kind} {api_version}", where, f"{path}: {text}"))
    return problems


# --------------------------------------------------------------------------- the whole body

@dataclass(frozen=True)
class _Asked:
    """What the query asks for that changes the shape of the body."""

    shared_size: bool
    manifests: bool


def _asked(raw_query: str, api_version: str, profile: Profile | None) -> tuple[_Asked, list[Problem]]:
    """Read the query as the daemon does; a query the daemon refuses cannot have a 200 listing."""
    try:
        if profile is not None:
            parsed = parse_list_query(raw_query, api_version, profile)
            return _Asked(parsed.shared_size, parsed.manifests), []
        form = parse_form(raw_query)
    except DaemonError as exc:
        return _Asked(False, False), [Problem("query", "", f"the daemon answers {exc.status} {exc.message!r} to "
                                                           f"query {raw_query!r}, not a listing")]
    return _Asked(at_least(api_version, SHARED_SIZE_FROM) and bool_value(form.get("shared-size")),
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
    fail(*_images_json_problems(body, api_version, query, profile, strict))


def images_json_problems(body: Body, api_version: str, *, query: QueryLike = None,
                         profile: ProfileLike = None, strict: bool = False) -> list[str]:
    """What `assert_valid_images_json` reports, one line per problem (empty: the body is valid);
    for tools that check many bodies, such as `dockerimages validate`."""
    return [p.line().strip().removeprefix("- ") for p in _images_json_problems(body, api_version, query, profile,
                                                                               strict)[1]]


def _images_json_problems(body: Body, api_version: str, query: QueryLike, profile: ProfileLike,
                          strict: bool) -> tuple[str, list[Problem]]:
    version = plain_version(api_version)
    chosen = get_profile(profile) if profile is not None else None
    raw_query = query_string(query)
    docs, problems = documents(body)
    problems += api_version_problems(chosen, version, "a listing")
    asked, query_problems = _asked(raw_query, version, chosen)
    problems += query_problems
    if docs or not problems:
        problems += _schema_problems(docs, version, strict)

    shared_from = chosen.shared_size_from if chosen is not None else SHARED_SIZE_FROM
    if asked.shared_size:
        why = f"shared-size=1 was asked on API {version} >= {shared_from}, so the daemon computes it"
    else:
        why = f"SharedSize is -1 unless shared-size=1 is asked on API >= {shared_from or SHARED_SIZE_FROM}"
    problems += uncounted_problems(docs, "SharedSize", asked.shared_size, why)

    if chosen is not None:
        counted = at_least(version, chosen.containers_from)
        why = (f"{chosen.name} counts containers from API {chosen.containers_from}" if counted else
               f"{chosen.name} does not count containers at API {version}" +
               (f" (it does from {chosen.containers_from})" if chosen.containers_from else ""))
    else:
        counted = at_least(version, CONTAINERS_FROM)
        why = (f"every release that serves API {version} >= {CONTAINERS_FROM} counts containers" if counted else
               f"Containers is -1 below API {CONTAINERS_FROM}")
    problems += uncounted_problems(docs, "Containers", counted, why)

    problems += virtual_size_problems(docs, virtual_size_mode(version, chosen), version)

    if chosen is not None:
        placeholders = chosen.none_placeholders_below is None or below(version, chosen.none_placeholders_below)
    else:
        placeholders = below(version, _PLACEHOLDERS_BELOW)
    problems += placeholder_problems(docs) if placeholders else no_placeholder_problems(docs)

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
    problems += id_problems(docs)
    problems += sorted_problems(docs)
    where = (f"API {version}" + (f", profile {chosen.name}" if chosen else "")
             + (f", query {raw_query!r}" if raw_query else ""))
    return f"GET /images/json body is not what a daemon sends ({where})", problems
