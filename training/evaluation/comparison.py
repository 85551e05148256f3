"""Two models on the same images (--compare_with): DeLong's paired test and a paired
patient-level bootstrap of the AUROC difference, per class or label and for the macro
mean. Both models' scores are resampled with the same draws, so what they share cancels."""

from __future__ import annotations

from training.evaluation.split_predictions import SplitPredictions, score_columns
from training.evaluation.statistics import (
    bootstrap_replicates,
    cluster_ids,
    delong_paired,
    difference_interval,
    metric_set,
)


def compare_models(evaluated: SplitPredictions, compared: SplitPredictions, task: str,
                   class_names: list[str], thresholds: dict[str, float | None] | None,
                   replicates: int, seed: int, compared_name: str) -> dict:
    """metrics.json's `comparison`: this model minus the compared one, per column and for
    the macro AUROC. `compared` is aligned to the evaluated rows first (same IDs)."""
    compared = compared.aligned_to(evaluated.ids)
    mine, correct = score_columns(evaluated, task, class_names, thresholds)
    theirs, their_correct = score_columns(compared, task, class_names, thresholds)
    out: dict = {"compared_with": compared_name, "difference": "evaluated minus compared",
                 "images": len(evaluated.ids), "per_class": {}}
    for first, second in zip(mine, theirs, strict=True):
        out["per_class"][first.name] = {"delong": delong_paired(first.scores, second.scores,
                                                                first.positive)}
    if replicates > 0:
        clusters = cluster_ids(evaluated.patients, evaluated.ids)
        a, b = bootstrap_replicates([metric_set(mine, correct, clusters),
                                     metric_set(theirs, their_correct, clusters)],
                                    clusters, replicates, seed)
        for column in mine:
            interval = difference_interval(a, b, f"auroc:{column.name}")
            out["per_class"][column.name]["paired_bootstrap"] = (
                None if interval is None else interval.to_dict())
        for name in ("macro_auroc", "accuracy"):
            interval = difference_interval(a, b, name)
            if interval is not None:
                out[name] = interval.to_dict()
        out["bootstrap"] = {"replicates": replicates, "seed": seed, "paired": True}
    return out
