"""Step 2: two intensity views per label ensemble (same labels, independent appearance).

    python -m datasets.synthetic_volumes.generate_views --end_idx 100 \\
        [--start_idx 0 --ensembledir ./label_ensembles --savedir ./synthesized_views \\
        --max_workers N --seed 0]

Writes SAVEDIR/view1/NNNNNN.nii.gz and SAVEDIR/view2/NNNNNN.nii.gz (uint8).
"""

from __future__ import annotations

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from datasets.synthetic_volumes.step_flags import define_common_flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("start_idx", 0, "First ensemble index.")
flags.DEFINE_integer("end_idx", None, "One past the last ensemble index.")
flags.DEFINE_string("ensembledir", "./label_ensembles", "Step 1's output.")
flags.DEFINE_string("savedir", "./synthesized_views", "Where view1/ and view2/ go.")
define_common_flags()


def main(argv: list[str]) -> int:
    """Writes two synthetic views of each label ensemble; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from datasets.synthetic_volumes.steps import generate_view_pairs

    require_no_arguments(argv)

    def run() -> int:
        if FLAGS.end_idx is None:
            raise ValueError("--end_idx is required")
        counts = generate_view_pairs(FLAGS.ensembledir, FLAGS.savedir, FLAGS.start_idx,
                                     FLAGS.end_idx, FLAGS.seed, FLAGS.max_workers,
                                     FLAGS.progress)
        print(f"step 2: {counts.made} view pairs written, {counts.skipped} already present, "
              f"in {FLAGS.savedir}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
