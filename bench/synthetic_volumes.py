"""The 3-D generator's cost per sample at its real size, and what two workers buy.

    make bench-volumes     (or: python -m bench.synthetic_volumes --side_length 128)

Measured on fake TotalSegmentator templates (organ-sized masks in 128x128x160
volumes, 1.5 mm): seconds per label ensemble (step 1) and per view pair
(step 2) in one process, then the same steps over `--workers` processes.
Peer: the one-process run of the same code making the same samples (the
speed-up is its time over the N-worker run's; spawning workers is included).
Target (issue 14): at least 1.8x with 2 workers.
"""

from __future__ import annotations

import os
import shutil
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("side_length", 128, "Side of the generated volumes.")
flags.DEFINE_integer("samples", 24, "Samples made by each run (the same indices in both).")
flags.DEFINE_integer("workers", 2, "Worker processes for the parallel run.")
flags.DEFINE_string("work_dir", "bench_output/volumes", "Scratch folder (replaced).")


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    del argv
    from datasets.synthetic_volumes.ensemble_settings import EnsembleSettings
    from datasets.synthetic_volumes.steps import (
        generate_label_ensembles,
        generate_view_pairs,
        preprocess_templates,
    )
    from datasets.synthetic_volumes.template_phantoms import write_fake_totalsegmentator

    root = FLAGS.work_dir
    shutil.rmtree(root, ignore_errors=True)
    templates = os.path.join(root, "templates")
    write_fake_totalsegmentator(templates, 2, (128, 128, 160))
    preprocess_templates(templates, 1, progress=False)
    settings = EnsembleSettings(FLAGS.side_length)
    rates = {}
    count = FLAGS.samples
    for label, workers in (("1 process", 1), (f"{FLAGS.workers} workers", FLAGS.workers)):
        out = os.path.join(root, f"w{workers}")
        ensembles = _timed(lambda out=out, workers=workers: (
            generate_label_ensembles(templates, os.path.join(out, "labels"), count, settings,
                                     0, workers, progress=False)))
        pairs = _timed(lambda out=out, workers=workers: generate_view_pairs(
            os.path.join(out, "labels"), os.path.join(out, "views"), 0, count, 0, workers,
            progress=False))
        rates[workers] = (count / ensembles, count / pairs)
        print(f"{label}: {ensembles / count:.2f} s per {FLAGS.side_length}^3 ensemble, "
              f"{pairs / count:.2f} s per view pair ({count} samples)")
    single, parallel = rates[1], rates[FLAGS.workers]
    print(f"speed-up with {FLAGS.workers} workers over one process: step 1 "
          f"{parallel[0] / single[0]:.2f}x, step 2 {parallel[1] / single[1]:.2f}x "
          f"(target >= 1.8x on 2 workers; {os.cpu_count()} cores here)")


if __name__ == "__main__":
    app.run(main)
