"""ROC curves as a PNG, one curve per label with its AUROC, drawn with Pillow."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.classification.multilabel_metrics import roc_points

PLOT = 360
MARGIN = 40
COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def render_roc_curves(targets: np.ndarray, scores: np.ndarray,
                      class_names: Sequence[str], aurocs: Sequence[float | None],
                      title: str = "") -> Image.Image:
    """The ROC curves of every class or label as a picture, with AUROC in the legend;
    `scores` (probabilities, or the log-odds eval ranks by) only order the images."""
    font = ImageFont.load_default()
    legend = [f"{name}: AUROC {'n/a (no positives or negatives)' if auc is None else f'{auc:.3f}'}"
              for name, auc in zip(class_names, aurocs, strict=True)]
    legend_width = int(max(font.getlength(line) for line in legend)) + 40
    width = MARGIN + PLOT + MARGIN + legend_width
    height = MARGIN + PLOT + MARGIN + 10
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((MARGIN, 10), title, fill="black", font=font)

    def point(fpr: float, tpr: float) -> tuple[float, float]:
        return MARGIN + fpr * PLOT, MARGIN + (1 - tpr) * PLOT

    draw.rectangle([*point(0, 1), *point(1, 0)], outline="black")
    draw.line([point(0, 0), point(1, 1)], fill=(200, 200, 200), width=1)
    for tick in (0.0, 0.5, 1.0):
        x, y = point(tick, tick)
        draw.text((x - 6, MARGIN + PLOT + 4), f"{tick:g}", fill="black", font=font)
        draw.text((MARGIN - 22, y - 6), f"{tick:g}", fill="black", font=font)
    draw.text((MARGIN + PLOT / 2 - 60, MARGIN + PLOT + 18), "false positive rate",
              fill="black", font=font)
    draw.text((4, MARGIN - 16), "true positive rate", fill="black", font=font)
    for index in range(len(class_names)):
        colour = COLOURS[index % len(COLOURS)]
        known = targets[:, index] >= 0
        truth = targets[known, index] == 1
        if aurocs[index] is not None:
            fpr, tpr, _ = roc_points(scores[known, index], truth)
            draw.line([point(f, t) for f, t in zip(fpr, tpr, strict=True)], fill=colour,
                      width=2)
        y = MARGIN + 16 * index
        x = MARGIN + PLOT + MARGIN
        draw.line([(x, y + 6), (x + 24, y + 6)], fill=colour, width=3)
        draw.text((x + 30, y), legend[index], fill="black", font=font)
    return image
