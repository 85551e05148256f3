"""All four steps in one call (the seed's generate_training_data.sh).

    python -m datasets.synthetic_volumes.generate_training_data \\
        --totalsegmentator_path DIR --n_ensembles 100 --val_count 20 \\
        [--output_dir ./synthetic_volumes --side_length 128 --max_workers N --seed 0]

OUTPUT_DIR gets label_ensembles/, synthesized_views/view{1,2}/ and h5_w_segs/.
Every step skips what a previous run finished.
"""

from __future__ import annotations

import os

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.options import define_option_flags, settings_from_flags
from datasets.synthetic_volumes.ensemble_settings import EnsembleSettings
from datasets.synthetic_volumes.step_flags import define_common_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("totalsegmentator_path", None, "TotalSegmentator v1 tree (step 0 changes "
                    "it in place).")
flags.DEFINE_integer("n_ensembles", 100, "Ensembles and view pairs to make.")
flags.DEFINE_integer("val_count", 20, "Samples (the last ones) for val_data.hdf5.")
flags.DEFINE_string("output_dir", "./synthetic_volumes", "Where every step's output goes.")
define_common_flags()
define_option_flags(EnsembleSettings)


def main(argv: list[str]) -> int:
    """Runs every step from templates to HDF5 files; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from datasets.synthetic_volumes.steps import (
        VIEW1,
        VIEW2,
        generate_h5_files,
        generate_label_ensembles,
        generate_view_pairs,
        preprocess_templates,
    )

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.totalsegmentator_path:
            raise ValueError("--totalsegmentator_path is required")
        labels = os.path.join(FLAGS.output_dir, "label_ensembles")
        views = os.path.join(FLAGS.output_dir, "synthesized_views")
        h5 = os.path.join(FLAGS.output_dir, "h5_w_segs")
        workers, progress = FLAGS.max_workers, FLAGS.progress
        preprocess_templates(FLAGS.totalsegmentator_path, workers, progress)
        settings = settings_from_flags(EnsembleSettings)
        generate_label_ensembles(FLAGS.totalsegmentator_path, labels, FLAGS.n_ensembles,
                                 settings, FLAGS.seed, workers, progress)
        generate_view_pairs(labels, views, 0, FLAGS.n_ensembles, FLAGS.seed, workers, progress)
        summary = generate_h5_files(os.path.join(views, VIEW1), os.path.join(views, VIEW2),
                                    labels, h5, FLAGS.val_count)
        print(f"{FLAGS.n_ensembles} samples of {settings.side_length}^3: {summary.train} training, "
              f"{summary.val} validation, in {h5}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
