"""Moving averages reach the checkpoint and eval; the eval watch loop sees each checkpoint once."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from datasets.records.conversion import ConversionSettings, convert
from tests.support.folders import classification_folder
from training.evaluation.evaluator import EvalSettings, watch
from training.loop.checkpoints import AVERAGES_KEY, checkpoint_key
from training.loop.optimizers import OptimizerSettings
from training.loop.trainer import TrainSettings, train

pytestmark = pytest.mark.slow  # end-to-end: `pytest -m "not slow"` skips it


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ema")
    classification_folder(str(root / "in"), {"A": 6, "B": 6}, size=32)
    convert(ConversionSettings("dicom", str(root / "in"), str(root / "out"), "dicom",
                               need_split="tt_split", test_size=4, progress=False))
    settings = TrainSettings(
        train_dir=str(root / "train"), dataset_dir=str(root / "out"),
        model_name="mobilenet_v2_035", train_image_size=32, batch_size=4,
        max_number_of_steps=3, optimizer=OptimizerSettings("sgd"), learning_rate=0.05,
        moving_average_decay=0.5, save_interval_secs=10**6, save_summaries_secs=10**6,
        seed=0)  # 0.5 could diverge: the record order of a shuffled, parallel read varies
    result = train(settings)
    return settings, result


def test_moving_averages_are_saved_beside_the_weights(run):
    _, result = run
    reader = tf.train.load_checkpoint(result.checkpoint)
    path = "MobilenetV2.Logits.Conv2d_1c_1x1/kernel"
    weights = reader.get_tensor(checkpoint_key(path))
    averages = reader.get_tensor(checkpoint_key(path, AVERAGES_KEY))
    assert weights.shape == averages.shape
    assert not np.array_equal(weights, averages)  # decay 0.5 over 3 SGD steps lags behind


def test_watch_evaluates_each_new_checkpoint_once(run, tmp_path):
    settings, _ = run
    seen = []
    eval_settings = EvalSettings(checkpoint_path=settings.train_dir,
                                 dataset_dir=settings.dataset_dir, eval_dir=str(tmp_path),
                                 dataset_split_name="test")
    count = watch(eval_settings, interval_secs=0.05, timeout_secs=0.3,
                  on_report=lambda report: seen.append(report["step"]))
    assert count == 1 and seen == [3]
    assert (tmp_path / "metrics-3.json").exists()
