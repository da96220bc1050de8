"""Find the package's strings that send a user to a file only a checkout has (scripts/, tests/, ...).

Every hint and error speaks to a user who installed the wheel; docstrings (read by contributors) and
comments are not scanned. Used on the checkout's package and on the package installed from the wheel."""
from __future__ import annotations

import ast
import re
from pathlib import Path

#: Paths that exist in a checkout and in no wheel, and the editable install that only a checkout allows.
CHECKOUT_ONLY = re.compile(r"(?<![\w.-])(?:\.ci|scripts|tests|benchmarks|docs|examples)/[\w.*-]|pip install -e\b")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def checkout_references(package: Path) -> list[str]:
    """`file:line: text` for every non-docstring string constant naming a checkout-only path."""
    hits = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                    and CHECKOUT_ONLY.search(node.value)):
                hits.append(f"{path.relative_to(package)}:{node.lineno}: {node.value[:120]!r}")
    return sorted(hits, key=lambda hit: (hit.split(":")[0], int(hit.split(":")[1])))
