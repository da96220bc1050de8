"""GET /images/{name}/json: the image inspect document, consistent with the listing."""
from __future__ import annotations

from typing import Any

from .filters import image_records
from .model import Image, ImageStore
from .profiles import Profile, at_least, below
from .render import descriptor, labels_value, sends_virtual_size
from .timestamps import ZERO_TIME, format_rfc3339_ns

_NON_OCI_CONFIG = ("Hostname", "Domainname", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin",
                   "StdinOnce", "Image")


def _refs(image: Image, store: ImageStore, profile: Profile) -> tuple[list[str], list[str]]:
    if not profile.is_containerd:
        refs = sorted((*image.tags, *image.digests), key=str)
        return [r.familiar for r in refs if not r.digest], [r.familiar for r in refs if r.digest]
    records = [r for r in image_records(image, profile.dangling_record_name) if not r.dangling]
    tags = [r.familiar for r in records]
    digests = sorted({r.repo_digest for r in records})
    return tags, digests


def inspect_document(image: Image, store: ImageStore, profile: Profile, api_version: str) -> dict[str, Any]:
    """The fields every supported API version has, in the daemon's order, gated by version."""
    tags, digests = _refs(image, store, profile)
    config: dict[str, Any] = {
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
        "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False,
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["/bin/sh"], "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
        "OnBuild": None, "Labels": labels_value(image, profile),
    }
    if not below(api_version, "1.50"):  # from 1.50 the config holds only the OCI image-config fields
        for key in _NON_OCI_CONFIG:
            config.pop(key)
    created = format_rfc3339_ns(image.created_ns) if image.created_ns is not None else ZERO_TIME
    doc: dict[str, Any] = {"Id": image.id, "RepoTags": tags, "RepoDigests": digests}
    if below(api_version, "1.52"):
        doc["Parent"] = image.parent
    doc["Comment"] = str(image.extra.get("comment", ""))
    doc["Created"] = created
    if below(api_version, "1.45"):
        doc["Container"] = ""
        doc["ContainerConfig"] = dict(config, Env=None, Cmd=None)  # only below 1.45, before 1.50
    if below(api_version, "1.52"):  # dropped from the document at 1.52
        doc["DockerVersion"] = str(image.extra.get("docker_version", ""))
    doc["Author"] = str(image.extra.get("author", ""))
    doc["Config"] = config
    doc["Architecture"] = image.architecture
    doc["Os"] = image.os
    doc["Size"] = image.size
    if sends_virtual_size(profile, api_version):
        doc["VirtualSize"] = image.size
    doc["GraphDriver"] = {"Data": None, "Name": "overlayfs" if profile.is_containerd else "vfs"}
    doc["RootFS"] = {"Type": "layers", "Layers": [layer.digest for layer in image.layers]}
    doc["Metadata"] = {"LastTagTime": ZERO_TIME}
    if profile.is_containerd and at_least(api_version, profile.descriptor_from):
        doc["Descriptor"] = descriptor(image)
    return doc
