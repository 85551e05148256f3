"""Step 3: train_data.hdf5 and val_data.hdf5, one group {:06} per sample holding img
(2, S, S, S) = [view1, view2] and seg (S, S, S), uint8; validation is the last val_count.

    python -m datasets.synthetic_volumes.generate_h5 --val_count 20 \\
        [--view1_dir ./synthesized_views/view1 --view2_dir ./synthesized_views/view2 \\
        --seg_dir ./label_ensembles --out_dir ./h5_w_segs --print_every K]
"""

from __future__ import annotations

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)

FLAGS = flags.FLAGS
flags.DEFINE_integer("val_count", None, "Samples (the last ones) for val_data.hdf5.")
flags.DEFINE_string("view1_dir", "./synthesized_views/view1", "Step 2's first views.")
flags.DEFINE_string("view2_dir", "./synthesized_views/view2", "Step 2's second views.")
flags.DEFINE_string("seg_dir", "./label_ensembles", "Step 1's label ensembles.")
flags.DEFINE_string("out_dir", "./h5_w_segs", "Where the two HDF5 files go.")
flags.DEFINE_integer("print_every", 0, "Print a line every K samples written (0: never).",
                     lower_bound=0)


def main(argv: list[str]) -> int:
    """Packs the views and labels into train and validation HDF5 files; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from datasets.synthetic_volumes.steps import generate_h5_files

    require_no_arguments(argv)

    def run() -> int:
        if FLAGS.val_count is None:
            raise ValueError("--val_count is required")
        summary = generate_h5_files(FLAGS.view1_dir, FLAGS.view2_dir, FLAGS.seg_dir,
                                    FLAGS.out_dir, FLAGS.val_count, FLAGS.print_every)
        state = "already complete" if summary.skipped else "written"
        print(f"step 3: {summary.train} training and {summary.val} validation samples "
              f"{state} in {FLAGS.out_dir}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
