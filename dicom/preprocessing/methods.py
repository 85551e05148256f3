"""The seed's four preprocessing methods, one implementation for folders and for serving.

- bitwise_downsampling (1-8): keep the `value` most significant bits of each
  pixel and clear the low ones -> 2**value grey levels (8 on an 8-bit image is
  the identity).
- contrast_enhancing (1-10): linear stretch that saturates `value` % of the
  pixels at each end of the histogram (per channel).
- color_quantization (2-10): `value` evenly spaced levels between the image's
  minimum and maximum, each pixel snapped to its level.
- target_segmentation (1-10): keeps the bright target (body, bone) and zeroes the
  background below a threshold: Otsu's threshold for value 4, scaled by
  (0.5 + value / 8) relative to the image minimum -- lower values keep more.

They are TensorFlow ops on [0, 1] images holding integer levels v / (2**bits - 1),
computed in float64 on those levels exactly as on the stored integers (numpy's
percentiles and histogram binning, round-half-even), so the output is exact at
the image's bit depth. `preprocess_image` runs them eagerly on a folder's 8/16-bit
arrays (`preprocess`); classify_image, eval and the SavedModel run them in the
graph on raw inputs (`apply_method`, called by datasets.input_pipeline.model_input).
The method and value applied to a folder travel with it as `PixelPreprocessing`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)
DEFAULT_VALUE = 4

HISTOGRAM_BINS = 256
GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def _levels(image: tf.Tensor, bits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    top = tf.pow(tf.constant(2.0, tf.float64), tf.cast(bits, tf.float64)) - 1.0
    return tf.round(tf.cast(image, tf.float64) * top), top


def bitwise_downsampling(levels: tf.Tensor, top: tf.Tensor, bits: tf.Tensor,
                         value: int) -> tf.Tensor:
    """Levels with the low bits dropped, keeping `value` bits."""
    drop = tf.maximum(tf.cast(bits, tf.float64) - float(value), 0.0)
    step = tf.pow(tf.constant(2.0, tf.float64), drop)
    return tf.floor(levels / step) * step


def _percentile(sorted_values, fraction: float):
    """numpy.percentile's 'linear' method on values sorted along the last axis."""
    n = tf.shape(sorted_values)[-1]
    virtual = fraction * tf.cast(n - 1, tf.float64)
    below = tf.floor(virtual)
    gamma = virtual - below
    index = tf.cast(below, tf.int32)
    a = tf.gather(sorted_values, index, axis=-1)
    b = tf.gather(sorted_values, tf.minimum(index + 1, n - 1), axis=-1)
    difference = b - a
    return tf.where(gamma >= 0.5, b - difference * (1.0 - gamma), a + difference * gamma)


def contrast_enhancing(levels: tf.Tensor, top: tf.Tensor, bits: tf.Tensor,
                       value: int) -> tf.Tensor:
    """Levels stretched per channel so that the `value`-th and (100 - `value`)-th percentiles span
    the full range."""
    channels = tf.shape(levels)[-1]
    per_channel = tf.sort(tf.transpose(tf.reshape(levels, [-1, channels])), axis=-1)
    low = _percentile(per_channel, value / 100.0)
    high = _percentile(per_channel, (100 - value) / 100.0)
    span = tf.where(high > low, high - low, 1.0)
    return tf.round(tf.clip_by_value((levels - low) / span, 0.0, 1.0) * top)


def color_quantization(levels: tf.Tensor, top: tf.Tensor, bits: tf.Tensor,
                       value: int) -> tf.Tensor:
    """Levels quantized into `value` equal bins between the image's minimum and maximum."""
    low, high = tf.reduce_min(levels), tf.reduce_max(levels)
    span = tf.where(high > low, high - low, 1.0)
    index = tf.minimum(tf.floor((levels - low) / span * value), value - 1.0)
    quantized = tf.round(low + index * span / (value - 1.0))
    return tf.where(high > low, quantized, levels)


def _histogram_edges(low, high):
    """numpy.linspace(low, high, bins + 1) as numpy computes it."""
    step = (high - low) / HISTOGRAM_BINS
    edges = tf.range(HISTOGRAM_BINS + 1, dtype=tf.float64) * step + low
    return tf.concat([edges[:-1], high[tf.newaxis]], 0)


def otsu_threshold_tensor(gray: tf.Tensor) -> tf.Tensor:
    """Otsu's threshold on numpy.histogram's 256 bins over [min, max] (numpy's binning)."""
    values = tf.reshape(gray, [-1])
    low, high = tf.reduce_min(values), tf.reduce_max(values)
    edges = _histogram_edges(low, high)
    norm = HISTOGRAM_BINS / tf.where(high > low, high - low, 1.0)
    index = tf.cast((values - low) * norm, tf.int32)
    index = tf.where(index == HISTOGRAM_BINS, HISTOGRAM_BINS - 1, index)
    index = tf.where(values < tf.gather(edges, index), index - 1, index)
    increment = (values >= tf.gather(edges, index + 1)) & (index != HISTOGRAM_BINS - 1)
    index = tf.where(increment, index + 1, index)
    counts = tf.cast(tf.math.bincount(index, minlength=HISTOGRAM_BINS,
                                      maxlength=HISTOGRAM_BINS), tf.float64)
    centers = (edges[:-1] + edges[1:]) / 2.0
    weight0 = tf.cumsum(counts)
    weight1 = weight0[-1] - weight0
    sum0 = tf.cumsum(counts * centers)
    mean0 = sum0 / tf.maximum(weight0, 1.0)
    mean1 = (sum0[-1] - sum0) / tf.maximum(weight1, 1.0)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    first_best = tf.reduce_min(tf.where(between == tf.reduce_max(between)))
    return tf.where(high > low, edges[1:][first_best], low)


def _gray(levels):
    """Luma of RGB (numpy's `rgb @ weights`), or the one channel; static when it can be."""
    def rgb():
        return tf.tensordot(levels, tf.constant(GRAY_WEIGHTS, tf.float64), 1)

    channels = levels.shape[-1]
    if channels is not None:
        return rgb() if channels == 3 else levels[..., 0]
    return tf.cond(tf.shape(levels)[-1] == 3, rgb, lambda: levels[..., 0])


def target_segmentation(levels: tf.Tensor, top: tf.Tensor, bits: tf.Tensor,
                        value: int) -> tf.Tensor:
    """Levels kept where the gray image is above a threshold set from Otsu's by `value`, zero
    elsewhere."""
    gray = _gray(levels)
    low = tf.reduce_min(gray)
    threshold = low + (otsu_threshold_tensor(gray) - low) * (0.5 + value / 8.0)
    return tf.where((gray >= threshold)[..., tf.newaxis], levels, 0.0)


@dataclass(frozen=True)
class Method:
    name: str
    low: int
    high: int
    apply: Callable
    summary: str


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("bitwise_downsampling", 1, 8, bitwise_downsampling,
           "keep the VALUE most significant bits (2**VALUE grey levels)"),
    Method("contrast_enhancing", 1, 10, contrast_enhancing,
           "stretch contrast, saturating VALUE % of pixels at each end"),
    Method("color_quantization", 2, 10, color_quantization,
           "snap pixels to VALUE evenly spaced levels"),
    Method("target_segmentation", 1, 10, target_segmentation,
           "zero the background below Otsu's threshold x (0.5 + VALUE/8)"),
)}


@dataclass(frozen=True)
class PixelPreprocessing:
    """A method and value applied to a folder: recorded in its metadata.csv, then in the
    dataset spec and the run config, and applied by every consumer to raw inputs."""

    method: str
    value: int

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown preprocessing method {self.method!r}; choose one of "
                             f"{', '.join(METHODS)}")

    def describe(self) -> str:
        """The preprocessing as people name it, e.g. "contrast_enhancing 2"."""
        return f"{self.method} {self.value}"

    def as_dict(self) -> dict:
        """The preprocessing as JSON-ready values, as records and model configs keep it."""
        return {"method": self.method, "value": self.value}

    @classmethod
    def from_dict(cls, data: dict | None) -> PixelPreprocessing | None:
        """The preprocessing `as_dict` wrote; None when none was."""
        return None if not data else cls(str(data["method"]), int(data["value"]))


def clamp_value(method: str, value: int) -> int:
    """Clamp `value` into the method's range, warning when it had to."""
    spec = METHODS[method]
    clamped = min(max(value, spec.low), spec.high)
    if clamped != value:
        log.warning(
            "%s value %d is outside %d-%d; using %d", method, value, spec.low, spec.high, clamped
        )
    return clamped


def apply_method(image: tf.Tensor, bits: tf.Tensor | int, method: str,
                 value: int) -> tf.Tensor:
    """[0, 1] image (H, W, C) of `bits`-deep levels -> the method's output, [0, 1] float32."""
    levels, top = _levels(image, bits)
    out = METHODS[method].apply(levels, top, bits, value)
    # integer levels / top in float32, exactly as decoding a stored PNG of them gives
    return tf.cast(out, tf.float32) / tf.cast(top, tf.float32)


def preprocess(image: np.ndarray, method: str, value: int = DEFAULT_VALUE) -> np.ndarray:
    """A uint8/uint16 array (H, W) or (H, W, C) -> the same dtype and shape, preprocessed."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a uint8 or uint16 image, got {image.dtype}")
    value = clamp_value(method, value)
    top = float(np.iinfo(image.dtype).max)
    levels = tf.constant(image[..., np.newaxis] if image.ndim == 2 else image, tf.float64)
    out = METHODS[method].apply(levels, tf.constant(top, tf.float64),
                                image.dtype.itemsize * 8, value).numpy()
    return np.rint(out[..., 0] if image.ndim == 2 else out).astype(image.dtype)


def otsu_threshold(gray: np.ndarray) -> float:
    """Otsu's between-class-variance threshold on a 256-bin histogram of `gray`."""
    return float(otsu_threshold_tensor(tf.constant(gray, tf.float64)))
