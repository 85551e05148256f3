"""Public functions say what they promise: a docstring and full type hints, in the
packages listed (the others are being brought there, and are added as they are)."""

from __future__ import annotations

import ast

import pytest

from tests.support.public_functions import fully_typed, public_functions

DOCUMENTED = ["console", "files", "pipelines", "nets", "node", "batch_prediction"]


@pytest.mark.parametrize("package", DOCUMENTED)
def test_every_public_function_has_a_docstring_and_type_hints(package):
    found = list(public_functions(package))
    assert found  # the walk did see the package
    assert [where for where, node in found if ast.get_docstring(node) is None] == []
    assert [where for where, node in found if not fully_typed(node)] == []
