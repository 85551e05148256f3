"""Train a classifier on a tf_convert_data output, with TF-Slim's flags.

    python train_image_classifier.py --train_dir=DIR/inception_v4 \\
      --dataset_dir=RECORDS --model_name=inception_v4 --max_number_of_steps=1680

Fine-tune: --checkpoint_path=CKPT --checkpoint_exclude_scopes=InceptionV4/Logits,
InceptionV4/AuxLogits --trainable_scopes=InceptionV4/Logits,InceptionV4/AuxLogits.
Scopes are TF-Slim's strings; Keras layer names use '.' for '/' (see nets/scopes.py).
Re-running with the same --train_dir resumes from its latest model.ckpt-N.
"""

from __future__ import annotations

import logging

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from training.loop.training_flags import define_training_flags, settings_from_flags

FLAGS = flags.FLAGS
define_training_flags()


def main(argv: list[str]) -> int:
    """Trains the net the flags name, resuming from the train_dir's last checkpoint; returns the
    exit code."""
    from console.errors import require_no_arguments, run_cli
    from training.loop.distribution import is_chief
    from training.loop.trainer import train

    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.INFO)

    def run() -> int:
        result = train(settings_from_flags(FLAGS))
        if not is_chief():  # a worker of several: the chief reports and exports
            print(f"worker done at step {result.step}: loss {result.loss:.4f}")
            return 0
        print(f"trained {FLAGS.model_name} to step {result.step}: loss {result.loss:.4f}; "
              f"checkpoint {result.checkpoint}")
        if result.best is not None and result.best.step is not None:
            print(f"best {result.best.metric} {result.best.value:.4f} at step "
                  f"{result.best.step}{' (stopped early)' if result.stopped_early else ''}; "
                  "use it with --checkpoint=best")
        if FLAGS.export_dir:
            from training.loop.run_config import ModelOverrides
            from training.serving.export import export_saved_model

            export_saved_model(result.checkpoint, FLAGS.export_dir, ModelOverrides(
                model_name=FLAGS.model_name, image_size=FLAGS.train_image_size,
                channels=FLAGS.channels or None), result.spec)
            print(f"exported a SavedModel to {FLAGS.export_dir}")
        return 0

    return run_cli(run, "The latest checkpoint was saved; re-run to resume.")


if __name__ == "__main__":
    app.run(main)
