"""`assert_valid_system_df`: one `GET /system/df` body is what a daemon answers for its API version,
`type`/`verbose` query and release: which sections are there, absent or null (`Profile.df_layout`),
sizes and counts always computed for every image, and the totals consistent with the images.

The totals rules are moby's own arithmetic (daemon/disk_usage.go at docker-v29.7.2): `ImageUsage` counts
the images, `ActiveCount` those a container uses, `Reclaimable` the unshared size (`Size - SharedSize`)
of the others; `LayersSize` counts every layer once, so it is at least every image's unshared size plus
the largest shared size.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .._core.errors import DaemonError
from .._core.profiles import PROFILES, at_least, below, get_profile
from .._core.query import bool_value, parse_form
from .._core.system_df import OBJECT_TYPES, USAGE_OBJECTS_FROM, requested_types
from .body import id_problems, sorted_problems, uncounted_problems, virtual_size_mode, virtual_size_problems
from .common import (
    DfBody,
    Problem,
    ProfileLike,
    QueryLike,
    api_version_problems,
    df_images,
    documents,
    fail,
    int_field,
    label,
    parse_json,
    plain_version,
    query_string,
)

# the legacy fields and usage objects of each object type of the `type` parameter
_SECTIONS = {"image": ("Images", "ImageUsage"), "container": ("Containers", "ContainerUsage"),
             "volume": ("Volumes", "VolumeUsage"), "build-cache": ("BuildCache", "BuildCacheUsage")}
_KNOWN_KEYS = ("LayersSize", *(s[0] for s in _SECTIONS.values()), "BuilderSize", *(s[1] for s in _SECTIONS.values()))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, list):
        return "list"
    return "object" if isinstance(value, Mapping) else type(value).__name__


def _expected(layout: str, version: str, wanted: set[str], verbose: bool) -> dict[str, tuple[str, ...]]:
    """Each top-level key: the kinds it may have ("absent" when it may be missing) in this layout."""
    out: dict[str, tuple[str, ...]] = {key: ("absent",) for key in _KNOWN_KEYS}
    if layout == "builder_size":  # 20.10: types.DiskUsage, no `type`, every field written, nil as null
        out.update(LayersSize=("int",), BuilderSize=("int",))
        out.update({legacy: ("list", "null") for legacy, _ in _SECTIONS.values()})
        return out
    if layout == "disk_usage":  # 26.1-28.x: every field; sections not asked for are null
        out.update(LayersSize=("int",), BuilderSize=("int", "absent"))
        for kind, (legacy, _) in _SECTIONS.items():
            asked = ("list", "null") if kind == "build-cache" else ("list",)  # a daemon without a builder: nil
            out[legacy] = asked if kind in wanted else ("null",)
        return out
    legacy_fields = below(version, USAGE_OBJECTS_FROM) or not verbose  # 29: legacyDiskUsage, omitted when unset
    if legacy_fields and "image" in wanted:
        out["LayersSize"] = ("int", "absent")  # omitempty: absent when 0
    for kind, (legacy, usage) in _SECTIONS.items():
        if legacy_fields and kind in wanted:
            out[legacy] = ("list",)
        if at_least(version, USAGE_OBJECTS_FROM) and kind in wanted:
            out[usage] = ("object",)
    return out


def _layout_problems(doc: Mapping[str, Any], expected: dict[str, tuple[str, ...]], why: str) -> list[Problem]:
    problems = []
    for key in (*_KNOWN_KEYS, *(k for k in doc if k not in _KNOWN_KEYS)):
        allowed = expected.get(key, ("absent",))
        have = _kind(doc[key]) if key in doc else "absent"
        if have in allowed:
            continue
        want = " or ".join("missing" if a == "absent" else a for a in allowed)
        text = f"{key} is {'missing' if have == 'absent' else have}, expected {want}"
        problems.append(Problem("sections", "", f"{text} ({why})"))
    return problems


def _layout_names(layout: str) -> str:
    names = [p.name for p in PROFILES.values() if p.df_layout == layout and not p.is_containerd]
    return names[0] if len(names) == 1 else f"{names[0]} to {names[-1]}"


def _why(layout: str, version: str, wanted: set[str], verbose: bool) -> str:
    asked = "every section" if wanted == set(OBJECT_TYPES) else "type=" + ",".join(sorted(wanted))
    extra = f", verbose={'1' if verbose else '0'}" if layout == "usage_objects" and at_least(
        version, USAGE_OBJECTS_FROM) else ""
    return f"layout of {_layout_names(layout)} at API {version}, {asked}{extra}"


def _best_layout(doc: Mapping[str, Any], layouts: Sequence[str], version: str, wanted: set[str],
                 verbose: bool) -> tuple[str, list[Problem]]:
    """The layout the document fits (or fits best: the fewest problems)."""
    tried = [(layout, _layout_problems(doc, _expected(layout, version, wanted, verbose),
                                       _why(layout, version, wanted, verbose))) for layout in layouts]
    return min(tried, key=lambda pair: len(pair[1]))


# --------------------------------------------------------------------------- sizes and counts

def shared_size_problems(docs: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """SharedSize is part of Size: what the image shares with others."""
    problems = []
    for i, doc in enumerate(docs):
        size, shared = int_field(doc, "Size"), int_field(doc, "SharedSize")
        if size is not None and shared is not None and shared > size:
            problems.append(Problem("SharedSize", label(doc, i), f"SharedSize is {shared}, expected at most Size "
                                                                 f"{size} (the part of Size other images share)"))
    return problems


def _sizes(docs: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, int]]:
    """(Size, SharedSize, Containers) of each image that has all three computed."""
    out = []
    for doc in docs:
        size, shared, used = int_field(doc, "Size"), int_field(doc, "SharedSize"), int_field(doc, "Containers")
        if size is not None and shared is not None and used is not None and min(size, shared, used) >= 0:
            out.append((size, shared, used))
    return out


def _layers_size_problems(total: int, docs: Sequence[Mapping[str, Any]], key: str) -> list[Problem]:
    sizes = _sizes(docs)
    if not sizes:
        return []
    floor = sum(size - shared for size, shared, _ in sizes) + max(shared for _, shared, _ in sizes)
    if total >= floor:
        return []
    return [Problem("LayersSize", "", f"{key} is {total}, expected at least {floor}: every image's Size - "
                                      f"SharedSize plus the largest SharedSize (each layer counted once)")]


def _count(usage: Mapping[str, Any], key: str) -> int | None:
    """A usage field; omitempty, so a missing one is 0."""
    return 0 if key not in usage else int_field(usage, key)


def _usage_problems(name: str, usage: Mapping[str, Any]) -> list[Problem]:
    """Every usage object: TotalCount counts Items, ActiveCount and Reclaimable are parts of the totals."""
    problems = []
    items = usage.get("Items")
    total, active = _count(usage, "TotalCount"), _count(usage, "ActiveCount")
    size, reclaimable = _count(usage, "TotalSize"), _count(usage, "Reclaimable")
    if isinstance(items, list) and total is not None and total != len(items):
        problems.append(Problem(name, "", f"TotalCount is {total}, expected {len(items)} (the number of Items)"))
    if total is not None and active is not None and active > total:
        problems.append(Problem(name, "", f"ActiveCount is {active}, expected at most TotalCount {total}"))
    if size is not None and reclaimable is not None and reclaimable > size:
        problems.append(Problem(name, "", f"Reclaimable is {reclaimable}, expected at most TotalSize {size}"))
    return problems


def _image_usage_problems(usage: Mapping[str, Any], docs: Sequence[Mapping[str, Any]],
                          layers_size: int | None) -> list[Problem]:
    """ImageUsage from its images, as daemon/disk_usage.go computes it."""
    problems = []
    sizes = _sizes(docs)
    active, reclaimable = _count(usage, "ActiveCount"), _count(usage, "Reclaimable")
    want_active = sum(1 for _, _, used in sizes if used > 0)
    want_reclaimable = sum(size - shared for size, shared, used in sizes if used == 0)
    if active is not None and active != want_active:
        problems.append(Problem("ImageUsage", "", f"ActiveCount is {active}, expected {want_active} (the images "
                                                  f"with Containers > 0)"))
    if reclaimable is not None and reclaimable != want_reclaimable:
        problems.append(Problem("ImageUsage", "", f"Reclaimable is {reclaimable}, expected {want_reclaimable} "
                                                  f"(Size - SharedSize of the images no container uses)"))
    total_size = _count(usage, "TotalSize")
    if layers_size is not None and total_size is not None and total_size != layers_size:
        problems.append(Problem("ImageUsage", "", f"TotalSize is {total_size}, expected LayersSize {layers_size} "
                                                  f"(both are the image store's size)"))
    return problems


def _container_count_problems(docs: Sequence[Mapping[str, Any]], containers: Any) -> list[Problem]:
    """Each image's Containers is the number of listed containers whose ImageID is that image."""
    if not isinstance(containers, list):
        return []
    users: dict[Any, int] = {}
    for container in containers:
        if isinstance(container, Mapping):
            users[container.get("ImageID")] = users.get(container.get("ImageID"), 0) + 1
    problems = []
    for i, doc in enumerate(docs):
        counted = int_field(doc, "Containers")
        want = users.get(doc.get("Id"), 0)
        if counted is not None and counted >= 0 and counted != want:
            problems.append(Problem("Containers", label(doc, i), f"Containers is {counted}, expected {want} (the "
                                                                 f"containers listed with this ImageID)"))
    return problems


def _twin_problems(doc: Mapping[str, Any]) -> list[Problem]:
    """With both (API 1.52 without verbose), Images and ImageUsage.Items are the same images."""
    usage = doc.get("ImageUsage")
    items = usage.get("Items") if isinstance(usage, Mapping) else None
    images = doc.get("Images")
    if not isinstance(images, list) or not isinstance(items, list):
        return []
    ids = [i.get("Id") for i in images if isinstance(i, Mapping)]
    item_ids = [i.get("Id") for i in items if isinstance(i, Mapping)]
    if sorted(map(str, ids)) == sorted(map(str, item_ids)):
        return []
    return [Problem("ImageUsage", "", f"Items has {len(item_ids)} image(s) that differ from the {len(ids)} of "
                                      f"Images, expected the same images in both")]


# --------------------------------------------------------------------------- the whole body

def assert_valid_system_df(body: DfBody, api_version: str, *, query: QueryLike = None,
                           profile: ProfileLike = None) -> None:
    """The body is what a daemon answers to `GET /v<api_version>/system/df?<query>`.

    Checks that every image has `SharedSize` and `Containers` computed (never -1); the sections present,
    missing or null for the `type` (API 1.42+) and `verbose` parameters in the release's layout (Docker
    20.10's with `BuilderSize`, 26.1-28.x's with null sections, Docker 29's with omitted sections and,
    from API 1.52, `ImageUsage`...); `LayersSize` at least what the images hold; the usage objects'
    counts and sizes; each image's `Containers` against the `Containers` section; ids and order as in
    a listing.  Without `profile`, the layout is that of any release serving the API version.
    """
    __tracebackhide__ = True
    version = plain_version(api_version)
    chosen = get_profile(profile) if profile is not None else None
    raw_query = query_string(query)
    doc, problems = parse_json(body)
    where = (f"API {version}" + (f", profile {chosen.name}" if chosen else "")
             + (f", query {raw_query!r}" if raw_query else ""))
    title = f"GET /system/df body is not what a daemon sends ({where})"
    if problems or not isinstance(doc, Mapping):
        fail(title, problems or [Problem("schema", "body", f"expected a JSON object, got {type(doc).__name__}")])
        return
    problems += api_version_problems(chosen, version, "a disk usage document")
    try:
        wanted = requested_types(raw_query, version)
        verbose = bool_value(parse_form(raw_query).get("verbose"))
    except DaemonError as exc:
        fail(title, [Problem("query", "", f"the daemon answers {exc.status} {exc.message!r} to query "
                                          f"{raw_query!r}, not a disk usage document")])
        return
    if chosen is not None:
        layouts = [chosen.df_layout]
    else:
        layouts = list(dict.fromkeys(p.df_layout for p in PROFILES.values() if p.supports(version)))
        if not layouts:
            fail(title, [Problem("API version", "", f"no release serves API {version}")])
            return
    layout, layout_problems = _best_layout(doc, layouts, version, wanted, verbose)
    problems += layout_problems
    if chosen is None and len(layouts) > 1:
        title += f" (nearest layout: {_layout_names(layout)}'s; pass profile= to be exact)"

    images = df_images(doc)
    docs, image_problems = documents(images) if isinstance(images, list) else ([], [])
    problems += image_problems
    why = "/system/df always computes it"
    problems += uncounted_problems(docs, "SharedSize", True, why)
    problems += uncounted_problems(docs, "Containers", True, why)
    problems += shared_size_problems(docs)
    problems += virtual_size_problems(docs, virtual_size_mode(version, chosen), version)
    problems += id_problems(docs)
    problems += sorted_problems(docs)

    layers_size = int_field(doc, "LayersSize") if "LayersSize" in doc else None
    if "image" in wanted:
        usage = doc.get("ImageUsage")
        if layers_size is not None or "Images" in doc:
            problems += _layers_size_problems(layers_size or 0, docs, "LayersSize")
        elif isinstance(usage, Mapping):
            problems += _layers_size_problems(_count(usage, "TotalSize") or 0, docs, "ImageUsage.TotalSize")
    elif layers_size:
        problems.append(Problem("LayersSize", "", f"LayersSize is {layers_size}, expected 0 (images were not asked "
                                                  f"for: the daemon sizes no layers)"))
    for name in ("ImageUsage", "ContainerUsage", "VolumeUsage", "BuildCacheUsage"):
        usage = doc.get(name)
        if isinstance(usage, Mapping):
            problems += _usage_problems(name, usage)
            if name == "ImageUsage":
                problems += _image_usage_problems(usage, docs, layers_size)
    problems += _twin_problems(doc)
    containers = doc.get("Containers")
    if not isinstance(containers, list) and isinstance(doc.get("ContainerUsage"), Mapping):
        containers = doc["ContainerUsage"].get("Items", [])  # omitempty: no containers
    problems += _container_count_problems(docs, containers)
    fail(title, problems)
