"""Segmentation metrics against hand-computed cases, the empty cases included."""

import math

import numpy as np
import pytest

from training.segmentation.metrics import SegmentationScores, binary_metrics, hausdorff95


def _square(size, top, left, side):
    mask = np.zeros((size, size), bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_overlapping_squares():
    truth, prediction = _square(10, 0, 0, 4), _square(10, 0, 2, 4)  # 16 px each, 8 shared
    values = binary_metrics(truth, prediction)
    assert values["dice"] == pytest.approx(2 * 8 / 32)
    assert values["iou"] == pytest.approx(8 / 24)
    assert values["precision"] == pytest.approx(0.5) and values["recall"] == pytest.approx(0.5)
    assert values["f1"] == values["dice"]


def test_empty_truth_and_empty_prediction_agree_perfectly():
    empty = np.zeros((6, 6), bool)
    values = binary_metrics(empty, empty)
    assert values == {"dice": 1.0, "iou": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0,
                      "hd95": 0.0}


def test_false_positive_on_an_empty_truth_scores_zero():
    prediction = np.zeros((6, 8), bool)
    prediction[1:3, 1:3] = True
    values = binary_metrics(np.zeros((6, 8), bool), prediction)
    assert values["dice"] == 0.0 and values["iou"] == 0.0 and values["precision"] == 0.0
    assert values["recall"] == 1.0
    assert values["hd95"] == pytest.approx(math.hypot(6, 8))


def test_missed_structure_scores_zero():
    values = binary_metrics(_square(8, 2, 2, 3), np.zeros((8, 8), bool))
    assert values["dice"] == 0.0 and values["recall"] == 0.0 and values["precision"] == 1.0
    assert values["hd95"] == pytest.approx(math.hypot(8, 8))


def test_hd95_of_a_shifted_square():
    truth, prediction = _square(20, 5, 5, 6), _square(20, 5, 8, 6)  # shifted 3 columns
    assert hausdorff95(truth, truth) == 0.0
    assert hausdorff95(truth, prediction) == pytest.approx(3.0)


def test_scores_average_per_image_then_over_foreground_classes():
    scores = SegmentationScores(["background", "a", "b"], with_hd95=False)
    truth = np.zeros((2, 4, 4), int)
    truth[0, :2, :2] = 1          # image 0: class a present, b absent
    truth[1, 2:, 2:] = 2          # image 1: class b present, a absent
    prediction = truth.copy()
    prediction[1, 0, 0] = 1       # image 1: a false positive pixel of class a
    scores.add(truth, prediction)
    report = scores.report()
    assert report["num_images"] == 2
    assert report["per_class"]["a"]["dice"] == pytest.approx((1.0 + 0.0) / 2)
    assert report["per_class"]["b"]["dice"] == pytest.approx(1.0)  # absent+absent counts 1
    assert report["mean_dice"] == pytest.approx((0.5 + 1.0) / 2)
    assert report["pixel_accuracy"] == pytest.approx((1.0 + 15 / 16) / 2)


def _hd95_from_the_definition(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Every boundary pixel against every other, by brute force."""
    def boundary(mask):
        points = []
        for y, x in zip(*np.nonzero(mask), strict=True):
            neighbours = [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)]
            if any(not (0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1]) or not mask[ny, nx]
                   for ny, nx in neighbours):
                points.append((y, x))
        return np.array(points, dtype=np.float64)

    a, b = boundary(truth), boundary(prediction)
    pairwise = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    return float(np.percentile(np.r_[pairwise.min(1), pairwise.min(0)], 95))


def test_hd95_matches_the_definition_on_irregular_masks():
    rng = np.random.default_rng(3)
    for _ in range(5):
        truth = rng.random((40, 48)) < 0.3
        prediction = np.roll(truth, (2, -3), axis=(0, 1)) | (rng.random((40, 48)) < 0.05)
        assert hausdorff95(truth, prediction) == pytest.approx(
            _hd95_from_the_definition(truth, prediction))
