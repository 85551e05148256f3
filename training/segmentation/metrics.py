"""Segmentation metrics per image and per class, then averaged over images.

Reduction: every metric is computed for each image and each class on its own,
then averaged over the images (per class), then over the foreground classes
(1..K-1; class 0 is background) for the `mean_*` figures. Pixel accuracy is
per image over all pixels, averaged over images.

Empty-mask rules, per image and class (G = ground truth, P = prediction):
  G empty, P empty      Dice = IoU = precision = recall = F1 = 1, HD95 = 0
                        (the absence was predicted correctly)
  G empty, P not empty  Dice = IoU = precision = F1 = 0, recall = 1 (nothing to
                        miss), HD95 = the image diagonal (worst case)
  G not empty, P empty  Dice = IoU = recall = F1 = 0, precision = 1 (no false
                        positive), HD95 = the image diagonal
HD95 is the symmetric 95th percentile of the distances (in pixels) from each
boundary pixel of one mask to the nearest boundary pixel of the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

METRICS = ("dice", "iou", "precision", "recall", "f1", "hd95")


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of `mask` with a 4-neighbour outside it (image edges count as outside)."""
    interior = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(2, 1),
                                      border_value=0)
    return mask & ~interior


def hausdorff95(truth: np.ndarray, prediction: np.ndarray) -> float:
    """The symmetric 95th percentile of boundary-to-boundary distances, from SciPy's exact
    Euclidean distance transform (as MONAI and MedPy compute it)."""
    truth_any, prediction_any = truth.any(), prediction.any()
    if not truth_any and not prediction_any:
        return 0.0
    if not truth_any or not prediction_any:
        return float(math.hypot(*truth.shape))
    a, b = _boundary(truth.astype(bool)), _boundary(prediction.astype(bool))
    to_b = ndimage.distance_transform_edt(~b)[a]
    to_a = ndimage.distance_transform_edt(~a)[b]
    return float(np.percentile(np.concatenate([to_b, to_a]), 95))


def binary_metrics(truth: np.ndarray, prediction: np.ndarray,
                   with_hd95: bool = True) -> dict[str, float]:
    """Dice, IoU, precision, recall and F1 of one binary mask against the truth (all 1.0 when both
    are empty), and HD95 when asked."""
    truth, prediction = truth.astype(bool), prediction.astype(bool)
    tp = float(np.logical_and(truth, prediction).sum())
    fp = float(np.logical_and(~truth, prediction).sum())
    fn = float(np.logical_and(truth, ~prediction).sum())
    if tp + fp + fn == 0:
        values = dict.fromkeys(("dice", "iou", "precision", "recall", "f1"), 1.0)
    else:
        precision = 1.0 if tp + fp == 0 else tp / (tp + fp)
        recall = 1.0 if tp + fn == 0 else tp / (tp + fn)
        dice = 2 * tp / (2 * tp + fp + fn)
        values = {"dice": dice, "iou": tp / (tp + fp + fn), "precision": precision,
                  "recall": recall, "f1": dice}
    if with_hd95:
        values["hd95"] = hausdorff95(truth, prediction)
    return values


class SegmentationScores:
    """Accumulates per-image scores batch by batch; `report()` averages them."""

    def __init__(self, class_names: Sequence[str], with_hd95: bool = True) -> None:
        self.class_names = list(class_names)
        self.with_hd95 = with_hd95
        self.per_class: list[dict[str, list[float]]] = [
            {m: [] for m in METRICS} for _ in self.class_names]
        self.pixel_accuracy: list[float] = []

    def add(self, truth: np.ndarray, prediction: np.ndarray) -> None:
        """`truth`, `prediction`: (H, W) or (N, H, W) integer class maps."""
        truth, prediction = np.asarray(truth), np.asarray(prediction)
        if truth.ndim == 2:
            truth, prediction = truth[None], prediction[None]
        for gt, pred in zip(truth, prediction, strict=True):
            self.pixel_accuracy.append(float((gt == pred).mean()))
            for index in range(len(self.class_names)):
                values = binary_metrics(gt == index, pred == index, self.with_hd95)
                for key, value in values.items():
                    self.per_class[index][key].append(value)

    def report(self) -> dict:
        """Per-class means of every metric, their foreground means, and the mean pixel accuracy."""
        per_class = {
            name: {m: (float(np.mean(v)) if v else None) for m, v in scores.items()}
            for name, scores in zip(self.class_names, self.per_class, strict=True)
        }
        foreground = self.class_names[1:] or self.class_names
        report: dict = {
            "num_images": len(self.pixel_accuracy),
            "pixel_accuracy": float(np.mean(self.pixel_accuracy)) if self.pixel_accuracy
            else None,
            "per_class": per_class,
            "mean_over": "images, then foreground classes (" + ", ".join(foreground) + ")",
        }
        for metric in METRICS:
            defined = [per_class[c][metric] for c in foreground]
            values = [float(v) for v in defined if v is not None]
            report[f"mean_{metric}"] = float(np.mean(values)) if values else None
        return report
