"""The model side of each record task: how its logits become probabilities, and its
training loss and step accuracy. Keyed by the names of datasets.records.tasks, which
declares the data side; a new task registers a `TaskHead` here beside its `RecordTask`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from datasets.records.tasks import CLASSIFICATION, MULTILABEL, SEGMENTATION, TASKS
from training.classification.multilabel_loss import label_accuracy, masked_sigmoid_loss
from training.segmentation.losses import segmentation_loss

AUX_LOSS_WEIGHT = 0.4

#: (model outputs, targets) -> per-example loss, and -> the batch's count of correct.
LossFn = Callable[[dict, tf.Tensor], tf.Tensor]


@dataclass(frozen=True)
class LossInputs:
    """What a task's loss may be built from: the training settings and the records'."""

    settings: Any  # training.loop.trainer.TrainSettings (imported lazily: no cycle)
    num_classes: int
    aux_logits: bool
    class_weights: np.ndarray | None = None
    pos_weight: np.ndarray | None = None


@dataclass(frozen=True)
class TaskHead:
    """How a task's model is trained and read."""

    #: Logits (last axis: classes or labels) -> probabilities.
    activation: Callable[[tf.Tensor], tf.Tensor]
    #: The per-example loss and the count of correct predictions of a batch.
    losses: Callable[[LossInputs], tuple[LossFn, LossFn]]


HEADS: dict[str, TaskHead] = {}


def register_head(task: str, head: TaskHead) -> TaskHead:
    """Give record task `task` (registered in datasets.records.tasks) its head."""
    if task not in TASKS:
        raise ValueError(f"{task!r} is not a record task: register it in "
                         "datasets.records.tasks first")
    HEADS[task] = head
    return head


def task_head(task: str | None) -> TaskHead:
    """The head of record task `task` (None: classification)."""
    try:
        return HEADS[task or CLASSIFICATION]
    except KeyError:
        raise ValueError(f"record task {task!r} has no model head: known are "
                         f"{', '.join(sorted(HEADS))}") from None


def _classification_losses(given: LossInputs) -> tuple[LossFn, LossFn]:
    crossentropy = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=given.settings.label_smoothing, reduction=None)
    weights = None if given.class_weights is None else tf.constant(given.class_weights)

    def loss(outputs, labels):
        onehot = tf.one_hot(labels, given.num_classes)
        per_example = crossentropy(onehot, outputs["logits"])
        if given.aux_logits and "aux_logits" in outputs:
            per_example += AUX_LOSS_WEIGHT * crossentropy(onehot, outputs["aux_logits"])
        if weights is not None:
            per_example *= tf.gather(weights, labels)
        return per_example

    def correct(outputs, labels):
        hits = tf.equal(tf.argmax(outputs["logits"], -1), labels)
        return tf.reduce_sum(tf.cast(hits, tf.float32))

    return loss, correct


def _multilabel_losses(given: LossInputs) -> tuple[LossFn, LossFn]:
    weights = None if given.pos_weight is None else tf.constant(given.pos_weight)
    smoothing = given.settings.label_smoothing

    def loss(outputs, targets):
        per_example = masked_sigmoid_loss(targets, outputs["logits"], weights, smoothing)
        if given.aux_logits and "aux_logits" in outputs:
            per_example += AUX_LOSS_WEIGHT * masked_sigmoid_loss(
                targets, outputs["aux_logits"], weights, smoothing)
        return per_example

    def correct(outputs, targets):
        return tf.reduce_sum(label_accuracy(targets, outputs["logits"]))

    return loss, correct


def _segmentation_losses(given: LossInputs) -> tuple[LossFn, LossFn]:
    """Deep supervision: the loss is the mean over every head (`deep_*`), as in UNet++."""
    base = segmentation_loss(given.settings.segmentation_loss)

    def loss(outputs, masks):
        heads = [v for k, v in outputs.items() if k.startswith("deep_")] or [outputs["logits"]]
        return tf.add_n([base(masks, head) for head in heads]) / len(heads)

    def correct(outputs, masks):
        hits = tf.equal(tf.argmax(outputs["logits"], -1, output_type=tf.int32), masks)
        per_image = tf.reduce_mean(tf.cast(hits, tf.float32), axis=[1, 2])  # pixel accuracy
        return tf.reduce_sum(per_image)

    return loss, correct


register_head(CLASSIFICATION, TaskHead(tf.nn.softmax, _classification_losses))
register_head(MULTILABEL, TaskHead(tf.nn.sigmoid, _multilabel_losses))
register_head(SEGMENTATION, TaskHead(tf.nn.softmax, _segmentation_losses))
