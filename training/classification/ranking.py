"""Scores that rank images as the predicted probability does, without its saturation.

AUROC, average precision and DeLong's variance depend only on how images are ordered
by a score. A float32 softmax or sigmoid rounds to exactly 1.0 once a logit margin
passes about 17, so a confident model's positives tie at 1.0 and rank as coin flips:
an overconfident two-class net that orders every image correctly scored AUROC 0.5 on
one class and 1.0 on the other from its probabilities. The log-odds of each class
against the rest orders images exactly as the exact probability would, and stays
apart where the probability has rounded, so the evidence ranks by it.
"""

from __future__ import annotations

import numpy as np

from training.classification.probability_scaling import logits_from_probabilities

# sklearn refuses infinite scores; these keep their order and their ties, and sum without
# overflow in its finiteness check (finite log-odds of float32 logits stay below 1e39).
_LARGEST = 1e300


def one_vs_rest_log_odds(logits: np.ndarray) -> np.ndarray:
    """Per image and class, log(p_c / (1 - p_c)) of softmax(`logits`), computed in float64
    from the logits: logit_c minus the log-sum-exp of the other classes' logits."""
    odds = np.array(logits, dtype=np.float64)  # worked on in place: two arrays at most
    rows = np.arange(len(odds))
    top = np.argmax(odds, axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        odds -= odds[rows, top][:, None]  # the largest is 0; exp() of each is at most 1
        # The largest class against the rest: the rest's log-sum-exp shifted by its own
        # largest, so that a margin past exp()'s range (about 745) still counts.
        odds[rows, top] = -np.inf
        runner_up = odds.max(axis=1)
        alone = np.isneginf(runner_up)  # one class, or the rest at probability 0: certain
        runner_up[alone] = 0.0
        work = odds - runner_up[:, None]
        np.exp(work, out=work)
        top_odds = np.where(alone, np.inf, -(runner_up + np.log(work.sum(axis=1))))
        # Any other class: beside it sits the largest (weight 1), so the rest's sum, total
        # less its own, loses at most log10(classes) digits to cancellation.
        odds[rows, top] = 0.0
        np.exp(odds, out=work)
        np.subtract(work.sum(axis=1, keepdims=True), work, out=work)
        odds -= np.log(work, out=work)
        odds[rows, top] = top_odds
    return np.nan_to_num(odds, copy=False, nan=np.nan, posinf=_LARGEST, neginf=-_LARGEST)


def ranking_scores(probabilities: np.ndarray, logits: np.ndarray | None = None,
                   multi_label: bool = False) -> np.ndarray:
    """The score AUROC and average precision rank each class or label by: its log-odds,
    from the logits where eval has them, else from the logits the probabilities of a
    `predictions.csv` keep (`logits_from_probabilities`). From probabilities, a class's
    odds stay apart while the other classes' probabilities are above float32's smallest
    (margins up to about 87); a multi-label probability rounded to 1.0 has no such rest
    and still ties."""
    if logits is None:
        logits = logits_from_probabilities(probabilities, multi_label)
    if multi_label:
        return np.asarray(logits, dtype=np.float64)
    return one_vs_rest_log_odds(logits)
