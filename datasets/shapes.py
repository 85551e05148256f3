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
from datasets.synthetic.shape_images import ShapeSettings, write_shapes

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Where experiment/ and holding/ are written.")
flags.DEFINE_integer("num_images", 1000, "Images in all (experiment + holding).")
flags.DEFINE_integer("img_height", 128, "Image height.")
flags.DEFINE_integer("img_width", 128, "Image width.")
flags.DEFINE_integer("min_shape_px", 16, "Smallest shape size in pixels.")
flags.DEFINE_integer("max_shape_px", 48, "Largest shape size in pixels.")
flags.DEFINE_float("holding_fraction", 0.1, "Share of images held out in holding/.")
flags.DEFINE_integer("seed", 0, "Random seed: the same seed writes the same images.")
define_progress_flag()


def main(argv: Sequence[str]) -> int:
    """Writes the synthetic shapes segmentation data set; returns the exit code."""
    from console.errors import require_no_arguments, run_cli

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.output_dir:
            raise ValueError("--output_dir is required")
        settings = ShapeSettings(FLAGS.num_images, FLAGS.img_height, FLAGS.img_width,
                                 FLAGS.min_shape_px, FLAGS.max_shape_px,
                                 FLAGS.holding_fraction, FLAGS.seed)
        with tqdm(total=FLAGS.num_images, unit="image", desc="shapes", file=sys.stderr,
                  disable=not FLAGS.progress) as bar:
            counts = write_shapes(FLAGS.output_dir, settings, bar.update)
        print(f"wrote {counts['experiment']} experiment and {counts['holding']} holding "
              f"images with masks and class_dict.csv to {FLAGS.output_dir}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
