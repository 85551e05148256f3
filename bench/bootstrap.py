"""The patient-level cluster bootstrap: 2,000 replicates over 20,000 predictions x 14
labels on one core (issue 31's target: at most 10 s), against the naive peer that calls
scikit-learn's roc_auc_score and average_precision_score on every replicate's resampled
rows (timed on a few replicates and scaled).

    make bench-bootstrap   (or: python -m bench.bootstrap)
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from absl import app, flags
from sklearn.metrics import average_precision_score, roc_auc_score

from training.evaluation.statistics import Column, bootstrap_intervals, metric_set

FLAGS = flags.FLAGS
flags.DEFINE_integer("predictions", 20000, "Images.")
flags.DEFINE_integer("labels", 14, "Labels.")
flags.DEFINE_integer("replicates", 2000, "Bootstrap replicates.")
flags.DEFINE_integer("images_per_patient", 3, "Images of one patient.")
flags.DEFINE_integer("naive_replicates", 10, "Replicates the naive peer is timed on.")


def main(argv: list[str]) -> None:
    del argv
    rng = np.random.default_rng(0)
    n, labels = FLAGS.predictions, FLAGS.labels
    truth = rng.random((n, labels)) < 0.15
    scores = np.clip(rng.normal(0.3 + 0.3 * truth, 0.2), 0, 1).round(4)
    clusters = np.arange(n) // FLAGS.images_per_patient
    columns = [Column(str(k), np.ones(n, bool), truth[:, k], scores[:, k], scores[:, k] >= 0.5,
                      scores[:, k]) for k in range(labels)]
    start = time.perf_counter()
    intervals = bootstrap_intervals(metric_set(columns, None, clusters), clusters,
                                    FLAGS.replicates, seed=0)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    patients = int(clusters.max()) + 1
    members = [np.nonzero(clusters == p)[0] for p in range(patients)]
    for _ in range(FLAGS.naive_replicates):
        rows = np.concatenate([members[p] for p in rng.integers(0, patients, patients)])
        for k in range(labels):
            roc_auc_score(truth[rows, k], scores[rows, k])
            average_precision_score(truth[rows, k], scores[rows, k])
        roc_auc_score(truth[rows].ravel(), scores[rows].ravel())
        average_precision_score(truth[rows].ravel(), scores[rows].ravel())
    naive = (time.perf_counter() - start) / FLAGS.naive_replicates * FLAGS.replicates
    macro = intervals["macro_auroc"]
    print(f"{FLAGS.replicates} replicates x {n} predictions x {labels} labels, "
          f"{patients} patients, one core: {ours:.1f} s (percentile and BCa intervals of "
          f"{len(intervals)} figures, per-label AUROC, AP, sensitivity, specificity, macro "
          "and micro)")
    print(f"naive peer (scikit-learn on resampled rows, per-label and micro AUROC and AP "
          f"only): {naive:.1f} s projected from {FLAGS.naive_replicates} replicates; "
          f"ratio {naive / ours:.1f}x")
    print(f"macro AUROC {macro.estimate:.4f}, 95 % percentile interval "
          f"{macro.percentile[0]:.4f}-{macro.percentile[1]:.4f}")


if __name__ == "__main__":
    app.run(main)
