"""Write the synthetic shapes segmentation set (see `datasets.synthetic.shape_images`).

    python -m datasets.shapes --output_dir DIR --num_images 1000 --img_height 128 \\
      --img_width 128 --min_shape_px 16 --max_shape_px 48

DIR/experiment is split 8:1:1 by tf_convert_data --need_split=tvt_split
--validation_size=0.1 --test_size=0.1; DIR/holding is kept out of all of it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from absl import app, flags
from tqdm import tqdm

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.flags import define_progress_flag
from console.options import define_option_flags, settings_from_flags
from datasets.synthetic.shape_images import ShapeSettings, write_shapes

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Where experiment/ and holding/ are written.")
define_option_flags(ShapeSettings)
define_progress_flag()


def main(argv: Sequence[str]) -> int:
    """Writes the synthetic shapes segmentation data set; returns the exit code."""
    from console.errors import require_no_arguments, run_cli

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.output_dir:
            raise ValueError("--output_dir is required")
        settings = settings_from_flags(ShapeSettings)
        with tqdm(total=settings.num_images, unit="image", desc="shapes", file=sys.stderr,
                  disable=not FLAGS.progress) as bar:
            counts = write_shapes(FLAGS.output_dir, settings, bar.update)
        print(f"wrote {counts['experiment']} experiment and {counts['holding']} holding "
              f"images with masks and class_dict.csv to {FLAGS.output_dir}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
