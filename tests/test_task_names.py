"""A task is told apart by asking the task registry, never by comparing its name: no
product module but the registry's compares a value with a task name, and none spells a
task name where the registry's constant exists."""

from __future__ import annotations

import ast
import os

from datasets.records.tasks import TASKS
from tests.support.cli import ROOT

PRODUCT = ["console", "files", "pipelines", "dicom", "datasets", "nets", "training", "node",
           "batch_prediction"]
# The registry itself, and nets_factory, which lies below datasets/ (tests/test_layering.py)
# and names the task a net serves as text.
ALLOWED = {os.path.join("datasets", "records", "tasks.py"), os.path.join("nets", "nets_factory.py")}


def _product_files():
    tops = [os.path.join(ROOT, name) for name in os.listdir(ROOT) if name.endswith(".py")]
    yield from tops
    for package in PRODUCT:
        for base, dirs, names in os.walk(os.path.join(ROOT, package)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            yield from (os.path.join(base, n) for n in names if n.endswith(".py"))


def _task_literals(node: ast.AST) -> list[str]:
    """The task names spelled as constants in `node` (a tuple or set of them included)."""
    if isinstance(node, ast.Constant) and node.value in TASKS:
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [name for element in node.elts for name in _task_literals(element)]
    return []


def _offences(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    where = os.path.relpath(path, ROOT)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                found += [f"{where}:{node.lineno} compares with {name!r}"
                          for name in _task_literals(operand)]
        elif isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue):
            found += [f"{where}:{node.pattern.lineno} matches {name!r}"
                      for name in _task_literals(node.pattern.value)]
        elif isinstance(node, ast.Call):
            for argument in (*node.args, *(k.value for k in node.keywords)):
                found += [f"{where}:{node.lineno} passes {name!r} (use the registry's constant)"
                          for name in _task_literals(argument)]
    return found


def test_the_registry_knows_the_tasks_this_check_looks_for():
    assert {"classification", "multilabel", "segmentation"} <= set(TASKS)


def test_no_module_compares_or_passes_a_task_name():
    offences = [offence for path in _product_files()
                if os.path.relpath(path, ROOT) not in ALLOWED
                for offence in _offences(path)]
    assert offences == []
