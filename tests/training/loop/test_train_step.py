"""The train step's options compute what the plain step does (on CPU, as CI has):
XLA compilation, and several steps per compiled call."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.training_runs import step_losses, tiny_records
from training.loop.checkpoints import checkpoint_step, resolve_checkpoint
from training.loop.trainer import use_xla

pytestmark = pytest.mark.slow  # each test trains twice


def test_xla_step_gives_the_plain_steps_losses(tmp_path):
    records = tiny_records(str(tmp_path))
    plain = step_losses(str(tmp_path / "plain"), records, jit_compile=False)
    xla = step_losses(str(tmp_path / "xla"), records, jit_compile=True)
    assert list(plain) == list(xla) == [1, 2, 3, 4, 5, 6]
    plain_losses, xla_losses = list(plain.values()), list(xla.values())
    assert plain_losses[-1] < plain_losses[0]  # it trains: not a comparison of constants
    # Same weights, same batch: the first loss agrees to float32 rounding; after that the
    # two graphs' different summation orders compound through batch norm (about 1 %).
    np.testing.assert_allclose(xla_losses[0], plain_losses[0], rtol=1e-4)
    np.testing.assert_allclose(xla_losses, plain_losses, rtol=2e-2)


def test_xla_defaults_to_the_gpu():
    assert use_xla(True) and not use_xla(False)
    assert use_xla(None) is False  # this machine has no GPU; CI neither


def test_several_steps_per_call_train_as_single_steps(tmp_path):
    records = tiny_records(str(tmp_path))
    single = step_losses(str(tmp_path / "single"), records, steps=7, jit_compile=False)
    grouped = step_losses(str(tmp_path / "grouped"), records, steps=7, jit_compile=False,
                          steps_per_execution=3)
    # Calls of 3, 3 and the 1 step left before --max_number_of_steps.
    assert list(grouped) == [3, 6, 7]
    assert single[7] < single[1]
    np.testing.assert_allclose([grouped[s] for s in (3, 6, 7)],
                               [single[s] for s in (3, 6, 7)], rtol=1e-4)
    assert checkpoint_step(resolve_checkpoint(str(tmp_path / "grouped"))) == 7


def test_the_seed_fixes_the_initial_weights(tmp_path):
    records = tiny_records(str(tmp_path))
    first = step_losses(str(tmp_path / "first"), records, steps=2, jit_compile=False, seed=7)
    again = step_losses(str(tmp_path / "again"), records, steps=2, jit_compile=False, seed=7)
    other = step_losses(str(tmp_path / "other"), records, steps=2, jit_compile=False, seed=8)
    np.testing.assert_allclose(list(again.values()), list(first.values()), rtol=1e-5)
    assert abs(other[1] - first[1]) > 1e-3 * abs(first[1])
