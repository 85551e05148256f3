"""Multi-label metrics against hand-computed values; unknown entries count nowhere and a
label without positives is reported as such."""

from __future__ import annotations

import numpy as np
import pytest

from training.classification.multilabel_metrics import (
    average_precision,
    choose_threshold,
    multilabel_report,
)


def test_average_precision_by_hand():
    # Ranked best first: P N P N -> precision 1 at the first hit, 2/3 at the second.
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    truth = np.array([True, False, True, False])
    assert average_precision(scores, truth) == pytest.approx((1 + 2 / 3) / 2)
    # A tie between a positive and a negative is one threshold: precision 1/2 there.
    assert average_precision(np.array([0.5, 0.5]), np.array([True, False])) == 0.5
    assert average_precision(scores, np.zeros(4, bool)) is None


def test_thresholds_by_youden_and_by_f1():
    scores = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.5, 0.4, 0.3, 0.2, 0.1])
    truth = np.array([True, False, False, False, True, False, False, False, False, False])
    # Youden's J: at 0.95, TPR 1/2 - FPR 0 = .5; at 0.75, 1 - 3/8 = .625 (the largest).
    assert choose_threshold(scores, truth, "youden") == 0.75
    # F1: at 0.95, 2*1 / (1 + 0 + 2) = .667; at 0.75, 2*2 / (2 + 3 + 2) = .571.
    assert choose_threshold(scores, truth, "f1") == 0.95
    assert choose_threshold(scores, np.ones(10, bool), "f1") is None
    with pytest.raises(ValueError, match="youden, f1"):
        choose_threshold(scores, truth, "best")


def test_report_leaves_unknowns_out_and_names_labels_without_positives():
    targets = np.array([[1, 0, 0], [0, -1, 0], [1, 1, 0], [0, 0, -1]], float)
    probabilities = np.array([[0.8, 0.3, 0.1], [0.4, 0.99, 0.2], [0.7, 0.6, 0.65],
                              [0.2, 0.1, 0.9]])
    report = multilabel_report(targets, probabilities, ["A", "B", "C"],
                               {"A": 0.5, "B": None, "C": 0.25})
    a, b, c = (report["per_label"][n] for n in "ABC")
    assert a["auroc"] == 1.0 and a["average_precision"] == 1.0
    assert (a["sensitivity"], a["specificity"]) == (1.0, 1.0)
    # B: the 0.99 is unknown, so it counts nowhere; known 0.3 (N), 0.6 (P), 0.1 (N).
    assert b["auroc"] == 1.0 and (b["positives"], b["negatives"], b["unknown"]) == (1, 2, 1)
    assert b["threshold"] == 0.5 and not b["threshold_chosen"]
    assert c["auroc"] is None and c["average_precision"] is None and c["sensitivity"] is None
    assert c["status"].startswith("no positives in this split")
    assert c["specificity"] == pytest.approx(2 / 3)  # 0.65 >= 0.25 is a false positive
    assert report["labels_without_positives"] == ["C"]
    assert report["macro_auroc"] == 1.0  # C is left out, not counted as 0
    # Micro: the 10 known entries pooled; positives 0.8, 0.7, 0.6 against 7 negatives,
    # one of which (C's 0.65) outranks the 0.6.
    assert report["micro_auroc"] == pytest.approx(20 / 21)
    assert report["micro_sensitivity"] == 1.0
    assert report["micro_specificity"] == pytest.approx(6 / 7)
