"""Multi-label metrics from targets (1, 0, or -1 for unknown) and sigmoid probabilities.

Per label, over the images where it is known: AUROC and average precision
(scikit-learn's), and sensitivity and specificity at that label's
threshold. Thresholds are chosen on a validation split by Youden's J (the largest
TPR - FPR) or by F1, among the scores themselves (an image is positive when its
probability is at or above the threshold). A label with no positives (or no
negatives) among its known entries has no AUROC: it is reported with a `status`
that says so, never as 0 or NaN, and the macro means leave it out and name it.
Micro means pool every known entry of every label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_curve

from training.classification.metrics import roc_auc
from training.classification.ranking import ranking_scores

THRESHOLD_RULES = ("youden", "f1")
DEFAULT_THRESHOLD = 0.5


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """scikit-learn's average precision (precision times the gain in recall at each
    distinct score, best first); None without positives."""
    positive = np.asarray(positive, dtype=bool)
    if not positive.any():
        return None
    return float(average_precision_score(positive, scores))


def roc_points(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """(false positive rates, true positive rates, thresholds), from (0, 0) upwards, one
    point per distinct score (scikit-learn's `roc_curve`); the first threshold is +inf
    (nothing positive)."""
    positive = np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():  # one class: roc_curve is undefined here
        order = np.argsort(-scores, kind="mergesort")
        ranked = scores[order]
        last = np.r_[np.nonzero(np.diff(ranked))[0], len(scores) - 1]
        seen = (last + 1) / len(scores)
        zeros = np.zeros(len(last))
        tpr, fpr = (seen, zeros) if positive.any() else (zeros, seen)
        return np.r_[0.0, fpr], np.r_[0.0, tpr], np.r_[np.inf, ranked[last]]
    fpr, tpr, thresholds = roc_curve(positive, scores, drop_intermediate=False)
    return fpr, tpr, thresholds


def choose_threshold(scores: np.ndarray, positive: np.ndarray, rule: str) -> float | None:
    """The threshold `rule` picks, or None without both positives and negatives."""
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"--threshold_rule={rule!r}; choose one of {', '.join(THRESHOLD_RULES)}")
    n_pos = int(positive.sum())
    if n_pos == 0 or n_pos == len(positive):
        return None
    fpr, tpr, thresholds = roc_points(scores, positive)
    fpr, tpr, thresholds = fpr[1:], tpr[1:], thresholds[1:]
    if rule == "youden":
        best = int(np.argmax(tpr - fpr))
    else:
        tp = tpr * n_pos
        fp = fpr * (len(positive) - n_pos)
        f1 = np.divide(2 * tp, tp + fp + n_pos, out=np.zeros_like(tp), where=tp + fp + n_pos > 0)
        best = int(np.argmax(f1))
    return float(thresholds[best])


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else float(numerator / denominator)


def _mean(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def choose_thresholds(targets: np.ndarray, probabilities: np.ndarray,
                      class_names: Sequence[str], rule: str) -> dict[str, float | None]:
    """Each label's threshold by `rule` over its known entries (None where undefined)."""
    chosen = {}
    for index, name in enumerate(class_names):
        known = targets[:, index] >= 0
        chosen[name] = choose_threshold(probabilities[known, index],
                                        targets[known, index] == 1, rule)
    return chosen


def multilabel_report(targets: np.ndarray, probabilities: np.ndarray,
                      class_names: Sequence[str], thresholds: dict[str, float | None],
                      logits: np.ndarray | None = None) -> dict:
    """The metrics of one split; `thresholds` (label -> value, None for 0.5) come from the
    validation split. AUROC and AP rank by the logits where given (a probability rounded
    to 1.0 ties; see `ranking`)."""
    targets = np.asarray(targets, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != targets.shape or probabilities.shape[1] != len(class_names):
        raise ValueError(f"probabilities of shape {probabilities.shape} for targets of shape "
                         f"{targets.shape} and {len(class_names)} labels")
    ranks = ranking_scores(probabilities, logits, multi_label=True)
    per_label: dict[str, dict] = {}
    no_positives: list[str] = []
    pooled_scores, pooled_truth = [], []
    totals = dict.fromkeys(("tp", "fn", "tn", "fp"), 0)
    for index, name in enumerate(class_names):
        known = targets[:, index] >= 0
        scores, truth = ranks[known, index], targets[known, index] == 1
        threshold = thresholds.get(name)
        used = DEFAULT_THRESHOLD if threshold is None else threshold
        predicted = probabilities[known, index] >= used
        counts = {"tp": int((predicted & truth).sum()), "fn": int((~predicted & truth).sum()),
                  "tn": int((~predicted & ~truth).sum()), "fp": int((predicted & ~truth).sum())}
        for key, value in counts.items():
            totals[key] += value
        positives, negatives = int(truth.sum()), int((~truth).sum())
        status = "ok"
        if positives == 0:
            status = "no positives in this split: AUROC, AP and sensitivity are undefined"
            no_positives.append(name)
        elif negatives == 0:
            status = "no negatives in this split: AUROC and specificity are undefined"
        per_label[name] = {
            "auroc": roc_auc(scores, truth), "average_precision": average_precision(scores,
                                                                                  truth),
            "threshold": used, "threshold_chosen": threshold is not None,
            "sensitivity": _ratio(counts["tp"], counts["tp"] + counts["fn"]),
            "specificity": _ratio(counts["tn"], counts["tn"] + counts["fp"]),
            "positives": positives, "negatives": negatives,
            "unknown": int((~known).sum()), "status": status,
        }
        pooled_scores.append(scores)
        pooled_truth.append(truth)
    scores, truth = np.concatenate(pooled_scores), np.concatenate(pooled_truth)
    return {
        "num_examples": len(targets),
        "class_names": list(class_names),
        "per_label": per_label,
        "macro_auroc": _mean([row["auroc"] for row in per_label.values()]),
        "macro_average_precision": _mean([row["average_precision"]
                                          for row in per_label.values()]),
        "micro_auroc": roc_auc(scores, truth),
        "micro_average_precision": average_precision(scores, truth),
        "micro_sensitivity": _ratio(totals["tp"], totals["tp"] + totals["fn"]),
        "micro_specificity": _ratio(totals["tn"], totals["tn"] + totals["fp"]),
        "labels_without_positives": no_positives,
    }
