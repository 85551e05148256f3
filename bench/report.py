"""What the evaluation report costs: evaluating a 10,000-image split at 64 px with the
report (report.html, model_card.md, the most confident errors with their thumbnails read
back from the records, the data make-up), against the same evaluation without it
(--report=false --failures_per_class=0) in the same run: issue 31's target is at most
10 % more. Both run the default 1,000-replicate bootstrap, and neither fits the
calibration (--calibrate predicts the validation split too: a cost of its own).

    make bench-report   (or: python -m bench.report)
"""

from __future__ import annotations

import csv
import os
import tempfile
import time

import numpy as np
from absl import app, flags

from datasets.records.conversion import ConversionSettings, convert
from files.png_codec import write_image
from training.evaluation.evaluator import EvalSettings, evaluate
from training.loop.trainer import TrainSettings, train

FLAGS = flags.FLAGS
flags.DEFINE_integer("images", 10000, "Images in the evaluated split.")
flags.DEFINE_integer("size", 64, "Image side, pixels.")
flags.DEFINE_integer("rounds", 5, "Evaluations of each kind, alternated; the best counts.")


def _folder(root: str, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "labels"))
    rows = []
    for index in range(count):
        label = "bright" if index % 2 else "dark"
        pixels = rng.normal(90 + 40 * (index % 2), 30, (size, size)).clip(0, 255)
        write_image(os.path.join(root, "images", f"{index:06d}.png"), pixels.astype(np.uint8))
        with open(os.path.join(root, "labels", f"{index:06d}.txt"), "w") as handle:
            handle.write(label + "\n")
        rows.append({"ID": f"{index:06d}", "patient_key": f"P{index // 3:05d}",
                     "Manufacturer": ("Acme", "Other")[index // 3 % 2],
                     "PatientSex": "MF"[index // 6 % 2], "PatientAge": f"0{30 + index % 50}Y"})
    with open(os.path.join(root, "metadata.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str]) -> None:
    del argv
    work = tempfile.mkdtemp(prefix="medcv-bench-report-")
    total = int(FLAGS.images / 0.8)  # the test split holds `images`
    _folder(os.path.join(work, "in"), total, FLAGS.size)
    records = os.path.join(work, "records")
    convert(ConversionSettings("bench", os.path.join(work, "in"), records, "bench",
                               need_split="tvt_split", validation_size=0.1, test_size=0.8,
                               progress=False, num_workers=2))
    train_dir = os.path.join(work, "run")
    train(TrainSettings(train_dir=train_dir, dataset_dir=records, model_name="mobilenet_v2_035",
                        train_image_size=FLAGS.size, batch_size=32, max_number_of_steps=5,
                        log_every_n_steps=5))
    configurations = (("without the report", {"report": False, "failures_per_class": 0}),
                      ("with the report", {}))
    timings: dict[str, float] = {}
    for round_number in range(FLAGS.rounds):  # alternated; the best of each, so warm-up and
        for name, extra in configurations:   # the file cache favour neither
            settings = EvalSettings(checkpoint_path=train_dir, dataset_dir=records,
                                    eval_dir=os.path.join(work, name.replace(" ", "_")),
                                    calibrate=False, **extra)
            start = time.perf_counter()
            report = evaluate(settings)
            elapsed = time.perf_counter() - start
            timings[name] = min(timings.get(name, elapsed), elapsed)
            print(f"round {round_number + 1}, {name}: {elapsed:.1f} s "
                  f"({report['num_examples']} images)", flush=True)
    ratio = timings["with the report"] / timings["without the report"]
    print(f"best of {FLAGS.rounds}: without {timings['without the report']:.1f} s, with "
          f"{timings['with the report']:.1f} s; the report adds {100 * (ratio - 1):.1f} % "
          f"(ratio {ratio:.3f}; target <= 1.10)")


if __name__ == "__main__":
    app.run(main)
