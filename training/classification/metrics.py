"""Classification metrics from labels and predicted probabilities (NumPy, exact).

Conventions: rows of the confusion matrix are true classes, columns predicted.
Precision of a class never predicted, recall of a class absent from the labels,
and F1 when both are undefined, are reported as null, not 0, so they are not
mistaken for measured failures; macro means average the defined values. ROC AUC
is one-vs-rest (scikit-learn's `roc_auc_score`: ties count one half) on each class's
log-odds (`ranking`: a probability rounded to 1.0 would tie), null for a class that has
no positives or no negatives in the labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from training.classification.ranking import ranking_scores


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true, predicted) class pairs."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve of `scores` for the boolean `positive` (scikit-learn's,
    ties counting one half); None without both positives and negatives."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    if n_pos == 0 or n_pos == len(positive):
        return None
    return float(roc_auc_score(positive, scores))


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else float(numerator / denominator)


def _mean(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def classification_report(
    labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str],
    logits: np.ndarray | None = None,
) -> dict:
    """Accuracy, per-class precision, recall, F1, support and AUROC, their macro means and the
    confusion matrix (top-5 recall beyond five classes); None where a figure is undefined.
    AUROC ranks by the logits where given, else by the probabilities' log-odds."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_classes = len(class_names)
    if probabilities.shape != (len(labels), num_classes):
        raise ValueError(f"probabilities of shape {probabilities.shape} for {len(labels)} "
                         f"labels and {num_classes} classes")
    predictions = probabilities.argmax(axis=1)
    ranks = ranking_scores(probabilities, logits)
    matrix = confusion_matrix(labels, predictions, num_classes)
    per_class = {}
    for index, name in enumerate(class_names):
        true_positive = matrix[index, index]
        precision = _ratio(true_positive, matrix[:, index].sum())
        recall = _ratio(true_positive, matrix[index, :].sum())
        if precision is None or recall is None:
            f1 = None
        else:
            f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        per_class[name] = {
            "precision": precision, "recall": recall, "f1": f1,
            "support": int(matrix[index, :].sum()),
            "roc_auc": roc_auc(ranks[:, index], labels == index),
        }
    report = {
        "num_examples": len(labels),
        "accuracy": _ratio(int(np.trace(matrix)), len(labels)),
        "per_class": per_class,
        "macro_precision": _mean([c["precision"] for c in per_class.values()]),
        "macro_recall": _mean([c["recall"] for c in per_class.values()]),
        "macro_f1": _mean([c["f1"] for c in per_class.values()]),
        "macro_roc_auc": _mean([c["roc_auc"] for c in per_class.values()]),
        "confusion_matrix": matrix.tolist(),
        "class_names": list(class_names),
    }
    if num_classes > 5:
        top5 = np.argsort(-probabilities, axis=1)[:, :5]
        report["top5_recall"] = float((top5 == labels[:, None]).any(axis=1).mean())
    return report


def format_confusion_matrix(matrix: Sequence[Sequence[int]], class_names: Sequence[str]) -> str:
    """The confusion matrix as aligned text."""
    width = max(8, *(len(n) for n in class_names)) + 1
    lines = ["true \\ predicted".ljust(width) + "".join(n[:width - 1].rjust(width)
                                                     for n in class_names)]
    for name, row in zip(class_names, matrix, strict=True):
        lines.append(name.ljust(width) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)
