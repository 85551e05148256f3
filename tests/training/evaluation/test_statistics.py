"""The cluster bootstrap, DeLong and calibration against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from training.evaluation.statistics import (
    Column,
    RankedColumn,
    bootstrap_intervals,
    calibration,
    cluster_ids,
    delong,
    expected_calibration_error,
    metric_set,
)


def test_weighted_auroc_and_ap_are_scikit_learns_on_the_resampled_rows():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(400), 2)  # many ties
    positive = rng.random(400) < 0.3
    clusters = np.arange(400) // 4
    ranked = RankedColumn.prepare(scores, positive, clusters, 100)
    for _ in range(5):
        draws = rng.multinomial(100, np.full(100, 0.01))
        rows = np.concatenate([np.repeat(np.nonzero(clusters == k)[0], n)
                               for k, n in enumerate(draws)])
        auroc, precision = ranked.auroc_and_precision(draws[:, None].astype(np.float32))
        assert auroc[0] == pytest.approx(roc_auc_score(positive[rows], scores[rows]), abs=1e-6)
        assert precision[0] == pytest.approx(
            average_precision_score(positive[rows], scores[rows]), abs=1e-6)


def test_delong_variance_is_the_structural_components_variance():
    rng = np.random.default_rng(1)
    scores = np.round(rng.normal(size=30), 1)
    positive = np.arange(30) < 12
    scores[positive] += 0.8
    x, y = scores[positive], scores[~positive]
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])  # DeLong's kernel
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    expected = v10.var(ddof=1) / len(x) + v01.var(ddof=1) / len(y)
    auc, variance = delong(scores, positive)
    assert auc == pytest.approx(psi.mean()) and variance == pytest.approx(expected)


def test_ece_against_a_hand_computed_case():
    probabilities = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    positive = np.array([0, 0, 1, 0, 1, 1, 0, 1], dtype=bool)
    # two equal-mass bins: {0.1..0.4} mean 0.25 vs rate 0.25; {0.6..0.9} mean 0.75 vs 0.75
    assert expected_calibration_error(positive, probabilities, bins=2) == pytest.approx(0.0)
    # four bins: |0.15-0| , |0.35-0.5| , |0.65-1| , |0.85-0.5| each weighted 1/4
    assert expected_calibration_error(positive, probabilities, bins=4) == pytest.approx(
        (0.15 + 0.15 + 0.35 + 0.35) / 4)
    result = calibration(positive, probabilities, bins=2)
    assert result["brier"] == pytest.approx(np.mean((probabilities - positive) ** 2))
    assert result["reliability"]["observed"] == pytest.approx([0.25, 0.75])


def _clustered_draw(rng, patients: int, images: int, separation: float):
    """Each patient's images share its latent score: highly correlated within patient."""
    truth = rng.random(patients) < 0.4
    latent = rng.normal(size=patients) + separation * truth
    scores = np.repeat(latent, images) + rng.normal(scale=0.1, size=patients * images)
    return scores, np.repeat(truth, images), np.repeat(np.arange(patients), images)


def _covers(scores, positive, clusters, truth_auroc: float, replicates: int, seed: int):
    column = Column("finding", np.ones(len(scores), bool), positive, scores, scores > 0, scores)
    interval = bootstrap_intervals(metric_set([column], None, clusters), clusters,
                                   replicates, seed)["auroc:finding"]
    low, high = interval.percentile
    return low <= truth_auroc <= high


def test_patient_level_intervals_cover_and_image_level_ones_do_not():
    separation, images = 1.0, 5
    rng = np.random.default_rng(7)
    big_scores, big_truth, _ = _clustered_draw(rng, 200_000, 1, separation)
    truth_auroc = roc_auc_score(big_truth, big_scores)  # the population AUROC
    assert truth_auroc == pytest.approx(stats.norm.cdf(separation / np.sqrt(2 + 0.02)), abs=3e-3)
    patient_hits = image_hits = 0
    draws = 100
    for draw in range(draws):
        scores, positive, patients = _clustered_draw(rng, 80, images, separation)
        patient_hits += _covers(scores, positive, patients, truth_auroc, 300, draw)
        each_image = np.arange(len(scores))
        image_hits += _covers(scores, positive, each_image, truth_auroc, 300, draw)
    assert 0.88 <= patient_hits / draws <= 1.0, patient_hits
    assert image_hits / draws <= 0.8, image_hits  # too narrow: images are not independent


def test_independent_images_give_about_95_percent_coverage():
    rng = np.random.default_rng(11)
    hits = 0
    truth_auroc = stats.norm.cdf(1.2 / np.sqrt(2))  # binormal, unit variances
    for draw in range(100):
        positive = rng.random(150) < 0.4
        scores = rng.normal(size=150) + 1.2 * positive
        hits += _covers(scores, positive, np.arange(150), truth_auroc, 300, draw)
    assert 0.88 <= hits / 100 <= 1.0, hits


def test_clusters_group_by_patient_and_leave_unkeyed_images_alone():
    clusters = cluster_ids(["P1", "", "P1", "P2", ""], ["a", "b", "c", "d", "e"])
    assert clusters[0] == clusters[2] and len(set(clusters.tolist())) == 4


def test_a_zoo_sized_label_space_keeps_accuracy_and_top_label_evidence_only():
    from datasets.records.dataset_spec import CLASSIFICATION, DatasetSpec
    from training.evaluation.evaluator import evidence
    from training.evaluation.split_predictions import SplitPredictions

    rng = np.random.default_rng(2)
    names = [f"class{k}" for k in range(60)]
    probabilities = rng.dirichlet(np.ones(60), size=300)
    targets = rng.integers(0, 60, 300)
    spec = DatasetSpec("zoo", CLASSIFICATION, "zoo", names, {}, 3, (8, 8), (8, 8), [8])
    predictions = SplitPredictions([str(i) for i in range(300)], [""] * 300, targets,
                                   probabilities)
    out = evidence(predictions, spec, None, 200, 0)
    assert set(out["intervals"]) == {"accuracy"}
    assert set(out["calibration"]) == {"top_label_ece"}
    assert out["per_class_evidence"].startswith("left out: more than 50")
