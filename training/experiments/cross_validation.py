"""Patient-grouped k-fold cross-validation: train and evaluate every fold, then summarize.

Records converted with `tf_convert_data --need_split=kfold` hold folds fold1..foldK.
Run k trains on `train_foldK` (every fold but k) in `TRAIN_DIR/foldK` and evaluates
on `validation_foldK` (fold k): the best checkpoint when training keeps one
(`--keep_best_on`, `--early_stopping_patience`), else the last.

A fold is finished when `TRAIN_DIR/foldK/fold_done.json` exists; it is written
after the fold's metrics and predictions, so a killed run re-run with the same
flags skips the finished folds and resumes the fold it was in from its latest
checkpoint.

The summary (`cv_summary.json`, `cv_summary.md`) gives each metric's per-fold
values, mean and standard deviation (n - 1), and `oof_predictions.csv` pools the
folds' out-of-fold predictions, with the metrics over them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from dataclasses import dataclass, field, replace

import numpy as np

from datasets.records.dataset_spec import DatasetSpec, read_spec
from datasets.records.tasks import record_task
from files.atomic_file import write_atomic
from training.classification.metrics import classification_report
from training.classification.multilabel_metrics import multilabel_report
from training.evaluation.evaluator import EvalSettings, evaluate
from training.evaluation.split_predictions import PREDICTIONS_FILE, read_predictions
from training.loop.trainer import TrainSettings, train
from training.loop.validation import best_directory

FOLD_DONE = "fold_done.json"
SUMMARY_JSON = "cv_summary.json"
SUMMARY_MARKDOWN = "cv_summary.md"
POOLED_PREDICTIONS = "oof_predictions.csv"
log = logging.getLogger(__name__)


@dataclass
class FoldResult:
    fold: int
    step: int
    checkpoint: str
    metrics: dict[str, float]
    resumed: bool = False
    """True when the fold was finished by an earlier run and not retrained."""


@dataclass
class CrossValidationResult:
    folds: list[FoldResult]
    summary: dict[str, dict] = field(default_factory=dict)
    pooled: dict[str, float] = field(default_factory=dict)
    directory: str = ""


def fold_directory(train_dir: str, fold: int) -> str:
    """The train_dir of fold `fold`."""
    return os.path.join(train_dir, f"fold{fold}")


def cross_validate(settings: TrainSettings, eval_batch_size: int = 100,
                   folds: list[int] | None = None) -> CrossValidationResult:
    """Train and evaluate every fold (or those in `folds`), then write the summary."""
    spec = read_spec(settings.dataset_dir)
    if not spec.num_folds:
        raise ValueError(f"{settings.dataset_dir} holds no folds (splits: "
                         f"{', '.join(spec.splits)}): convert it with tf_convert_data "
                         "--need_split=kfold")
    wanted = folds or list(range(1, spec.num_folds + 1))
    outside = [k for k in wanted if not 1 <= k <= spec.num_folds]
    if outside:
        raise ValueError(f"--folds {outside[0]}: the records hold folds 1..{spec.num_folds}")
    results = [_run_fold(settings, spec, k, eval_batch_size) for k in wanted]
    result = CrossValidationResult(results, directory=settings.train_dir)
    result.summary = summarize([r.metrics for r in results])
    result.pooled = _pool(settings.train_dir, spec, wanted)
    _write_summary(result, spec)
    return result


def _run_fold(settings: TrainSettings, spec: DatasetSpec, fold: int,
              eval_batch_size: int) -> FoldResult:
    directory = fold_directory(settings.train_dir, fold)
    done = os.path.join(directory, FOLD_DONE)
    if os.path.exists(done):
        with open(done, encoding="utf-8") as handle:
            recorded = json.load(handle)
        log.info("fold %d of %d: finished earlier (step %d); not retrained", fold,
                 spec.num_folds, recorded["step"])
        return FoldResult(fold, recorded["step"], recorded["checkpoint"], recorded["metrics"],
                          resumed=True)
    log.info("fold %d of %d: training on train_fold%d in %s", fold, spec.num_folds, fold,
             directory)
    trained = train(replace(settings, train_dir=directory,
                            dataset_split_name=f"train_fold{fold}"))
    keeps_best = bool(settings.keep_best_on or settings.early_stopping_patience)
    checkpoint = best_directory(directory) if keeps_best else directory
    report = evaluate(EvalSettings(
        checkpoint_path=checkpoint, dataset_dir=settings.dataset_dir,
        eval_dir=os.path.join(directory, "eval"), dataset_name=settings.dataset_name,
        dataset_split_name=f"validation_fold{fold}", model_name=settings.model_name,
        batch_size=eval_batch_size))
    metrics = fold_metrics(report)
    log.info("fold %d of %d: %s", fold, spec.num_folds,
             ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "num_examples"))
    write_atomic(done, (json.dumps({"fold": fold, "step": report["step"],
                                    "checkpoint": report["checkpoint"],
                                    "trained_to": trained.step,
                                    "stopped_early": trained.stopped_early,
                                    "metrics": metrics}, indent=2) + "\n").encode())
    return FoldResult(fold, report["step"], report["checkpoint"], metrics)


def fold_metrics(report: dict) -> dict[str, float]:
    """The figures of one fold's report that are averaged over folds: every top-level
    number (accuracy, macro AUROC, mean Dice, ...) and, multi-label, each label's AUROC."""
    skip = {"step"}
    metrics = {key: float(value) for key, value in report.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)
               and key not in skip}
    if record_task(report.get("task")).multi_label:
        for name, row in report["per_label"].items():
            if row.get("auroc") is not None:
                metrics[f"auroc:{name}"] = float(row["auroc"])
    return metrics


def summarize(per_fold: list[dict[str, float]]) -> dict[str, dict]:
    """Per metric: the folds' values, their mean and their sample standard deviation
    (NaN with one fold). A metric a fold lacks (a label without positives) is averaged
    over the folds that have it, and the summary says how many."""
    names = sorted({name for metrics in per_fold for name in metrics})
    summary: dict[str, dict] = {}
    for name in names:
        values = [metrics.get(name) for metrics in per_fold]
        present = np.array([v for v in values if v is not None], dtype=np.float64)
        summary[name] = {
            "values": values,
            "mean": float(present.mean()) if len(present) else math.nan,
            "std": float(present.std(ddof=1)) if len(present) > 1 else math.nan,
            "folds": len(present),
        }
    return summary


def _pool(train_dir: str, spec: DatasetSpec, folds: list[int]) -> dict[str, float]:
    """Concatenate the folds' predictions into `oof_predictions.csv`; the metrics of the
    pooled out-of-fold predictions."""
    if spec.kind.dense:
        return {}
    header: list[str] = []
    rows: list[dict[str, str]] = []
    for fold in folds:
        path = os.path.join(fold_directory(train_dir, fold), "eval", PREDICTIONS_FILE)
        fold_header, fold_rows = read_predictions(path)
        header = header or ["fold", *fold_header]
        rows += [{"fold": str(fold), **row} for row in fold_rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(os.path.join(train_dir, POOLED_PREDICTIONS), buffer.getvalue().encode())
    names = spec.class_names
    probabilities = np.array([[float(row[f"p:{n}"]) for n in names] for row in rows])
    if spec.kind.multi_label:
        targets = np.array([[float(row[f"label:{n}"]) for n in names] for row in rows])
        report = multilabel_report(targets, probabilities, names, dict.fromkeys(names))
        keys: tuple[str, ...] = ("macro_auroc", "macro_average_precision", "micro_auroc",
                "micro_average_precision")
    else:
        index = {name: i for i, name in enumerate(names)}
        targets = np.array([index[row["label"]] for row in rows])
        report = classification_report(targets, probabilities, names)
        keys = ("accuracy", "macro_roc_auc", "macro_f1")
    pooled = {key: float(report[key]) for key in keys if report.get(key) is not None}
    pooled["num_examples"] = float(len(rows))
    return pooled


def _write_summary(result: CrossValidationResult, spec: DatasetSpec) -> None:
    folds = [r.fold for r in result.folds]
    document = {"num_folds": spec.num_folds, "folds": folds, "task": spec.task,
                "per_fold": [{"fold": r.fold, "step": r.step, "checkpoint": r.checkpoint,
                              "metrics": r.metrics} for r in result.folds],
                "summary": result.summary, "pooled_out_of_fold": result.pooled}
    write_atomic(os.path.join(result.directory, SUMMARY_JSON),
                 (json.dumps(document, indent=2) + "\n").encode())
    write_atomic(os.path.join(result.directory, SUMMARY_MARKDOWN),
                 summary_table(result).encode())


def summary_table(result: CrossValidationResult) -> str:
    """The summary as a Markdown table: one row per metric, a column per fold, the mean
    and standard deviation; then the pooled out-of-fold figures."""
    folds = [r.fold for r in result.folds]
    fmt = lambda v: "n/a" if v is None or not math.isfinite(v) else f"{v:.4f}"  # noqa: E731
    lines = [f"# Cross-validation over {len(folds)} folds", "",
             "| metric | " + " | ".join(f"fold {k}" for k in folds) + " | mean | sd |",
             "|---|" + "---|" * (len(folds) + 2)]
    for name, row in result.summary.items():
        if name == "num_examples":
            cells = [str(int(v)) if v is not None else "n/a" for v in row["values"]]
            total = int(sum(v or 0 for v in row["values"]))
            lines.append(f"| examples | {' | '.join(cells)} | {total} (total) | |")
            continue
        lines.append(f"| {name} | " + " | ".join(fmt(v) for v in row["values"])
                     + f" | {fmt(row['mean'])} | {fmt(row['std'])} |")
    if result.pooled:
        lines += ["", "Pooled out-of-fold predictions (" + POOLED_PREDICTIONS + "): "
                  + ", ".join(f"{k} {fmt(v)}" for k, v in result.pooled.items()
                              if k != "num_examples")
                  + f" over {int(result.pooled.get('num_examples', 0))} examples"]
    return "\n".join(lines) + "\n"
