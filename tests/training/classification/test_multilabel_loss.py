"""The masked sigmoid loss: an unknown entry adds nothing and gets no gradient (U-Ignore),
pos_weight scales the positive term, and --pos_weight=auto reads the spec's counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from datasets.records.dataset_spec import DatasetSpec, SplitSpec
from training.classification.multilabel_loss import (
    label_accuracy,
    masked_sigmoid_loss,
    resolve_pos_weight,
)


def _bce(target: float, logit: float, weight: float = 1.0) -> float:
    p = 1 / (1 + math.exp(-logit))
    return -(weight * target * math.log(p) + (1 - target) * math.log(1 - p))


def test_values_against_hand_computed_cross_entropy():
    targets = tf.constant([[1.0, 0.0, -1.0], [0.0, -1.0, 1.0]])
    logits = tf.constant([[2.0, -1.0, 5.0], [0.5, -3.0, -0.5]])
    loss = masked_sigmoid_loss(targets, logits).numpy()
    assert loss == pytest.approx([(_bce(1, 2) + _bce(0, -1)) / 3,
                                  (_bce(0, 0.5) + _bce(1, -0.5)) / 3], rel=1e-5)
    weighted = masked_sigmoid_loss(targets, logits, tf.constant([3.0, 1.0, 2.0])).numpy()
    assert weighted == pytest.approx([(_bce(1, 2, 3) + _bce(0, -1)) / 3,
                                      (_bce(0, 0.5) + _bce(1, -0.5, 2)) / 3], rel=1e-5)
    accuracy = label_accuracy(targets, logits).numpy()
    assert accuracy == pytest.approx([1.0, 0.0])


def test_an_always_uncertain_label_under_u_ignore_contributes_zero_gradient():
    """A small net's logit layer: the column of the label that is unknown everywhere gets
    exactly zero gradient, the others do not."""
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((8, 6, 6, 1)), tf.float32)
    targets = tf.constant(np.c_[rng.integers(0, 2, (8, 2)), -np.ones(8)], tf.float32)
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 1)), tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(4, activation="relu"),
                                 tf.keras.layers.Dense(3)])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(masked_sigmoid_loss(targets, model(images),
                                                  tf.constant([2.0, 2.0, 2.0]), 0.1))
    kernel_gradient, bias_gradient = tape.gradient(loss, model.layers[-1].weights)
    assert np.all(kernel_gradient.numpy()[:, 2] == 0) and bias_gradient.numpy()[2] == 0
    assert np.all(bias_gradient.numpy()[:2] != 0)


def _spec(counts: dict[str, dict[str, int]]) -> DatasetSpec:
    split = SplitSpec(10, ["x"], [10], label_counts=counts)
    return DatasetSpec("d", "multilabel", "d", list(counts), {"train": split}, 1, (8, 8),
                       (8, 8), [8])


def test_pos_weight_auto_is_negatives_over_positives_per_label(caplog):
    spec = _spec({"A": {"positive": 2, "negative": 8, "unknown": 0},
                  "B": {"positive": 5, "negative": 3, "unknown": 2}})
    assert resolve_pos_weight("auto", spec, "train").tolist() == pytest.approx([4.0, 0.6])
    assert resolve_pos_weight("1,2.5", spec, "train").tolist() == [1.0, 2.5]
    assert resolve_pos_weight(None, spec, "train") is None
    with pytest.raises(ValueError, match=r"needs 2 positive weights \(A, B\)"):
        resolve_pos_weight("1", spec, "train")
    absent = _spec({"A": {"positive": 0, "negative": 8, "unknown": 2},
                    "B": {"positive": 1, "negative": 9, "unknown": 0}})
    with caplog.at_level("WARNING"):
        assert resolve_pos_weight("auto", absent, "train").tolist() == [1.0, 9.0]
    assert "split 'train' has no known positive A; weight 1" in caplog.text
