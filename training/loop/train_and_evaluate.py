"""Alternate training and evaluation by epochs, as the official ResNet's main did.

Each cycle trains `epochs_between_evals` more epochs (resuming from the
train_dir's latest checkpoint), then evaluates it; `stop_threshold` ends the
run once the evaluation accuracy reaches it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace

from datasets.records.dataset_spec import read_spec
from training.evaluation.evaluator import EvalSettings, evaluate, summary_text
from training.loop.trainer import TrainSettings, train

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    step: int
    epochs: float
    report: dict | None
    reports: list[dict] = field(default_factory=list)
    stopped_early: bool = False


def train_and_evaluate(
    settings: TrainSettings,
    train_epochs: float,
    epochs_between_evals: float = 1,
    stop_threshold: float | None = None,
    max_train_steps: int | None = None,
    eval_batch_size: int = 100,
) -> CycleResult:
    """Alternates training for `epochs_between_evals` and evaluating on validation (else test)
    until `train_epochs`, `max_train_steps` or `stop_threshold` accuracy is reached; returns the
    last cycle."""
    spec = read_spec(settings.dataset_dir)
    steps_per_epoch = math.ceil(spec.split(settings.dataset_split_name).num_examples
                                / settings.batch_size)
    eval_split = next((s for s in ("validation", "test") if s in spec.splits), None)
    cycles = max(1, math.ceil(train_epochs / epochs_between_evals))
    result = CycleResult(0, 0.0, None)
    for cycle in range(cycles):
        epochs = min((cycle + 1) * epochs_between_evals, train_epochs)
        target = math.ceil(epochs * steps_per_epoch)
        if max_train_steps is not None:
            target = min(target, max_train_steps)
        trained = train(replace(settings, max_number_of_steps=target))
        result.step, result.epochs = trained.step, trained.step / steps_per_epoch
        if settings.synthetic_data or eval_split is None:
            log.info("no evaluation (%s)", "synthetic data" if settings.synthetic_data
                     else "the dataset has no validation or test split")
        else:
            report = evaluate(EvalSettings(
                checkpoint_path=trained.checkpoint, dataset_dir=settings.dataset_dir,
                eval_dir=f"{settings.train_dir.rstrip('/')}/eval_{eval_split}",
                dataset_split_name=eval_split, model_name=settings.model_name,
                batch_size=eval_batch_size,
                # a progress check each epoch: the full evidence is eval_image_classifier's
                calibrate=False, report=False))
            log.info("epoch %.1f:\n%s", result.epochs, summary_text(report))
            result.report = report
            result.reports.append(report)
            if stop_threshold is not None and report["accuracy"] >= stop_threshold:
                log.info("accuracy %.4f reached --stop_threshold=%s: stopping",
                         report["accuracy"], stop_threshold)
                result.stopped_early = True
                break
        if max_train_steps is not None and trained.step >= max_train_steps:
            break
    return result
