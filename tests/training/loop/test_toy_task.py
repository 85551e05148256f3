"""A task of one's own, registered in this module alone (its record side and its model
head), goes through conversion, training, evaluation and classification untouched.

The toy task is single-label classification trained with a focal loss (its own head):
conversion picks it by --dataset_name, training uses its loss, evaluation and the
Predictor read its activation, and every step records its name."""

from __future__ import annotations

import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from datasets.records import tasks
from datasets.records.conversion import ConversionSettings, convert
from tests.support.experiments import learnable_folder
from training.evaluation.evaluator import EvalSettings, evaluate
from training.loop import task_heads
from training.loop.optimizers import OptimizerSettings
from training.loop.trainer import TrainSettings, train
from training.serving.prediction import Predictor, file_inputs, predict

TOY = "toy_focal"


def _focal_losses(given: task_heads.LossInputs):
    """Focal loss (gamma 2): the toy head's own, so the test can tell it ran."""
    built.append(given.num_classes)

    def loss(outputs, labels):
        traced.append(True)
        probabilities = tf.nn.softmax(tf.cast(outputs["logits"], tf.float32))
        picked = tf.gather(probabilities, labels, batch_dims=1)
        return -((1.0 - picked) ** 2) * tf.math.log(picked + 1e-7)

    def correct(outputs, labels):
        hits = tf.equal(tf.argmax(outputs["logits"], -1), labels)
        return tf.reduce_sum(tf.cast(hits, tf.float32))

    return loss, correct


built: list[int] = []
traced: list[bool] = []


@pytest.fixture
def toy_task(monkeypatch):
    """The toy task registered for one test: its record side and its head."""
    monkeypatch.setitem(tasks.TASKS, TOY, tasks.RecordTask(TOY))
    monkeypatch.setitem(task_heads.HEADS, TOY,
                        task_heads.TaskHead(tf.nn.softmax, _focal_losses))
    built.clear()
    traced.clear()
    return TOY


def test_a_registered_task_trains_evaluates_and_classifies(toy_task, tmp_path):
    source, records = str(tmp_path / "in"), str(tmp_path / "records")
    learnable_folder(source, per_class=48, patients=24)
    convert(ConversionSettings(toy_task, source, records, toy_task, need_split="tvt_split",
                               validation_size=0.25, test_size=0.25, progress=False))
    with open(os.path.join(records, "dataset_spec.json")) as handle:
        assert json.load(handle)["task"] == toy_task

    losses: dict[int, float] = {}
    keras.utils.set_random_seed(0)
    train_dir = str(tmp_path / "run")
    train(TrainSettings(
        train_dir=train_dir, dataset_dir=records, model_name="resnet_v1_18",
        train_image_size=32, batch_size=16, max_number_of_steps=60,
        optimizer=OptimizerSettings("adam"), learning_rate=0.002, augment=False, seed=0,
        save_interval_secs=10**6, save_summaries_secs=10**6, log_every_n_steps=100,
    ), on_step=lambda step, loss: losses.__setitem__(step, float(loss)))
    assert built == [2] and traced  # the toy head's loss is what trained
    assert np.isfinite(list(losses.values())).all()
    assert np.mean([losses[s] for s in range(51, 61)]) < np.mean([losses[s] for s in range(1, 11)])

    eval_dir = str(tmp_path / "eval")
    report = evaluate(EvalSettings(train_dir, records, eval_dir, bootstrap=50, report=False))
    assert report["task"] == toy_task
    assert 0.5 < report["accuracy"] <= 1.0
    with open(os.path.join(eval_dir, "predictions.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == report["num_examples"] > 0

    predictor = Predictor.load(train_dir)
    assert predictor.config.task == toy_task
    images = sorted(os.listdir(os.path.join(source, "images")))[:4]
    predictions = list(predict(predictor, file_inputs(
        [os.path.join(source, "images", name) for name in images], predictor.config), 4))
    assert [p.error for p in predictions] == [""] * 4
    for prediction in predictions:
        assert prediction.probabilities is not None
        assert prediction.probabilities.shape == (2,)
        assert prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-5)  # its softmax
