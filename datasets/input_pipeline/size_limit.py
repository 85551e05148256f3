"""`--max_image_size`: the longer side scaled down once, the same way at conversion and serving.

A 2048 x 2500 radiograph decoded and resized every epoch starves a GPU; one
scaled to 512 at conversion is decoded 16 times faster. The scaling is this
one TensorFlow function, run eagerly by tf_convert_data and in the graph by
eval, classify and the SavedModel on inputs larger than the records, so a
full-size input reaches the net exactly as its scaled record did: the same
target size (integer arithmetic), the same anti-aliased bilinear filter, and
the result rounded to the stored bit depth as the record's PNG holds it.
Images are never scaled up; aspect ratio is kept.
"""

from __future__ import annotations

import tensorflow as tf

UINT16_TOP = 65535.0


def _scaled_size_tensor(shape: tf.Tensor, max_size: int) -> tf.Tensor:
    """`files.image_limits.scaled_size` in the graph (the same integer arithmetic)."""
    height, width = tf.cast(shape[0], tf.int64), tf.cast(shape[1], tf.int64)
    longer = tf.maximum(height, width)
    target = tf.constant(max_size, tf.int64)
    new_height = tf.maximum(tf.constant(1, tf.int64), (height * target + longer // 2) // longer)
    new_width = tf.maximum(tf.constant(1, tf.int64), (width * target + longer // 2) // longer)
    return tf.cast(tf.stack([new_height, new_width]), tf.int32)


def limit_size(levels: tf.Tensor, bits: tf.Tensor, max_size: int | None) -> tf.Tensor:
    """[0, 1] levels (H, W, C) of `bits`-deep pixels, the longer side scaled down to
    `max_size` and rounded to the levels of `bits` (8 or 16)."""
    if not max_size:
        return levels
    shape = tf.shape(levels)

    def scaled() -> tf.Tensor:
        resized = tf.image.resize(levels, _scaled_size_tensor(shape, max_size),
                                  method="bilinear", antialias=True)
        return quantize(tf.clip_by_value(resized, 0.0, 1.0), bits)

    return tf.cond(tf.maximum(shape[0], shape[1]) > max_size, scaled, lambda: levels)


def quantize(levels: tf.Tensor, bits: tf.Tensor) -> tf.Tensor:
    """Round [0, 1] levels to what a PNG of `bits` holds, as decoding it would give them
    (8-bit values scaled by 257, then / 65535, like `encoded_levels`)."""
    eight = tf.cast(bits, tf.int32) <= 8
    top = tf.where(eight, 255.0, UINT16_TOP)
    values = tf.round(levels * top)
    values = tf.where(eight, values * 257.0, values)
    return values / UINT16_TOP


def limit_mask_size(mask: tf.Tensor, max_size: int | None) -> tf.Tensor:
    """A label mask (H, W) scaled like its image, by nearest neighbour (labels stay labels)."""
    if not max_size:
        return mask
    shape = tf.shape(mask)
    size = _scaled_size_tensor(shape, max_size)
    return tf.cond(
        tf.maximum(shape[0], shape[1]) > max_size,
        lambda: tf.cast(tf.image.resize(mask[..., tf.newaxis], size, method="nearest")[..., 0],
                        mask.dtype),
        lambda: mask)
