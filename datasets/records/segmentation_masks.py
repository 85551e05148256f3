"""Segmentation masks: label PNGs, or colour PNGs mapped through `class_dict.csv`.

A label mask holds the class index per pixel (gray `L` or palette `P` PNG,
palette indices being the labels, as in Pascal VOC). A colour mask (RGB) needs
`class_dict.csv` with a `name,r,g,b` header, as in the ISN seed project: row i
is class i. Every mask is stored in the record as an 8-bit label PNG.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from datasets.records.record_images import UnreadableImage
from files.png_codec import encode_png

CLASS_DICT_FILE = "class_dict.csv"
MAX_CLASSES = 256


@dataclass(frozen=True)
class SegmentationClass:
    name: str
    color: tuple[int, int, int]


def read_class_dict(path: str) -> list[SegmentationClass]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        if header[:4] != ["name", "r", "g", "b"]:
            raise ValueError(f"{path}: header must be name,r,g,b; got {','.join(header)}")
        classes = []
        for number, row in enumerate(reader, start=2):
            values = [(row.get(k) or "").strip() for k in reader.fieldnames[:4]]
            try:
                color = tuple(int(v) for v in values[1:])
            except ValueError:
                message = f"{path}:{number}: r,g,b must be integers, got {values[1:]}"
                raise ValueError(message) from None
            if not values[0] or any(not 0 <= c <= 255 for c in color):
                raise ValueError(f"{path}:{number}: need a name and r,g,b in 0..255")
            classes.append(SegmentationClass(values[0], color))  # type: ignore[arg-type]
    if not classes or len(classes) > MAX_CLASSES:
        raise ValueError(f"{path}: needs 1 to {MAX_CLASSES} classes, has {len(classes)}")
    colors = [c.color for c in classes]
    if len(set(colors)) != len(colors):
        raise ValueError(f"{path}: two classes share a colour")
    return classes


def write_class_dict(path: str, classes: Sequence[tuple[str, tuple[int, int, int]]]) -> None:
    """`name,r,g,b` rows in class order: the inverse of `read_class_dict`."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "r", "g", "b"])
        writer.writerows([name, r, g, b] for name, (r, g, b) in classes)


def find_class_dict(dataset_dir: str) -> list[SegmentationClass] | None:
    path = os.path.join(dataset_dir, CLASS_DICT_FILE)
    return read_class_dict(path) if os.path.exists(path) else None


def load_mask(path: str, classes: list[SegmentationClass] | None) -> np.ndarray:
    """The mask at `path` as uint8 class indices (H, W)."""
    try:
        with Image.open(path) as pil:
            pil.load()
            if pil.mode in ("L", "P", "1"):
                labels = np.asarray(pil if pil.mode != "1" else pil.convert("L"))
                if pil.mode == "1":
                    labels = (labels > 0).astype(np.uint8)
            elif pil.mode in ("RGB", "RGBA"):
                labels = _colors_to_labels(np.asarray(pil.convert("RGB")), classes)
            else:
                raise UnreadableImage(f"mask mode {pil.mode} is neither labels (L, P) nor colour")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise UnreadableImage(f"corrupt or unreadable mask: {' '.join(str(exc).split())}") from exc
    if classes is not None and labels.size and int(labels.max()) >= len(classes):
        raise UnreadableImage(
            f"mask holds label {int(labels.max())} but {CLASS_DICT_FILE} lists {len(classes)} "
            "classes"
        )
    return labels.astype(np.uint8)


def _colors_to_labels(rgb: np.ndarray, classes: list[SegmentationClass] | None) -> np.ndarray:
    if classes is None:
        raise UnreadableImage(f"colour mask, but the dataset has no {CLASS_DICT_FILE}")
    rgb = rgb.astype(np.int32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    keys = np.array([(r << 16) | (g << 8) | b for r, g, b in (c.color for c in classes)])
    order = np.argsort(keys)
    position = np.searchsorted(keys[order], packed)
    position = np.clip(position, 0, len(keys) - 1)
    found = keys[order][position] == packed
    if not found.all():
        unknown = packed[~found][0]
        color = ((unknown >> 16) & 255, (unknown >> 8) & 255, unknown & 255)
        raise UnreadableImage(
            f"{int((~found).sum())} pixels have colour {color}, which {CLASS_DICT_FILE} lacks"
        )
    return order[position].astype(np.uint8)


def encode_mask(labels: np.ndarray) -> bytes:
    return encode_png(labels.astype(np.uint8))


def decode_mask(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as pil:
        return np.asarray(pil)
