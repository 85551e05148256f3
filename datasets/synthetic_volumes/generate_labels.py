"""Step 1: label ensembles from randomly drawn and warped organ templates.

    python -m datasets.synthetic_volumes.generate_labels --n_ensembles 100 \\
        --templatedir DIR [--min_templates 20 --max_templates 39 --side_length 128 \\
        --savedir ./label_ensembles --max_workers N --seed 0]

Writes SAVEDIR/NNNNNN.nii.gz (uint8, identity affine); existing ones are kept.
"""

from __future__ import annotations

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.options import define_option_flags, settings_from_flags
from datasets.synthetic_volumes.ensemble_settings import EnsembleSettings
from datasets.synthetic_volumes.step_flags import define_common_flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("n_ensembles", None, "How many ensembles (indices 0..N-1).")
flags.DEFINE_string("templatedir", None, "The step-0 TotalSegmentator tree.")
flags.DEFINE_string("savedir", "./label_ensembles", "Where the ensembles go.")
define_common_flags()
define_option_flags(EnsembleSettings)


def main(argv: list[str]) -> int:
    """Writes label ensembles drawn from the templates; returns the exit code."""
    from console.errors import require_no_arguments, run_cli
    from datasets.synthetic_volumes.steps import generate_label_ensembles

    require_no_arguments(argv)

    def run() -> int:
        if not FLAGS.templatedir or FLAGS.n_ensembles is None:
            raise ValueError("--templatedir and --n_ensembles are required")
        settings = settings_from_flags(EnsembleSettings)
        counts = generate_label_ensembles(FLAGS.templatedir, FLAGS.savedir, FLAGS.n_ensembles,
                                          settings, FLAGS.seed, FLAGS.max_workers,
                                          FLAGS.progress)
        print(f"step 1: {counts.made} ensembles written, {counts.skipped} already present, "
              f"in {FLAGS.savedir}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    app.run(main)
