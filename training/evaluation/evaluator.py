"""Evaluate a checkpoint on a split: metrics JSON, confusion-matrix PNG (ROC curves for
multi-label), summaries.

Multi-label checkpoints get per-label thresholds chosen on the validation split
(`threshold_rule`), written to the train_dir as `thresholds.json`, where
classify_image and the SavedModel export read them.

`watch()` is TF-Slim's evaluation loop: it polls a train_dir and evaluates each
new checkpoint once, so evaluation runs beside training.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from datasets.dataset_factory import get_dataset
from datasets.input_pipeline.model_input import preprocessing_still_due
from datasets.input_pipeline.pipeline import record_files
from datasets.records.catalog_attributes import UNKNOWN, read_split_attributes
from datasets.records.dataset_spec import DatasetSpec, read_spec
from datasets.records.tasks import record_task
from dicom.preprocessing.methods import PixelPreprocessing
from files.atomic_file import write_atomic
from training.classification.confusion_image import render_confusion_matrix
from training.classification.metrics import classification_report, format_confusion_matrix
from training.classification.multilabel_metrics import choose_thresholds, multilabel_report
from training.classification.probability_scaling import write_scaling
from training.classification.ranking import ranking_scores
from training.classification.roc_image import render_roc_curves
from training.classification.thresholds import Thresholds, write_thresholds
from training.evaluation.calibration_fit import before_and_after, fit_scaling
from training.evaluation.comparison import compare_models
from training.evaluation.eval_settings import EvalSettings
from training.evaluation.failures import FailureImages, most_confident_errors
from training.evaluation.make_up import data_make_up
from training.evaluation.report.html_report import REPORT_FILE, render_report
from training.evaluation.report.model_card import MODEL_CARD_FILE, render_model_card
from training.evaluation.split_predictions import (
    PREDICTIONS_FILE,
    SplitPredictions,
    load_predictions,
    score_columns,
    write_predictions,
)
from training.evaluation.statistics import (
    bootstrap_intervals,
    calibration,
    cluster_ids,
    delong_interval,
    expected_calibration_error,
    metric_set,
)
from training.evaluation.subgroups import subgroup_evidence
from training.loop.checkpoints import checkpoint_step, resolve_checkpoint
from training.loop.model_loading import load_model
from training.loop.run_config import ModelOverrides, RunConfig
from training.loop.task_heads import task_head
from training.segmentation.metrics import METRICS, SegmentationScores

log = logging.getLogger(__name__)
MAX_CLASSES_WITH_EVIDENCE = 50
"""Single-label records with more classes get intervals and calibration for accuracy and
the top label only."""


def _split_batches(settings: EvalSettings, spec: DatasetSpec, config: RunConfig,
                   framing: str | None = None, split_name: str | None = None,
                   with_keys: bool = False):
    """The evaluated split as (images, targets) batches, `max_num_batches` at most, with
    the model's folder preprocessing applied when the records hold raw pixels."""
    due = preprocessing_still_due(config.folder_preprocessing,
                                  PixelPreprocessing.from_dict(spec.pixel_preprocessing))
    _, dataset = get_dataset(settings.dataset_name, split_name or settings.dataset_split_name,
                             settings.dataset_dir, batch_size=settings.batch_size,
                             image_size=(config.image_size, config.image_size),
                             channels=config.channels, eval_framing=framing,
                             pixel_preprocessing=due, max_image_size=config.max_image_size,
                             with_ids=with_keys, with_patients=with_keys)
    return dataset.take(settings.max_num_batches) if settings.max_num_batches else dataset


def _predict_split(model: keras.Model, settings: EvalSettings, spec: DatasetSpec,
                   config: RunConfig, split_name: str | None = None,
                   failures: FailureImages | None = None) -> SplitPredictions:
    split_name = split_name or settings.dataset_split_name
    dataset = _split_batches(settings, spec, config, config.preprocessing, split_name,
                             with_keys=True)
    activation = task_head(spec.task).activation

    def logits_and_probabilities(images):
        logits = tf.cast(model(images, training=False)["logits"], tf.float32)
        return logits, activation(logits)

    forward = tf.function(logits_and_probabilities, autograph=False)
    labels, probabilities, logits, ids, patients = [], [], [], [], []
    for images, batch_labels, batch_ids, batch_patients in dataset:
        batch_logits, batch_probabilities = forward(images)
        logits.append(batch_logits.numpy())
        probabilities.append(batch_probabilities.numpy())
        labels.append(batch_labels.numpy())
        batch = [i.decode("utf-8", "replace") for i in batch_ids.numpy()]
        if failures is not None:
            failures.add(batch, labels[-1], probabilities[-1], images)
        ids += batch
        patients += [p.decode("utf-8", "replace") for p in batch_patients.numpy()]
    if not labels:
        raise ValueError(f"split {split_name!r} yielded no examples")
    attributes: dict[str, list[str]] = {}
    if spec.attributes:  # read beside the images, never through the model's input path
        names = tuple(spec.attributes)
        found = read_split_attributes(record_files(spec, split_name, settings.dataset_dir),
                                      names)
        blank = dict.fromkeys(names, UNKNOWN)
        rows = [found.get(i, blank) for i in ids]
        attributes = {name: [row[name] for row in rows] for name in names}
    return SplitPredictions(ids, patients, np.concatenate(labels),
                            np.concatenate(probabilities), attributes, np.concatenate(logits))


def _segment_split(model: keras.Model, settings: EvalSettings, spec: DatasetSpec,
                   config: RunConfig) -> dict:
    class_names = spec.class_names
    dataset = _split_batches(settings, spec, config)
    forward = tf.function(lambda images: tf.argmax(model(images, training=False)["logits"], -1,
                                                   output_type=tf.int32), autograph=False)
    scores = SegmentationScores(class_names)
    for images, masks in dataset:
        scores.add(masks.numpy(), forward(images).numpy())
    if not scores.pixel_accuracy:
        raise ValueError(f"split {settings.dataset_split_name!r} yielded no examples")
    return scores.report()


def _overrides(settings: EvalSettings, spec: DatasetSpec, model_name: str | None = None,
               preprocessing_name: str | None = None,
               moving_average_decay: float | None = None) -> ModelOverrides:
    """The records' classes and eval's size and channels; for the model evaluated, its
    net, preprocessing and TF-Slim shadows as the flags give them too."""
    return ModelOverrides(model_name=model_name, num_classes=spec.num_classes,
                          image_size=settings.eval_image_size, channels=settings.channels,
                          class_names=spec.class_names, preprocessing_name=preprocessing_name,
                          moving_average_decay=moving_average_decay)


def evaluate(settings: EvalSettings, prefix: str | None = None) -> dict:
    """Evaluate one checkpoint (the latest when `checkpoint_path` is a directory)."""
    spec = read_spec(settings.dataset_dir)
    prefix = prefix or resolve_checkpoint(settings.checkpoint_path)
    _check_compared(settings.compare_with)
    loaded = load_model(prefix, _overrides(settings, spec, settings.model_name,
                                           settings.preprocessing_name,
                                           settings.moving_average_decay),
                        use_moving_averages=settings.use_moving_averages)
    config, model = loaded.config, loaded.model
    if config.class_names != spec.class_names:
        raise ValueError(f"the checkpoint's classes ({', '.join(config.class_names)}) differ "
                         f"from {settings.dataset_dir}'s ({', '.join(spec.class_names)})")
    curves = None
    predictions = validation = None
    if spec.kind.dense:
        report = _segment_split(model, settings, spec, config)
    else:
        kept = FailureImages(spec.task, settings.failures_per_class if settings.report else 0)
        predictions = _predict_split(model, settings, spec, config, failures=kept)
        validation = _validation_predictions(model, settings, spec, config, predictions)
    if spec.kind.multi_label and predictions is not None:
        targets, probabilities = predictions.targets, predictions.probabilities
        chosen = _chosen_thresholds(settings, spec, prefix, validation or predictions)
        report = multilabel_report(targets, probabilities, spec.class_names, chosen.values,
                                   predictions.logits)
        report.update(threshold_rule=chosen.rule, threshold_split=chosen.split,
                      label_policy=spec.label_policy)
        curves = (targets, ranking_scores(probabilities, predictions.logits, multi_label=True))
    elif predictions is not None:
        report = classification_report(predictions.targets, predictions.probabilities,
                                       spec.class_names, predictions.logits)
    report.update(checkpoint=prefix, step=checkpoint_step(prefix), task=spec.task,
                  split=settings.dataset_split_name, model_name=config.model_name,
                  preprocessing=config.preprocessing, restored=loaded.restore.summary())
    thumbnails: dict[str, bytes] = {}
    if predictions is not None:
        thresholds = chosen.values if spec.kind.multi_label else None
        report.update(evidence(predictions, spec, thresholds, settings.bootstrap,
                               settings.bootstrap_seed))
        report.update(_further_evidence(settings, spec, prefix, predictions, validation,
                                        thresholds))
        if settings.report and report.get("failures"):
            thumbnails = kept.thumbnails({f["id"] for f in report["failures"]})
    report["data_make_up"] = data_make_up(spec)
    _save(report, settings.eval_dir, curves)
    if predictions is not None:
        write_predictions(predictions, spec, settings.dataset_split_name,
                          os.path.join(settings.eval_dir, PREDICTIONS_FILE))
    if settings.report:
        write_report(report, spec, dataclasses.asdict(config), settings.eval_dir, thumbnails)
    return report


def _validation_predictions(model, settings: EvalSettings, spec: DatasetSpec,
                            config: RunConfig, evaluated: SplitPredictions
                            ) -> SplitPredictions | None:
    """The validation split's predictions, which thresholds and the calibration are
    fitted on; None when the records have no validation split."""
    if "validation" not in spec.splits:
        return None
    if settings.dataset_split_name == "validation":
        return evaluated
    if not spec.kind.multi_label and not settings.calibrate:
        return None
    return _predict_split(model, settings, spec, config, "validation")


def _further_evidence(settings: EvalSettings, spec: DatasetSpec, prefix: str,
                      predictions: SplitPredictions, validation: SplitPredictions | None,
                      thresholds: dict[str, float | None] | None) -> dict:
    """Calibration scaling (fitted on validation, saved with the model), subgroups, the
    comparison with another model, and the most confident errors."""
    out: dict = {}
    names, task = spec.class_names, spec.task
    if settings.calibrate and validation is None:
        out["calibration_scaling_note"] = ("no scaling fitted: the records have no "
                                           "validation split to fit it on")
    elif settings.calibrate and validation is not None:
        scaling = fit_scaling(validation, task, names, "validation", checkpoint_step(prefix))
        write_scaling(scaling, os.path.dirname(prefix))
        out["calibration_scaling"] = before_and_after(predictions, scaling, task, names)
        if settings.dataset_split_name == "validation":
            out["calibration_scaling_note"] = ("fitted and judged on the validation split "
                                               "itself: the 'after' figures are optimistic")
    if settings.subgroups:
        out["subgroups"] = subgroup_evidence(
            predictions, task, names, thresholds, list(settings.subgroups),
            settings.min_subgroup_size, settings.bootstrap, settings.bootstrap_seed)
    if settings.compare_with:
        compared = _compared_predictions(settings, spec)
        out["comparison"] = compare_models(predictions, compared, task, names, thresholds,
                                           settings.bootstrap, settings.bootstrap_seed,
                                           settings.compare_with)
    if settings.failures_per_class > 0:
        out["failures"] = most_confident_errors(predictions, task, names, thresholds,
                                                settings.failures_per_class)
    return out


def _check_compared(path: str | None) -> None:
    """--compare_with names something to compare with: said now, not after evaluating."""
    if not path or os.path.isfile(path):
        return
    if path.endswith(".csv"):
        raise FileNotFoundError(f"--compare_with {path}: no such predictions file")
    resolve_checkpoint(path)


def _compared_predictions(settings: EvalSettings, spec: DatasetSpec) -> SplitPredictions:
    """--compare_with: a predictions.csv as it is, or a checkpoint evaluated here on the
    same split."""
    path = settings.compare_with or ""
    if os.path.isfile(path) and path.endswith(".csv"):
        return load_predictions(path, spec)
    other = resolve_checkpoint(path)
    loaded = load_model(other, _overrides(settings, spec),
                        use_moving_averages=settings.use_moving_averages)
    return _predict_split(loaded.model, settings, spec, loaded.config)


def write_report(report: dict, spec: DatasetSpec, run_config: dict, eval_dir: str,
                 thumbnails: dict[str, bytes]) -> None:
    """report.html (figures embedded) and model_card.md beside metrics.json."""
    figures = {}
    for name in ("confusion_matrix.png", "roc_curves.png"):
        path = os.path.join(eval_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as handle:
                figures[name] = handle.read()
    write_atomic(os.path.join(eval_dir, REPORT_FILE),
                 render_report(report, figures, thumbnails).encode("utf-8"))
    write_atomic(os.path.join(eval_dir, MODEL_CARD_FILE),
                 render_model_card(report, spec, run_config).encode("utf-8"))


def _chosen_thresholds(settings: EvalSettings, spec: DatasetSpec, prefix: str,
                       fitted_on: SplitPredictions) -> Thresholds:
    """Thresholds chosen on the validation split (on the evaluated one when the records have
    none, which the report says), written beside the checkpoint."""
    if "validation" in spec.splits:
        split = "validation"
    else:
        split = settings.dataset_split_name
        log.warning("thresholds are chosen on split %r itself: the records have no "
                    "validation split, so its sensitivity and specificity are optimistic",
                    split)
    values = choose_thresholds(fitted_on.targets, fitted_on.probabilities, spec.class_names,
                               settings.threshold_rule)
    chosen = Thresholds(settings.threshold_rule, split, checkpoint_step(prefix), values)
    write_thresholds(chosen, os.path.dirname(prefix))
    return chosen


def evidence(predictions: SplitPredictions, spec: DatasetSpec,
             thresholds: dict[str, float | None] | None, replicates: int,
             seed: int) -> dict:
    """Intervals (patient-level cluster bootstrap; DeLong's for AUROC beside them) and
    calibration (ECE, Brier, reliability) of one evaluated split, for metrics.json."""
    columns, correct = score_columns(predictions, spec.task, spec.class_names, thresholds)
    clusters = cluster_ids(predictions.patients, predictions.ids)
    out: dict = {"calibration": {}, "delong": {}}
    if correct is not None and len(columns) > MAX_CLASSES_WITH_EVIDENCE:
        # e.g. a 1001-class zoo net: per-class figures would dwarf the rest; accuracy and
        # top-label calibration stay
        out["per_class_evidence"] = (f"left out: more than {MAX_CLASSES_WITH_EVIDENCE} "
                                     "classes")
        columns = []
    for column in columns:
        if 0 < column.positive.sum() < len(column.positive):
            out["calibration"][column.name] = calibration(column.positive,
                                                           column.probabilities)
            out["delong"][column.name] = delong_interval(column.scores, column.positive)
    if correct is not None:
        confidence = predictions.probabilities.max(axis=1)
        out["calibration"]["top_label_ece"] = expected_calibration_error(correct, confidence)
    if replicates > 0:
        intervals = bootstrap_intervals(metric_set(columns, correct, clusters), clusters,
                                        replicates, seed)
        out["intervals"] = {name: interval.to_dict() for name, interval in intervals.items()}
        out["bootstrap"] = {"replicates": replicates, "seed": seed,
                            "clusters": int(clusters.max()) + 1,
                            "resampled": "patients (an image without one: itself)",
                            "confidence": 0.95}
    return out


def _save(report: dict, eval_dir: str, curves=None) -> None:
    os.makedirs(eval_dir, exist_ok=True)
    text = (json.dumps(report, indent=2) + "\n").encode()
    write_atomic(os.path.join(eval_dir, f"metrics-{report['step']}.json"), text)
    write_atomic(os.path.join(eval_dir, "metrics.json"), text)
    if record_task(report["task"]).dense:
        writer = tf.summary.create_file_writer(eval_dir)
        with writer.as_default(step=report["step"]):
            for key in ("pixel_accuracy", *(f"mean_{m}" for m in METRICS)):
                if report.get(key) is not None:
                    tf.summary.scalar(f"eval/{key}", report[key])
        writer.flush()
        return
    if record_task(report["task"]).multi_label:
        _save_multilabel(report, eval_dir, *curves)
        return
    image = render_confusion_matrix(
        report["confusion_matrix"], report["class_names"],
        f"{report['model_name']} step {report['step']}, split {report['split']}: "
        f"accuracy {report['accuracy']:.3f}")
    image.save(os.path.join(eval_dir, "confusion_matrix.png"))
    writer = tf.summary.create_file_writer(eval_dir)
    with writer.as_default(step=report["step"]):
        for key in ("accuracy", "top5_recall", "macro_precision", "macro_recall", "macro_f1",
                    "macro_roc_auc"):
            if report.get(key) is not None:
                tf.summary.scalar(f"eval/{key}", report[key])
        tf.summary.image("eval/confusion_matrix", np.asarray(image)[np.newaxis])
    writer.flush()


def _save_multilabel(report: dict, eval_dir: str, targets: np.ndarray,
                     scores: np.ndarray) -> None:
    names = report["class_names"]
    image = render_roc_curves(
        targets, scores, names, [report["per_label"][n]["auroc"] for n in names],
        f"{report['model_name']} step {report['step']}, split {report['split']}")
    image.save(os.path.join(eval_dir, "roc_curves.png"))
    writer = tf.summary.create_file_writer(eval_dir)
    with writer.as_default(step=report["step"]):
        for key in ("macro_auroc", "macro_average_precision", "micro_auroc",
                    "micro_average_precision"):
            if report.get(key) is not None:
                tf.summary.scalar(f"eval/{key}", report[key])
        for name, row in report["per_label"].items():
            if row["auroc"] is not None:
                tf.summary.scalar(f"eval/auroc/{name}", row["auroc"])
        tf.summary.image("eval/roc_curves", np.asarray(image)[np.newaxis])
    writer.flush()


def summary_text(report: dict) -> str:
    """The evaluation report as the lines the console prints, in the form of the report's task."""
    if record_task(report.get("task")).dense:
        return _segmentation_text(report)
    if record_task(report.get("task")).multi_label:
        return _multilabel_text(report)
    lines = [f"{report['checkpoint']} on split {report['split']} "
             f"({report['num_examples']} examples): accuracy {report['accuracy']:.4f}"]
    if "top5_recall" in report:
        lines[0] += f", top-5 recall {report['top5_recall']:.4f}"
    if report.get("macro_roc_auc") is not None:
        lines[0] += f", macro ROC AUC {report['macro_roc_auc']:.4f}"
    lines += _interval_lines(report, ("accuracy", "macro_auroc"))
    lines += _evidence_lines(report)
    lines.append(f"{'class':16s} {'precision':>9s} {'recall':>9s} {'f1':>9s} {'auc':>9s} "
                 f"{'support':>8s}")
    fmt = lambda v: "      n/a" if v is None else f"{v:9.4f}"  # noqa: E731
    for name, row in report["per_class"].items():
        lines.append(f"{name[:16]:16s} {fmt(row['precision'])} {fmt(row['recall'])} "
                     f"{fmt(row['f1'])} {fmt(row['roc_auc'])} {row['support']:8d}")
    lines.append(format_confusion_matrix(report["confusion_matrix"], report["class_names"]))
    return "\n".join(lines)


def _evidence_lines(report: dict) -> list[str]:
    """The subgroup gap and the calibration, a line each, when eval computed them."""
    lines = []
    gap = (report.get("subgroups") or {}).get("largest_gap")
    if gap:
        shown = (f" [{gap['interval'][0]:.4f}, {gap['interval'][1]:.4f}]"
                 if gap.get("interval") else "")
        lines.append(f"largest subgroup gap: {gap['metric']} of {gap['attribute']}, "
                     f"{gap['higher']} minus {gap['lower']} = {gap['difference']:.4f}{shown}")
    scaling = report.get("calibration_scaling")
    if scaling and "top_label_ece" in scaling["before"]:
        lines.append(f"calibration: {scaling['described']}; top-label ECE "
                     f"{scaling['before']['top_label_ece']:.4f} -> "
                     f"{scaling['after']['top_label_ece']:.4f}")
    elif scaling:
        lines.append(f"calibration: {scaling['described']}")
    return lines


def _interval_lines(report: dict, names: tuple[str, ...]) -> list[str]:
    """'95 % intervals (patient bootstrap, N replicates): macro_auroc 0.91 [0.85, 0.95] ...'."""
    intervals = report.get("intervals") or {}
    shown = [f"{name} {intervals[name]['estimate']:.4f} "
             f"[{intervals[name]['percentile'][0]:.4f}, {intervals[name]['percentile'][1]:.4f}]"
             for name in names if name in intervals]
    if not shown:
        return []
    replicates = report["bootstrap"]["replicates"]
    return [f"95 % intervals (patient-level bootstrap, {replicates} replicates, percentile; "
            f"BCa and DeLong in metrics.json): " + ", ".join(shown)]


def _multilabel_text(report: dict) -> str:
    fmt = lambda v: "      n/a" if v is None else f"{v:9.4f}"  # noqa: E731
    lines = [f"{report['checkpoint']} on split {report['split']} ({report['num_examples']} "
             f"examples): macro AUROC {fmt(report['macro_auroc']).strip()}, macro AP "
             f"{fmt(report['macro_average_precision']).strip()}, micro AUROC "
             f"{fmt(report['micro_auroc']).strip()}, micro AP "
             f"{fmt(report['micro_average_precision']).strip()}",
             *_interval_lines(report, ("macro_auroc", "macro_average_precision",
                                       "micro_auroc")),
             *_evidence_lines(report),
             f"thresholds: {report['threshold_rule']} on split {report['threshold_split']}",
             f"{'label':20s} {'auroc':>9s} {'ap':>9s} {'thresh':>9s} {'sens':>9s} {'spec':>9s} "
             f"{'pos':>6s} {'neg':>6s} {'unknown':>7s}"]
    for name, row in report["per_label"].items():
        lines.append(f"{name[:20]:20s} {fmt(row['auroc'])} {fmt(row['average_precision'])} "
                     f"{fmt(row['threshold'])} {fmt(row['sensitivity'])} "
                     f"{fmt(row['specificity'])} {row['positives']:6d} {row['negatives']:6d} "
                     f"{row['unknown']:7d}")
        if row["status"] != "ok":
            lines.append(f"  {name}: {row['status']}")
    if report["labels_without_positives"]:
        lines.append("left out of the macro means (no positives here): "
                     + ", ".join(report["labels_without_positives"]))
    return "\n".join(lines)


def _segmentation_text(report: dict) -> str:
    lines = [f"{report['checkpoint']} on split {report['split']} ({report['num_images']} "
             f"images): mean Dice {report['mean_dice']:.4f}, mean IoU {report['mean_iou']:.4f}, "
             f"pixel accuracy {report['pixel_accuracy']:.4f}, mean HD95 "
             f"{report['mean_hd95']:.2f} px",
             f"(means over {report['mean_over']})",
             f"{'class':16s} " + " ".join(f"{m:>9s}" for m in METRICS)]
    for name, row in report["per_class"].items():
        lines.append(f"{name[:16]:16s} " + " ".join(
            "      n/a" if row[m] is None else f"{row[m]:9.4f}" for m in METRICS))
    return "\n".join(lines)


def watch(settings: EvalSettings, interval_secs: float, timeout_secs: float | None = None,
          on_report: Callable[[dict], object] | None = None) -> int:
    """Evaluate every new checkpoint in `checkpoint_path` (a train_dir) once; returns count.

    Stops after `timeout_secs` without a new checkpoint (None: never).
    """
    seen: set[str] = set()
    last_new = time.monotonic()
    while True:
        latest = tf.train.latest_checkpoint(settings.checkpoint_path)
        if latest and latest not in seen:
            seen.add(latest)
            report = evaluate(settings, latest)
            (on_report or (lambda r: log.info("\n%s", summary_text(r))))(report)
            last_new = time.monotonic()
        elif timeout_secs is not None and time.monotonic() - last_new > timeout_secs:
            return len(seen)
        time.sleep(interval_secs)
