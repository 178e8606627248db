"""A command's one-line help from its docstring, read from the source file: `worldline collect --help` lists every
collector this way without importing one (fast, and it still works when a plugin is broken)."""

from __future__ import annotations

import ast
from importlib.machinery import PathFinder
from importlib.util import find_spec
from pathlib import Path


def summary(target: str) -> str | None:
    """The first paragraph of the docstring of `module:function`, read from the source: nothing is imported (nor
    run), so listing stays fast and works when a plugin is broken. Follows one `from x import function` hop."""
    module, _, name = target.partition(":")
    for _ in range(3):
        try:
            parts = module.split(".")
            spec = find_spec(parts[0])  # a top-level name is located without being imported
            for depth in range(1, len(parts)):
                spec = PathFinder.find_spec(".".join(parts[:depth + 1]), list(spec.submodule_search_locations))
            tree = ast.parse(Path(spec.origin).read_text())
        except Exception:
            return None
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                doc = ast.get_docstring(node) or ""
                return " ".join(doc.split("\n\n")[0].split()) or None
            if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
                package = module if Path(spec.origin).name == "__init__.py" else module.rpartition(".")[0]
                for _level in range(1, node.level):
                    package = package.rpartition(".")[0]
                module = f"{package}.{node.module}" if node.level else node.module
                name = next(a.name for a in node.names if (a.asname or a.name) == name)
                break
        else:
            return None
    return None
