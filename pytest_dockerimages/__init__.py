"""pytest-dockerimages: a fake Docker daemon for GET /images/json, record/replay, and assertions.

Every public name is listed twice, on purpose: in the ``TYPE_CHECKING`` block (``X as X``: what type
checkers read, so ``from pytest_dockerimages import Image`` is typed under ``mypy --strict`` and
pyright) and in ``_LAZY`` (where it lives at run time). At run time a name is imported on first use, so
loading the pytest plugin stays cheap. ``tests/test_public_api.py`` keeps the two lists and
``__all__`` equal.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # the image model
    "Image", "ImageStore", "Layer", "Manifest", "ModelError", "default_images", "delete_image",
    # seed files
    "Seed", "SeedError", "load_seed", "dump_seed",
    # daemon releases
    "Profile", "PROFILES", "DEFAULT_PROFILE", "get_profile",
    # the fake daemon
    "DaemonError", "FakeDaemon", "LoggedRequest", "NoSuchImage",
    # in-process httpx (needs httpx: pip install "pytest-dockerimages[httpx]")
    "DockerImagesTransport",
    # in-process requests, for the docker SDK (needs requests: pip install "pytest-dockerimages[docker]")
    "DockerImagesAdapter",
    # what the hooks are given: a cassette's recorded exchange, a replayed request
    "Interaction", "Request",
    # assertion helpers (also importable from pytest_dockerimages.assertions)
    "assert_valid_images_json", "assert_filter_semantics", "assert_images_requested",
    "assert_shared_size_default", "assert_no_placeholders", "assert_placeholders_for_untagged",
    "assert_virtual_size_rule", "assert_sorted_by_created", "assert_ids_well_formed",
    "assert_containers_default", "assert_shared_size_computed", "assert_containers_counted",
    "assert_valid_system_df", "assert_prune_consistent", "assert_prune_requested", "assert_no_removal_requested",
]

if TYPE_CHECKING:  # pragma: no cover
    from ._cassettes.format import Interaction as Interaction
    from ._core.defaults import default_images as default_images
    from ._core.deletion import delete_image as delete_image
    from ._core.errors import DaemonError as DaemonError
    from ._core.model import Image as Image
    from ._core.model import ImageStore as ImageStore
    from ._core.model import Layer as Layer
    from ._core.model import Manifest as Manifest
    from ._core.model import ModelError as ModelError
    from ._core.profiles import DEFAULT_PROFILE as DEFAULT_PROFILE
    from ._core.profiles import PROFILES as PROFILES
    from ._core.profiles import Profile as Profile
    from ._core.profiles import get_profile as get_profile
    from ._core.wire import Request as Request
    from ._fake.fakedaemon import FakeDaemon as FakeDaemon
    from ._fake.fakedaemon import NoSuchImage as NoSuchImage
    from ._files.seed import Seed as Seed
    from ._files.seed import SeedError as SeedError
    from ._files.seed import dump_seed as dump_seed
    from ._files.seed import load_seed as load_seed
    from ._http.httpx_transport import DockerImagesTransport as DockerImagesTransport
    from ._http.requestlog import LoggedRequest as LoggedRequest
    from ._http.requests_adapter import DockerImagesAdapter as DockerImagesAdapter
    from .assertions import assert_containers_counted as assert_containers_counted
    from .assertions import assert_containers_default as assert_containers_default
    from .assertions import assert_filter_semantics as assert_filter_semantics
    from .assertions import assert_ids_well_formed as assert_ids_well_formed
    from .assertions import assert_images_requested as assert_images_requested
    from .assertions import assert_no_placeholders as assert_no_placeholders
    from .assertions import assert_no_removal_requested as assert_no_removal_requested
    from .assertions import assert_placeholders_for_untagged as assert_placeholders_for_untagged
    from .assertions import assert_prune_consistent as assert_prune_consistent
    from .assertions import assert_prune_requested as assert_prune_requested
    from .assertions import assert_shared_size_computed as assert_shared_size_computed
    from .assertions import assert_shared_size_default as assert_shared_size_default
    from .assertions import assert_sorted_by_created as assert_sorted_by_created
    from .assertions import assert_valid_images_json as assert_valid_images_json
    from .assertions import assert_valid_system_df as assert_valid_system_df
    from .assertions import assert_virtual_size_rule as assert_virtual_size_rule

#: public name -> the module (relative to this package) that defines it; imported on first use
_LAZY = {
    "Interaction": "._cassettes.format",
    "default_images": "._core.defaults",
    "delete_image": "._core.deletion",
    "DaemonError": "._core.errors",
    "Image": "._core.model",
    "ImageStore": "._core.model",
    "Layer": "._core.model",
    "Manifest": "._core.model",
    "ModelError": "._core.model",
    "DEFAULT_PROFILE": "._core.profiles",
    "PROFILES": "._core.profiles",
    "Profile": "._core.profiles",
    "get_profile": "._core.profiles",
    "Request": "._core.wire",
    "FakeDaemon": "._fake.fakedaemon",
    "NoSuchImage": "._fake.fakedaemon",
    "Seed": "._files.seed",
    "SeedError": "._files.seed",
    "dump_seed": "._files.seed",
    "load_seed": "._files.seed",
    "DockerImagesTransport": "._http.httpx_transport",
    "LoggedRequest": "._http.requestlog",
    "DockerImagesAdapter": "._http.requests_adapter",
    "assert_containers_counted": ".assertions",
    "assert_containers_default": ".assertions",
    "assert_filter_semantics": ".assertions",
    "assert_ids_well_formed": ".assertions",
    "assert_images_requested": ".assertions",
    "assert_no_placeholders": ".assertions",
    "assert_no_removal_requested": ".assertions",
    "assert_placeholders_for_untagged": ".assertions",
    "assert_prune_consistent": ".assertions",
    "assert_prune_requested": ".assertions",
    "assert_shared_size_computed": ".assertions",
    "assert_shared_size_default": ".assertions",
    "assert_sorted_by_created": ".assertions",
    "assert_valid_images_json": ".assertions",
    "assert_valid_system_df": ".assertions",
    "assert_virtual_size_rule": ".assertions",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
