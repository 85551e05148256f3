"""Patient-grouped k-fold cross-validation: train and evaluate every fold, then summarize.

    python tf_convert_data.py --dataset_dir=DIR --output_dir=RECORDS --need_split=kfold \\
      --num_folds=5
    python cross_validate.py --dataset_dir=RECORDS --train_dir=CV --model_name=resnet_v1_18 \\
      --train_image_size=128 --max_number_of_steps=2000 --keep_best_on=validation_auroc

Every training flag of train_image_classifier.py applies to each fold. Fold k trains
in CV/foldK on every fold but k and is evaluated on fold k (the best checkpoint with
--keep_best_on or --early_stopping_patience, else the last). CV/cv_summary.md and
cv_summary.json give each metric per fold with its mean and standard deviation;
CV/oof_predictions.csv pools the out-of-fold predictions. A killed run, re-run with the
same flags, skips the finished folds and resumes the one it was in (docs/experiments.md).
"""

from __future__ import annotations

import logging

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from training.loop.training_flags import define_training_flags, settings_from_flags

FLAGS = flags.FLAGS
define_training_flags()
flags.DEFINE_list("folds", None, "Run only these folds (e.g. 1,2); default: every fold. The "
                  "summary covers the folds run.")
flags.DEFINE_integer("eval_batch_size", 100, "Examples per batch when evaluating a fold.",
                     lower_bound=1)


def main(argv: list[str]) -> int:
    """Runs (or resumes) patient-grouped k-fold cross-validation and writes its summary; returns
    the exit code."""
    from console.errors import require_no_arguments, run_cli
    from training.experiments.cross_validation import (
        POOLED_PREDICTIONS,
        SUMMARY_MARKDOWN,
        cross_validate,
        summary_table,
    )

    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.INFO)

    def run() -> int:
        if FLAGS.export_dir:
            raise ValueError("--export_dir: export a fold's model with export_model.py "
                             "--checkpoint_path=TRAIN_DIR/foldK")
        try:
            folds = [int(k) for k in FLAGS.folds] if FLAGS.folds else None
        except ValueError:
            raise ValueError(f"--folds must be fold numbers, got {','.join(FLAGS.folds)}"
                             ) from None
        result = cross_validate(settings_from_flags(FLAGS), FLAGS.eval_batch_size, folds)
        print(summary_table(result), end="")
        print(f"summary in {FLAGS.train_dir.rstrip('/')}/{SUMMARY_MARKDOWN}; pooled "
              f"out-of-fold predictions in {FLAGS.train_dir.rstrip('/')}/{POOLED_PREDICTIONS}")
        return 0

    return run_cli(run, "Re-run the same command: finished folds are kept, and the fold it "
                        "was in resumes from its latest checkpoint.")


if __name__ == "__main__":
    app.run(main)
