"""Cardiac-MR contour files -> masks, QC overlays, an HDF5 store and a missing-data report.

    python -m dicom.contours --data_dir DIR --output_dir OUT [--overlays]

See dicom/contour_masks.py for the input layout and the pixel-centre rule, and
dicom/contour_dataset.py for what OUT holds. OUT is ready for
`tf_convert_data.py --dataset_name=segmentation --dataset_dir=OUT`.
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.flags import define_progress_flag
from console.text import printable

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Folder with dicoms/, contourfiles/ and link.csv.")
flags.DEFINE_string("output_dir", None, "Where images/, masks/, overlays/, cardiac.h5 go.")
flags.DEFINE_boolean("overlays", False, "Draw each slice's contours on its windowed image.")
flags.DEFINE_boolean("hdf5", True, "Write cardiac.h5 (one group per patient).")
flags.DEFINE_boolean("keep_flagged", False,
                     "Also label slices whose outer contour does not contain the inner one.")
define_progress_flag()


def main(argv: Sequence[str]) -> int:
    """Builds the contour training set from its flags; returns the process exit code."""
    from console.errors import require_no_arguments, run_cli
    from dicom.cardiac.contour_dataset import build_contour_dataset

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.data_dir or not FLAGS.output_dir:
            raise ValueError("--data_dir and --output_dir are required")
        summary = build_contour_dataset(FLAGS.data_dir, FLAGS.output_dir, FLAGS.overlays,
                                        FLAGS.hdf5, FLAGS.keep_flagged, FLAGS.progress)
        for problem in summary.problems:
            print(printable(f"  {problem.line()}"))
        print(summary.line(FLAGS.output_dir))
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
