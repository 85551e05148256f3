"""Training steps/s: train_image_classifier's loop against Keras `model.fit`, one run.

    make bench-train   (or: python -m bench.train_step --model_name resnet_v1_18)

Same net, batch size, optimizer (Adam), loss (softmax cross-entropy), no weight
decay, no augmentation, and the same in-memory data for both: one random batch
repeated (the pipeline's synthetic mode), so only the step itself is measured.
Warm-up steps (tracing) are excluded. Target (issue 4): ours >= 0.95x fit.
Then ours on multi-label records (masked sigmoid loss) against ours on single-label
records with as many classes (softmax), same net, batch and size; target (issue 22):
the multi-label step within 5 %.
`--precisions=fp32,mixed --xla=off,on --steps_per_execution=1,8` measures the
matrix, each cell against `fit` with the same precision, jit_compile and steps per
call; on a GPU:

    python -m bench.train_step --model_name=resnet_v1_50 --image_size=224 \
        --batch_size=256 --precisions=fp32,mixed --xla=off,on --steps_per_execution=1,8
"""

from __future__ import annotations

import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model_name", "resnet_v1_18", "The net both loops train.")
flags.DEFINE_integer("image_size", 64, "Input size.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_integer("steps", 60, "Measured steps per loop.")
flags.DEFINE_integer("warmup", 5, "Steps before timing starts.")
flags.DEFINE_integer("rounds", 3, "Alternating rounds; the best round of each counts.")
flags.DEFINE_string("work_dir", "bench_output/train_step", "Scratch directory.")
flags.DEFINE_list("precisions", ["fp32"], "Precisions to measure: fp32, mixed (float16 with "
                  "loss scaling on GPU, bfloat16 on CPU).")
flags.DEFINE_list("xla", ["off"], "XLA settings to measure: off, on (jit_compile in both "
                  "loops).")
flags.DEFINE_integer("labels", 4, "Labels (multi-label) and classes (single-label) of the "
                     "multi-label comparison; 0 skips it.", lower_bound=0)
flags.DEFINE_list("steps_per_execution", ["1"], "Steps per compiled call to measure, in "
                  "both loops (e.g. 1,8); --warmup and --steps are rounded up to multiples.")


def tiny_dataset(root: str, classes: int = 2, multilabel: bool = False) -> str:
    """A converted set of `classes` classes (or labels, one column each in labels.csv): the
    spec gives class count, task and channels to the loop."""
    from datasets.records.conversion import ConversionSettings, convert
    from files.png_codec import write_image

    name = f"{'multilabel' if multilabel else 'classes'}_{classes}"
    source = os.path.join(root, name, "source")
    shutil.rmtree(source, ignore_errors=True)
    os.makedirs(os.path.join(source, "images"))
    if not multilabel:
        os.makedirs(os.path.join(source, "labels"))
    rng = np.random.default_rng(0)
    rows = ["filename," + ",".join(f"L{k}" for k in range(classes))]
    for index in range(max(8, classes)):
        write_image(os.path.join(source, "images", f"{index}.png"),
                    rng.integers(0, 255, (FLAGS.image_size, FLAGS.image_size), dtype=np.uint8))
        if multilabel:
            rows.append(f"{index}.png," + ",".join(str(int(rng.random() < 0.3))
                                                   for _ in range(classes)))
        else:
            with open(os.path.join(source, "labels", f"{index}.txt"), "w") as handle:
                handle.write(f"C{index % classes}")
    if multilabel:
        with open(os.path.join(source, "labels.csv"), "w") as handle:
            handle.write("\n".join(rows) + "\n")
    out = os.path.join(root, name, "records")
    convert(ConversionSettings("dicom", source, out, "bench", progress=False))
    return out


def _marks(per_call: int) -> tuple[int, int]:
    """The steps the clock reads at: both on call boundaries."""
    start = -(-FLAGS.warmup // per_call) * per_call
    return start, start + -(-FLAGS.steps // per_call) * per_call


def ours(records: str, run: int, mixed: bool, xla: bool, per_call: int) -> float:
    from training.loop.optimizers import OptimizerSettings
    from training.loop.trainer import TrainSettings, train

    train_dir = os.path.join(FLAGS.work_dir, f"ours_{run}")
    shutil.rmtree(train_dir, ignore_errors=True)
    marks: dict[int, float] = {}
    first, last = _marks(per_call)

    def on_step(step: int, loss) -> None:
        if step in (first, last):
            float(loss)  # wait for the device before reading the clock
            marks[step] = time.perf_counter()

    train(TrainSettings(
        train_dir=train_dir, dataset_dir=records, model_name=FLAGS.model_name,
        train_image_size=FLAGS.image_size, batch_size=FLAGS.batch_size,
        max_number_of_steps=last, learning_rate=0.001, steps_per_execution=per_call,
        learning_rate_decay_type="fixed", optimizer=OptimizerSettings("adam", opt_epsilon=1e-7),
        weight_decay=0.0, augment=False, synthetic_data=True, log_every_n_steps=10**9,
        save_interval_secs=10**9, save_summaries_secs=10**9, seed=0,
        mixed_precision=mixed, jit_compile=xla,
    ), on_step=on_step)
    return (last - first) / (marks[last] - marks[first])


class _Clock(keras.callbacks.Callback):
    def __init__(self, steps: tuple[int, int]) -> None:
        super().__init__()
        self.steps = steps
        self.marks: dict[int, float] = {}

    def on_train_batch_end(self, batch, logs=None) -> None:
        step = batch + 1  # with steps_per_execution, `batch` is a call's last
        if step in self.steps:
            float(logs["loss"])
            self.marks[step] = time.perf_counter()


def fit(num_classes: int, channels: int, mixed: bool, xla: bool, per_call: int) -> float:
    from nets.nets_factory import build_model
    from training.loop.trainer import _precision_policy

    policy = _precision_policy(mixed)
    keras.mixed_precision.set_dtype_policy(policy)
    net = build_model(FLAGS.model_name, num_classes, FLAGS.image_size, channels)
    model = keras.Model(net.inputs, keras.ops.cast(net.output["logits"], "float32"))
    optimizer = keras.optimizers.Adam(0.001, epsilon=1e-7)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=xla, steps_per_execution=per_call)
    generator = tf.random.Generator.from_seed(0)
    images = generator.uniform([FLAGS.batch_size, FLAGS.image_size, FLAGS.image_size, channels])
    labels = generator.uniform([FLAGS.batch_size], maxval=num_classes, dtype=tf.int64)
    data = tf.data.Dataset.from_tensors((images, labels)).repeat()
    first, last = _marks(per_call)
    clock = _Clock((first, last))
    model.fit(data, steps_per_epoch=last, epochs=1, verbose=0, callbacks=[clock])
    return (last - first) / (clock.marks[last] - clock.marks[first])


def main(argv: list[str]) -> None:
    from datasets.records.dataset_spec import read_spec

    os.makedirs(FLAGS.work_dir, exist_ok=True)
    records = tiny_dataset(FLAGS.work_dir)
    spec = read_spec(records)
    device = (tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices())[0]
    print(f"{FLAGS.model_name} at {FLAGS.image_size}x{FLAGS.image_size}, batch "
          f"{FLAGS.batch_size}, {FLAGS.steps} steps after {FLAGS.warmup} warm-up, best of "
          f"{FLAGS.rounds}, on {device.name}:")
    print(f"  {'precision':9s} {'xla':3s} {'steps/call':>10s} {'ours img/s':>11s} "
          f"{'fit img/s':>10s} {'ratio':>6s}")
    for precision in FLAGS.precisions:
        for xla_setting in FLAGS.xla:
            for per_call in map(int, FLAGS.steps_per_execution):
                mixed, xla = precision == "mixed", xla_setting == "on"
                best = {"ours": 0.0, "fit": 0.0}
                for run in range(FLAGS.rounds):
                    best["ours"] = max(best["ours"], ours(records, run, mixed, xla, per_call))
                    best["fit"] = max(best["fit"], fit(spec.num_classes, spec.channels or 3,
                                                       mixed, xla, per_call))
                ours_rate, fit_rate = (best[k] * FLAGS.batch_size for k in ("ours", "fit"))
                print(f"  {precision:9s} {xla_setting:3s} {per_call:10d} {ours_rate:11.1f} "
                      f"{fit_rate:10.1f} {ours_rate / fit_rate:5.2f}x", flush=True)
    if FLAGS.labels:
        _multilabel_against_single_label()


def _multilabel_against_single_label() -> None:
    single = tiny_dataset(FLAGS.work_dir, FLAGS.labels)
    multi = tiny_dataset(FLAGS.work_dir, FLAGS.labels, multilabel=True)
    best = {"single": 0.0, "multi": 0.0}
    for run in range(FLAGS.rounds):  # alternating, the best round of each
        best["single"] = max(best["single"], ours(single, run, False, False, 1))
        best["multi"] = max(best["multi"], ours(multi, run, False, False, 1))
    single_rate, multi_rate = (best[k] * FLAGS.batch_size for k in ("single", "multi"))
    print(f"ours, {FLAGS.labels} outputs, fp32: multi-label (masked sigmoid) "
          f"{multi_rate:.1f} img/s, single-label (softmax) {single_rate:.1f} img/s: "
          f"{multi_rate / single_rate:.3f}x (target >= 0.95x)", flush=True)


if __name__ == "__main__":
    app.run(main)
