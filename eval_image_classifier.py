"""Evaluate a checkpoint: accuracy, top-5 recall, per-class precision/recall/F1, ROC AUC,
and the confusion matrix (printed, and as a PNG with class names in --eval_dir).

    python eval_image_classifier.py --alsologtostderr --model_name=inception_v4 \\
      --checkpoint_path=DIR/inception_v4 --dataset_dir=RECORDS

--checkpoint_path is a prefix (DIR/model.ckpt-840) or a train_dir (its latest);
with --eval_interval_secs the train_dir is watched and each new checkpoint is
evaluated once. Metrics go to EVAL_DIR/metrics.json (and metrics-STEP.json) and
to TensorBoard summaries.

Segmentation checkpoints (unet, unet_plus_plus) report per-class and mean Dice,
IoU, precision, recall, F1, HD95 (pixels) and pixel accuracy. Each metric is
computed per image and class, averaged over images, then over the foreground
classes (class 0 is background). Empty masks, per image and class: ground truth
and prediction both empty -> Dice = IoU = 1, HD95 = 0; empty ground truth with a
false positive -> Dice = IoU = 0, HD95 = image diagonal; a missed structure ->
Dice = IoU = 0, HD95 = image diagonal.

Multi-label checkpoints (records from a labels.csv) report, per label, AUROC,
average precision, and sensitivity and specificity at a threshold; then macro and
micro means. Each label's threshold is chosen on the validation split with
--threshold_rule and written to the train_dir as thresholds.json, which
classify_image and the SavedModel use. Entries masked out in the records (U-Ignore,
ignored blanks) count nowhere; a label without positives in a split is reported as
such and left out of the macro means. ROC curves go to EVAL_DIR/roc_curves.png.

Evidence for a study (docs/evaluation.md): 95 % intervals from a patient-level
cluster bootstrap (--bootstrap), calibration with temperature or Platt scaling
fitted on the validation split and saved as calibration.json (--calibrate),
every metric per subgroup of a catalog attribute (--subgroups), a paired
comparison with another model (--compare_with), the most confident errors, and
the data's make-up: in metrics.json, predictions.csv, a self-contained
report.html and model_card.md.
"""

from __future__ import annotations

import logging

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from nets.conv_blocks import PREPROCESSING_NAMES
from training.classification.multilabel_metrics import THRESHOLD_RULES
from training.serving.model_flags import (
    chosen_checkpoint,
    define_checkpoint_choice_flag,
    define_model_flags,
)

FLAGS = flags.FLAGS
define_model_flags("Checkpoint prefix, or a train_dir whose latest checkpoint is evaluated, "
                   "or a TF-Slim checkpoint.", checkpoint_default="/tmp/tfmodel/")
define_checkpoint_choice_flag()
flags.DEFINE_string("eval_dir", None, "Where metrics, the confusion matrix PNG and summaries "
                    "go (default: CHECKPOINT_DIR/eval_SPLIT).")
flags.DEFINE_string("dataset_name", None, "Checked against --dataset_dir's spec when given.")
flags.DEFINE_string("dataset_dir", None, "tf_convert_data output directory (default: the one "
                    "the checkpoint was trained on).")
flags.DEFINE_string("dataset_split_name", "test", "The split to evaluate.")
flags.DEFINE_integer("batch_size", 100, "Examples per batch.", lower_bound=1)
flags.DEFINE_integer("max_num_batches", None, "Evaluate at most this many batches.")
flags.DEFINE_integer("eval_image_size", None, "Input size; default: the training size.")
flags.DEFINE_enum("preprocessing_name", None, list(PREPROCESSING_NAMES),
                  "TF-Slim's preprocessing (inception: central 87.5% crop, [-1, 1]; vgg); "
                  "default: what the train_dir records, else TF-Slim's for the net.")
flags.DEFINE_float("moving_average_decay", None,
                   "TF-Slim checkpoints: evaluate their ExponentialMovingAverage shadow "
                   "variables, as TF-Slim's eval did when given this flag.")
flags.DEFINE_boolean("use_moving_averages", True,
                     "medcv checkpoints: evaluate the weights' moving averages when the "
                     "checkpoint holds them.")
flags.DEFINE_enum("threshold_rule", "youden", list(THRESHOLD_RULES),
                  "Multi-label: how each label's threshold is chosen on the validation split "
                  "(youden: the largest sensitivity + specificity - 1; f1: the largest F1). "
                  "Written to the train_dir as thresholds.json.")
flags.DEFINE_integer("bootstrap", 1000,
                     "Replicates of the patient-level cluster bootstrap behind the 95 % "
                     "intervals in metrics.json (percentile and BCa; a patient's images are "
                     "resampled together); 0: no intervals.", lower_bound=0)
flags.DEFINE_integer("bootstrap_seed", 0, "Seed of the bootstrap: the same seed gives the "
                     "same intervals.")
flags.DEFINE_list("subgroups", [],
                  "Catalog attributes the records carry (tf_convert_data --attributes; "
                  "default set: Manufacturer, ManufacturerModelName, PatientSex, age_band, "
                  "ViewPosition, site, study_year): every metric with its interval per value, "
                  "and the largest gap between values, e.g. "
                  "--subgroups=Manufacturer,PatientSex,age_band,ViewPosition,site.")
flags.DEFINE_integer("min_subgroup_size", 30,
                     "Subgroups with fewer images are reported as too small, not computed.",
                     lower_bound=1)
flags.DEFINE_string("compare_with", None,
                    "Another model on the same split: its predictions.csv (from its eval), or "
                    "a checkpoint (prefix or train_dir) evaluated here. Gives DeLong's paired "
                    "test and a paired patient-level bootstrap of the AUROC difference, per "
                    "class or label.")
flags.DEFINE_boolean("calibrate", True,
                     "Fit temperature scaling (single-label) or per-label Platt scaling "
                     "(multi-label) on the validation split, save it beside the checkpoint as "
                     "calibration.json (classify_image, the SavedModel and the SRs apply it) "
                     "and report calibration before and after.")
flags.DEFINE_boolean("report", True,
                     "Write report.html (self-contained: intervals, calibration, subgroups, "
                     "failures, data make-up) and model_card.md to --eval_dir.")
flags.DEFINE_integer("failures_per_class", 4,
                     "Most confident errors shown per class or label (thumbnails and their "
                     "catalog attributes); 0: none.", lower_bound=0)
flags.DEFINE_integer("eval_interval_secs", None,
                     "Watch --checkpoint_path (a train_dir) and evaluate every new checkpoint.")
flags.DEFINE_integer("eval_timeout_secs", None,
                     "With --eval_interval_secs: stop after this long without a new checkpoint.")


def main(argv: list[str]) -> int:
    import os

    from console.errors import require_no_arguments, run_cli
    from datasets.records.tasks import record_task
    from training.evaluation.evaluator import EvalSettings, evaluate, summary_text, watch
    from training.loop.run_config import find_run_config

    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.INFO)  # the restore line: "restored N of M ..."

    def run() -> int:
        checkpoint_path = chosen_checkpoint(FLAGS.checkpoint_path, FLAGS.checkpoint)
        dataset_dir = FLAGS.dataset_dir
        if not dataset_dir:
            config = find_run_config(checkpoint_path)
            if config is None or not config.dataset_dir:
                raise ValueError("--dataset_dir is required (the checkpoint does not record "
                                 "the dataset it was trained on)")
            dataset_dir = config.dataset_dir
        base = checkpoint_path if os.path.isdir(checkpoint_path) else (
            os.path.dirname(checkpoint_path))
        settings = EvalSettings(
            checkpoint_path=checkpoint_path, dataset_dir=dataset_dir,
            eval_dir=FLAGS.eval_dir or os.path.join(base, f"eval_{FLAGS.dataset_split_name}"),
            dataset_name=FLAGS.dataset_name, dataset_split_name=FLAGS.dataset_split_name,
            model_name=FLAGS.model_name, batch_size=FLAGS.batch_size,
            max_num_batches=FLAGS.max_num_batches, eval_image_size=FLAGS.eval_image_size,
            channels=FLAGS.channels or None, use_moving_averages=FLAGS.use_moving_averages,
            moving_average_decay=FLAGS.moving_average_decay,
            preprocessing_name=FLAGS.preprocessing_name, threshold_rule=FLAGS.threshold_rule,
            bootstrap=FLAGS.bootstrap, bootstrap_seed=FLAGS.bootstrap_seed,
            subgroups=tuple(FLAGS.subgroups), min_subgroup_size=FLAGS.min_subgroup_size,
            compare_with=FLAGS.compare_with, calibrate=FLAGS.calibrate, report=FLAGS.report,
            failures_per_class=FLAGS.failures_per_class,
        )
        if FLAGS.eval_interval_secs:
            count = watch(settings, FLAGS.eval_interval_secs, FLAGS.eval_timeout_secs,
                          lambda report: print(summary_text(report), flush=True))
            print(f"evaluated {count} checkpoint(s)")
            return 0
        report = evaluate(settings)
        print(summary_text(report))
        where = f"metrics in {settings.eval_dir}/metrics.json"
        if settings.report:
            where += (f", report in {settings.eval_dir}/report.html, model card in "
                      f"{settings.eval_dir}/model_card.md")
        if report.get("calibration_scaling"):
            where += f", calibration in {os.path.join(base, 'calibration.json')}"
        kind = record_task(report.get("task"))
        if not kind.dense:
            where += f", predictions in {settings.eval_dir}/predictions.csv"
        if kind.multi_label:
            where += (f", ROC curves in {settings.eval_dir}/roc_curves.png, thresholds in "
                      f"{os.path.join(base, 'thresholds.json')}")
        elif not kind.dense:
            where += f", confusion matrix in {settings.eval_dir}/confusion_matrix.png"
        print(where)
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
