"""The ``pytest_dockerimages_before_record`` hook, inside pytest and outside it.

Inside pytest the fixture passes the test item's hook relay (its ``conftest.py`` files apply).
``dockerimages record`` has no pytest session: :func:`record_hooks` builds a pluggy plugin
manager with the project's hook specs, the installed pytest plugins (entry point group
``pytest11``) and an optional ``conftest.py`` file, and the hooks get ``config=None``.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pluggy

__all__ = ["before_record", "record_hooks", "HookLoadError"]

_PREFIX = "pytest_dockerimages_"


class HookLoadError(Exception):
    """A ``conftest.py`` or an installed plugin could not be loaded; the message names it."""


def before_record(manager: pluggy.PluginManager, interactions: list[Any], path: Path, config: Any, *,
                  hook: Any = None) -> list[Any]:
    """``interactions`` after the ``pytest_dockerimages_before_record`` implementations, chained:
    each gets the previous one's result; None keeps, False drops (the rest are not asked), an
    Interaction replaces. ``hook``: the relay whose implementations apply (a test item's, so that
    only its ``conftest.py`` files count), by default every one ``manager`` holds.

    Each implementation is called through pluggy, on a hook caller without the others (pluggy gives
    it the arguments it names, and reports its errors), so that the next one gets its result."""
    from .format import Interaction

    name = "pytest_dockerimages_before_record"
    hook = getattr(manager.hook, name) if hook is None else hook
    impls = [impl for impl in reversed(hook.get_hookimpls())
             if not (getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False))]
    if not impls:
        return interactions
    everyone = {impl.plugin for impl in getattr(manager.hook, name).get_hookimpls()}
    steps = [(impl, manager.subset_hook_caller(name, remove_plugins=everyone - {impl.plugin})) for impl in impls]
    kept = []
    for interaction in interactions:
        current = interaction
        for impl, step in steps:
            results = step(interaction=current, cassette_path=path, config=config)
            result = results[0] if results else None
            if result is False:
                current = None
                break
            if result is None:
                continue
            if not isinstance(result, Interaction):
                raise TypeError(f"pytest_dockerimages_before_record in {impl.plugin_name} returned "
                                f"{type(result).__name__}; expected an Interaction, None (keep) or False (drop)")
            current = result
        if current is not None:
            kept.append(current)
    return kept


class _PluginManager(pluggy.PluginManager):
    """Takes our hooks as pytest does: plain ``pytest_dockerimages_*`` functions need no marker."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(_PREFIX) and callable(getattr(plugin, name, None)):
            return {}
        return opts


def _load_conftest(path: Path) -> Any:
    if not path.is_file():
        raise HookLoadError(f"--conftest {path}: no such file")
    name = f"_dockerimages_conftest_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HookLoadError(f"--conftest {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))  # as pytest does: its siblings are importable
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise HookLoadError(f"--conftest {path}: {type(exc).__name__}: {exc}") from exc
    return module


def record_hooks(conftest: Path | None = None, *, plugins: bool = True) -> pluggy.PluginManager:
    """A plugin manager with the ``pytest_dockerimages_before_record`` implementations for recording
    outside pytest: the installed pytest plugins' (``plugins``), then ``conftest``'s."""
    from .. import hookspecs

    manager = _PluginManager("pytest")
    manager.add_hookspecs(hookspecs)
    if plugins:
        try:
            manager.load_setuptools_entrypoints("pytest11")
        except Exception as exc:
            raise HookLoadError(f"an installed pytest plugin failed to load: {type(exc).__name__}: {exc}") from exc
    if conftest is not None:
        manager.register(_load_conftest(conftest), f"conftest:{conftest}")
    return manager
