"""Export a checkpoint as a SavedModel that takes encoded image bytes.

    python export_model.py --checkpoint_path=DIR/train --export_dir=DIR/saved_model

Signatures: serving_default (PNG/JPEG bytes -> probabilities, class_ids, classes)
and predict_images (float32 images in [0, 1] at the model's size). classify_image.py
accepts the export directory as --checkpoint_path.
"""

from __future__ import annotations

import logging

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from training.serving.model_flags import (
    chosen_checkpoint,
    define_checkpoint_choice_flag,
    define_model_flags,
    define_serving_flags,
    overrides_from_flags,
)

FLAGS = flags.FLAGS
define_model_flags("Checkpoint prefix or train_dir (latest), or a TF-Slim checkpoint.")
flags.DEFINE_string("export_dir", None, "The SavedModel directory to write (replaced).")
flags.DEFINE_string("dataset_dir", None, "Class names from this dataset when the checkpoint "
                    "records none.")
flags.DEFINE_integer("image_size", None, "Input size; default: the training size.")
flags.DEFINE_boolean("use_moving_averages", True, "Export moving averages when present.")
define_serving_flags()
define_checkpoint_choice_flag()


def main(argv: list[str]) -> int:
    """Exports a checkpoint as a SavedModel with its provenance; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from training.serving.export import export_saved_model

    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.INFO)  # the restore line: "restored N of M ..."

    def run() -> int:
        if not FLAGS.checkpoint_path or not FLAGS.export_dir:
            raise ValueError("--checkpoint_path and --export_dir are required")
        spec = None
        if FLAGS.dataset_dir:
            from datasets.records.dataset_spec import read_spec

            spec = read_spec(FLAGS.dataset_dir)
        checkpoint_path = chosen_checkpoint(FLAGS.checkpoint_path, FLAGS.checkpoint)
        config = export_saved_model(checkpoint_path, FLAGS.export_dir,
                                    overrides_from_flags(FLAGS.image_size), spec,
                                    FLAGS.use_moving_averages)
        names = ", ".join(config.class_names[:10]) + (
            f", ... ({config.num_classes} in all)" if config.num_classes > 10 else "")
        print(f"exported {config.model_name} ({config.image_size}x{config.image_size}x"
              f"{config.channels}, {config.preprocessing} preprocessing, classes {names}) to "
              f"{FLAGS.export_dir}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
