"""Where the shipped data lives: inside an installed wheel, or at the top of a checkout."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # pytest_dockerimages/

#: Cassettes shipped with the package, by name (the marker, `serve --cassette` and `validate` take these).
BUILTIN_CASSETTES = ("docker-20.10", "docker-26.1", "docker-26.1-containerd", "docker-28.1", "docker-28.1-containerd",
                     "docker-28.5", "docker-28.5-containerd", "docker-29.7", "docker-29.7-containerd")


def data_dir(name: str) -> Path:
    """Folder `name` ("schemas" or "cassettes"): packaged copy first, then the checkout's top level."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"pytest-dockerimages: shipped folder {name!r} not found next to {_PACKAGE}")


def builtin_cassette(name: str) -> Path | None:
    """The file of a built-in cassette name, or None when `name` is not one."""
    return data_dir("cassettes") / f"{name}.yaml" if name in BUILTIN_CASSETTES else None


def cassette_file(text: str) -> Path:
    """A command-line cassette argument: an existing file, else a built-in name.

    Raises FileNotFoundError whose message names the argument and lists the built-in names."""
    path = Path(text).expanduser()
    if path.is_file():
        return path
    builtin = builtin_cassette(text)
    if builtin is not None:
        return builtin
    raise FileNotFoundError(f"{text}: no such cassette file, and not a built-in cassette name "
                            f"(built-in: {', '.join(BUILTIN_CASSETTES)})")
