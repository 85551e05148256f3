"""CLI: write one split of a converted dataset into one HDF5 file
(see `datasets.interchange.hdf5_conversion`).

    python -m datasets.hdf5_export --dataset_dir TFRECORDS --split_name train \\
      --output train.h5 [--image_size 128,128] [--channels 1]
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.flags import define_channels_flag, define_progress_flag
from datasets.interchange.hdf5_conversion import export_split, parse_image_size

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset_dir", None, "A tf_convert_data output directory.")
flags.DEFINE_string("split_name", "train", "The split to export.")
flags.DEFINE_string("output", None, "The HDF5 file to write (e.g. train.h5).")
flags.DEFINE_string("image_size", None, "H,W to resize to; needed when image sizes differ.")
define_channels_flag("the dataset's channels")
define_progress_flag()


def main(argv: Sequence[str]) -> int:
    """Writes one split of a records dataset as an HDF5 file; returns the exit code."""
    from console.errors import require_no_arguments, run_cli

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.dataset_dir or not FLAGS.output:
            raise ValueError("--dataset_dir and --output are required")
        if FLAGS.channels not in (0, 1, 3):
            raise ValueError(f"--channels must be 1 or 3, got {FLAGS.channels}")
        count = export_split(FLAGS.dataset_dir, FLAGS.split_name, FLAGS.output,
                             parse_image_size(FLAGS.image_size), FLAGS.channels or None,
                             FLAGS.progress)
        print(f"wrote {count} examples of split {FLAGS.split_name} to {FLAGS.output}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
