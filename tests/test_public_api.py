"""The public API of `pytest_dockerimages`: one list of names, seen alike by type checkers and at run time.

`__init__.py` names each export three times: in `__all__`, in the `TYPE_CHECKING` block (what mypy
and pyright read) and in `_LAZY` (where it is imported from on first use). These tests keep the three
equal and true. That the names are typed for a downstream project, from an installed wheel, is
checked in tests/test_packaging.py (mypy --strict and basedpyright on tests/downstream_typed.py).
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

import pytest_dockerimages

ROOT = Path(__file__).resolve().parent.parent
INIT = ROOT / "pytest_dockerimages" / "__init__.py"


def _type_checking_imports() -> dict[str, str]:
    """name -> module of each `from MODULE import NAME as NAME` in `if TYPE_CHECKING:`."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    blocks = [node for node in tree.body if isinstance(node, ast.If) and isinstance(node.test, ast.Name)
              and node.test.id == "TYPE_CHECKING"]
    assert len(blocks) == 1, "expected one `if TYPE_CHECKING:` block in __init__.py"
    found: dict[str, str] = {}
    for node in blocks[0].body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1, ast.unparse(node)
        for alias in node.names:
            # `X as X` is the explicit re-export that mypy --strict and pyright require
            assert alias.asname == alias.name, f"{ast.unparse(node)}: write `{alias.name} as {alias.name}`"
            assert alias.name not in found, f"{alias.name} imported twice"
            found[alias.name] = "." + (node.module or "")
    return found


def test_all_the_static_imports_and_the_lazy_table_agree() -> None:
    static = _type_checking_imports()
    assert sorted(static) == sorted(pytest_dockerimages._LAZY), "TYPE_CHECKING block and _LAZY differ"
    assert static == pytest_dockerimages._LAZY, "a name is imported from another module than _LAZY says"
    assert sorted(pytest_dockerimages.__all__) == sorted(["__version__", *static])
    assert len(set(pytest_dockerimages.__all__)) == len(pytest_dockerimages.__all__), "a name twice in __all__"


def test_all_is_a_literal_list_type_checkers_can_read() -> None:
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    (value,) = [node.value for node in tree.body if isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["__all__"]]
    assert isinstance(value, ast.List) and all(isinstance(e, ast.Constant) for e in value.elts)


def test_every_name_is_the_object_of_its_home_module() -> None:
    for name, module in pytest_dockerimages._LAZY.items():
        home = import_module(module, "pytest_dockerimages")
        assert getattr(pytest_dockerimages, name) is getattr(home, name), name
    assert set(pytest_dockerimages.__all__) <= set(dir(pytest_dockerimages))


def test_unknown_names_are_attribute_errors() -> None:
    assert not hasattr(pytest_dockerimages, "NoSuchThing")
    assert not hasattr(pytest_dockerimages, "Backend")  # internal: reached through FakeDaemon.backend


def test_importing_the_package_imports_no_submodule() -> None:
    code = ("import sys, pytest_dockerimages\n"
            "print(sorted(m for m in sys.modules if m.startswith('pytest_dockerimages.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_assertion_helpers_keep_their_documented_path() -> None:
    from pytest_dockerimages import assertions

    helpers = [name for name in pytest_dockerimages.__all__ if name.startswith("assert_")]
    assert sorted(helpers) == sorted(assertions.__all__)
    for name in helpers:
        assert getattr(assertions, name) is getattr(pytest_dockerimages, name)


def test_the_readme_lists_every_public_name() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Python API", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    listed = re.findall(r"`(\w+)`", " ".join(first_cells))
    assert sorted(listed) == sorted(pytest_dockerimages.__all__)


def test_httpx_is_an_extra_not_a_dependency() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [d for d in project["dependencies"] if re.match(r"httpx\b", d)]
    assert [d for d in project["optional-dependencies"]["httpx"] if re.match(r"httpx\b", d)]
