"""GET /images/{name}/json: the image inspect document each release writes (pure).

Two steps. `InspectData` is what one answer shows: an image, or on the containerd store one
platform of it (`platform`, read from API 1.49 by Docker 28+). `render` shapes it as the release's
Go types and router do: the fields a struct has and those it leaves out when empty (`omitempty`),
what the router drops or adds per API version, and how the result is encoded: in struct order
(20.10 to 28.1), with `Config` moved last as a sorted map (28.5), or, where Docker 29 adds a legacy
field, as one map with every object's keys sorted (`INSPECT_LAYOUTS`, keyed by the moby tag the
profile's router comes from).

What the seed cannot say (an image's config, `Container`, `LastTagTime`, the storage driver's
data) comes from `Image.extra`, which `dockerimages snapshot` fills from the daemon's own answers;
without it the fields are empty.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping, Sequence

from .errors import DaemonError, invalid_parameter
from .filters import image_records, resolve_image
from .model import Image, ImageStore, Manifest
from .platforms import best_manifest, check_image_platform, decode_platform, platform_rank
from .profiles import Profile, at_least, below
from .query import bool_value, parse_form
from .reference import DigestRef, ReferenceError, parse_any
from .render import INDEX_MEDIA_TYPE, descriptor, image_manifests, manifest_summary, sends_virtual_size
from .timestamps import ZERO_TIME, format_rfc3339_ns

#: A Go struct field: its JSON name, its zero value, and whether `omitempty` leaves it out when
#: empty ("ptr": a pointer, left out only when nil).
Field = tuple[str, Any, "bool | Literal['ptr']"]

_CONTAINER_CONFIG_V20: tuple[Field, ...] = (
    ("Hostname", "", False), ("Domainname", "", False), ("User", "", False), ("AttachStdin", False, False),
    ("AttachStdout", False, False), ("AttachStderr", False, False), ("ExposedPorts", None, True),
    ("Tty", False, False), ("OpenStdin", False, False), ("StdinOnce", False, False), ("Env", None, False),
    ("Cmd", None, False), ("Healthcheck", None, "ptr"), ("ArgsEscaped", False, True), ("Image", "", False),
    ("Volumes", None, False), ("WorkingDir", "", False), ("Entrypoint", None, False),
    ("NetworkDisabled", False, True), ("MacAddress", "", True), ("OnBuild", None, False), ("Labels", None, False),
    ("StopSignal", "", True), ("StopTimeout", None, "ptr"), ("Shell", None, True),
)
#: docker-v29.7.2's api/types/container.Config: MacAddress gone, OnBuild omitempty.
_CONTAINER_CONFIG_V29: tuple[Field, ...] = tuple(
    (name, zero, True if name == "OnBuild" else omit) for name, zero, omit in _CONTAINER_CONFIG_V20
    if name != "MacAddress")
#: docker-image-spec's DockerOCIImageConfig: ocispec.ImageConfig, then the Docker extensions.
_OCI_CONFIG: tuple[Field, ...] = (
    ("User", "", True), ("ExposedPorts", None, True), ("Env", None, True), ("Entrypoint", None, True),
    ("Cmd", None, True), ("Volumes", None, True), ("WorkingDir", "", True), ("Labels", None, True),
    ("StopSignal", "", True), ("ArgsEscaped", False, True), ("Healthcheck", None, "ptr"), ("OnBuild", None, True),
    ("Shell", None, True),
)
_OCI_NAMES = frozenset(name for name, _, _ in _OCI_CONFIG)
#: api/server/router/image/inspect_response.go (28.5, 29): the Config fields older API versions
#: always had, with the values they get when the image has none.
_LEGACY_CONFIG_V149: dict[str, Any] = {
    "AttachStderr": False, "AttachStdin": False, "AttachStdout": False, "Cmd": None, "Domainname": "",
    "Entrypoint": None, "Env": None, "Hostname": "", "Image": "", "Labels": None, "OnBuild": None, "OpenStdin": False,
    "StdinOnce": False, "Tty": False, "User": "", "Volumes": None, "WorkingDir": "",
}
_LEGACY_CONFIG_V150: dict[str, Any] = {
    "Cmd": None, "Entrypoint": None, "Env": None, "Labels": None, "OnBuild": None, "User": "", "Volumes": None,
    "WorkingDir": "",
}


@dataclass(frozen=True)
class InspectLayout:
    """What a release's inspect types and router look like (moby's source at the tag).

    `fields`: the response struct's fields in order; `config`: the Go type of `Config`
    (container.Config, or the OCI image config); `container_config`: container.Config's fields;
    `rootfs_type_omitempty`; `encoding` (see the module docstring); on the containerd store,
    `containerd_zero_container_config` (26.1 shows an empty ContainerConfig below API 1.45, later
    releases none), `containerd_refs` ("references": 26.1's tags and digests of every record,
    digest records not among the tags; "records": 28+'s, every record a tag, digests deduplicated)
    and `containerd_engine_docker_version` (26.1's DockerVersion is the daemon's own version, later
    releases leave it empty)."""

    fields: tuple[Field, ...]
    config: Literal["container", "oci"]
    container_config: tuple[Field, ...]
    rootfs_type_omitempty: bool
    encoding: Literal["struct", "config_last", "compat"]
    containerd_zero_container_config: bool
    containerd_refs: Literal["references", "records"]
    containerd_engine_docker_version: bool = False
    lookup_error_prefix: str = ""  # 20.10's LookupImage wraps GetImage's error: "no such image: {name}: "


_V20_FIELDS: tuple[Field, ...] = (
    ("Id", "", False), ("RepoTags", None, False), ("RepoDigests", None, False), ("Parent", "", False),
    ("Comment", "", False), ("Created", "", False), ("Container", "", False), ("ContainerConfig", None, False),
    ("DockerVersion", "", False), ("Author", "", False), ("Config", None, False), ("Architecture", "", False),
    ("Variant", "", True), ("Os", "", False), ("OsVersion", "", True), ("Size", 0, False), ("VirtualSize", 0, False),
    ("GraphDriver", None, False), ("RootFS", None, False), ("Metadata", None, False),
)
_V26_OMITTED: dict[str, bool | Literal["ptr"]] = {"Created": True, "Container": True, "ContainerConfig": "ptr",
                                                   "VirtualSize": True}
_V26_FIELDS: tuple[Field, ...] = tuple((n, z, _V26_OMITTED.get(n, o)) for n, z, o in _V20_FIELDS)
_V28_FIELDS = _V26_FIELDS + (("Descriptor", None, "ptr"), ("Manifests", None, True))
_V29_FIELDS: tuple[Field, ...] = (
    ("Id", "", False), ("RepoTags", None, False), ("RepoDigests", None, False), ("Comment", "", True),
    ("Created", "", True), ("Author", "", True), ("Config", None, False), ("Architecture", "", False),
    ("Variant", "", True), ("Os", "", False), ("OsVersion", "", True), ("Size", 0, False),
    ("GraphDriver", None, "ptr"), ("RootFS", None, False), ("Metadata", None, False), ("Descriptor", None, "ptr"),
    ("Manifests", None, True), ("Identity", None, "ptr"),
)

INSPECT_LAYOUTS: dict[str, InspectLayout] = {
    "v20.10.24": InspectLayout(_V20_FIELDS, "container", _CONTAINER_CONFIG_V20, False, "struct", True, "references",
                               lookup_error_prefix="no such image: {name}: "),
    "v26.1.5": InspectLayout(_V26_FIELDS, "container", _CONTAINER_CONFIG_V20, False, "struct", True, "references",
                             containerd_engine_docker_version=True),
    "v28.1.1": InspectLayout(_V28_FIELDS, "container", _CONTAINER_CONFIG_V20, True, "struct", False, "records"),
    "v28.5.2": InspectLayout(_V28_FIELDS, "oci", _CONTAINER_CONFIG_V20, True, "config_last", False, "records"),
    "docker-v29.7.2": InspectLayout(_V29_FIELDS, "oci", _CONTAINER_CONFIG_V29, True, "compat", False, "records"),
}


def layout_of(profile: Profile) -> InspectLayout:
    return INSPECT_LAYOUTS[profile.router_release]


@dataclass(frozen=True)
class InspectData:
    """What one inspect answer shows, before a release's types shape it. `config` holds the image
    config's non-empty fields by their Go names (Labels included); `created` "" when the config has
    no time; `container_config` None when the image has none."""

    id: str
    tags: Sequence[str]
    digests: Sequence[str]
    parent: str = ""
    comment: str = ""
    created: str = ""
    container: str = ""
    container_config: Mapping[str, Any] | None = None
    docker_version: str = ""
    author: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    architecture: str = ""
    variant: str = ""
    os: str = ""
    os_version: str = ""
    size: int = 0
    graph_driver: Mapping[str, Any] = field(default_factory=lambda: {"Data": None, "Name": ""})
    layers: Sequence[str] = ()
    rootfs_type: str = "layers"
    last_tag_time: str = ZERO_TIME
    descriptor: Mapping[str, Any] | None = None
    manifests: Sequence[Mapping[str, Any]] | None = None
    identity: Mapping[str, Any] | None = None


# --- gathering ---------------------------------------------------------------------------------

def _graphdriver_refs(image: Image) -> tuple[list[str], list[str]]:
    refs = sorted((*image.tags, *image.digests), key=str)
    return [r.familiar for r in refs if not r.digest], [r.familiar for r in refs if r.digest]


def _containerd_refs(image: Image, profile: Profile) -> tuple[list[str], list[str]]:
    """RepoTags and RepoDigests from the image's records in name order: each name, and its
    repository at the image's digest (a digest record is its own)."""
    records = [r for r in image_records(image, profile.dangling_record_name) if not r.dangling]
    digests = [r.familiar if r.ref.digest else r.repo_digest for r in records]
    if layout_of(profile).containerd_refs == "references":
        return [r.familiar for r in records if not r.ref.digest], digests
    return list(dict.fromkeys(r.familiar for r in records)), list(dict.fromkeys(digests))


def _resolved_record_name(image: Image, name: str, profile: Profile) -> str | None:
    """The familiar name of the record the containerd store's resolveImage takes for `name`: the
    tag asked for, else the first record (in name order) of the digest's repository or of the image."""
    records = image_records(image, profile.dangling_record_name)
    try:
        ref = parse_any(name)
    except ReferenceError:
        return records[0].familiar if records else None
    if not isinstance(ref, DigestRef):
        named = ref.with_default_tag()
        exact = next((r for r in records if r.ref == named), None)
        if exact is not None:
            return exact.familiar
        if named.digest:
            same_repo = next((r for r in records if r.ref.name == named.name), None)
            return same_repo.familiar if same_repo else None
    return records[0].familiar if records else None


def _containerd_size(image: Image, chosen: Manifest | None) -> int:
    """Inspect's Size on the containerd store: the target's content (an index, then one manifest
    with its config and layers)."""
    manifest = chosen or host_manifest(image)
    index = descriptor(image)
    outer = int(index.get("size", 0)) if index.get("mediaType") == INDEX_MEDIA_TYPE else 0
    return outer + manifest.size + manifest.content_size


def host_manifest(image: Image) -> Manifest:
    """The manifest images.LimitManifests keeps without a platform: the host's (linux/amd64) best
    match, else the index's first."""
    host = {"os": "linux", "architecture": "amd64"}
    ranked = [(rank if (rank := platform_rank(m.platform, host)) is not None else 99, n, m)
              for n, m in enumerate(image_manifests(image))]
    return min(ranked, key=lambda item: item[:2])[2]


def _extra_str(extra: Mapping[str, Any], key: str) -> str:
    return str(extra.get(key) or "")


def _docker_version(image: Image, profile: Profile) -> str:
    if not profile.is_containerd:
        return _extra_str(image.extra, "docker_version")
    return profile.engine_version if layout_of(profile).containerd_engine_docker_version else ""


def image_data(image: Image, profile: Profile, name: str, manifests: bool = False) -> InspectData:
    """The inspect data of an image as `name` resolves it (on the containerd store the record
    named decides the Descriptor)."""
    extra = image.extra
    containerd = profile.is_containerd
    tags, digests = _containerd_refs(image, profile) if containerd else _graphdriver_refs(image)
    graph = dict(extra.get("graph_driver") or {"Data": None, "Name": "overlayfs" if containerd else "vfs"})
    desc: Mapping[str, Any] | None = None
    if containerd:
        record = _resolved_record_name(image, name, profile)
        desc = (extra.get("descriptors") or {}).get(record) or descriptor(image)
    config = dict(extra.get("config") or {})
    if image.labels is not None:
        config["Labels"] = dict(image.labels)
    return InspectData(
        id=image.id, tags=tags, digests=digests, parent=image.parent, comment=_extra_str(extra, "comment"),
        created=format_rfc3339_ns(image.created_ns) if image.created_ns is not None else "",
        container="" if containerd else _extra_str(extra, "container"),
        container_config=None if containerd else dict(extra.get("container_config") or {}),
        docker_version=_docker_version(image, profile),
        author=_extra_str(extra, "author"), config=config, architecture=image.architecture,
        variant=_extra_str(extra, "variant"), os=image.os, os_version=_extra_str(extra, "os_version"),
        size=_containerd_size(image, None) if containerd else image.size, graph_driver=graph,
        layers=[layer.digest for layer in image.layers], last_tag_time=_extra_str(extra, "last_tag_time") or ZERO_TIME,
        descriptor=desc,
        manifests=[manifest_summary(m, False) for m in image_manifests(image)] if manifests and containerd else None,
        identity=extra.get("identity") if containerd else None,
    )


def _platform_data(base: InspectData, image: Image, manifest: Manifest) -> InspectData:
    """One platform of a containerd-store image: its manifest's id, descriptor (the index's entry for
    it) and content, and what its config says (`Manifest.extra`; none known: the image's own; no
    manifest blob: nothing)."""
    desc: Mapping[str, Any] | None = base.descriptor  # a single-manifest image: its own target
    if manifest.id != image.id:
        desc = dict(manifest.descriptor) if manifest.descriptor is not None else {
            "mediaType": manifest.media_type, "digest": manifest.id, "size": manifest.size,
            "platform": dict(manifest.platform)}
    data = replace(base, id=manifest.id, descriptor=desc, size=_containerd_size(image, manifest),
                   layers=list(manifest.diff_ids) or list(base.layers))
    if manifest.found_as == "absent":
        return replace(data, comment="", created="", author="", config={}, architecture="", variant="", os="",
                       os_version="", layers=[], rootfs_type="")
    extra = manifest.extra
    if not extra:
        return replace(data, architecture=str(manifest.platform.get("architecture", base.architecture)),
                       os=str(manifest.platform.get("os", base.os)))
    return replace(data, comment=_extra_str(extra, "comment"), created=_extra_str(extra, "created"),
                   author=_extra_str(extra, "author"), config=dict(extra.get("config") or {}),
                   architecture=_extra_str(extra, "architecture"), variant=_extra_str(extra, "variant"),
                   os=_extra_str(extra, "os"), os_version=_extra_str(extra, "os_version"))


# --- rendering ---------------------------------------------------------------------------------

class _GoStruct(dict):  # type: ignore[type-arg]
    """An object a Go struct encodes (keys in field order)."""


class _Kept(_GoStruct):
    """A Go struct value Docker 29 adds to a map it sorts: its own keys keep their order."""


_MAP_FIELDS = frozenset({"Labels", "ExposedPorts", "Volumes"})  # Go maps among the config fields: keys sorted


def _empty(value: Any, omit: bool | str) -> bool:
    """Go's omitempty test (a pointer: only nil)."""
    if omit == "ptr" or value is None:
        return value is None
    return value is False or value == "" or (value == 0 and not isinstance(value, bool)) or (
        isinstance(value, (list, dict)) and not value)


def _struct(fields: Sequence[Field], values: Mapping[str, Any]) -> _GoStruct:
    out = _GoStruct()
    for name, zero, omit in fields:
        value = values.get(name, zero)
        if omit and _empty(value, omit):
            continue
        out[name] = dict(sorted(value.items())) if name in _MAP_FIELDS and isinstance(value, dict) else value
    return out


def _config(data: InspectData, layout: InspectLayout, containerd: bool) -> _GoStruct:
    """Config as its Go type writes it; where the backend converts to or from the OCI image config
    (containerd store, or the OCI type), only the OCI fields survive."""
    keep_all = layout.config == "container" and not containerd
    fields = _OCI_CONFIG if layout.config == "oci" else layout.container_config
    return _struct(fields, {k: v for k, v in data.config.items() if keep_all or k in _OCI_NAMES})


def _legacy_config(api_version: str, layout: InspectLayout) -> dict[str, Any]:
    """The fields 28.5 and 29 add to Config at older API versions (when the image's config lacks them)."""
    if layout.encoding == "struct" or not below(api_version, "1.52"):
        return {}
    return _LEGACY_CONFIG_V149 if below(api_version, "1.50") else _LEGACY_CONFIG_V150


def _created(data: InspectData, layout: InspectLayout, api_version: str) -> str:
    """No creation time: Go's zero time below API 1.44 (the router) or where Created is no omitempty string."""
    omitted = any(name == "Created" and omit for name, _, omit in layout.fields)
    return data.created or (ZERO_TIME if below(api_version, "1.44") or not omitted else "")


def render(data: InspectData, profile: Profile, api_version: str) -> dict[str, Any]:
    """The document the profile's daemon writes at `api_version`, in its key order."""
    layout = layout_of(profile)
    containerd = profile.is_containerd
    legacy_fields = below(api_version, "1.45")  # the router clears Container and ContainerConfig from 1.45
    container_config: _GoStruct | None = None
    if legacy_fields and (not containerd or layout.containerd_zero_container_config):
        container_config = _struct(layout.container_config, data.container_config or {})
    graph_driver: _GoStruct | None = _GoStruct(Data=_sorted_map(data.graph_driver.get("Data")),
                                               Name=data.graph_driver.get("Name"))
    if containerd and layout.encoding == "compat" and not below(api_version, "1.52"):
        graph_driver = None  # Docker 29 names the snapshotter below API 1.52 only
    values: dict[str, Any] = {
        "Id": data.id, "RepoTags": list(data.tags), "RepoDigests": list(data.digests), "Parent": data.parent,
        "Comment": data.comment, "Created": _created(data, layout, api_version),
        "Container": data.container if legacy_fields else "", "ContainerConfig": container_config,
        "DockerVersion": data.docker_version, "Author": data.author, "Config": _config(data, layout, containerd),
        "Architecture": data.architecture, "Variant": data.variant, "Os": data.os, "OsVersion": data.os_version,
        "Size": data.size, "VirtualSize": data.size if sends_virtual_size(profile, api_version) else 0,
        "GraphDriver": graph_driver,
        "RootFS": _struct((("Type", "", layout.rootfs_type_omitempty), ("Layers", None, True)),
                          {"Type": data.rootfs_type, "Layers": list(data.layers)}),
        "Metadata": _GoStruct(LastTagTime=data.last_tag_time),
        "Descriptor": data.descriptor if containerd and at_least(api_version, profile.descriptor_from) else None,
        "Manifests": data.manifests,
        "Identity": data.identity if at_least(api_version, profile.inspect_identity_from) else None,
    }
    doc: dict[str, Any] = _struct(layout.fields, values)
    if layout.encoding == "config_last":  # 28.5: the Config map merged with the legacy fields goes last
        config = {**_legacy_config(api_version, layout), **doc.pop("Config")}
        doc["Config"] = _sorted_map(config)
    elif layout.encoding == "compat":
        doc = _compat(doc, data, values, api_version, layout)
    return doc


def _compat(base: dict[str, Any], data: InspectData, values: Mapping[str, Any], api_version: str,
            layout: InspectLayout) -> dict[str, Any]:
    """Docker 29 (compat.Wrap): the legacy fields of older API versions, and from 1.52 Parent and
    DockerVersion when set; with any of them the answer is re-encoded as one map."""
    extras: dict[str, Any] = {}
    if below(api_version, "1.44"):
        extras["VirtualSize"] = data.size
    if below(api_version, "1.45"):
        extras.update(Container=data.container, ContainerConfig=values["ContainerConfig"])
    if below(api_version, "1.52"):
        extras.update(Parent=data.parent, Comment=data.comment, DockerVersion=data.docker_version,
                      Author=data.author, Config=_legacy_config(api_version, layout))
    else:
        extras.update({k: v for k, v in (("Parent", data.parent), ("DockerVersion", data.docker_version)) if v})
    if not extras:
        return base
    merged = _sorted_map(base)
    _append_fields(extras, merged)
    result: dict[str, Any] = _sorted_map(merged)
    return result


def _sorted_map(value: Any) -> Any:
    """A JSON value decoded into map[string]any and encoded again: every object's keys sorted,
    apart from Go struct values added afterwards."""
    if isinstance(value, _Kept):
        return value
    if isinstance(value, dict):
        return {k: _sorted_map(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_sorted_map(v) for v in value]
    return value


def _append_fields(src: Mapping[str, Any], dst: dict[str, Any]) -> None:
    """compat.appendFields: add what is missing or null, merging into objects."""
    for key, value in src.items():
        if isinstance(value, dict) and not isinstance(value, _GoStruct) and isinstance(dst.get(key), dict):
            _append_fields(value, dst[key])
        elif dst.get(key) is None:
            dst[key] = _Kept(value) if isinstance(value, _GoStruct) else value


# --- the route ---------------------------------------------------------------------------------

def image_inspect(store: ImageStore, name: str, profile: Profile, api_version: str, raw_query: str) -> dict[str, Any]:
    """The route: `manifests` (API 1.48+) and `platform` (1.49+, Docker 28+) where the release reads
    them, then the image, then the platform asked for."""
    form = parse_form(raw_query)
    manifests = False
    if form.get("manifests") and at_least(api_version, profile.inspect_manifests_from):
        manifests = bool_value(form.get("manifests"))
    want = None
    platform_text = form.get("platform")
    if platform_text and at_least(api_version, profile.inspect_platform_from):
        want = decode_platform(platform_text)
    if manifests and want is not None:
        raise invalid_parameter("conflicting options: manifests and platform options cannot both be set")
    try:
        image = resolve_image(store, name, profile)
    except DaemonError as err:
        prefix = layout_of(profile).lookup_error_prefix.format(name=name)
        raise DaemonError(err.status, prefix + err.message) from None
    data = image_data(image, profile, name, manifests)
    if want is not None:
        if not profile.is_containerd:
            check_image_platform(image, name, want)
        else:
            usable = (lambda m: True) if profile.inspect_platform_any_manifest else (lambda m: m.available)
            chosen = best_manifest(image, name, want, strict=True, usable=usable)
            data = _platform_data(data, image, chosen)
    return render(data, profile, api_version)


__all__ = ["INSPECT_LAYOUTS", "InspectData", "InspectLayout", "host_manifest", "image_data", "image_inspect", "render"]
