"""AUROC of an overconfident model: its float32 probabilities round to 1.0 and tie, its
log-odds do not. Eval, validation and the bootstrap rank by the log-odds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit, softmax
from sklearn.metrics import roc_auc_score

from datasets.records.tasks import CLASSIFICATION, MULTILABEL
from training.classification.metrics import classification_report
from training.classification.multilabel_metrics import multilabel_report
from training.classification.ranking import one_vs_rest_log_odds, ranking_scores
from training.evaluation.split_predictions import SplitPredictions, score_columns
from training.evaluation.statistics import bootstrap_intervals, delong, metric_set


def _overconfident(rows: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Two classes, every image ordered correctly, and every image called A by a margin of
    20 to 100 (a net whose learning rate ran away, as in CI's best-checkpoint run): float32
    softmax gives A exactly 1.0 everywhere, and B distinct tiny probabilities."""
    rng = np.random.default_rng(3)
    labels = np.arange(rows) % 2
    margin = np.where(labels == 1, rng.uniform(20, 50, rows), rng.uniform(60, 100, rows))
    logits = np.stack([margin, np.zeros(rows)], axis=1).astype(np.float32)
    return labels, logits


def test_log_odds_are_the_logit_of_the_softmax_where_floats_hold_them():
    logits = np.random.default_rng(0).normal(scale=3, size=(50, 5))
    np.testing.assert_allclose(one_vs_rest_log_odds(logits), logit(softmax(logits, axis=1)),
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ranking_scores(softmax(logits, axis=1)),
                               logit(softmax(logits, axis=1)), rtol=1e-7, atol=1e-7)
    # past float64's exp() range too: the top class's odds are its margin over the rest
    far = np.array([[0.0, 1e4, -1e4], [0.0, -3e4, 5.0]])
    odds = one_vs_rest_log_odds(far)
    assert odds[0, 1] == pytest.approx(1e4) and odds[1, 2] == pytest.approx(5.0)
    assert odds[0, 0] == pytest.approx(-1e4) and np.isfinite(odds).all()


def test_saturated_probabilities_keep_their_order_and_both_classes_agree():
    labels, logits = _overconfident()
    probabilities = softmax(logits, axis=1).astype(np.float32)
    assert (probabilities[:, 0] == 1.0).all()  # the ties that broke the old figure
    # ranking by the probabilities themselves: A is a coin flip, B is right (macro 0.75)
    assert roc_auc_score(labels == 0, probabilities[:, 0]) == 0.5
    assert roc_auc_score(labels == 1, probabilities[:, 1]) == 1.0
    from_logits = classification_report(labels, probabilities, ["A", "B"], logits)
    from_csv = classification_report(labels, probabilities, ["A", "B"])  # no logits
    for report in (from_logits, from_csv):
        assert report["per_class"]["A"]["roc_auc"] == report["per_class"]["B"]["roc_auc"] == 1.0
        assert report["macro_roc_auc"] == 1.0
    assert delong(one_vs_rest_log_odds(logits)[:, 1], labels == 1)[0] == 1.0


def test_the_bootstrap_ranks_as_the_report_and_calibrates_on_probabilities():
    labels, logits = _overconfident()
    probabilities = softmax(logits.astype(np.float64), axis=1)
    rows = len(labels)
    predictions = SplitPredictions([str(i) for i in range(rows)], [f"P{i // 2}" for i in
                                                                  range(rows)],
                                   labels, probabilities.astype(np.float32), logits=logits)
    columns, correct = score_columns(predictions, CLASSIFICATION, ["A", "B"], None)
    np.testing.assert_array_equal(columns[1].probabilities, probabilities[:, 1]
                                  .astype(np.float32))
    clusters = np.arange(rows) // 2
    intervals = bootstrap_intervals(metric_set(columns, correct, clusters), clusters, 200, 0)
    assert intervals["auroc:A"].estimate == intervals["auroc:B"].estimate == 1.0
    assert intervals["macro_auroc"].percentile == (1.0, 1.0)


def test_multilabel_ranks_by_logits_where_eval_has_them():
    rng = np.random.default_rng(1)
    targets = (np.arange(30)[:, None] % np.array([2, 3]) == 0).astype(np.float64)
    # positives at logits 40 to 200, negatives at -200 to 25: the negatives above 17 tie
    # with every positive at a float32 probability of 1.0
    logits = np.where(targets == 1, rng.uniform(40, 200, targets.shape),
                      rng.uniform(-200, 25, targets.shape))
    logits[3, 0] = 24.0  # a negative of X that ties with X's positives at 1.0
    logits[0, 1] = -300.0  # a known positive scored lowest: AUROC below 1
    targets[1, 0] = -1  # unknown: left out
    probabilities = expit(logits).astype(np.float32)
    report = multilabel_report(targets, probabilities, ["X", "Y"], {}, logits)
    known = targets[:, 1] >= 0
    assert report["per_label"]["Y"]["auroc"] == pytest.approx(
        roc_auc_score(targets[known, 1], logits[known, 1]))
    assert report["per_label"]["X"]["auroc"] == 1.0
    assert multilabel_report(targets, probabilities, ["X", "Y"], {})["per_label"]["X"][
        "auroc"] < 1.0  # the probabilities alone tie at 1.0
    # thresholds still apply to the probabilities
    assert report["per_label"]["X"]["sensitivity"] == 1.0
    columns, _ = score_columns(SplitPredictions([str(i) for i in range(30)], ["P"] * 30,
                                                targets, probabilities, logits=logits),
                               MULTILABEL, ["X", "Y"], None)
    np.testing.assert_array_equal(columns[0].scores, logits[targets[:, 0] >= 0, 0])
