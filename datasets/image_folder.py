"""CLI: write a plain image folder with metadata.csv (see `datasets.interchange.folder_export`).

    python -m datasets.image_folder --dataset_dir TFRECORDS --split_name test --output_dir F
    python -m datasets.image_folder --source_dir FETCHED --output_dir F
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.flags import define_progress_flag
from datasets.interchange.folder_export import METADATA, folder_from_fetched, folder_from_records

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset_dir", None, "A tf_convert_data output directory to read.")
flags.DEFINE_string("split_name", "train", "The split of --dataset_dir to write.")
flags.DEFINE_string(
    "source_dir", None, "Instead of records: a fetched images/ + labels/ folder to copy."
)
flags.DEFINE_string("output_dir", None, "The folder to create (absent or empty).")
define_progress_flag()


def main(argv: Sequence[str]) -> int:
    """Writes a records split, or a fetched folder, as an image folder with metadata.csv; returns
    the exit code."""
    from console.errors import require_no_arguments, run_cli

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.output_dir:
            raise ValueError("--output_dir is required")
        if bool(FLAGS.dataset_dir) == bool(FLAGS.source_dir):
            raise ValueError("give exactly one of --dataset_dir (records) or --source_dir")
        if FLAGS.dataset_dir:
            count = folder_from_records(
                FLAGS.dataset_dir, FLAGS.split_name, FLAGS.output_dir, FLAGS.progress
            )
        else:
            count = folder_from_fetched(FLAGS.source_dir, FLAGS.output_dir, FLAGS.progress)
        print(f"wrote {count} images and {METADATA} to {FLAGS.output_dir}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
