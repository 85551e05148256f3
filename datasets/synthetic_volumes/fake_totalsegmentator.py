"""Write a small TotalSegmentator-v1-shaped template tree (no download needed).

    python -m datasets.synthetic_volumes.fake_totalsegmentator --output_dir DIR \\
        --num_subjects N [--shape 64,64,80 --seed 0]
"""

from __future__ import annotations

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Where sNNNN/ folders go.")
flags.DEFINE_integer("num_subjects", 4, "How many subjects.", lower_bound=1)
flags.DEFINE_list("shape", ["64", "64", "80"], "Voxels per subject volume, x,y,z.")
flags.DEFINE_integer("seed", 0, "Seed of the shapes.")


def main(argv: list[str]) -> int:
    """Writes phantom subjects laid out as TotalSegmentator's; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from datasets.synthetic_volumes.template_phantoms import write_fake_totalsegmentator

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.output_dir:
            raise ValueError("--output_dir is required")
        try:
            shape = tuple(int(v) for v in FLAGS.shape)
        except ValueError:
            raise ValueError(f"--shape must be three integers, got {FLAGS.shape}") from None
        if len(shape) != 3 or min(shape) < 16:
            raise ValueError(f"--shape must be three sides of at least 16, got {FLAGS.shape}")
        written = write_fake_totalsegmentator(FLAGS.output_dir, FLAGS.num_subjects, shape,
                                              FLAGS.seed)
        print(f"wrote {len(written)} TotalSegmentator-shaped subjects to {FLAGS.output_dir}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
