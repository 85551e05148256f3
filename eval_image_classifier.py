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
from console.options import define_option_flags, settings_from_flags
from training.evaluation.eval_settings import EvalSettings
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
flags.DEFINE_string("dataset_dir", None, "tf_convert_data output directory (default: the one "
                    "the checkpoint was trained on).")
define_option_flags(EvalSettings)
flags.DEFINE_integer("eval_interval_secs", None,
                     "Watch --checkpoint_path (a train_dir) and evaluate every new checkpoint.")
flags.DEFINE_integer("eval_timeout_secs", None,
                     "With --eval_interval_secs: stop after this long without a new checkpoint.")


def main(argv: list[str]) -> int:
    """Evaluates a checkpoint (or, with --eval_interval_secs, each new one) on a split and
    writes its report; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from training.evaluation.eval_run import eval_locations, run_evaluation

    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.INFO)  # the restore line: "restored N of M ..."

    def run() -> int:
        checkpoint_path = chosen_checkpoint(FLAGS.checkpoint_path, FLAGS.checkpoint)
        dataset_dir, eval_dir = eval_locations(checkpoint_path, FLAGS.dataset_dir,
                                               FLAGS.eval_dir, FLAGS.dataset_split_name)
        settings = settings_from_flags(
            EvalSettings, checkpoint_path=checkpoint_path, dataset_dir=dataset_dir,
            eval_dir=eval_dir, model_name=FLAGS.model_name, channels=FLAGS.channels or None)
        return run_evaluation(settings, FLAGS.eval_interval_secs, FLAGS.eval_timeout_secs)

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
