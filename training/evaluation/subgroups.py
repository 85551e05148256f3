"""Every metric with its interval per subgroup of a catalog attribute (Manufacturer,
PatientSex, age band, ...), and the largest gap between the subgroups.

Each subgroup gets its own patient-level cluster bootstrap. A group of fewer images
than the minimum is reported as too small, not computed: an AUROC over a dozen images
says nothing. The gap between two groups (of the headline metric: macro AUROC, else
accuracy) has the interval of the difference of their independent bootstraps, which is
right for groups of different patients (site, manufacturer, sex, age band); for an
attribute one patient spans (view position) it is conservative.
"""

from __future__ import annotations

import numpy as np

from training.evaluation.split_predictions import SplitPredictions, score_columns
from training.evaluation.statistics import (
    Replicates,
    bootstrap_replicates,
    cluster_ids,
    difference_interval,
    intervals_of,
    metric_set,
)

DEFAULT_MIN_SUBGROUP_SIZE = 30
TOO_SMALL = "too small"


def headline_metric(estimates: dict[str, float]) -> str:
    """The metric a gap is measured in: macro AUROC where defined, else accuracy."""
    value = estimates.get("macro_auroc")
    return "macro_auroc" if value is not None and np.isfinite(value) else "accuracy"


def group_evidence(predictions: SplitPredictions, task: str, class_names: list[str],
                   thresholds: dict[str, float | None] | None, replicates: int,
                   seed: int) -> tuple[dict, Replicates | None]:
    """Estimates (and with `replicates`, intervals) of every metric over some rows."""
    columns, correct = score_columns(predictions, task, class_names, thresholds)
    clusters = cluster_ids(predictions.patients, predictions.ids)
    compute = metric_set(columns, correct, clusters)
    if replicates <= 0:
        count = int(clusters.max()) + 1
        estimates = {n: float(v[0]) for n, v in compute(np.ones((1, count))).items()}
        return {"estimates": estimates}, None
    (bootstrap,) = bootstrap_replicates([compute], clusters, replicates, seed)
    return {"estimates": bootstrap.estimates,
            "intervals": {n: i.to_dict() for n, i in intervals_of(bootstrap).items()}}, bootstrap


def subgroup_evidence(predictions: SplitPredictions, task: str, class_names: list[str],
                      thresholds: dict[str, float | None] | None, attributes: list[str],
                      min_size: int, replicates: int, seed: int) -> dict:
    """metrics.json's `subgroups`: per attribute, per value, its size and metrics (or
    'too small'), the attribute's largest gap, and the largest gap of all."""
    missing = [a for a in attributes if a not in predictions.attributes]
    if missing:
        carried = ", ".join(predictions.attributes) or "none"
        raise ValueError(f"--subgroups {','.join(missing)}: the records do not carry it "
                         f"(they carry: {carried}; tf_convert_data --attributes)")
    out: dict = {"min_subgroup_size": min_size, "by_attribute": {}}
    gaps = []
    for number, name in enumerate(attributes):
        values = np.asarray(predictions.attributes[name], dtype=object)
        groups: dict[str, dict] = {}
        kept: dict[str, tuple[dict, Replicates | None]] = {}
        for index, value in enumerate(sorted(set(values.tolist()))):
            rows = values == value
            members = predictions.subset(rows)
            size = {"images": int(rows.sum()),
                    "patients": len({p for p in members.patients if p})}
            if size["images"] < min_size:
                groups[value] = {**size, "status": TOO_SMALL}
                continue
            evidence, bootstrap = group_evidence(members, task, class_names, thresholds,
                                                 replicates, seed + 7919 * (number + 1) + index)
            groups[value] = {**size, "status": "ok", **evidence}
            kept[value] = (evidence, bootstrap)
        entry: dict = {"groups": groups}
        gap = _largest_gap(kept)
        if gap is not None:
            entry["largest_gap"] = {"attribute": name, **gap}
            gaps.append(entry["largest_gap"])
        out["by_attribute"][name] = entry
    if gaps:
        out["largest_gap"] = max(gaps, key=lambda g: abs(g["difference"]))
    return out


def _largest_gap(kept: dict[str, tuple[dict, Replicates | None]]) -> dict | None:
    if len(kept) < 2:
        return None
    metric = headline_metric(next(iter(kept.values()))[0]["estimates"])
    scored = {v: e["estimates"].get(metric) for v, (e, _) in kept.items()}
    scored = {v: s for v, s in scored.items() if s is not None and np.isfinite(s)}
    if len(scored) < 2:
        return None
    high = max(scored, key=scored.__getitem__)
    low = min(scored, key=scored.__getitem__)
    gap = {"metric": metric, "higher": high, "lower": low,
           "difference": scored[high] - scored[low]}
    first, second = kept[high][1], kept[low][1]
    if first is not None and second is not None:
        interval = difference_interval(first, second, metric)
        if interval is not None:
            gap["interval"] = list(interval.percentile)
    return gap
