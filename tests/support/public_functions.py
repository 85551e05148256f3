"""The public functions and methods of a package, read from its source: what a contract
check (a docstring, full type hints) is asked of."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator

from tests.support.cli import ROOT


def public_functions(package: str) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(file:line name, node) of each module-level function and public-class method whose
    name does not start with an underscore; `package` "." names the top-level modules."""
    for base, dirs, names in os.walk(os.path.join(ROOT, package)):
        # "." is the command modules at the top level, not the folders below it
        dirs[:] = [] if package == "." else [d for d in dirs if d != "__pycache__"]
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            path = os.path.join(base, name)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), path)
            for node in tree.body:
                members = [node]
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    members += node.body
                for member in members:
                    if (isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef)
                            and not member.name.startswith("_")):
                        where = f"{os.path.relpath(path, ROOT)}:{member.lineno} {member.name}"
                        yield where, member


def fully_typed(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Every parameter but self/cls annotated, and the return too (but on __init__)."""
    arguments = [a for a in (*function.args.posonlyargs, *function.args.args,
                             *function.args.kwonlyargs) if a.arg not in ("self", "cls")]
    return (all(a.annotation is not None for a in arguments)
            and (function.returns is not None or function.name == "__init__"))
