"""deletion.py: DELETE /images as pure functions, still importable from fakedaemon."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_dockerimages._core import deletion
from pytest_dockerimages._core.errors import DaemonError
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._fake import fakedaemon


def test_names_stay_importable_from_fakedaemon() -> None:
    assert fakedaemon.delete_image is deletion.delete_image
    for name in ("_references", "_conflict", "_delete_helper", "_untag_all", "_single_reference"):
        assert getattr(fakedaemon, name) is getattr(deletion, name)


def test_deletion_needs_no_server() -> None:
    code = ("import sys, pytest_dockerimages._core.deletion\n"
            "print(sorted(m for m in sys.modules if m in ('pytest_dockerimages._http.server', "
            "'pytest_dockerimages._fake.fakedaemon', 'socket', 'socketserver')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_delete_image_returns_a_new_store_and_leaves_the_old_one() -> None:
    parent = Image(tags=["base:1"], created="2024-01-01T00:00:00Z")
    child = Image(tags=["app:1", "app:2"], parent=parent.id, created="2024-01-02T00:00:00Z")
    store = ImageStore([parent, child])
    profile = get_profile("docker-26.1")
    new, records = deletion.delete_image(store, "app:1", profile)
    assert records == [{"Untagged": "app:1"}] and len(new) == 2 and len(store.by_id[child.id].tags) == 2
    with pytest.raises(DaemonError) as refused:
        deletion.delete_image(store, parent.id, profile)
    assert refused.value.status == 409 and "dependent child images" in refused.value.message
    with pytest.raises(DaemonError) as missing:
        deletion.delete_image(store, "nope:1", profile)
    assert missing.value.status == 404
