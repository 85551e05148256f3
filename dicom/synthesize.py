"""Write a synthetic DICOM set for the demo, the tests and the benchmark.

python -m dicom.synthesize --output_dir demo/dicom --num_images 200 --seed 0
"""

from __future__ import annotations

import sys

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments
from dicom.synthetic.phantoms import FINDINGS
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Folder to write the DICOM tree into (created).")
flags.DEFINE_integer("num_images", 200, "Number of image files to write.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Random seed; the same seed writes the same files and UIDs.")
flags.DEFINE_integer("size", 128, "Image rows and columns.", lower_bound=16)
flags.DEFINE_integer("images_per_study", 4, "Images in each study.", lower_bound=1)
flags.DEFINE_integer("studies_per_patient", 2, "Studies of each patient.", lower_bound=1)
flags.DEFINE_bool(
    "defects",
    True,
    "Also plant defective files (SR without pixels, truncated "
    "image, text and binary junk) to exercise the reject path.",
)
flags.DEFINE_bool(
    "findings",
    False,
    "Chest radiographs only, with findings planted at --finding_rate each (a nodule, an "
    "opacity at a lung base, an enlarged heart shadow, and one label without any pixel "
    "signal), and their label tables: Data_Entry_2017.csv (ChestX-ray14) and train.csv "
    "(CheXpert, with uncertain -1.0 and blank entries).",
)
flags.DEFINE_float("finding_rate", 0.35, "Share of images carrying each finding.",
                   lower_bound=0.0, upper_bound=1.0)
flags.mark_flag_as_required("output_dir")


def main(argv: list[str]) -> int:
    """Writes the synthetic DICOM studies the flags describe; returns the exit code."""
    require_no_arguments(argv)
    spec = SyntheticSpec(
        FLAGS.num_images,
        FLAGS.seed,
        FLAGS.size,
        FLAGS.images_per_study,
        FLAGS.studies_per_patient,
        FLAGS.defects,
        FLAGS.findings,
        FLAGS.finding_rate,
    )
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
