"""Step 0: keep TotalSegmentator's labels only (in place): delete each subject's CT and its
empty masks, merge rib_* into all_ribs and vertebrae_* into all_vertebrae.

    python -m datasets.synthetic_volumes.preprocess_totalsegmentator \\
        --totalsegmentator_path DIR [--max_workers N]
"""

from __future__ import annotations

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from datasets.synthetic_volumes.step_flags import define_common_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("totalsegmentator_path", None,
                    "TotalSegmentator v1 tree (sNNNN/segmentations/<organ>.nii.gz); changed "
                    "in place.")
define_common_flags()


def main(argv: list[str]) -> int:
    """Merges TotalSegmentator's masks into templates; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from datasets.synthetic_volumes.steps import preprocess_templates

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.totalsegmentator_path:
            raise ValueError("--totalsegmentator_path is required")
        done = preprocess_templates(FLAGS.totalsegmentator_path, FLAGS.max_workers,
                                    FLAGS.progress)
        print(f"step 0: {len(done)} subjects; {sum(s.ct_removed for s in done)} CT volumes "
              f"removed, {sum(s.empty_removed for s in done)} empty masks removed, "
              f"{sum(s.merged for s in done)} rib/vertebra masks merged, "
              f"{sum(s.kept for s in done)} templates kept")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
