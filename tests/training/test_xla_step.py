"""The XLA-compiled train step computes what the plain one does (on CPU, as CI has)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from datasets.records.conversion import ConversionSettings, convert
from tests.support.folders import classification_folder
from training.optimizers import OptimizerSettings
from training.trainer import TrainSettings, train, use_xla

pytestmark = pytest.mark.slow  # trains twice


def _losses(root, records, jit_compile: bool) -> list[float]:
    losses: list[float] = []
    keras.utils.set_random_seed(0)  # the same initial weights for both
    train(TrainSettings(
        train_dir=str(root / f"train_{jit_compile}"), dataset_dir=records,
        model_name="resnet_v1_18", train_image_size=32, batch_size=4, max_number_of_steps=6,
        optimizer=OptimizerSettings("sgd"), learning_rate=0.01, synthetic_data=True,
        learning_rate_decay_type="fixed", augment=False, seed=0,
        save_interval_secs=10**6, save_summaries_secs=10**6, jit_compile=jit_compile,
    ), on_step=lambda step, loss: losses.append(float(loss)))
    return losses


def test_xla_step_gives_the_plain_steps_losses(tmp_path):
    classification_folder(str(tmp_path / "in"), {"A": 4, "B": 4}, size=32)
    records = str(tmp_path / "out")
    convert(ConversionSettings("dicom", str(tmp_path / "in"), records, "dicom", progress=False))
    plain = _losses(tmp_path, records, jit_compile=False)
    xla = _losses(tmp_path, records, jit_compile=True)
    assert len(plain) == len(xla) == 6
    assert plain[-1] < plain[0]  # it trains: the comparison is not between two constants
    # Same weights, same batch: the first loss agrees to float32 rounding; after that the
    # two graphs' different summation orders compound through batch norm (about 1 %).
    np.testing.assert_allclose(xla[0], plain[0], rtol=1e-4)
    np.testing.assert_allclose(xla, plain, rtol=2e-2)


def test_xla_defaults_to_the_gpu():
    assert use_xla(True) and not use_xla(False)
    assert use_xla(None) is False  # this machine has no GPU; CI neither
