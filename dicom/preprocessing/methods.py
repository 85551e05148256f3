"""The seed's four preprocessing methods, vectorised, for 8/16-bit gray and RGB images.

Every method keeps the image's dtype, so a 16-bit image stays 16-bit.

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
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)
DEFAULT_VALUE = 4


@dataclass(frozen=True)
class Method:
    name: str
    low: int
    high: int
    apply: Callable[[np.ndarray, int], np.ndarray]
    summary: str


def _max_value(image: np.ndarray) -> int:
    return int(np.iinfo(image.dtype).max)


def bitwise_downsampling(image: np.ndarray, value: int) -> np.ndarray:
    bits = image.dtype.itemsize * 8
    mask = ~np.array((1 << (bits - value)) - 1, dtype=image.dtype)
    return image & mask


def contrast_enhancing(image: np.ndarray, value: int) -> np.ndarray:
    data = image.astype(np.float64)
    axes = (0, 1)
    low = np.percentile(data, value, axis=axes, keepdims=True)
    high = np.percentile(data, 100 - value, axis=axes, keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    top = _max_value(image)
    out = np.clip((data - low) / span, 0.0, 1.0) * top
    return np.rint(out).astype(image.dtype)


def color_quantization(image: np.ndarray, value: int) -> np.ndarray:
    data = image.astype(np.float64)
    low, high = data.min(), data.max()
    if high <= low:
        return image.copy()
    index = np.minimum(np.floor((data - low) / (high - low) * value), value - 1)
    levels = low + index * (high - low) / (value - 1)
    return np.rint(levels).astype(image.dtype)


def otsu_threshold(gray: np.ndarray, bins: int = 256) -> float:
    """Otsu's between-class-variance threshold on a histogram of `gray`."""
    low, high = float(gray.min()), float(gray.max())
    if high <= low:
        return low
    counts, edges = np.histogram(gray, bins=bins, range=(low, high))
    centers = (edges[:-1] + edges[1:]) / 2.0
    weight0 = np.cumsum(counts)
    weight1 = weight0[-1] - weight0
    sum0 = np.cumsum(counts * centers)
    mean0 = sum0 / np.maximum(weight0, 1)
    mean1 = (sum0[-1] - sum0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    return float(edges[1:][int(np.argmax(between))])


def target_segmentation(image: np.ndarray, value: int) -> np.ndarray:
    gray = image.astype(np.float64)
    if gray.ndim == 3:
        gray = gray @ np.array([0.299, 0.587, 0.114])
    low = float(gray.min())
    threshold = low + (otsu_threshold(gray) - low) * (0.5 + value / 8.0)
    keep = gray >= threshold
    return np.where(keep[..., None] if image.ndim == 3 else keep, image, 0).astype(image.dtype)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "bitwise_downsampling",
            1,
            8,
            bitwise_downsampling,
            "keep the VALUE most significant bits (2**VALUE grey levels)",
        ),
        Method(
            "contrast_enhancing",
            1,
            10,
            contrast_enhancing,
            "stretch contrast, saturating VALUE % of pixels at each end",
        ),
        Method(
            "color_quantization",
            2,
            10,
            color_quantization,
            "snap pixels to VALUE evenly spaced levels",
        ),
        Method(
            "target_segmentation",
            1,
            10,
            target_segmentation,
            "zero the background below Otsu's threshold x (0.5 + VALUE/8)",
        ),
    )
}


def clamp_value(method: str, value: int) -> int:
    """Clamp `value` into the method's range, warning when it had to."""
    spec = METHODS[method]
    clamped = min(max(value, spec.low), spec.high)
    if clamped != value:
        log.warning(
            "%s value %d is outside %d-%d; using %d", method, value, spec.low, spec.high, clamped
        )
    return clamped


def preprocess(image: np.ndarray, method: str, value: int = DEFAULT_VALUE) -> np.ndarray:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a uint8 or uint16 image, got {image.dtype}")
    return METHODS[method].apply(image, clamp_value(method, value))
