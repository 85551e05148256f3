"""TF-Slim's evaluation geometry: how a whole image becomes the net's input at eval time.

This is the spatial half of TF-Slim's preprocessing (the value range is the
net's first layer, see nets/conv_blocks.py). eval, classify_image and the
SavedModel all frame images here, so serving sees what evaluation saw:

- `inception`: the central 87.5 % of each side, resized (bilinear) to the size;
- `vgg`: the shorter side resized to size / 0.875 (256 for 224), aspect kept,
  then the central size x size crop;
- None (segmentation, or framing off): a plain resize of the whole image.

Both resize with TF-Slim's own op, TF1's `resize_bilinear(align_corners=False)`
(no half-pixel centres, unlike `tf.image.resize`), so the pixels match its.
Training reads whole images (resized, with the pipeline's own augmentation).
"""

from __future__ import annotations

import tensorflow as tf

CENTRAL_FRACTION = 0.875


def frame_for_eval(image: tf.Tensor, height: int, width: int,
                   preprocessing: str | None) -> tf.Tensor:
    """float32 (H, W, C) -> (height, width, C)."""
    if preprocessing == "inception":
        return _slim_resize(tf.image.central_crop(image, CENTRAL_FRACTION), [height, width])
    if preprocessing == "vgg":
        side = tf.cast(tf.round(min(height, width) / CENTRAL_FRACTION), tf.float32)
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = side / tf.reduce_min(shape)
        resized = tf.cast(tf.round(shape * scale), tf.int32)
        image = _slim_resize(image, tf.maximum(resized, [height, width]))
        return tf.image.resize_with_crop_or_pad(image, height, width)
    return tf.image.resize(image, [height, width])


def _slim_resize(image: tf.Tensor, size) -> tf.Tensor:
    """TF1's resize_bilinear(align_corners=False): the raw op, without the deprecation notice
    its compat.v1 wrapper prints."""
    return tf.raw_ops.ResizeBilinear(images=image[tf.newaxis], size=size, align_corners=False,
                                     half_pixel_centers=False)[0]
