"""Layers point one way: no package imports one above it (nested imports included), and
training plus the top-level scripts load without the catalog's database stack."""

from __future__ import annotations

import ast
import os

import pytest

from tests.support.cli import ROOT
from tests.support.forked_imports import each_imported

LAYERS = {"files": 0, "console": 0, "pipelines": 0, "dicom": 1, "datasets": 2, "nets": 2,
          "training": 3, "node": 4, "batch_prediction": 4}
CATALOG_STACK = "dicom.ingestion"
SCRIPTS = ["train_image_classifier", "eval_image_classifier", "classify_image", "cross_validate",
           "export_model", "tf_convert_data", "dicom_main"]


def _imports(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _modules(package: str):
    for base, dirs, names in os.walk(os.path.join(ROOT, package)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            if name.endswith(".py"):
                yield os.path.join(base, name)


def test_no_package_imports_one_above_it_or_beside_it():
    violations = []
    for package, layer in LAYERS.items():
        for path in _modules(package):
            for module in _imports(path):
                top = module.split(".")[0]
                if top in LAYERS and top != package and LAYERS[top] >= layer:
                    violations.append(f"{os.path.relpath(path, ROOT)} imports {module}")
                if package == "training" and module.startswith(CATALOG_STACK):
                    violations.append(f"{os.path.relpath(path, ROOT)} imports the catalog")
    assert violations == []
    assert sum(1 for _ in _modules("dicom")) > 30  # the walk did see the code


@pytest.mark.slow
def test_training_and_the_scripts_load_without_the_database_stack():
    """Each script in a child forked after TensorFlow's import (paid once, and each
    script's flags defined in a process of its own): none loads the catalog's stack."""
    lines = each_imported(SCRIPTS, """
        import training.loop.trainer, training.evaluation.evaluator
        import training.serving.prediction, training.serving.export
        print(name, sorted(m for m in ('sqlalchemy', 'mysql', 'dicom.ingestion')
                           if m in sys.modules), 'tensorflow' in sys.modules)
        """)
    assert lines == [f"{script} [] True" for script in SCRIPTS]  # loaded, and no catalog
