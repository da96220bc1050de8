"""Where the shipped data lives: inside an installed wheel, or at the top of a checkout."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # pytest_dockerimages/


def data_dir(name: str) -> Path:
    """Folder `name` ("schemas" or "cassettes"): packaged copy first, then the checkout's top level."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"pytest-dockerimages: shipped folder {name!r} not found next to {_PACKAGE}")
