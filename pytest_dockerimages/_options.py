"""What the plugin's modules share (``plugin.py``, ``_cassettes/fixtures.py``, ``_real/fixture.py``,
each registered with pytest on its own): the ``dockerimages`` group of ``pytest --help``, the marker
names, and reading an option or ini key that another module registers (absent when it is not loaded).

Not a plugin module itself, so the plugin modules can import it before pytest registers (and
assertion-rewrites) them."""
from __future__ import annotations

from typing import Any

import pytest

GROUP = "dockerimages"
GROUP_TITLE = "fake Docker daemon (pytest-dockerimages)"
#: The markers: of the fake daemon (plugin.py) and of a cassette (_cassettes/fixtures.py).
FAKE_MARKER = "dockerimages"
CASSETTE_MARKER = "dockerimages_cassette"


def option_group(parser: pytest.Parser) -> Any:
    """The ``dockerimages`` group: every ``--dockerimages-*`` option is in it, whichever module adds it."""
    return parser.getgroup(GROUP, GROUP_TITLE)


def option(config: pytest.Config, name: str) -> Any:
    """The command-line option ``name``, or None when no loaded module registers it."""
    try:
        return config.getoption(name, default=None)
    except ValueError:
        return None


def ini(config: pytest.Config, name: str) -> Any:
    """The ini key ``name``, or None when no loaded module registers it."""
    try:
        return config.getini(name)
    except ValueError:
        return None
