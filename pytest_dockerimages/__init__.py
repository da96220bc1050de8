"""pytest-dockerimages: a fake Docker daemon for GET /images/json, record/replay, and assertions.

Names are imported lazily, so loading the pytest plugin costs almost nothing until used.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Image": "model", "ImageStore": "model", "Layer": "model", "Manifest": "model", "ModelError": "model",
    "Seed": "seed", "SeedError": "seed", "load_seed": "seed", "dump_seed": "seed",
    "Profile": "profiles", "PROFILES": "profiles", "DEFAULT_PROFILE": "profiles", "get_profile": "profiles",
    "DaemonError": "errors",
    "FakeDaemon": "fakedaemon", "LoggedRequest": "fakedaemon", "NoSuchImage": "fakedaemon",
    "delete_image": "fakedaemon",
    "default_images": "defaults",
    "DockerImagesTransport": "httpx_transport",
    "assert_valid_images_json": "assertions", "assert_filter_semantics": "assertions",
    "assert_images_requested": "assertions", "assert_shared_size_default": "assertions",
    "assert_no_placeholders": "assertions", "assert_placeholders_for_untagged": "assertions",
    "assert_virtual_size_rule": "assertions", "assert_sorted_by_created": "assertions",
    "assert_ids_well_formed": "assertions", "assert_containers_default": "assertions",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from .model import Image, ImageStore, Layer, Manifest, ModelError  # noqa: F401
    from .profiles import DEFAULT_PROFILE, PROFILES, Profile, get_profile  # noqa: F401
    from .seed import Seed, SeedError, dump_seed, load_seed  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_dockerimages' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
