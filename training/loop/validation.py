"""Validation inside training: the best checkpoint and early stopping.

Every `eval_every_n_steps` the trainer runs the model over the validation split
(`validation`, or `validation_foldK` when it trains on `train_foldK`) and gets
`validation_loss`, `validation_accuracy` and, for classification and multi-label
records, `validation_auroc` (macro, scikit-learn's). The monitored metric (from
`--keep_best_on`, default `validation_loss`) decides:

- the best checkpoint: saved to `TRAIN_DIR/best/` beside the last ones, with the
  run config and `best.json` (metric, value, step), so eval, classify and export
  take it with `--checkpoint=best`;
- early stopping: after `--early_stopping_patience` evaluations without
  improvement the run stops, and says so.

The state (best value, evaluations since) lives in `best.json`, so a resumed run
goes on counting where the killed one stopped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from datasets.dataset_factory import get_dataset
from datasets.input_pipeline.pipeline import PipelineOptions
from datasets.records.dataset_spec import DatasetSpec
from datasets.records.tasks import record_task
from files.atomic_file import write_atomic
from training.classification.ranking import one_vs_rest_log_odds
from training.loop.run_config import RUN_CONFIG

BEST_DIR = "best"
BEST_STATE = "best.json"
LOWER_IS_BETTER = {"validation_loss": True, "validation_accuracy": False,
                   "validation_auroc": False}
"""The metrics `--keep_best_on` takes, and whether lower is better."""
DEFAULT_MONITOR = "validation_loss"
log = logging.getLogger(__name__)


@dataclass
class BestState:
    """What `best.json` holds: the monitored metric, its best value and step, and how many
    evaluations have passed without improving on it."""

    metric: str
    value: float | None = None
    step: int | None = None
    evaluations_since_best: int = 0
    stopped_early: bool = False

    def improves(self, value: float) -> bool:
        """Whether `value` is better than the best so far in the metric's direction; a non-finite
        value never is."""
        if not math.isfinite(value):
            return False
        if self.value is None:
            return True
        return value < self.value if LOWER_IS_BETTER[self.metric] else value > self.value


def check_monitor(metric: str | None, task: str) -> str:
    """The monitored metric, checked against the task; one line of error otherwise."""
    metric = metric or DEFAULT_MONITOR
    if metric not in LOWER_IS_BETTER:
        raise ValueError(f"--keep_best_on={metric}: choose one of "
                         f"{', '.join(LOWER_IS_BETTER)}")
    if metric == "validation_auroc" and record_task(task).dense:
        raise ValueError("--keep_best_on=validation_auroc needs classification or multi-label "
                         "records; for segmentation use validation_loss or validation_accuracy")
    return metric


def best_directory(train_dir: str) -> str:
    """The folder that holds the best checkpoint of `train_dir`."""
    return os.path.join(train_dir, BEST_DIR)


def read_best_state(train_dir: str, metric: str) -> BestState:
    """The saved state, or a fresh one; a state for another metric starts afresh."""
    path = os.path.join(best_directory(train_dir), BEST_STATE)
    if not os.path.exists(path):
        return BestState(metric)
    with open(path, encoding="utf-8") as handle:
        state = BestState(**json.load(handle))
    if state.metric != metric:
        log.warning("%s kept the best on %s; now %s: the best starts afresh", train_dir,
                    state.metric, metric)
        return BestState(metric)
    return state


def write_best_state(train_dir: str, state: BestState) -> None:
    """Writes which step was best, and by what value, atomically beside the best checkpoint."""
    directory = best_directory(train_dir)
    os.makedirs(directory, exist_ok=True)
    write_atomic(os.path.join(directory, BEST_STATE),
                 (json.dumps(asdict(state), indent=2) + "\n").encode())


def copy_run_config(train_dir: str) -> None:
    """The best checkpoint's folder carries the run config, as a train_dir does, so every
    command reads it as it reads the train_dir's."""
    source = os.path.join(train_dir, RUN_CONFIG)
    if os.path.exists(source):
        shutil.copyfile(source, os.path.join(best_directory(train_dir), RUN_CONFIG))


def validation_dataset(spec: DatasetSpec, split: str, dataset_dir: str, dataset_name: str | None,
                       size: int, channels: int, batch_size: int,
                       framing: str | None) -> tf.data.Dataset:
    """The validation split as eval reads it (its framing, no augmentation), once."""
    options = PipelineOptions(image_size=(size, size), channels=channels,
                              batch_size=batch_size, is_training=False, num_epochs=1,
                              drop_remainder=False, eval_framing=framing, augment=None)
    _, dataset = get_dataset(dataset_name, split, dataset_dir, options)
    return dataset


def make_validator(model: keras.Model, spec: DatasetSpec, dataset: tf.data.Dataset,
                   per_example_loss: Callable) -> Callable[[], dict[str, float]]:
    """A function that runs the model over `dataset` and returns the validation metrics."""

    @tf.function(autograph=False)
    def forward(images, targets):
        outputs = model(images, training=False)
        outputs = {k: tf.cast(v, tf.float32) for k, v in outputs.items()}
        return per_example_loss(outputs, targets), outputs["logits"]

    def run() -> dict[str, float]:
        losses, logits, targets = [], [], []
        for images, batch_targets in dataset:
            loss, batch_logits = forward(images, batch_targets)
            losses.append(loss.numpy().reshape(-1))
            if not spec.kind.dense:
                logits.append(batch_logits.numpy())
                targets.append(batch_targets.numpy())
        if not losses:
            raise ValueError("the validation split yielded no examples")
        metrics = {"validation_loss": float(np.mean(np.concatenate(losses)))}
        if spec.kind.dense:
            return metrics
        metrics.update(_discrimination(spec.task, np.concatenate(logits),
                                       np.concatenate(targets)))
        return metrics

    return run


def _discrimination(task: str, logits: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    if record_task(task).multi_label:
        known = targets >= 0
        predicted = logits > 0
        accuracy = float(np.mean((predicted == (targets > 0))[known])) if known.any() else math.nan
        scores = []
        for label in range(targets.shape[1]):
            rows = known[:, label]
            truth = targets[rows, label]
            if 0 < truth.sum() < len(truth):
                scores.append(roc_auc_score(truth, logits[rows, label]))
        auroc = float(np.mean(scores)) if scores else math.nan
        return {"validation_accuracy": accuracy, "validation_auroc": auroc}
    accuracy = float(np.mean(np.argmax(logits, -1) == targets))
    odds = one_vs_rest_log_odds(logits)  # as eval ranks: saturated probabilities would tie
    present = np.unique(targets)
    if len(present) < 2:
        auroc = math.nan
    else:  # one-vs-rest over the classes present, as eval's macro ROC AUC
        auroc = float(np.mean([roc_auc_score(targets == c, odds[:, c]) for c in present]))
    return {"validation_accuracy": accuracy, "validation_auroc": auroc}


def describe(metrics: dict[str, float]) -> str:
    """The metrics as "name value" pairs joined by commas."""
    return ", ".join(f"{name} {value:.4f}" for name, value in metrics.items())


class BestKeeper:
    """Validates every `every` steps, saves the best checkpoint, and says when to stop."""

    def __init__(self, train_dir: str, metric: str, patience: int | None, every: int,
                 validate: Callable[[], dict[str, float]], best_manager,
                 writer: tf.summary.SummaryWriter) -> None:
        self.train_dir, self.metric, self.patience, self.every = (train_dir, metric, patience,
                                                                  every)
        self.validate, self.best_manager, self.writer = validate, best_manager, writer
        self.state = read_best_state(train_dir, metric)
        self.history: list[dict[str, float]] = []

    def due(self, before: int, step: int) -> bool:
        """Whether a validation falls between step `before` (excluded) and `step`."""
        return step // self.every > before // self.every

    def evaluate(self, step: int) -> bool:
        """Validate at `step`; keep it when best; True when the run should stop now."""
        metrics = self.validate()
        self.history.append({"step": step, **metrics})
        with self.writer.as_default(step=step):
            for name, value in metrics.items():
                if math.isfinite(value):
                    tf.summary.scalar(name, value)
        value = metrics.get(self.metric, math.nan)
        if self.state.improves(value):
            self.state.value, self.state.step = value, step
            self.state.evaluations_since_best = 0
            path = self.best_manager.save(checkpoint_number=step)
            copy_run_config(self.train_dir)
            log.info("step %d: %s (best so far; saved %s)", step, describe(metrics), path)
        else:
            self.state.evaluations_since_best += 1
            log.info("step %d: %s (best %s %.4f at step %s)", step, describe(metrics),
                     self.metric, self.state.value if self.state.value is not None
                     else math.nan, self.state.step)
        stop = (self.patience is not None and self.patience > 0
                and self.state.evaluations_since_best >= self.patience)
        if stop:
            self.state.stopped_early = True
            log.info("early stopping at step %d: %s has not improved for %d evaluations "
                     "(best %.4f at step %s)", step, self.metric, self.patience,
                     self.state.value if self.state.value is not None else math.nan,
                     self.state.step)
        write_best_state(self.train_dir, self.state)
        return stop
