"""Two models compared on the same images (DeLong's paired test against its definition's
consequences, the paired bootstrap), subgroups too small to compute, and the report page
built from the evidence: self-contained and naming what it shows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from datasets.records.dataset_spec import DatasetSpec, SplitSpec
from training.evaluation.comparison import compare_models
from training.evaluation.make_up import data_make_up
from training.evaluation.report.html_report import render_report
from training.evaluation.split_predictions import SplitPredictions
from training.evaluation.statistics import delong, delong_paired
from training.evaluation.subgroups import TOO_SMALL, subgroup_evidence


def _two_models(seed: int, count: int = 600):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    strong = labels * 1.5 + rng.normal(0, 1, count)
    weak = labels * 0.5 + rng.normal(0, 1, count)
    return labels, strong, weak


def test_delong_paired_agrees_with_the_unpaired_variances_and_sklearn():
    labels, strong, weak = _two_models(0)
    positive = labels == 1
    paired = delong_paired(strong, weak, positive)
    assert paired["auroc"] == pytest.approx(roc_auc_score(labels, strong))
    assert paired["auroc_compared"] == pytest.approx(roc_auc_score(labels, weak))
    # the same scores twice: no difference and no variance
    same = delong_paired(strong, strong, positive)
    assert same["difference"] == 0 and same["variance"] == pytest.approx(0, abs=1e-15)
    # independent scores: the paired variance is the sum of the two DeLong variances
    # (up to their sample covariance, small here)
    _, variance_a = delong(strong, positive)
    _, variance_b = delong(weak, positive)
    assert paired["variance"] == pytest.approx(variance_a + variance_b, rel=0.2)
    assert paired["difference"] > 0 and paired["p_value"] < 1e-4
    assert paired["interval"][0] > 0


def test_the_paired_bootstrap_finds_the_stronger_model_per_class():
    labels, strong, weak = _two_models(1)
    patients = [f"P{i // 3}" for i in range(len(labels))]  # three images a patient
    ids = [str(i) for i in range(len(labels))]

    def predictions(scores):
        p = 1 / (1 + np.exp(-scores))
        return SplitPredictions(ids, patients, labels, np.stack([1 - p, p], axis=1))

    out = compare_models(predictions(strong), predictions(weak), "classification",
                         ["no", "yes"], None, 400, 0, "weak.csv")
    boot = out["per_class"]["yes"]["paired_bootstrap"]
    assert boot["estimate"] == pytest.approx(out["per_class"]["yes"]["delong"]["difference"])
    assert boot["percentile"][0] > 0 and out["macro_auroc"]["percentile"][0] > 0
    shuffled = predictions(weak).aligned_to(ids[::-1])  # another order: aligned by ID first
    again = compare_models(predictions(strong), shuffled, "classification", ["no", "yes"],
                           None, 400, 0, "weak.csv")
    assert again["per_class"]["yes"]["delong"] == out["per_class"]["yes"]["delong"]
    with pytest.raises(ValueError, match="not among the compared predictions"):
        compare_models(predictions(strong), predictions(weak).subset(labels == 1),
                       "classification", ["no", "yes"], None, 10, 0, "x")


def test_small_subgroups_are_reported_not_computed_and_unknown_attributes_refused():
    labels, strong, _ = _two_models(2, 200)
    p = 1 / (1 + np.exp(-strong))
    site = ["A"] * 190 + ["B"] * 10
    predictions = SplitPredictions([str(i) for i in range(200)], [""] * 200, labels,
                                   np.stack([1 - p, p], axis=1), {"site": site})
    out = subgroup_evidence(predictions, "classification", ["no", "yes"], None, ["site"], 30,
                            200, 0)
    groups = out["by_attribute"]["site"]["groups"]
    assert groups["B"] == {"images": 10, "patients": 0, "status": TOO_SMALL}
    assert groups["A"]["status"] == "ok" and "macro_auroc" in groups["A"]["intervals"]
    assert "largest_gap" not in out  # one computed group: no gap
    with pytest.raises(ValueError, match="--subgroups PatientSex: the records do not carry"):
        subgroup_evidence(predictions, "classification", ["no", "yes"], None, ["PatientSex"],
                          30, 10, 0)


def test_the_report_page_is_self_contained_and_escapes_what_it_shows():
    spec = DatasetSpec("d", "classification", "d", ["no", "yes"], {
        "test": SplitSpec(200, ["f"], [200], class_counts={"no": 90, "yes": 110},
                          patients=70, studies=80,
                          attribute_counts={"Manufacturer": {"<script>": 200}})},
        1, (8, 8), (8, 8), [8])
    report = {"model_name": "resnet_v1_18", "step": 7, "split": "test", "checkpoint": "c",
              "num_examples": 200, "task": "classification", "class_names": ["no", "yes"],
              "accuracy": 0.9, "intervals": {"accuracy": {"estimate": 0.9,
                                                          "percentile": [0.85, 0.94]}},
              "bootstrap": {"replicates": 100, "seed": 0, "clusters": 70},
              "data_make_up": data_make_up(spec),
              "failures": [{"class": "yes", "id": "img<1>", "patient_key": "P", "truth": "yes",
                            "predicted": "no", "probability": 0.97,
                            "attributes": {"Manufacturer": "<script>"}}]}
    page = render_report(report, {}, {"img<1>": b"\x89PNG fake"})
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "0.900 [0.850, 0.940]" in page and "default-src 'none'" in page
    assert "data:image/png;base64," in page and "src=\"http" not in page
