"""docs/synthetic_volumes.png: mid-slices of both views and the labels of two samples.

    python -m datasets.synthetic_volumes.sample_figure --output docs/synthetic_volumes.png

Made from scratch each time (fake templates in a temporary folder, steps 1-2 at
--side_length), so `make figures` needs no data.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from absl import app, flags
from PIL import Image, ImageDraw

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)

FLAGS = flags.FLAGS
flags.DEFINE_string("output", "docs/synthetic_volumes.png", "The PNG to write.")
flags.DEFINE_integer("side_length", 96, "Side of the sample volumes.")
flags.DEFINE_integer("seed", 0, "Seed of the templates and samples.")
SCALE = 3
CAPTION = 18


def label_colours(labels: np.ndarray) -> np.ndarray:
    """A fixed random palette, background black."""
    palette = np.random.default_rng(1).integers(40, 256, (256, 3)).astype(np.uint8)
    palette[0] = 0
    return palette[labels]


def render(samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Image.Image:
    """One row per sample: view 1 | view 2 | labels, each the middle axial slice."""
    side = samples[0][2].shape[0]
    tile = side * SCALE
    sheet = Image.new("RGB", (3 * tile, len(samples) * (tile + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (first, second, labels) in enumerate(samples):
        middle = labels.shape[2] // 2
        panels = [np.repeat(v[:, :, middle, None], 3, axis=-1) for v in (first, second)]
        panels.append(label_colours(labels[:, :, middle]))
        top = row * (tile + CAPTION)
        for column, (panel, name) in enumerate(zip(panels, ("view 1", "view 2", "labels"),
                                                   strict=True)):
            image = Image.fromarray(panel).resize((tile, tile), Image.NEAREST)
            sheet.paste(image, (column * tile, top + CAPTION))
            draw.text((column * tile + 4, top + 3), f"sample {row}: {name}", fill="black")
    return sheet


def main(argv: list[str]) -> int:
    """Draws a figure of one sample through every step; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from datasets.synthetic_volumes.ensemble_settings import EnsembleSettings
    from datasets.synthetic_volumes.label_ensembles import generate_ensemble
    from datasets.synthetic_volumes.steps import preprocess_templates
    from datasets.synthetic_volumes.template_phantoms import write_fake_totalsegmentator
    from datasets.synthetic_volumes.totalsegmentator import template_files
    from datasets.synthetic_volumes.views import synthesize_pair

    require_no_arguments(argv)

    def run() -> int:
        with tempfile.TemporaryDirectory() as folder:
            write_fake_totalsegmentator(folder, 3, (64, 64, 80), FLAGS.seed)
            preprocess_templates(folder, 1, progress=False)
            templates = template_files(folder)
            samples = []
            for index in range(2):
                labels, _ = generate_ensemble(templates, index, FLAGS.seed,
                                              EnsembleSettings(FLAGS.side_length))
                (first, _), (second, _) = synthesize_pair(labels, index, FLAGS.seed)
                samples.append((first, second, labels))
        os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
        render(samples).save(FLAGS.output)
        print(f"wrote {FLAGS.output}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
