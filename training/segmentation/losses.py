"""Per-example segmentation losses: soft Dice, pixel cross-entropy, or their sum.

Soft Dice is computed per image and per class from the softmax probabilities,
`1 - (2 sum(p g) + s) / (sum(p) + sum(g) + s)` with s = 1, and averaged over the
foreground classes (1..K-1), matching how the Dice metric is reduced; a class
absent from both mask and prediction scores ~1 there, as the metric's rule.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

SMOOTH = 1.0


def soft_dice_loss(masks: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """masks (B, H, W) int, logits (B, H, W, K) -> (B,)."""
    num_classes = logits.shape[-1]
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32))
    onehot = tf.one_hot(masks, num_classes)
    intersection = tf.reduce_sum(probabilities * onehot, axis=[1, 2])
    total = tf.reduce_sum(probabilities, axis=[1, 2]) + tf.reduce_sum(onehot, axis=[1, 2])
    dice = (2.0 * intersection + SMOOTH) / (total + SMOOTH)
    foreground = dice[:, 1:] if num_classes > 1 else dice
    return 1.0 - tf.reduce_mean(foreground, axis=-1)


def pixel_cross_entropy(masks: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-image mean softmax cross-entropy over the pixels, in float32 whatever the logits'
    precision."""
    per_pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=masks, logits=tf.cast(logits, tf.float32))
    return tf.reduce_mean(per_pixel, axis=[1, 2])


def dice_and_cross_entropy(masks: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-image soft Dice loss plus pixel cross-entropy: Dice for small structures, cross-entropy
    for stable gradients early on."""
    return soft_dice_loss(masks, logits) + pixel_cross_entropy(masks, logits)


LOSSES = {"dice": soft_dice_loss, "ce": pixel_cross_entropy, "dice_ce": dice_and_cross_entropy}
"""The registry of `--segmentation_loss`: per-example losses of (masks, logits)."""


def segmentation_loss(name: str) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The loss `name` names; ValueError listing the choices otherwise."""
    if name not in LOSSES:
        raise ValueError(f"--segmentation_loss={name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]
