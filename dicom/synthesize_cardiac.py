"""Write synthetic cardiac MR with contours in the seed's layout
(see dicom.synthetic.cardiac_phantoms).

    python -m dicom.synthesize_cardiac --output_dir DIR [--num_patients 4] [--slices 8]
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.options import define_option_flags, settings_from_flags
from dicom.synthetic.cardiac_phantoms import CardiacSpec, synthesize_cardiac

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Where dicoms/, contourfiles/ and link.csv go.")
define_option_flags(CardiacSpec)


def main(argv: Sequence[str]) -> int:
    """Writes synthetic cardiac MR slices with contour files; returns the exit code."""
    from console.errors import require_no_arguments, run_cli

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.output_dir:
            raise ValueError("--output_dir is required")
        spec = settings_from_flags(CardiacSpec)
        planted = synthesize_cardiac(FLAGS.output_dir, spec)
        print(f"wrote {spec.num_patients} patients x {spec.slices_per_patient} slices to "
              f"{FLAGS.output_dir}; planted: " + ", ".join(
                  f"{k} {len(v)}" for k, v in planted.items() if v) or "nothing")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
