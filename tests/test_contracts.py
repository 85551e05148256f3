"""Public functions say what they promise: a docstring and full type hints, in every
package and command module of the product (bench/ and tests/ are not the product)."""

from __future__ import annotations

import ast

import pytest

from tests.support.public_functions import fully_typed, public_functions

DOCUMENTED = ["console", "files", "pipelines", "dicom", "datasets", "nets", "training", "node",
              "batch_prediction", "."]


@pytest.mark.parametrize("package", DOCUMENTED)
def test_every_public_function_has_a_docstring_and_type_hints(package):
    found = list(public_functions(package))
    assert found  # the walk did see the package
    assert [where for where, node in found if ast.get_docstring(node) is None] == []
    assert [where for where, node in found if not fully_typed(node)] == []
