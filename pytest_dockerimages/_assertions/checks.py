"""The small named checks: one field rule of `body.py` each, over a whole body, for a test that cares
about that rule alone (`assert_valid_images_json` checks them all, with the version and query).
Each takes a listing or a `GET /system/df` body (then its images)."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from .._core.profiles import get_profile
from .body import (
    CONTAINERS_FROM,
    SHARED_SIZE_FROM,
    id_problems,
    no_placeholder_problems,
    placeholder_problems,
    sorted_problems,
    uncounted_problems,
    virtual_size_mode,
    virtual_size_problems,
)
from .common import ImagesBody, Problem, ProfileLike, fail, image_summaries, plain_version

Docs = Sequence[Mapping[str, Any]]


def _check(body: ImagesBody, title: str, rule: Callable[[Docs], list[Problem]]) -> None:
    """One named rule over a body: its problems, with the body's own (not JSON, not a list), or none."""
    __tracebackhide__ = True
    docs, problems = image_summaries(body)
    fail(title, problems + rule(docs))


def assert_shared_size_default(body: ImagesBody) -> None:
    """Every SharedSize is -1: what the daemon sends unless shared-size=1 was asked on API >= 1.42."""
    __tracebackhide__ = True
    why = f"SharedSize is -1 unless shared-size=1 is asked on API >= {SHARED_SIZE_FROM}"
    _check(body, "SharedSize default", lambda docs: uncounted_problems(docs, "SharedSize", False, why))


def assert_containers_default(body: ImagesBody) -> None:
    """Every Containers is -1: what the daemon sends when it does not count containers (API < 1.51)."""
    __tracebackhide__ = True
    why = f"Containers is -1 where the daemon does not count containers: API < {CONTAINERS_FROM} or a release " \
          f"without the count"
    _check(body, "Containers default", lambda docs: uncounted_problems(docs, "Containers", False, why))


def assert_shared_size_computed(body: ImagesBody) -> None:
    """Every SharedSize is computed (>= 0, never -1): a listing asked with shared-size=1 on API >= 1.42,
    or the images of `GET /system/df`, which always computes it."""
    __tracebackhide__ = True
    why = f"computed for shared-size=1 on API >= {SHARED_SIZE_FROM} and always in /system/df"
    _check(body, "SharedSize computed", lambda docs: uncounted_problems(docs, "SharedSize", True, why))


def assert_containers_counted(body: ImagesBody) -> None:
    """Every Containers is the real count (>= 0, never -1): a listing from a release that counts them
    (API >= 1.51), or the images of `GET /system/df`, which always counts them."""
    __tracebackhide__ = True
    why = f"counted from API {CONTAINERS_FROM} by the releases that count, and always in /system/df"
    _check(body, "Containers counted", lambda docs: uncounted_problems(docs, "Containers", True, why))


def assert_no_placeholders(body: ImagesBody) -> None:
    """API >= 1.43 style: RepoTags/RepoDigests are lists (`[]` when empty), never null or `<none>`."""
    __tracebackhide__ = True
    _check(body, "no <none> placeholders (API >= 1.43 style)", no_placeholder_problems)


def assert_placeholders_for_untagged(body: ImagesBody) -> None:
    """API < 1.43 style: empty lists are null and an untagged image shows `<none>:<none>`/`<none>@<none>`."""
    __tracebackhide__ = True
    _check(body, "<none> placeholders for untagged images (API < 1.43 style)", placeholder_problems)


def assert_virtual_size_rule(body: ImagesBody, api_version: str, *, profile: ProfileLike = None) -> None:
    """VirtualSize only below API 1.44 and equal to Size; with a profile, exactly when that release sends it."""
    __tracebackhide__ = True
    version = plain_version(api_version)
    mode = virtual_size_mode(version, get_profile(profile) if profile is not None else None)
    _check(body, f"VirtualSize rule (API {version})", lambda docs: virtual_size_problems(docs, mode, version))


def assert_sorted_by_created(body: ImagesBody) -> None:
    """Newest first: Created never increases along the list."""
    __tracebackhide__ = True
    _check(body, "descending Created order", sorted_problems)


def assert_ids_well_formed(body: ImagesBody) -> None:
    """Ids are `sha256:<64 hex>` and unique; ParentIds are empty or such ids."""
    __tracebackhide__ = True
    _check(body, "well-formed image ids", id_problems)
