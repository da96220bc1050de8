"""Runtime dependencies are what the package imports for what it is; optional bridges' libraries
sit in the extras that need them. Evidence from the package's own import statements."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="needs Python 3.11+ to read pyproject.toml")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pytest_dockerimages"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
IMPORT_NAME = {"pytest": "pytest", "pluggy": "pluggy", "PyYAML": "yaml", "jsonschema": "jsonschema",
               "vcrpy": "vcr", "requests": "requests", "docker": "docker", "httpx": "httpx", "h2": "h2"}
#: the optional libraries, the only modules that import them, and the extra that installs them
BRIDGES = {
    "vcr": ({"vcrpy.py"}, "vcrpy"),
    "requests": ({"_http/requests_adapter.py", "_http/unixhttp.py"}, "docker"),
    "httpx": ({"_http/httpx_transport.py", "_http/httpx_intercept.py", "plugin.py"}, "httpx"),  # plugin: a check
}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match, requirement
    return match.group(0)


def importers() -> dict[str, set[str]]:
    """Top-level module name -> the package files importing it (anywhere: lazy imports count)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path.relative_to(PACKAGE).as_posix())
    return found


def test_every_runtime_dependency_is_imported_by_the_package() -> None:
    used = importers()
    for requirement in PROJECT["dependencies"]:
        module = IMPORT_NAME[_name(requirement)]
        assert used.get(module), f"{requirement} is a runtime dependency but the package never imports {module}"


@pytest.mark.parametrize("module", sorted(BRIDGES))
def test_optional_libraries_live_in_their_extra(module: str) -> None:
    files, extra = BRIDGES[module]
    assert importers().get(module, set()) <= files, f"{module} is imported outside its bridge modules"
    runtime = {IMPORT_NAME[_name(r)] for r in PROJECT["dependencies"]}
    assert module not in runtime, f"{module} is imported only by optional bridges: it belongs in an extra"
    extras = PROJECT["optional-dependencies"]
    assert module in {IMPORT_NAME[_name(r)] for r in extras[extra]}
    assert module in {IMPORT_NAME.get(_name(r)) for r in extras["test"]}
