import numpy as np
import pytest

from training.classification.metrics import classification_report, roc_auc


def test_report_against_hand_computed_values():
    labels = np.array([0, 0, 0, 1, 1, 2])
    probabilities = np.array([
        [0.8, 0.1, 0.1],   # 0 -> 0
        [0.6, 0.3, 0.1],   # 0 -> 0
        [0.2, 0.7, 0.1],   # 0 -> 1
        [0.1, 0.8, 0.1],   # 1 -> 1
        [0.5, 0.4, 0.1],   # 1 -> 0
        [0.1, 0.2, 0.7],   # 2 -> 2
    ])
    report = classification_report(labels, probabilities, ["A", "B", "C"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion_matrix"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    a = report["per_class"]["A"]
    assert a["precision"] == pytest.approx(2 / 3) and a["recall"] == pytest.approx(2 / 3)
    assert a["f1"] == pytest.approx(2 / 3) and a["support"] == 3
    b = report["per_class"]["B"]
    assert b["precision"] == pytest.approx(0.5) and b["recall"] == pytest.approx(0.5)
    # class A scores: positives 0.8, 0.6, 0.2; negatives 0.1, 0.5, 0.1 -> 8 of 9 pairs
    assert a["roc_auc"] == pytest.approx(8 / 9)
    assert report["per_class"]["C"]["roc_auc"] == pytest.approx(1.0)
    assert "top5_recall" not in report  # only with more than five classes


def test_undefined_values_are_null_not_zero():
    labels = np.array([0, 0])
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2]])
    report = classification_report(labels, probabilities, ["A", "B"])
    b = report["per_class"]["B"]
    assert b["precision"] is None and b["recall"] is None and b["f1"] is None
    assert b["roc_auc"] is None and report["per_class"]["A"]["roc_auc"] is None
    assert report["macro_precision"] == 1.0


def test_top5_recall_with_seven_classes():
    labels = np.array([6, 0])
    probabilities = np.array([np.linspace(0.7, 0.1, 7), np.linspace(0.1, 0.7, 7)])
    report = classification_report(labels, probabilities / probabilities.sum(1, keepdims=True),
                                   [str(i) for i in range(7)])
    assert report["top5_recall"] == 0.0  # class 6 ranks last in row 0, class 0 last in row 1
    assert report["accuracy"] == 0.0


def test_auc_counts_ties_as_half():
    assert roc_auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True])) == 0.75


def test_roc_auc_is_the_mann_whitney_statistic_with_ties_one_half():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(200), 1)  # many ties
    positive = rng.random(200) < 0.3
    pos, neg = scores[positive], scores[~positive]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert roc_auc(scores, positive) == pytest.approx(wins / (len(pos) * len(neg)))
    assert roc_auc(scores, np.zeros(200, bool)) is None
