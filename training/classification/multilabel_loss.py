"""The multi-label loss: sigmoid cross-entropy per label, with masked entries left out.

Targets come from the input pipeline as 1, 0, or -1 where the label is unknown for
that image (U-Ignore uncertain, or an ignored blank). An unknown entry adds nothing
to the loss, so its logit gets exactly zero gradient, as the CheXpert paper's
U-Ignore requires. The per-example loss is the sum over known labels divided by the
number of labels, so an image with fewer known labels does not weigh more.
`pos_weight` multiplies the positive term of each label (rare findings).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from datasets.records.dataset_spec import DatasetSpec

log = logging.getLogger(__name__)


def masked_sigmoid_loss(targets: tf.Tensor, logits: tf.Tensor,
                        pos_weight: tf.Tensor | None = None,
                        label_smoothing: float = 0.0) -> tf.Tensor:
    """Per-example loss of shape [batch] for targets and logits of shape [batch, labels]."""
    logits = tf.cast(logits, tf.float32)
    known = targets >= 0
    labels = tf.where(known, targets, 0.0)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if pos_weight is None:
        entries = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    else:
        entries = tf.nn.weighted_cross_entropy_with_logits(labels=labels, logits=logits,
                                                           pos_weight=pos_weight)
    entries = tf.where(known, entries, 0.0)
    return tf.reduce_sum(entries, axis=-1) / tf.cast(tf.shape(logits)[-1], tf.float32)


def label_accuracy(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per example, the share of its known labels predicted right at probability 0.5."""
    known = tf.cast(targets >= 0, tf.float32)
    hits = tf.cast(tf.equal(tf.cast(tf.cast(logits, tf.float32) > 0, tf.float32), targets),
                   tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(hits * known, -1), tf.reduce_sum(known, -1))


def resolve_pos_weight(setting: str | None, spec: DatasetSpec, split: str) -> np.ndarray | None:
    """None, 'auto' (each label's negatives / positives in the training split; 1 for a
    label without positives there) or 'w0,w1,...' (one weight per label)."""
    if not setting:
        return None
    names: Sequence[str] = spec.class_names
    if setting == "auto":
        counts = spec.split(split).label_counts
        auto: list[float] = []
        absent: list[str] = []
        for name in names:
            positive, negative = counts[name]["positive"], counts[name]["negative"]
            if not positive:  # nothing to weigh: the label only ever learns "absent"
                absent.append(name)
            auto.append(max(negative, 1) / positive if positive else 1.0)
        if absent:
            log.warning("--pos_weight=auto: split %r has no known positive %s; weight 1",
                        split, ", ".join(absent))
        return np.array(auto, dtype=np.float32)
    try:
        weights = np.array([float(w) for w in setting.split(",")], dtype=np.float32)
    except ValueError:
        raise ValueError(f"--pos_weight must be 'auto' or numbers, got {setting!r}") from None
    if len(weights) != len(names) or (weights <= 0).any():
        raise ValueError(f"--pos_weight needs {len(names)} positive weights "
                         f"({', '.join(names)}), got {setting!r}")
    return weights
