"""Assertion helpers for tests of code that talks to `GET /images/json`, `GET /system/df` and
`POST /images/prune`.

Each helper raises `AssertionError` with an itemised report (which image, which field, which rule,
what was expected) instead of a bare `assert a == b`, because a listing is a list of large
documents and "the 4th dict differs" tells a reader nothing.  Every helper sets
`__tracebackhide__` so that a failing user test shows the user's own line, not our internals.

The rules are not a second copy of the daemon: where a rule depends on a release it reads the
`Profile` row, and the filter checks rebuild an `ImageStore` and run the daemon's own `select` (and `prune_images`).
"""
from __future__ import annotations

from ._assertions.body import assert_valid_images_json
from ._assertions.checks import (
    assert_containers_counted,
    assert_containers_default,
    assert_ids_well_formed,
    assert_no_placeholders,
    assert_placeholders_for_untagged,
    assert_shared_size_computed,
    assert_shared_size_default,
    assert_sorted_by_created,
    assert_virtual_size_rule,
)
from ._assertions.filter_semantics import assert_filter_semantics
from ._assertions.prune import assert_prune_consistent
from ._assertions.requests import assert_images_requested, assert_no_removal_requested, assert_prune_requested
from ._assertions.system_df import assert_valid_system_df

__all__ = [
    "assert_valid_images_json",
    "assert_filter_semantics",
    "assert_images_requested",
    "assert_shared_size_default",
    "assert_no_placeholders",
    "assert_placeholders_for_untagged",
    "assert_virtual_size_rule",
    "assert_sorted_by_created",
    "assert_ids_well_formed",
    "assert_containers_default",
    "assert_valid_system_df",
    "assert_shared_size_computed",
    "assert_containers_counted",
    "assert_prune_consistent",
    "assert_prune_requested",
    "assert_no_removal_requested",
]
