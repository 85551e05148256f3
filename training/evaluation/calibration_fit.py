"""Fitting the calibration eval saves with the model, and its effect on the evaluated split.

Temperature scaling for one class per image, Platt scaling per label for multi-label,
both fitted on the validation split's predictions (never on the split they are judged
on); the report shows each column's ECE, Brier score and reliability before and after.
"""

from __future__ import annotations

from typing import Any

from datasets.records.tasks import record_task
from training.classification.probability_scaling import (
    PLATT,
    TEMPERATURE,
    ProbabilityScaling,
    fit_platt,
    fit_temperature,
    logits_from_probabilities,
)
from training.evaluation.split_predictions import SplitPredictions, score_columns
from training.evaluation.statistics import calibration, expected_calibration_error


def fit_scaling(validation: SplitPredictions, task: str, class_names: list[str], split: str,
                step: int) -> ProbabilityScaling:
    """The probability scaling fitted on validation predictions' logits: per-label Platt
    scaling for a multi-label task, a temperature otherwise."""
    multi_label = record_task(task).multi_label
    logits = (validation.logits if validation.logits is not None
              else logits_from_probabilities(validation.probabilities, multi_label))
    if multi_label:
        return ProbabilityScaling(PLATT, split, step,
                                  platt=fit_platt(validation.targets, logits, class_names))
    return ProbabilityScaling(TEMPERATURE, split, step,
                              temperature=fit_temperature(validation.targets, logits))


def _calibration_of(predictions: SplitPredictions, task: str, class_names: list[str]) -> dict:
    columns, correct = score_columns(predictions, task, class_names, None)
    out: dict[str, Any] = {c.name: calibration(c.positive, c.probabilities) for c in columns
           if 0 < c.positive.sum() < len(c.positive)}
    if correct is not None:
        out["top_label_ece"] = expected_calibration_error(
            correct, predictions.probabilities.max(axis=1))
    return out


def before_and_after(predictions: SplitPredictions, scaling: ProbabilityScaling, task: str,
                     class_names: list[str]) -> dict:
    """metrics.json's `calibration_scaling`: the scaling, and the split's calibration with
    the model's own probabilities and with the scaled ones."""
    scaled = SplitPredictions(predictions.ids, predictions.patients, predictions.targets,
                              scaling.apply(predictions.probabilities, class_names)
                              if predictions.logits is None
                              else scaling.apply_to_logits(predictions.logits, class_names))
    return {"scaling": scaling.to_dict(), "described": scaling.describe(),
            "before": _calibration_of(predictions, task, class_names),
            "after": _calibration_of(scaled, task, class_names)}
