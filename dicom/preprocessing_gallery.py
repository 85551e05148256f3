"""Render the README's before/after picture of the four preprocessing methods.

python -m dicom.preprocessing_gallery --output docs/preprocessing.png
"""

from __future__ import annotations

import numpy as np
from absl import app, flags
from PIL import Image, ImageDraw

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from dicom.preprocessing.methods import DEFAULT_VALUE, METHODS, preprocess
from dicom.synthetic.phantoms import radiograph

FLAGS = flags.FLAGS
flags.DEFINE_string("output", "docs/preprocessing.png", "PNG file to write.")
flags.DEFINE_integer("size", 192, "Tile size in pixels.", lower_bound=64)


def gallery(size: int) -> Image.Image:
    """One picture of every preprocessing method on a synthetic chest and extremity radiograph, a
    row each, the original first: what docs/preprocessing.md shows."""
    rng = np.random.default_rng(4)
    rows = []
    for body_part in ("CHEST", "EXTREMITY"):
        image = np.rint(radiograph(body_part, size, rng) * 65535).astype(np.uint16)
        tiles = [image] + [preprocess(image, name, DEFAULT_VALUE) for name in METHODS]
        rows.append(np.concatenate([(t >> 8).astype(np.uint8) for t in tiles], axis=1))
    canvas = Image.fromarray(np.concatenate(rows, axis=0)).convert("RGB")
    banner = Image.new("RGB", (canvas.width, 22), "white")
    draw = ImageDraw.Draw(banner)
    for i, title in enumerate(["original", *(f"{n} {DEFAULT_VALUE}" for n in METHODS)]):
        draw.text((i * size + 4, 5), title, fill="black")
    out = Image.new("RGB", (canvas.width, canvas.height + banner.height))
    out.paste(banner, (0, 0))
    out.paste(canvas, (0, banner.height))
    return out


def main(argv: list[str]) -> None:
    """Writes the gallery to --output."""
    del argv
    gallery(FLAGS.size).save(FLAGS.output)
    print(f"wrote {FLAGS.output}")


if __name__ == "__main__":
    app.run(main)
