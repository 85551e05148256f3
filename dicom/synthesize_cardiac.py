"""Write synthetic cardiac MR with contours in the seed's layout
(see dicom.synthetic.cardiac_phantoms).

    python -m dicom.synthesize_cardiac --output_dir DIR [--num_patients 4] [--slices 8]
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Where dicoms/, contourfiles/ and link.csv go.")
flags.DEFINE_integer("num_patients", 4, "Patients (at least 4 to plant every defect).",
                     lower_bound=1)
flags.DEFINE_integer("slices", 8, "Slices per patient.", lower_bound=2)
flags.DEFINE_integer("size", 128, "Rows and columns of each slice.", lower_bound=48)
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_boolean("defects", True,
                     "Plant a shifted-outer-contour patient, a missing slice, an inner-only "
                     "slice, a malformed contour line and a link.csv row without files.")


def main(argv: Sequence[str]) -> int:
    """Writes synthetic cardiac MR slices with contour files; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from dicom.synthetic.cardiac_phantoms import CardiacSpec, synthesize_cardiac

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.output_dir:
            raise ValueError("--output_dir is required")
        planted = synthesize_cardiac(FLAGS.output_dir, CardiacSpec(
            FLAGS.num_patients, FLAGS.slices, FLAGS.size, FLAGS.seed, FLAGS.defects))
        print(f"wrote {FLAGS.num_patients} patients x {FLAGS.slices} slices to "
              f"{FLAGS.output_dir}; planted: " + ", ".join(
                  f"{k} {len(v)}" for k, v in planted.items() if v) or "nothing")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
