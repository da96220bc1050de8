"""pytest-dockerimages: a fake Docker daemon for GET /images/json, record/replay, and assertions.

Names are imported lazily, so loading the pytest plugin costs almost nothing until used.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS_BY_MODULE = {
    "_core.model": ("Image", "ImageStore", "Layer", "Manifest", "ModelError"),
    "_files.seed": ("Seed", "SeedError", "load_seed", "dump_seed"),
    "_core.profiles": ("Profile", "PROFILES", "DEFAULT_PROFILE", "get_profile"),
    "_core.errors": ("DaemonError",),
    "_fake.fakedaemon": ("FakeDaemon", "LoggedRequest", "NoSuchImage", "delete_image"),
    "_core.defaults": ("default_images",),
    "_http.httpx_transport": ("DockerImagesTransport",),
    "_http.requests_adapter": ("DockerImagesAdapter",),
    "assertions": (
        "assert_valid_images_json", "assert_filter_semantics", "assert_images_requested",
        "assert_shared_size_default", "assert_no_placeholders", "assert_placeholders_for_untagged",
        "assert_virtual_size_rule", "assert_sorted_by_created", "assert_ids_well_formed",
        "assert_containers_default",
    ),
}
_EXPORTS = {name: module for module, names in _EXPORTS_BY_MODULE.items() for name in names}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from ._core.model import Image, ImageStore, Layer, Manifest, ModelError  # noqa: F401
    from ._core.profiles import DEFAULT_PROFILE, PROFILES, Profile, get_profile  # noqa: F401
    from ._files.seed import Seed, SeedError, dump_seed, load_seed  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_dockerimages' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
