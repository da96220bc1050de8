"""deletion.py: DELETE /images as pure functions, the one home of the deletion rules."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_dockerimages._core import deletion
from pytest_dockerimages._core.errors import DaemonError
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._fake import fakedaemon


def test_fakedaemon_does_not_re_export_the_private_helpers() -> None:
    private = [name for name in vars(deletion) if name.startswith("_") and not name.startswith("__")]
    assert private, "deletion.py has no private helpers: this test checks nothing"
    assert [name for name in private if name in vars(fakedaemon)] == []
    assert "delete_image" not in fakedaemon.__all__  # public from pytest_dockerimages, defined in deletion.py


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
