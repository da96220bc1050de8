"""Images from what a daemon lists: ImageSummary documents (all=1, manifests=1 where the API has them),
the inspect document of each image and the containers that use them.

Why here: `dockerimages snapshot` (a live daemon) and a cassette's fallback fake (a recorded one)
rebuild the same images from the same documents, by one set of rules. Pure.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .model import Image, ModelError
from .render import NONE_DIGEST, NONE_TAG
from .timestamps import ZERO_TIME


def _layer_sizes(images: Sequence[tuple[tuple[str, ...], int]]) -> dict[tuple[str, ...], int]:
    """Size of each layer chain prefix: known where some image ends exactly there, else inferred.

    The API exposes only each image's total (its Size; on the containerd store its unpacked size);
    a layer's own size is the difference between the totals of the images ending at it and at its
    parent chain.
    """
    totals = {layers: size for layers, size in images}
    sizes: dict[tuple[str, ...], int] = {}
    for layers, _size in images:
        previous_total = 0
        for k in range(1, len(layers) + 1):
            prefix = layers[:k]
            total = totals.get(prefix)
            if total is None:
                continue
            sizes.setdefault(prefix, max(total - previous_total, 0))
            previous_total = total
    return sizes


def build_images(listing: Sequence[Mapping[str, Any]], inspects: Mapping[str, Mapping[str, Any]],
                 store: str, containers: Mapping[str, Sequence[str]] | None = None, *,
                 histories: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                 manifest_fields: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
                 legacy_inspects: Mapping[str, Mapping[str, Any]] | None = None,
                 descriptors: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
                 skip_invalid: bool = False) -> list[Image]:
    """Images from an all=1 listing (with manifests=1 where the daemon has it) plus the inspect
    document of each (keyed by Id), and the containers that use each image (`containers_by_image`;
    None: only the listed `Containers` counts are known, so ids are made up for them).
    `histories` holds each image's GET /images/{id}/history answer, where read; `manifest_fields`
    the seed fields `platform_fields` read for each manifest ({image id: {manifest id: fields}});
    `legacy_inspects` each image's inspect at an API version below 1.45 (see `inspect_extra`);
    `descriptors` the Descriptor inspect shows for each name of an image ({image id: {name: descriptor}}).
    `skip_invalid` leaves out an image the model cannot hold instead of raising."""
    manifest_fields = manifest_fields or {}
    legacy_inspects = legacy_inspects or {}
    descriptors = descriptors or {}
    chains: list[tuple[tuple[str, ...], int]] = []
    sizes: list[int] = []
    for summary in listing:
        inspect = inspects.get(summary["Id"], {})
        layers = tuple((inspect.get("RootFS") or {}).get("Layers") or ())
        size = _count(summary.get("Size", 0))
        sizes.append(size)
        chains.append((layers, unpacked_size(summary, inspect) if store == "containerd" else size))
    chain_sizes = _layer_sizes(chains)
    images = []
    for summary, (layers, layers_total), size in zip(listing, chains, sizes, strict=False):
        inspect = inspects.get(summary["Id"], {})
        tags = [t for t in summary.get("RepoTags") or inspect.get("RepoTags") or [] if t != NONE_TAG]
        if store == "containerd":
            digests = [t for t in tags if "@" in t]
            tags = [t for t in tags if "@" not in t]
        else:
            digests = [d for d in summary.get("RepoDigests") or [] if d != NONE_DIGEST]
        layer_list: list[dict[str, Any]] = []
        for k in range(1, len(layers) + 1):
            layer_list.append({"digest": layers[k - 1], "size": chain_sizes.get(layers[:k], 0)})
        known = sum(layer["size"] for layer in layer_list)
        if layer_list and known != layers_total:  # put what no other image explains on the top layer
            layer_list[-1]["size"] = max(layer_list[-1]["size"] + layers_total - known, 0)
        try:
            images.append(Image(
                id=summary["Id"], tags=tags, digests=digests, labels=summary.get("Labels"),
                created=_created(summary, inspect), parent=summary.get("ParentId") or "", size=size,
                layers=layer_list or None, os=str(inspect.get("Os") or "linux"),
                architecture=str(inspect.get("Architecture") or "amd64"),
                containers=_containers(summary, containers),
                descriptor=summary.get("Descriptor") if store == "containerd" else None,
                manifests=([{**manifest_entry(m), **manifest_fields.get(summary["Id"], {}).get(m.get("ID"), {})}
                            for m in summary.get("Manifests") or ()] if store == "containerd" else None),
                history=history_of(histories[summary["Id"]]) if histories and summary["Id"] in histories else None,
                extra=inspect_extra(inspect, legacy_inspects.get(summary["Id"]), summary.get("Descriptor"),
                                    descriptors.get(summary["Id"])),
            ))
        except (ModelError, TypeError, ValueError, KeyError):
            if not skip_invalid:
                raise
    return images


def _set_fields(config: Any, *, labels: bool) -> dict[str, Any]:
    """The fields of an inspect `Config` (or `ContainerConfig`) that are set: what the image's
    config holds, without the zero values a Go struct writes for the rest."""
    if not isinstance(config, Mapping):
        return {}
    return {k: v for k, v in config.items() if v is not None and v != "" and v is not False
            and (labels or k != "Labels")}


def inspect_extra(inspect: Mapping[str, Any], legacy: Mapping[str, Any] | None = None,
                  listed_descriptor: Mapping[str, Any] | None = None,
                  descriptors: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The seed's `extra` (`model.EXTRA_FIELDS`) from an image's inspect documents: `inspect` at the
    newest API version, `legacy` at one below 1.45, where Container, ContainerConfig and the older
    Config fields still show (and Parent, DockerVersion, GraphDriver on every release); `descriptors`
    the Descriptor inspect shows for a name, kept where it is not the listed one."""
    docs = [d for d in (legacy, inspect) if d]
    out: dict[str, Any] = {}
    for key, name in (("comment", "Comment"), ("author", "Author"), ("docker_version", "DockerVersion"),
                      ("container", "Container"), ("variant", "Variant"), ("os_version", "OsVersion")):
        value = next((d[name] for d in docs if d.get(name)), "")
        if value:
            out[key] = str(value)
    config: dict[str, Any] = {}
    for doc in docs:
        config.update(_set_fields(doc.get("Config"), labels=False))
    if config:
        out["config"] = config
    container_config = _set_fields((legacy or inspect).get("ContainerConfig"), labels=True)
    if container_config:
        out["container_config"] = container_config
    last_tag = (inspect.get("Metadata") or {}).get("LastTagTime")
    if last_tag:
        out["last_tag_time"] = str(last_tag)
    graph_driver = next((d["GraphDriver"] for d in reversed(docs) if isinstance(d.get("GraphDriver"), Mapping)), None)
    if graph_driver is not None:
        out["graph_driver"] = dict(graph_driver)
    if isinstance(inspect.get("Identity"), Mapping):
        out["identity"] = dict(inspect["Identity"])
    kept = {name: dict(d) for name, d in (descriptors or {}).items() if d and d != listed_descriptor}
    if kept:
        out["descriptors"] = kept
    return out


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def unpacked_size(summary: Mapping[str, Any], inspect: Mapping[str, Any]) -> int:
    """What the image's layers hold on the containerd store: its snapshots' disk usage, which
    SharedSize counts per shared layer. The listed manifests' `ImageData.Size.Unpacked` where the
    listing has them (API 1.47+); before, the listing's Size less the inspected one (there, inspect
    counts the content alone)."""
    manifests = summary.get("Manifests")
    if manifests:
        return sum(_count(((m.get("ImageData") or {}).get("Size") or {}).get("Unpacked", 0)) for m in manifests)
    if "Size" in inspect:
        return max(_count(summary.get("Size", 0)) - _count(inspect["Size"]), 0)
    return _count(summary.get("Size", 0))


def history_of(answer: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The seed's `history` (oldest first) from a GET /images/{id}/history answer (newest first)."""
    return [{"created": int(item.get("Created") or 0), "created_by": item.get("CreatedBy") or "",
             "comment": item.get("Comment") or "", "size": int(item.get("Size") or 0)}
            for item in reversed(answer)]


def _containers(summary: Mapping[str, Any], known: Mapping[str, Sequence[str]] | None) -> list[str]:
    if known is not None:
        return list(known.get(summary["Id"], ()))
    count = summary.get("Containers", -1)
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        return []
    return [summary["Id"][7:63] + f"{i:08x}" for i in range(count)]


GO_ZERO_TIME_UNIX = -62135596800  # time.Time{}.Unix(): January 1, year 1


def _created(summary: Mapping[str, Any], inspect: Mapping[str, Any]) -> Any:
    """The image config's creation time, or None when the config has none.

    Without a `created` field, Docker 20.10 holds Go's zero time, a real time (listed as
    -62135596800, inspected as 0001-01-01T00:00:00Z) that before/since compare; later releases
    hold no time (listed as 0, left out of inspect) and before/since skip the image."""
    listed = summary.get("Created", 0)
    if listed == GO_ZERO_TIME_UNIX:
        return ZERO_TIME
    if not inspect:
        return listed
    text = inspect.get("Created")
    return None if not text or text == ZERO_TIME else text


def manifest_entry(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A seed `manifests` entry from one ImageManifestSummary of a manifests=1 listing."""
    descriptor = summary.get("Descriptor") or {}
    sizes = summary.get("Size") or {}
    data = summary.get("ImageData") or {}
    entry: dict[str, Any] = {
        "id": summary["ID"], "kind": summary.get("Kind", "image"), "available": bool(summary.get("Available", True)),
        "media_type": descriptor.get("mediaType", ""), "size": int(descriptor.get("size", 0)),
        "content_size": max(int(sizes.get("Content", 0)) - int(descriptor.get("size", 0)), 0),
        "unpacked_size": int((data.get("Size") or {}).get("Unpacked", 0)), "descriptor": dict(descriptor),
        "containers": list(data.get("Containers") or ()),
    }
    if data.get("Platform") is not None:
        entry["platform"] = dict(data["Platform"])
    if data.get("Identity") is not None:
        entry["identity"] = data["Identity"]
    attested = (summary.get("AttestationData") or {}).get("For")
    if attested:
        entry["attestation_for"] = attested
    return entry


def platforms_to_read(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{manifest id: platform} of a multi-platform image's image manifests (one manifest: none, its
    history is the image's)."""
    images = {str(m.get("ID")): dict((m.get("ImageData") or {}).get("Platform") or {})
              for m in summary.get("Manifests") or () if m.get("Kind") == "image"}
    return images if len(images) > 1 else {}


def platform_fields(manifest: Mapping[str, Any], history: Sequence[Mapping[str, Any]] | None,
                    inspect: Mapping[str, Any] | None) -> dict[str, Any]:
    """Seed fields of one manifest (an ImageManifestSummary) from the answers to GET
    /images/{id}/history and /images/{id}/json with its `platform` (None: not a 200). A history
    answered: its config is there, and its snapshots where the listing counts them (Unpacked); none
    (no manifest, or a release that fails on a missing snapshot): `config` when its content is
    Available. `diff_ids` only from an inspect of that platform (before API 1.49, and the fake,
    inspect answers for the image's own platform)."""
    data = manifest.get("ImageData") or {}
    fields: dict[str, Any]
    if history is not None:
        unpacked = _count((data.get("Size") or {}).get("Unpacked", 0))
        fields = {"presence": "unpacked" if unpacked else "config", "history": history_of(history)}
    else:
        fields = {"presence": "config" if manifest.get("Available") else "absent"}
    platform = data.get("Platform") or {}
    inspected = (inspect or {}).get("Os"), (inspect or {}).get("Architecture")
    if inspect and inspected == (platform.get("os"), platform.get("architecture")):
        diff_ids = (inspect.get("RootFS") or {}).get("Layers")
        if diff_ids:
            fields["diff_ids"] = list(diff_ids)
    if inspect and inspect.get("Id") == manifest.get("ID"):  # that platform's own answer (API 1.49+)
        fields["extra"] = platform_extra(inspect)
    return fields


def platform_extra(inspect: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest's `extra`: what inspect with its platform shows of its config."""
    out: dict[str, Any] = {key: str(inspect[name]) for key, name in (
        ("created", "Created"), ("author", "Author"), ("comment", "Comment"), ("architecture", "Architecture"),
        ("os", "Os"), ("variant", "Variant"), ("os_version", "OsVersion")) if inspect.get(name)}
    if inspect.get("Created") == ZERO_TIME:
        out.pop("created")
    config = _set_fields(inspect.get("Config"), labels=True)
    if config:
        out["config"] = config
    return out


def containers_by_image(containers: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """{image id: [container ids]} from a /containers/json?all=1 listing (ImageID names the image)."""
    out: dict[str, list[str]] = {}
    for container in containers:
        out.setdefault(str(container.get("ImageID", "")), []).append(str(container["Id"]))
    return out
