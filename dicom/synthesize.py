"""Write a synthetic DICOM set for the demo, the tests and the benchmark.

python -m dicom.synthesize --output_dir demo/dicom --num_images 200 --seed 0
"""

from __future__ import annotations

import sys

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments
from console.options import define_option_flags, settings_from_flags
from dicom.synthetic.phantoms import FINDINGS
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Folder to write the DICOM tree into (created).")
define_option_flags(SyntheticSpec)
flags.mark_flag_as_required("output_dir")


def main(argv: list[str]) -> int:
    """Writes the synthetic DICOM studies the flags describe; returns the exit code."""
    require_no_arguments(argv)
    spec = settings_from_flags(SyntheticSpec)
    result = synthesize(FLAGS.output_dir, spec)
    counts: dict[str, int] = {}
    for label in result.labels.values():
        counts[label] = counts.get(label, 0) + 1
    detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(
        f"wrote {len(result.images)} images ({detail}) and {len(result.defective)} "
        f"defective files to {FLAGS.output_dir}",
        file=sys.stdout,
    )
    if result.tables:
        planted = {f: sum(f in v for v in result.findings.values()) for f in FINDINGS}
        print(f"planted {', '.join(f'{k} {v}' for k, v in planted.items())}; label tables "
              f"{', '.join(result.tables.values())}")
    return 0


if __name__ == "__main__":
    app.run(main)
