"""eval_image_classifier's work: where an evaluation reads and writes, running it (once
or watching a train_dir), and the lines it prints."""

from __future__ import annotations

import os

from datasets.records.tasks import record_task
from training.evaluation.eval_settings import EvalSettings
from training.loop.run_config import find_run_config


def eval_locations(checkpoint_path: str, dataset_dir: str | None, eval_dir: str | None,
                   split: str) -> tuple[str, str]:
    """(dataset_dir, eval_dir) of an evaluation: the records default to those the
    checkpoint was trained on, the output to CHECKPOINT_DIR/eval_SPLIT."""
    if not dataset_dir:
        config = find_run_config(checkpoint_path)
        if config is None or not config.dataset_dir:
            raise ValueError("--dataset_dir is required (the checkpoint does not record the "
                             "dataset it was trained on)")
        dataset_dir = config.dataset_dir
    return dataset_dir, eval_dir or os.path.join(_model_dir(checkpoint_path), f"eval_{split}")


def _model_dir(checkpoint_path: str) -> str:
    return checkpoint_path if os.path.isdir(checkpoint_path) else (
        os.path.dirname(checkpoint_path))


def outputs_line(report: dict, settings: EvalSettings) -> str:
    """'metrics in ..., report in ..., ...': every file the evaluation wrote, by kind."""
    base, out = _model_dir(settings.checkpoint_path), settings.eval_dir
    where = f"metrics in {out}/metrics.json"
    if settings.report:
        where += f", report in {out}/report.html, model card in {out}/model_card.md"
    if report.get("calibration_scaling"):
        where += f", calibration in {os.path.join(base, 'calibration.json')}"
    kind = record_task(report.get("task"))
    if not kind.dense:
        where += f", predictions in {out}/predictions.csv"
    if kind.multi_label:
        where += (f", ROC curves in {out}/roc_curves.png, thresholds in "
                  f"{os.path.join(base, 'thresholds.json')}")
    elif not kind.dense:
        where += f", confusion matrix in {out}/confusion_matrix.png"
    return where


def run_evaluation(settings: EvalSettings, interval_secs: int | None = None,
                   timeout_secs: int | None = None) -> int:
    """Evaluate once and print the summary and the outputs; with `interval_secs`, watch
    the train_dir and evaluate each new checkpoint. The exit status."""
    from training.evaluation.evaluator import evaluate, summary_text, watch

    if interval_secs:
        count = watch(settings, interval_secs, timeout_secs,
                      lambda report: print(summary_text(report), flush=True))
        print(f"evaluated {count} checkpoint(s)")
        return 0
    report = evaluate(settings)
    print(summary_text(report))
    print(outputs_line(report, settings))
    return 0
