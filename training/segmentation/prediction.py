"""Segmentation inference for classify_image.py: sliding windows, masks and overlays.

An image the size of the training tile is predicted in one pass. A larger one
is covered by tiles at `overlap` (default half a tile); each tile's
probabilities are weighted by a ramp that falls from 1 at the tile centre to
0.1 at its edge, so seams blend and pixels near tile borders (which see less
context) count less. A smaller image is padded by reflection to one tile and
cropped back. The mask is the argmax; the overlay tints each class's pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from PIL import Image

from files.safe_names import NameAllocator

EDGE_WEIGHT = 0.1
OVERLAY_ALPHA = 0.45
PALETTE = np.array([[0, 0, 0], [230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48],
                    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]],
                   dtype=np.float32)


def _ramp(size: int) -> np.ndarray:
    position = np.abs(np.linspace(-1.0, 1.0, size))
    return 1.0 - (1.0 - EDGE_WEIGHT) * position


def _starts(length: int, tile: int, stride: int) -> list[int]:
    starts = list(range(0, max(length - tile, 0) + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def sliding_window(
    image: np.ndarray,
    tile: int,
    predict: Callable[[np.ndarray], np.ndarray],
    overlap: float = 0.5,
    batch_size: int = 8,
) -> np.ndarray:
    """Class probabilities (H, W, K) of `image` (H, W, C) from `predict` on (N, tile, tile, C)."""
    height, width = image.shape[:2]
    pad_h, pad_w = max(tile - height, 0), max(tile - width, 0)
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "edge"
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode=mode)  # type: ignore[call-overload]
    full_h, full_w = image.shape[:2]
    stride = max(1, round(tile * (1.0 - overlap)))
    corners = [(y, x) for y in _starts(full_h, tile, stride)
               for x in _starts(full_w, tile, stride)]
    weight = np.outer(_ramp(tile), _ramp(tile))[..., np.newaxis]
    total: np.ndarray | None = None
    norm = np.zeros((full_h, full_w, 1), np.float32)
    for start in range(0, len(corners), batch_size):
        chunk = corners[start : start + batch_size]
        tiles = np.stack([image[y : y + tile, x : x + tile] for y, x in chunk])
        probabilities = predict(tiles)
        if total is None:
            total = np.zeros((full_h, full_w, probabilities.shape[-1]), np.float32)
        for (y, x), p in zip(chunk, probabilities, strict=True):
            total[y : y + tile, x : x + tile] += p * weight
            norm[y : y + tile, x : x + tile] += weight
    assert total is not None  # at least one tile
    return (total / norm)[:height, :width]


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 RGB: the image in gray or colour, each foreground class tinted."""
    rgb = image if image.shape[-1] == 3 else np.repeat(image, 3, axis=-1)
    rgb = rgb.astype(np.float32) * 255.0
    colours = PALETTE[mask % len(PALETTE)]
    tinted = np.where((mask > 0)[..., None], (1 - OVERLAY_ALPHA) * rgb + OVERLAY_ALPHA * colours,
                      rgb)
    return np.clip(tinted, 0, 255).astype(np.uint8)


def output_stem(source: str, names: NameAllocator) -> str:
    """A safe, unique output name for an input (its base name without the extension)."""
    return names.allocate(os.path.splitext(os.path.basename(source))[0], "image")


def write_outputs(output_dir: str, stem: str, image: np.ndarray, mask: np.ndarray) -> str:
    """Writes the mask and its overlay on the image as PNGs named by `stem`; returns the mask's
    path."""
    mask_path = os.path.join(output_dir, f"{stem}_mask.png")
    Image.fromarray(mask.astype(np.uint8)).save(mask_path)
    Image.fromarray(overlay(image, mask)).save(os.path.join(output_dir, f"{stem}_overlay.png"))
    return mask_path


def class_fractions(mask: np.ndarray, class_names: list[str]) -> str:
    """The share of pixels of each class, as "name:fraction" pairs joined by commas."""
    counts = np.bincount(mask.ravel(), minlength=len(class_names)) / mask.size
    return ",".join(f"{name}:{fraction:.4f}" for name, fraction in zip(class_names, counts,
                                                                          strict=False))
