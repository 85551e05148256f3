"""Frames with text rendered into their pixels, as an ultrasound machine or a screen capture
burns a patient's name in: what --burned_in redaction is tested and measured on."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def text_frame(size: int, lines: tuple[str, ...] = ("DOE JOHN", "MRN 4711"),
               seed: int = 4) -> np.ndarray:
    """A speckled uint8 square with `lines` in white, top left, at about size/24 px."""
    rng = np.random.default_rng(seed)
    picture = Image.fromarray((rng.random((size, size)) * 60 + 40).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=max(14, size // 24))
    for number, line in enumerate(lines):
        draw.text((size // 20, size // 20 + number * (size // 16)), line, fill=255, font=font)
    return np.asarray(picture)
