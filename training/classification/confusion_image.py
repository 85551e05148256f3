"""The confusion matrix as a PNG with class names, drawn with Pillow (no plotting stack)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CELL = 56
MARGIN = 12


def render_confusion_matrix(
    matrix: Sequence[Sequence[int]], class_names: Sequence[str], title: str = ""
) -> Image.Image:
    """The confusion matrix as a picture: counts in cells shaded by their share of the row."""
    counts = np.asarray(matrix, dtype=np.int64)
    k = len(class_names)
    font = ImageFont.load_default()
    label_width = max(int(font.getlength(n)) for n in class_names) + 2 * MARGIN
    lines = [line for line in (title, "rows: true class, columns: predicted class") if line]
    top = 2 * MARGIN + 14 * len(lines)
    width = max(label_width + k * CELL + MARGIN,
                int(max(font.getlength(line) for line in lines)) + 2 * MARGIN)
    height = top + k * CELL + 3 * MARGIN + 12
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + 14 * number), line, fill="black", font=font)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)
    for i in range(k):
        y = top + i * CELL
        draw.text((MARGIN, y + CELL // 2 - 6), class_names[i], fill="black", font=font)
        for j in range(k):
            x = label_width + j * CELL
            shade = int(255 - 200 * share[i, j])
            fill = (shade, shade, 255) if i == j else (255, shade, shade)
            draw.rectangle([x, y, x + CELL - 2, y + CELL - 2], fill=fill, outline="gray")
            text = str(counts[i, j])
            draw.text((x + (CELL - font.getlength(text)) / 2, y + CELL // 2 - 6), text,
                      fill="black", font=font)
    for j, name in enumerate(class_names):
        x = label_width + j * CELL
        short = name if font.getlength(name) <= CELL - 4 else name[: max(1, CELL // 7)] + "."
        draw.text((x + 2, top + k * CELL + MARGIN), short, fill="black", font=font)
    return image
