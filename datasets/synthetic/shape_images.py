"""Synthetic segmentation data (the ISN seed): random shapes on textured backgrounds.

Each image holds 1-3 shapes (circle, square, triangle) of random size, position,
rotation and colour over a smooth random texture with noise; the class is the
geometry, never the colour, so a net must learn shapes. Masks are colour PNGs
mapped by `class_dict.csv` (name,r,g,b), as the seed's were. Later shapes are
drawn over earlier ones, in the image and in the mask alike.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from console.options import option
from files.folder_layout import CLASS_DICT_FILE, IMAGES_DIR, MASKS_DIR, write_class_dict

CLASSES = (("background", (0, 0, 0)), ("circle", (255, 0, 0)), ("square", (0, 255, 0)),
           ("triangle", (0, 0, 255)))
EXPERIMENT, HOLDING = "experiment", "holding"


@dataclass(frozen=True)
class ShapeSettings:
    """What `write_shapes` draws; each field is also `datasets.shapes`' flag."""

    num_images: int = option(1000, "Images in all (experiment + holding).")
    height: int = option(128, "Image height.", flag="img_height")
    width: int = option(128, "Image width.", flag="img_width")
    min_shape_px: int = option(16, "Smallest shape size in pixels.")
    max_shape_px: int = option(48, "Largest shape size in pixels.")
    holding_fraction: float = option(0.1, "Share of images held out in holding/.")
    seed: int = option(0, "Random seed: the same seed writes the same images.")

    def check(self) -> None:
        """Raises ValueError naming the flag when the settings cannot make an image set."""
        if self.num_images < 1:
            raise ValueError("--num_images must be at least 1")
        if not 4 <= self.min_shape_px <= self.max_shape_px:
            raise ValueError("need 4 <= --min_shape_px <= --max_shape_px")
        if self.max_shape_px > min(self.height, self.width):
            raise ValueError("--max_shape_px must fit in the image")
        if not 0 <= self.holding_fraction < 1:
            raise ValueError("--holding_fraction must be in [0, 1)")


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    coarse = rng.random((4, 4, 3))
    small = Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height),
                                                                     Image.BICUBIC)
    base = np.asarray(small, dtype=np.float32) * 0.5 + 40
    return base + rng.normal(0, 8, (height, width, 3))


def _polygon(kind: str, cx: float, cy: float, size: float, angle: float) -> list[tuple]:
    corners: list[tuple[float, float]]
    if kind == "square":
        corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        radius = size / 2
    else:
        corners = [(math.cos(a), math.sin(a)) for a in (-math.pi / 2, math.pi / 6,
                                                         5 * math.pi / 6)]
        radius = size / 2
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + radius * (x * cos - y * sin), cy + radius * (x * sin + y * cos))
            for x, y in corners]


def render(rng: np.random.Generator, settings: ShapeSettings) -> tuple[np.ndarray, np.ndarray]:
    """One (image uint8 HxWx3, labels uint8 HxW) pair."""
    h, w = settings.height, settings.width
    image = Image.fromarray(np.clip(_texture(rng, h, w), 0, 255).astype(np.uint8))
    labels = Image.new("L", (w, h), 0)
    draw_image, draw_labels = ImageDraw.Draw(image), ImageDraw.Draw(labels)
    for _ in range(int(rng.integers(1, 4))):
        index = int(rng.integers(1, len(CLASSES)))
        kind = CLASSES[index][0]
        size = float(rng.uniform(settings.min_shape_px, settings.max_shape_px))
        cx = float(rng.uniform(size / 2, w - size / 2))
        cy = float(rng.uniform(size / 2, h - size / 2))
        colour = tuple(int(c) for c in rng.integers(120, 256, 3))
        if kind == "circle":
            box = [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]
            draw_image.ellipse(box, fill=colour)
            draw_labels.ellipse(box, fill=index)
        else:
            points = _polygon(kind, cx, cy, size, float(rng.uniform(0, math.pi)))
            draw_image.polygon(points, fill=colour)
            draw_labels.polygon(points, fill=index)
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, (h, w, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8), np.asarray(labels, dtype=np.uint8)


def write_shapes(output_dir: str, settings: ShapeSettings,
                 progress: Callable[[int], object] | None = None) -> dict[str, int]:
    """`output_dir/experiment` and `output_dir/holding`, each images/ + masks/ +
    class_dict.csv (the layout tf_convert_data --dataset_name=segmentation reads)."""
    settings.check()
    rng = np.random.default_rng(settings.seed)
    holding = round(settings.num_images * settings.holding_fraction)
    colours = np.array([c for _, c in CLASSES], dtype=np.uint8)
    counts = {EXPERIMENT: 0, HOLDING: 0}
    for part in counts:
        for sub in (IMAGES_DIR, MASKS_DIR):
            os.makedirs(os.path.join(output_dir, part, sub), exist_ok=True)
        write_class_dict(os.path.join(output_dir, part, CLASS_DICT_FILE), CLASSES)
    for index in range(settings.num_images):
        part = HOLDING if index >= settings.num_images - holding else EXPERIMENT
        image, labels = render(rng, settings)
        stem = f"shape_{index:05d}.png"
        Image.fromarray(image).save(os.path.join(output_dir, part, IMAGES_DIR, stem))
        Image.fromarray(colours[labels]).save(os.path.join(output_dir, part, MASKS_DIR, stem))
        counts[part] += 1
        if progress is not None:
            progress(1)
    return counts
