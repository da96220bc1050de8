"""`GET /system/df` as each daemon answers it (pure: store + request in, document out).

The images are what the image service lists for it: top-level images (as `all=0`), newest first,
with `SharedSize` and `Containers` always computed, `Descriptor` on the containerd store whatever
the API version, and the service's null for no references (the listing's router shows `[]` or
placeholders instead; Docker 20.10's service shows placeholders itself). `LayersSize` sums every
layer the store holds once. Volumes and build cache are empty; the containers are those the images
name, with the fields the seed knows (`Id`, `ImageID`).

Three layouts (`Profile.df_layout`): Docker 20.10's `types.DiskUsage` with `BuilderSize` and a
null build cache; 26.1-28.x's, with the `type` parameter from API 1.42 (sections not asked for are
null); Docker 29's, whose sections are omitted when not asked for, which below API 1.44 writes
every object with sorted keys (adding `VirtualSize`), and which from API 1.52 adds `ImageUsage`,
`ContainerUsage`, `VolumeUsage` and `BuildCacheUsage` (with `verbose=1`, only those).
"""
from __future__ import annotations

from typing import Any

from .errors import DaemonError, invalid_parameter
from .filters import select
from .model import ImageStore
from .profiles import Profile, at_least, below
from .prune import chain_ids
from .query import ListQuery, bool_value, parse_form
from .render import _Plan, planned_summaries, virtual_size_rule

OBJECT_TYPES = ("container", "image", "volume", "build-cache")
#: Where the `type` parameter starts to count (API 1.42), and where Docker 29's layout adds the usage
#: objects and reads `verbose` (1.52): daemon/server/router/system/system_routes.go at docker-v29.7.2.
TYPE_FROM = "1.42"
USAGE_OBJECTS_FROM = "1.52"


def layers_size(store: ImageStore) -> int:
    """Every layer chain the store holds, counted once."""
    sizes: dict[str, int] = {}
    for image in store.images:
        for chain, layer in zip(chain_ids(image), image.layers, strict=True):
            sizes.setdefault(chain, layer.size)
    return sum(sizes.values())


def df_images(store: ImageStore, profile: Profile, api_version: str) -> list[dict[str, Any]]:
    """The image service's summaries for disk usage."""
    query = ListQuery(all=False, filters={}, shared_size=True, manifests=False, identity=False)
    plan = _Plan(placeholders=profile.none_placeholders_below is None,
                 with_descriptor=profile.is_containerd and profile.descriptor_from is not None,
                 with_containers=True, virtual=virtual_size_rule(profile, api_version), manifests=False,
                 identity=False, shared_size=True, empty_refs_null=True)
    return planned_summaries(select(store, query, profile, 0), store, profile, plan)


def df_containers(store: ImageStore) -> list[dict[str, Any]]:
    """The containers the seed names, once each, with what it knows of them."""
    seen: dict[str, str] = {}
    for image in store.images:
        for container in (*image.containers, *(c for m in image.manifests for c in m.containers)):
            seen.setdefault(container, image.id)
    return [{"Id": container, "ImageID": image_id} for container, image_id in seen.items()]


def requested_types(raw_query: str, api_version: str) -> set[str]:
    """The `type` parameter (API 1.42+): which sections to compute; all of them without it."""
    form = parse_form(raw_query)
    if below(api_version, TYPE_FROM) or not form.has("type"):
        return set(OBJECT_TYPES)
    wanted = set()
    for value in form.values["type"]:
        if value not in OBJECT_TYPES:
            raise invalid_parameter(f"unknown object type: {value}")
        wanted.add(value)
    return wanted


def drops_connection(profile: Profile, api_version: str, raw_query: str) -> bool:
    """Whether the daemon closes the connection without an answer: `type=build-cache` alone below
    `Profile.df_build_cache_alone_drops_below` (a nil dereference in the handler; Go's server
    recovers the panic and drops the connection)."""
    if not below(api_version, profile.df_build_cache_alone_drops_below) or below(api_version, TYPE_FROM):
        return False
    try:
        return requested_types(raw_query, api_version) == {"build-cache"}
    except DaemonError:
        return False  # an unknown type is answered first


def _sorted_keys(value: Any) -> Any:
    """What Go's map[string]any encoding writes: every object's keys sorted."""
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def _usage_document(store: ImageStore, profile: Profile, api_version: str, wanted: set[str],
                    verbose: bool) -> dict[str, Any]:
    """Docker 29: legacy fields (omitted when not asked for) and, from API 1.52, the usage objects."""
    images = df_images(store, profile, api_version) if "image" in wanted else None
    containers = df_containers(store) if "container" in wanted else None
    size = layers_size(store) if images is not None else 0
    legacy_fields = below(api_version, USAGE_OBJECTS_FROM) or not verbose
    out: dict[str, Any] = {}
    if legacy_fields:
        if size:
            out["LayersSize"] = size
        for key, section in (("Images", images), ("Containers", containers)):
            if section is not None:
                out[key] = section
        for key, kind in (("Volumes", "volume"), ("BuildCache", "build-cache")):
            if kind in wanted:
                out[key] = []
    if below(api_version, USAGE_OBJECTS_FROM):
        if below(api_version, "1.44") and images:
            return {key: _sorted_keys(out[key]) for key in sorted(out)}
        return out
    if images is not None:
        unused = [i for i in images if i["Containers"] == 0]
        usage: dict[str, Any] = {"ActiveCount": len(images) - len(unused),
                                 "Items": images if verbose or legacy_fields else None,
                                 "Reclaimable": sum(i["Size"] - i["SharedSize"] for i in unused),
                                 "TotalCount": len(images), "TotalSize": size}
        out["ImageUsage"] = {k: v for k, v in usage.items() if v}
    if containers is not None:
        counts = {"Items": containers if verbose or legacy_fields else None, "TotalCount": len(containers)}
        out["ContainerUsage"] = {k: v for k, v in counts.items() if v}
    if "volume" in wanted:
        out["VolumeUsage"] = {}
    if "build-cache" in wanted:
        out["BuildCacheUsage"] = {}
    return out


def disk_usage(store: ImageStore, profile: Profile, api_version: str, raw_query: str) -> dict[str, Any]:
    """The response body of GET /system/df."""
    wanted = requested_types(raw_query, api_version) if at_least(api_version, TYPE_FROM) else set(OBJECT_TYPES)
    if profile.df_layout == "usage_objects":
        verbose = bool_value(parse_form(raw_query).get("verbose"))
        return _usage_document(store, profile, api_version, wanted, verbose)
    images = df_images(store, profile, api_version) if "image" in wanted else None
    out: dict[str, Any] = {
        "LayersSize": layers_size(store) if images is not None else 0,
        "Images": images,
        "Containers": df_containers(store) if "container" in wanted else None,
        "Volumes": [] if "volume" in wanted else None,
        "BuildCache": [] if "build-cache" in wanted else None,
    }
    if profile.df_layout == "builder_size":
        out["BuildCache"] = None  # the 20.10 builder reports no records as nil
        out["BuilderSize"] = 0
    return out


__all__ = ["OBJECT_TYPES", "TYPE_FROM", "USAGE_OBJECTS_FROM", "df_containers", "df_images",
           "disk_usage", "drops_connection", "layers_size", "requested_types"]
