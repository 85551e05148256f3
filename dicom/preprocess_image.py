"""Preprocess a folder of images with one of the four methods.

    python -m dicom.preprocess_image --directory DIR --preprocess contrast_enhancing \
        --value 4 [--output_directory OUT | --in_place]

Methods and value ranges (out-of-range values are clamped with a warning):
  bitwise_downsampling 1-8   keep the VALUE most significant bits
  contrast_enhancing   1-10  stretch, saturating VALUE % of pixels at each end
  color_quantization   2-10  VALUE evenly spaced intensity levels
  target_segmentation  1-10  zero the background below Otsu x (0.5 + VALUE/8)
"""

from __future__ import annotations

import sys

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli
from console.flags import define_progress_flag
from console.text import printable
from dicom.preprocessing.folder import preprocess_folder
from dicom.preprocessing.methods import DEFAULT_VALUE, METHODS

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "directory", None, "Folder of images (a fetched folder's images/ is used when present)."
)
flags.DEFINE_enum(
    "preprocess",
    None,
    list(METHODS),
    "Method: " + "; ".join(f"{m.name} ({m.low}-{m.high}): {m.summary}" for m in METHODS.values()),
)
flags.DEFINE_integer("value", DEFAULT_VALUE, "Strength of the method; clamped to its range.")
flags.DEFINE_string(
    "output_directory",
    None,
    "Where to write; default DIR_<method>_<value> "
    "beside the input. labels/ and metadata.csv are copied.",
)
flags.DEFINE_bool("in_place", False, "Overwrite the input images instead.")
define_progress_flag()
flags.mark_flags_as_required(["directory", "preprocess"])


def _main() -> int:
    summary = preprocess_folder(
        FLAGS.directory,
        FLAGS.preprocess,
        FLAGS.value,
        FLAGS.output_directory,
        FLAGS.in_place,
        FLAGS.progress,
    )
    for name, reason in summary.failed:
        print(printable(f"  skipped {name}: {reason}"), file=sys.stderr)
    print(
        f"{FLAGS.preprocess}: wrote {summary.written} images to "
        f"{summary.output_directory}"
        + (f", skipped {len(summary.failed)}" if summary.failed else "")
    )
    return 0


def main(argv: list[str]) -> int:
    """Preprocesses a folder of PNG images with the method the flags name; returns the exit code.
    """
    require_no_arguments(argv)
    return run_cli(_main)


if __name__ == "__main__":
    app.run(main)
