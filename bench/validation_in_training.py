"""What validation inside training costs: train_image_classifier with --keep_best_on at
the default --eval_every_n_steps (once per epoch) against the same run without it.

    make bench-validation   (or: python -m bench.validation_in_training)

Same records (a tvt split: 80 % train, 10 % validation), net, size, batch, seed and
steps; the best of `--rounds` alternating runs of each counts, and each run's time is
the training loop's own (start-up and graph building excluded by a warm-up run that
fills the same train_dir first). Target (issue 32): at most 10 % more time.
"""

from __future__ import annotations

import os
import shutil
import time

from absl import app, flags

from datasets.records.conversion import ConversionSettings, convert
from tests.support.experiments import learnable_folder
from training.loop.trainer import TrainSettings, train

FLAGS = flags.FLAGS
flags.DEFINE_string("model_name", "resnet_v1_18", "The net.")
flags.DEFINE_integer("image_size", 64, "Input size.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_integer("images", 800, "Images in the records (80 % train, 10 % validation).")
flags.DEFINE_integer("epochs", 4, "Epochs each measured run trains.")
flags.DEFINE_integer("rounds", 2, "Alternating rounds; the best of each counts.")
flags.DEFINE_string("work_dir", "bench_output/validation_in_training", "Scratch directory.")


def _records(root: str) -> str:
    learnable_folder(os.path.join(root, "in"), per_class=FLAGS.images // 2,
                     size=FLAGS.image_size, patients=FLAGS.images // 4)
    out = os.path.join(root, "records")
    convert(ConversionSettings("dicom", os.path.join(root, "in"), out, "dicom",
                               need_split="tvt_split", progress=False, num_workers=2))
    return out


def _timed(records: str, train_dir: str, steps: int, validate: bool) -> float:
    shutil.rmtree(train_dir, ignore_errors=True)
    settings = TrainSettings(
        train_dir=train_dir, dataset_dir=records, model_name=FLAGS.model_name,
        train_image_size=FLAGS.image_size, batch_size=FLAGS.batch_size, seed=0,
        max_number_of_steps=1, save_interval_secs=10**6, save_summaries_secs=10**6,
        keep_best_on="validation_auroc" if validate else None)
    train(settings)  # builds and traces; the timed run resumes from step 1
    start = time.perf_counter()
    train(TrainSettings(**{**settings.__dict__, "max_number_of_steps": steps + 1}))
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    del argv
    os.makedirs(FLAGS.work_dir, exist_ok=True)
    records = _records(FLAGS.work_dir)
    from datasets.records.dataset_spec import read_spec

    spec = read_spec(records)
    steps_per_epoch = -(-spec.splits["train"].num_examples // FLAGS.batch_size)
    steps = FLAGS.epochs * steps_per_epoch
    plain, validated = [], []
    for _ in range(FLAGS.rounds):
        plain.append(_timed(records, os.path.join(FLAGS.work_dir, "plain"), steps, False))
        validated.append(_timed(records, os.path.join(FLAGS.work_dir, "validated"), steps,
                                True))
    ratio = min(validated) / min(plain)
    print(f"{FLAGS.model_name} at {FLAGS.image_size} px, batch {FLAGS.batch_size}, {steps} "
          f"steps ({FLAGS.epochs} epochs of {spec.splits['train'].num_examples} images; "
          f"{spec.splits['validation'].num_examples} validation images, once per epoch)")
    print(f"without validation: {min(plain):.1f} s; with --keep_best_on: {min(validated):.1f} s"
          f" = {ratio:.3f}x ({(ratio - 1) * 100:+.1f} %; target at most +10 %)")


if __name__ == "__main__":
    app.run(main)
