"""Hooks a project's ``conftest.py`` (or another plugin) implements to customise pytest-dockerimages.

The plugin registers these specifications in ``pytest_addhooks``; implement a hook by defining a
function of the same name in a ``conftest.py``. Implementations may take any subset of the
arguments, by name, as with every pytest hook. A ``conftest.py`` applies to the tests below it
(the fixtures call the hooks through the test item's ``ihook``).

- ``pytest_dockerimages_default_images(config)``: the images of ``dockerimages_fake`` when neither
  ``@pytest.mark.dockerimages(images=...)``/``seed=`` nor a configured seed gives any.
- ``pytest_dockerimages_default_profile(config)``: the profile when neither marker, option, ini key
  nor seed file names one.
- ``pytest_dockerimages_before_record(interaction, cassette_path, config)``: rewrite or drop each
  recorded interaction before it is saved to a cassette, by the fixture or by ``dockerimages record``
  (which loads it from installed plugins and ``--conftest FILE``, and passes ``config=None``).
- ``pytest_dockerimages_match_request(request, candidates, config)``: pick a recorded interaction
  for a request that the built-in (canonical) matching did not find.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import pytest

    from ._cassettes.format import Interaction
    from ._core.wire import Request

hookspec = pluggy.HookspecMarker("pytest")

__all__ = [
    "pytest_dockerimages_default_images",
    "pytest_dockerimages_default_profile",
    "pytest_dockerimages_before_record",
    "pytest_dockerimages_match_request",
]


@hookspec(firstresult=True)
def pytest_dockerimages_default_images(config: pytest.Config) -> list[Any] | None:
    """The images (``Image`` objects or dicts of their fields) that ``dockerimages_fake`` holds
    when the test gives none (no marker ``images=``/``seed=``, no ``--dockerimages-seed`` or ini
    ``dockerimages_seed``).

    Return a list (``[]`` is an empty daemon) or None to leave it to the next implementation and
    finally to the built-in ``default_images()``. The first non-None result wins.
    """


@hookspec(firstresult=True)
def pytest_dockerimages_default_profile(config: pytest.Config) -> str | None:
    """The profile name (e.g. ``"docker-26.1"``) of ``dockerimages_fake`` when neither the marker,
    ``--dockerimages-profile``, ini ``dockerimages_profile`` nor the seed file names one; also shown in
    the report header. Return None to keep the built-in default. The first non-None result wins.
    """


@hookspec
def pytest_dockerimages_before_record(
    interaction: Interaction, cassette_path: Path, config: pytest.Config | None
) -> Interaction | Literal[False] | None:
    """Rewrite or veto one recorded interaction before it is saved to ``cassette_path``.

    Called once per interaction recorded by the ``dockerimages_cassette`` fixture, when the test's
    cassette is saved (after the built-in scrubbing: secret headers redacted, pseudonyms applied),
    and by ``dockerimages record`` before it writes its cassette. ``config`` is the pytest
    ``Config`` in a test session and ``None`` under ``dockerimages record``, which has no pytest
    session: there the implementations come from installed plugins (entry point group
    ``pytest11``) and from the ``conftest.py`` given with ``--conftest``. Return

    - a (modified) ``pytest_dockerimages.Interaction`` (a frozen dataclass: use
      ``dataclasses.replace(interaction, ...)``)
      to save that instead,
    - ``None`` to keep it as it is,
    - ``False`` to drop it: it is not saved.

    Several implementations run in turn, each receiving the previous one's result; once one returns
    ``False`` the interaction is dropped and the others are not called.
    """


@hookspec(firstresult=True)
def pytest_dockerimages_match_request(
    request: Request, candidates: list[Interaction], config: pytest.Config
) -> Interaction | None:
    """Choose a recorded interaction for a replayed request that the built-in matching missed.

    ``request`` is a ``pytest_dockerimages.Request`` (``.method``, ``.target``, ``.path``,
    ``.raw_query``, ``.headers``, ``.body``); ``candidates`` are every interaction of the
    cassette (each a ``pytest_dockerimages.Interaction``), in recording order. Return one of
    them to answer with it, or None for no match (the test then fails with the nearest
    interactions, or the fake answers with ``fallback=True``). The first non-None result wins.
    Runs in the replay server's thread.
    """
