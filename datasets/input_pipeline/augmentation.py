"""Training augmentation that moves a mask with its image.

Every random draw is stateless and comes from a per-example seed, so a run
with `deterministic=True` and a fixed seed sees the same augmented images in
the same order. Geometry (flips, rotation) is shared by image and mask; the
mask is resampled with nearest neighbour so labels are never blended.
Intensity changes (brightness, contrast) touch the image only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class AugmentOptions:
    flip_left_right: bool = True
    flip_up_down: bool = False
    max_rotation_degrees: float = 10.0
    max_brightness_delta: float = 0.1
    contrast_range: tuple[float, float] = (0.9, 1.1)


def _rotation_transform(angle: tf.Tensor, height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """Projective transform (output -> input pixel) rotating by `angle` about the centre."""
    cx = (tf.cast(width, tf.float32) - 1.0) / 2.0
    cy = (tf.cast(height, tf.float32) - 1.0) / 2.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    return tf.stack(
        [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0]
    )[tf.newaxis]


def _transform(image: tf.Tensor, transform: tf.Tensor, interpolation: str) -> tf.Tensor:
    shape = tf.shape(image)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform,
        output_shape=shape[:2],
        fill_value=0.0,
        interpolation=interpolation,
        fill_mode="REFLECT",
    )[0]


def augment(
    image: tf.Tensor,
    mask: tf.Tensor | None,
    seed: tf.Tensor,
    options: AugmentOptions,
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """`image` float32 (H, W, C) in [0, 1]; `mask` (H, W, 1) integer or None; `seed` shape [2]."""
    seeds = tf.random.experimental.stateless_split(seed, 5)
    if options.flip_left_right:
        flip = tf.random.stateless_uniform([], seeds[0]) < 0.5
        image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
        if mask is not None:
            mask = tf.cond(flip, lambda: tf.image.flip_left_right(mask), lambda: mask)
    if options.flip_up_down:
        flip = tf.random.stateless_uniform([], seeds[1]) < 0.5
        image = tf.cond(flip, lambda: tf.image.flip_up_down(image), lambda: image)
        if mask is not None:
            mask = tf.cond(flip, lambda: tf.image.flip_up_down(mask), lambda: mask)
    if options.max_rotation_degrees > 0:
        limit = options.max_rotation_degrees * math.pi / 180.0
        angle = tf.random.stateless_uniform([], seeds[2], -limit, limit)
        shape = tf.shape(image)
        transform = _rotation_transform(angle, shape[0], shape[1])
        image = _transform(image, transform, "BILINEAR")
        if mask is not None:
            dtype = mask.dtype
            mask = tf.cast(_transform(tf.cast(mask, tf.float32), transform, "NEAREST"), dtype)
    if options.max_brightness_delta > 0:
        delta = tf.random.stateless_uniform(
            [], seeds[3], -options.max_brightness_delta, options.max_brightness_delta
        )
        image = image + delta
    low, high = options.contrast_range
    if (low, high) != (1.0, 1.0):
        factor = tf.random.stateless_uniform([], seeds[4], low, high)
        mean = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
        image = (image - mean) * factor + mean
    return tf.clip_by_value(image, 0.0, 1.0), mask
