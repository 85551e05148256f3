"""Confidence intervals and calibration for an evaluated split.

Images of one patient are not independent, so intervals come from a patient-level
cluster bootstrap: each replicate draws patients with replacement and keeps all of a
drawn patient's images, as many times as the patient was drawn. An image without a
patient key is its own cluster. Every metric of a replicate is computed with the
images weighted by those counts, for all replicates at once: each score column is
tallied once per cluster and group of equal scores (a sparse matrix), so a chunk of
replicates costs two sparse products and a few cumulative sums, not a metric call each.

- AUROC: the Mann-Whitney statistic with weights (ties count one half); with unit
  weights it is scikit-learn's `roc_auc_score`, which the tests check.
- Average precision: scikit-learn's definition (precision times the gain in recall at
  each distinct score), with weights.
- Sensitivity, specificity and accuracy: weighted counts at the given decisions.

Intervals: percentile, and BCa (Efron 1987) with the acceleration from a grouped
jackknife over the patients (up to 200 groups of patients left out in turn: the
delete-a-group jackknife keeps it affordable for thousands of patients). DeLong's
interval for AUROC (DeLong, DeLong and Clarke-Pearson 1988; the midrank algorithm of
Sun and Xu 2014) is given beside them as a cross-check: it treats images as
independent, so with several images a patient it is the narrower.

Calibration: expected calibration error over equal-mass bins, the Brier score
(scikit-learn's) and the reliability curve (scikit-learn's `calibration_curve`,
quantile bins).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

DEFAULT_REPLICATES = 1000
CONFIDENCE = 0.95
JACKKNIFE_GROUPS = 200
CALIBRATION_BINS = 10
_CHUNK_ELEMENTS = 400_000  # replicates x score groups per chunk: stays in the CPU's cache


def cluster_ids(patients: Sequence[str], ids: Sequence[str]) -> np.ndarray:
    """One integer per image naming its cluster: its patient, or itself without one."""
    keys = [p if p else f"\0image:{i}" for p, i in zip(patients, ids, strict=True)]
    _, inverse = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)
    return inverse.astype(np.int64)


@dataclass
class RankedColumn:
    """A score column prepared once for every replicate: its positives and negatives
    counted per cluster and per group of equal scores, the groups in ascending order."""

    positives: sparse.csr_matrix
    negatives: sparse.csr_matrix

    @classmethod
    def prepare(cls, scores: np.ndarray, positive: np.ndarray, clusters: np.ndarray,
                count: int) -> RankedColumn:
        """The column's scores ranked once (ties grouped, clusters carried along), so that each
        bootstrap replicate's AUROC needs no sort."""
        order = np.argsort(scores, kind="mergesort")
        ranked = scores[order]
        group = np.r_[0, np.cumsum(ranked[1:] != ranked[:-1])]
        groups = int(group[-1]) + 1
        member, truth = clusters[order], positive[order]

        def tally(selected: np.ndarray) -> sparse.csr_matrix:
            counts = sparse.csr_matrix((selected.astype(np.float32), (group, member)),
                                       shape=(groups, count))
            counts.eliminate_zeros()
            return counts

        return cls(tally(truth), tally(~truth))

    def auroc_and_precision(self, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per column of `columns` (clusters x replicates, draw counts): the weighted
        Mann-Whitney AUROC (ties one half) and scikit-learn's average precision; NaN where
        a replicate drew no positive (AUROC: or no negative)."""
        pos = self.positives @ columns  # groups x replicates, ascending scores
        neg = self.negatives @ columns
        total_pos, total_neg = pos.sum(axis=0), neg.sum(axis=0)
        below = np.cumsum(neg, axis=0)
        below -= 0.5 * neg  # negatives scoring lower, and half of those tied
        auroc_numerator = np.einsum("gr,gr->r", pos, below)
        # Average precision, best score first: at each group, the positives and all images
        # scoring at least as high are the totals less what scores lower.
        seen_lower = np.cumsum(pos, axis=0)
        true_positive = total_pos - seen_lower + pos
        below += 0.5 * neg
        seen = (total_pos + total_neg) - (seen_lower - pos) - (below - neg)
        precision = np.divide(true_positive, seen, out=np.zeros_like(seen), where=seen > 0)
        ap_numerator = np.einsum("gr,gr->r", precision, pos)
        with np.errstate(invalid="ignore", divide="ignore"):
            auroc = np.where((total_pos > 0) & (total_neg > 0),
                             auroc_numerator / (total_pos * total_neg), np.nan)
            precision_mean = np.where(total_pos > 0, ap_numerator / total_pos, np.nan)
        return auroc.astype(np.float64), precision_mean.astype(np.float64)


def _counts(selected: np.ndarray, clusters: np.ndarray, count: int) -> np.ndarray:
    return np.bincount(clusters, weights=selected.astype(np.float64), minlength=count)


def _ratio(draws: np.ndarray, hits: np.ndarray, among: np.ndarray) -> np.ndarray:
    denominator = draws @ among
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, draws @ hits / denominator, np.nan)


@dataclass
class Column:
    """One class (one-vs-rest) or one label: over its `known` images, the truth, the
    scores AUROC and AP rank by, the decisions (argmax, or the label's threshold) and the
    probabilities calibration is measured on."""

    name: str
    known: np.ndarray
    positive: np.ndarray
    scores: np.ndarray
    decided: np.ndarray
    probabilities: np.ndarray


MetricSet = Callable[[np.ndarray], dict[str, np.ndarray]]


def metric_set(columns: list[Column], correct: np.ndarray | None,
               clusters: np.ndarray) -> MetricSet:
    """A function of a replicates x clusters matrix of draw counts giving every
    bootstrapped metric, one value per replicate: per column AUROC, average precision,
    sensitivity and specificity; their macro means over the columns with both classes;
    accuracy (`correct`, per image: single-label), or for multi-label (`correct` None)
    micro AUROC, AP and accuracy pooled over every known entry."""
    count = int(clusters.max()) + 1
    prepared = []
    for column in columns:
        member = clusters[column.known]
        both = 0 < column.positive.sum() < len(column.positive)
        ranked = (RankedColumn.prepare(column.scores, column.positive, member, count)
                  if both else None)
        truth, decided = column.positive, column.decided
        prepared.append((column.name, ranked, _counts(decided & truth, member, count),
                         _counts(truth, member, count), _counts(~decided & ~truth, member, count),
                         _counts(~truth, member, count)))
    pooled = None
    if correct is None and columns:
        member = np.concatenate([clusters[c.known] for c in columns])
        truth = np.concatenate([c.positive for c in columns])
        decided = np.concatenate([c.decided for c in columns])
        if 0 < truth.sum() < len(truth):
            scores = np.concatenate([c.scores for c in columns])
            pooled = (RankedColumn.prepare(scores, truth, member, count),
                      _counts(decided == truth, member, count),
                      _counts(np.ones_like(truth), member, count))
    elif correct is not None:
        right, every = _counts(correct, clusters, count), _counts(
            np.ones_like(correct, dtype=bool), clusters, count)

    def compute(draws: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        aurocs, precisions = [], []
        columns = np.ascontiguousarray(draws.T, dtype=np.float32)
        for name, ranked, hit, pos, rejected, neg in prepared:
            if ranked is not None:
                auroc, precision = ranked.auroc_and_precision(columns)
                aurocs.append(auroc)
                precisions.append(precision)
                out[f"auroc:{name}"], out[f"average_precision:{name}"] = auroc, precision
            out[f"sensitivity:{name}"] = _ratio(draws, hit, pos)
            out[f"specificity:{name}"] = _ratio(draws, rejected, neg)
        if aurocs:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN replicates
                out["macro_auroc"] = np.nanmean(np.vstack(aurocs), axis=0)
                out["macro_average_precision"] = np.nanmean(np.vstack(precisions), axis=0)
        if correct is not None:
            out["accuracy"] = _ratio(draws, right, every)
        elif pooled is not None:
            ranked, agree, entries = pooled
            out["micro_auroc"], out["micro_average_precision"] = ranked.auroc_and_precision(
                columns)
            out["accuracy"] = _ratio(draws, agree, entries)
        return out

    return compute


def _in_chunks(compute: MetricSet, make_draws: Callable[[int, int], np.ndarray], rows: int,
               width: int) -> dict[str, np.ndarray]:
    chunk = max(1, _CHUNK_ELEMENTS // max(width, 1))
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, rows, chunk):
        for name, values in compute(make_draws(start, min(start + chunk, rows))).items():
            parts.setdefault(name, []).append(values)
    return {name: np.concatenate(values) for name, values in parts.items()}


@dataclass
class Interval:
    estimate: float
    percentile: tuple[float, float]
    bca: tuple[float, float] | None
    replicates: int
    """Replicates where the metric was defined (a replicate may draw no positive)."""

    def to_dict(self) -> dict:
        """The interval as JSON-ready values."""
        return {"estimate": self.estimate, "percentile": list(self.percentile),
                "bca": None if self.bca is None else list(self.bca),
                "replicates": self.replicates}


def _bca(estimate: float, replicates: np.ndarray, jackknife: np.ndarray,
         confidence: float) -> tuple[float, float] | None:
    jackknife = jackknife[np.isfinite(jackknife)]
    if len(replicates) < 10 or len(jackknife) < 3:
        return None
    below = (np.sum(replicates < estimate) + 0.5 * np.sum(replicates == estimate))
    proportion = below / len(replicates)
    if proportion <= 0 or proportion >= 1:
        return None
    z0 = stats.norm.ppf(proportion)
    spread = jackknife.mean() - jackknife
    denominator = 6.0 * np.sum(spread ** 2) ** 1.5
    acceleration = float(np.sum(spread ** 3) / denominator) if denominator > 0 else 0.0
    alpha = (1 - confidence) / 2
    ends = []
    for z in (stats.norm.ppf(alpha), stats.norm.ppf(1 - alpha)):
        adjusted = stats.norm.cdf(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))
        ends.append(float(np.quantile(replicates, adjusted)))
    return ends[0], ends[1]


@dataclass
class Replicates:
    """A cluster bootstrap's raw material: each metric's estimate, its value in every
    replicate and in every grouped-jackknife replicate (for BCa)."""

    estimates: dict[str, float]
    draws: dict[str, np.ndarray]
    jackknife: dict[str, np.ndarray]


def bootstrap_replicates(computes: Sequence[MetricSet], clusters: np.ndarray,
                         replicates: int = DEFAULT_REPLICATES, seed: int = 0
                         ) -> list[Replicates]:
    """Every metric of each of `computes` (from `metric_set`, all over the same `clusters`)
    on the same `replicates` cluster draws (seeded): two models scored on the same images
    are compared replicate by replicate (a paired bootstrap)."""
    count = int(clusters.max()) + 1
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(count, np.full(count, 1.0 / count), size=replicates)
    width = max(count, len(clusters))
    groups = min(JACKKNIFE_GROUPS, count)
    membership = np.random.default_rng(seed + 1).permutation(count) % groups
    out = []
    for compute in computes:
        estimates = {name: float(v[0]) for name, v in compute(np.ones((1, count))).items()}
        draws = _in_chunks(compute, lambda a, b: drawn[a:b].astype(np.float64), replicates,
                           width)
        jackknife = _in_chunks(
            compute, lambda a, b: (membership[None, :] != np.arange(a, b)[:, None]).astype(
                np.float64), groups, width)
        out.append(Replicates(estimates, draws, jackknife))
    return out


def interval_of(estimate: float, draws: np.ndarray, jackknife: np.ndarray | None = None,
                confidence: float = CONFIDENCE) -> Interval | None:
    """Percentile (and, given the jackknife values, BCa) interval of one metric; None when
    the estimate or every replicate is undefined."""
    if not math.isfinite(estimate):
        return None
    values = draws[np.isfinite(draws)]
    if len(values) == 0:
        return None
    alpha = (1 - confidence) / 2
    percentile = (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))
    bca = None if jackknife is None else _bca(estimate, values, jackknife, confidence)
    return Interval(estimate, percentile, bca, len(values))


def intervals_of(replicates: Replicates, confidence: float = CONFIDENCE) -> dict[str, Interval]:
    """Percentile and BCa intervals of every metric of one bootstrap."""
    intervals = {}
    for name, estimate in replicates.estimates.items():
        interval = interval_of(estimate, replicates.draws[name], replicates.jackknife[name],
                               confidence)
        if interval is not None:
            intervals[name] = interval
    return intervals


def difference_interval(first: Replicates, second: Replicates, name: str,
                        confidence: float = CONFIDENCE) -> Interval | None:
    """The interval of `name`'s difference, first minus second: paired when both came from
    one `bootstrap_replicates` call (same draws; BCa too), else from two independent
    bootstraps of disjoint groups (percentile only)."""
    if name not in first.estimates or name not in second.estimates:
        return None
    estimate = first.estimates[name] - second.estimates[name]
    paired = first.draws[name].shape == second.draws[name].shape and (
        first.jackknife[name].shape == second.jackknife[name].shape)
    draws = first.draws[name] - second.draws[name][:len(first.draws[name])]
    jackknife = (first.jackknife[name] - second.jackknife[name]) if paired else None
    return interval_of(estimate, draws, jackknife, confidence)


def bootstrap_intervals(compute: MetricSet, clusters: np.ndarray,
                        replicates: int = DEFAULT_REPLICATES, seed: int = 0,
                        confidence: float = CONFIDENCE) -> dict[str, Interval]:
    """Percentile and BCa intervals of every metric `compute` (from `metric_set`, over the
    same `clusters`) gives, from a cluster bootstrap of `replicates` draws (seeded)."""
    (bootstrap,) = bootstrap_replicates([compute], clusters, replicates, seed)
    return intervals_of(bootstrap, confidence)


def delong(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """AUROC and its DeLong variance (midranks, Sun and Xu 2014)."""
    positives, negatives = scores[positive], scores[~positive]
    m, n = len(positives), len(negatives)
    if m < 2 or n < 2:
        raise ValueError("DeLong's variance needs two positives and two negatives")
    all_ranks = stats.rankdata(np.r_[positives, negatives])
    within_positive = stats.rankdata(positives)
    within_negative = stats.rankdata(negatives)
    v10 = (all_ranks[:m] - within_positive) / n
    v01 = 1.0 - (all_ranks[m:] - within_negative) / m
    auc = float(v10.mean())
    return auc, float(v10.var(ddof=1) / m + v01.var(ddof=1) / n)


def delong_interval(scores: np.ndarray, positive: np.ndarray,
                    confidence: float = CONFIDENCE) -> dict | None:
    """DeLong's AUROC with its normal interval (clipped to [0, 1]); None when undefined."""
    positive = positive.astype(bool)
    if positive.sum() < 2 or (~positive).sum() < 2:
        return None
    auc, variance = delong(scores, positive)
    half = stats.norm.ppf(1 - (1 - confidence) / 2) * math.sqrt(max(variance, 0.0))
    return {"auroc": auc, "variance": variance,
            "interval": [max(0.0, auc - half), min(1.0, auc + half)]}


def _structural(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    positives, negatives = scores[positive], scores[~positive]
    m, n = len(positives), len(negatives)
    all_ranks = stats.rankdata(np.r_[positives, negatives])
    v10 = (all_ranks[:m] - stats.rankdata(positives)) / n
    v01 = 1.0 - (all_ranks[m:] - stats.rankdata(negatives)) / m
    return v10, v01


def delong_paired(first: np.ndarray, second: np.ndarray, positive: np.ndarray,
                  confidence: float = CONFIDENCE) -> dict | None:
    """DeLong's test of two correlated AUROCs (two models' scores for the same images):
    the difference first minus second, its variance, interval and two-sided p-value;
    None when the images hold fewer than two positives or negatives."""
    positive = positive.astype(bool)
    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        return None
    (a10, a01), (b10, b01) = _structural(first, positive), _structural(second, positive)
    s10, s01 = np.cov(np.vstack([a10, b10])), np.cov(np.vstack([a01, b01]))
    variance = float((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m
                     + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n)
    difference = float(a10.mean() - b10.mean())
    spread = math.sqrt(max(variance, 0.0))
    half = stats.norm.ppf(1 - (1 - confidence) / 2) * spread
    p_value = (float(2 * stats.norm.sf(abs(difference) / spread)) if spread > 0
               else (1.0 if difference == 0 else 0.0))
    return {"auroc": float(a10.mean()), "auroc_compared": float(b10.mean()),
            "difference": difference, "variance": variance,
            "interval": [difference - half, difference + half], "p_value": p_value}


def expected_calibration_error(positive: np.ndarray, probabilities: np.ndarray,
                               bins: int = CALIBRATION_BINS) -> float:
    """Mean |observed rate - mean probability| over equal-mass bins, weighted by size."""
    order = np.argsort(probabilities, kind="mergesort")
    total = len(order)
    error = 0.0
    for members in np.array_split(order, min(bins, total)):
        if len(members):
            error += len(members) / total * abs(
                float(positive[members].mean()) - float(probabilities[members].mean()))
    return error


def calibration(positive: np.ndarray, probabilities: np.ndarray,
                bins: int = CALIBRATION_BINS) -> dict:
    """ECE (equal-mass bins), the Brier score and the reliability curve of one column."""
    positive = positive.astype(bool)
    observed, predicted = calibration_curve(positive, probabilities, n_bins=bins,
                                            strategy="quantile")
    return {"ece": expected_calibration_error(positive, probabilities, bins),
            "brier": float(brier_score_loss(positive, probabilities)),
            "reliability": {"predicted": predicted.tolist(), "observed": observed.tolist()},
            "bins": bins}
