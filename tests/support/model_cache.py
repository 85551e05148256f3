"""Trained models shared by the whole test run: one training per recipe, in whichever
test process asks first, the others waiting for it and then reading the same train_dir.

A model is keyed by what made it: the recipe (its data and its training flags) and the
source of the code that trains it (datasets/, nets/, training/, console/, files/,
dicom/ and tests/support/). It lives in the run's shared temporary folder, so nothing
outlives the run and no stale model is ever read. A test that writes into a train_dir
(training on, evaluating into it) copies it first (`private_copy`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.support.cli import ROOT, run_module

_CODE = ("console", "datasets", "dicom", "files", "nets", "training",
         os.path.join("tests", "support"))


@dataclass(frozen=True)
class ModelRecipe:
    """`make_records(directory)` writes `directory/records` (and whatever else the tests
    read, such as the images it came from); then train_image_classifier with `flags`."""

    name: str
    make_records: Callable[[str], None]
    flags: tuple[str, ...]


@dataclass(frozen=True)
class SharedModel:
    """Where a recipe's model and its data lie (read-only for the tests)."""

    root: str
    records: str
    train_dir: str


@functools.cache
def _code_digest() -> str:
    """SHA-256 over the source files that make a model."""
    digest = hashlib.sha256()
    for package in _CODE:
        for base, dirs, names in sorted(os.walk(os.path.join(ROOT, package))):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(n for n in names if n.endswith(".py")):
                path = os.path.join(base, name)
                digest.update(os.path.relpath(path, ROOT).encode())
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()


def _key(recipe: ModelRecipe) -> str:
    maker = recipe.make_records
    described = "|".join([recipe.name, f"{maker.__module__}.{maker.__qualname__}",
                          *recipe.flags, _code_digest()])
    return f"{recipe.name}-{hashlib.sha256(described.encode()).hexdigest()[:16]}"


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_model(recipe: ModelRecipe, factory: pytest.TempPathFactory) -> SharedModel:
    """The recipe's trained model, trained now unless this run already has it."""
    base = factory.getbasetemp()
    shared = base.parent if base.name.startswith("popen-gw") else base  # one per run
    cache = os.path.join(str(shared), "shared_models")
    os.makedirs(cache, exist_ok=True)
    key = _key(recipe)
    final = os.path.join(cache, key)
    complete = os.path.join(final, ".complete")
    with _locked(os.path.join(cache, f"{key}.lock")):
        if not os.path.exists(complete):  # never made, or its maker failed half-way
            shutil.rmtree(final, ignore_errors=True)
            os.makedirs(final)
            recipe.make_records(final)
            result = run_module("train_image_classifier",
                                f"--train_dir={os.path.join(final, 'train')}",
                                f"--dataset_dir={os.path.join(final, 'records')}",
                                *recipe.flags)
            assert result.returncode == 0, result.stderr[-3000:]
            open(complete, "w").close()
    return SharedModel(final, os.path.join(final, "records"), os.path.join(final, "train"))


def private_copy(model: SharedModel, directory: str) -> str:
    """A copy of the model's train_dir for a test that writes into it; its path."""
    target = os.path.join(directory, "train")
    shutil.copytree(model.train_dir, target)
    return target
