"""Segmentation masks: label PNGs, or colour PNGs mapped through `class_dict.csv`.

A label mask holds the class index per pixel (gray `L` or palette `P` PNG,
palette indices being the labels, as in Pascal VOC). A colour mask (RGB) needs
`class_dict.csv` with a `name,r,g,b` header, as in the ISN seed project: row i
is class i. Every mask is stored in the record as an 8-bit label PNG.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from datasets.records.record_images import UnreadableImage
from files.folder_layout import CLASS_DICT_FILE, SegmentationClass
from files.png_codec import encode_png


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
    """A label mask (class index per pixel) as 8-bit PNG bytes."""
    return encode_png(labels.astype(np.uint8))


def decode_mask(data: bytes) -> np.ndarray:
    """The label mask a PNG holds."""
    with Image.open(io.BytesIO(data)) as pil:
        return np.asarray(pil)
