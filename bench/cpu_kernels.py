"""CPU training steps/s with TensorFlow's oneDNN kernels against its Eigen kernels.

    make bench-cpu-kernels   (or: python -m bench.cpu_kernels --model_name resnet_v1_18)

Every medcv command sets TF_ENABLE_ONEDNN_OPTS=1 (console.cpu_kernels); TensorFlow's
own default runs Eigen's kernels on CPUs without AVX512-VNNI, BF16 or AMX. Each setting
runs train_image_classifier's loop in its own process (TensorFlow reads the variable
once, when it loads): same net, batch, size and synthetic batch, tracing steps excluded,
the best of `--rounds` alternating rounds counting. The figure that matters is the ratio
on the CPU at hand: on an AVX512-VNNI CPU both settings run oneDNN.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model_name", "resnet_v1_18", "The net both settings train.")
flags.DEFINE_integer("image_size", 64, "Input size.")
flags.DEFINE_integer("batch_size", 16, "Batch size.")
flags.DEFINE_integer("steps", 30, "Measured steps per round.")
flags.DEFINE_integer("warmup", 3, "Steps before timing starts.")
flags.DEFINE_integer("rounds", 2, "Alternating rounds; the best round of each counts.")

_CHILD = """
import json, sys, time
import console.quiet_start  # noqa: F401  (sets what every command sets)
from training.loop.optimizers import OptimizerSettings
from training.loop.trainer import TrainSettings, train
from tests.support.training_runs import tiny_records
model, size, batch, steps, warmup, scratch = sys.argv[1:7]
times = []
train(TrainSettings(
    train_dir=scratch + "/run", dataset_dir=tiny_records(scratch), model_name=model,
    train_image_size=int(size), batch_size=int(batch),
    max_number_of_steps=int(steps) + int(warmup), optimizer=OptimizerSettings("adam"),
    synthetic_data=True, learning_rate_decay_type="fixed", augment=False, seed=0,
    save_interval_secs=10**6, save_summaries_secs=10**6),
    on_step=lambda step, loss: times.append(time.perf_counter()))
measured = times[int(warmup) - 1:]
print(json.dumps((len(measured) - 1) / (measured[-1] - measured[0])))
"""


def _steps_per_second(onednn: str) -> float:
    """Steps/s of one child process with TF_ENABLE_ONEDNN_OPTS=`onednn`."""
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, FLAGS.model_name, str(FLAGS.image_size),
             str(FLAGS.batch_size), str(FLAGS.steps), str(FLAGS.warmup), scratch],
            env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn}, capture_output=True,
            text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return float(json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> None:
    """Prints each setting's best steps/s and the ratio of oneDNN's to Eigen's."""
    del argv
    best = {"1": 0.0, "0": 0.0}
    for _ in range(FLAGS.rounds):
        for setting in best:
            best[setting] = max(best[setting], _steps_per_second(setting))
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        info = handle.read().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in info
                if line.startswith("model name")), "unknown CPU")
    features = set(next((line.split(":", 1)[1].split() for line in info
                         if line.startswith("flags")), []))
    # TensorFlow's own choice: oneDNN where the CPU has one of these, Eigen elsewhere.
    tf_picks_onednn = bool(features & {"avx512_vnni", "avx512_bf16", "amx_tile"})
    print(f"{FLAGS.model_name} {FLAGS.image_size} px, batch {FLAGS.batch_size}, {cpu}, "
          f"{os.cpu_count()} cores, {'with' if tf_picks_onednn else 'without'} "
          "AVX512-VNNI/BF16/AMX")
    onednn = "medcv's setting" + (", TensorFlow's default here" if tf_picks_onednn else "")
    eigen = "" if tf_picks_onednn else " (TensorFlow's default here)"
    print(f"oneDNN kernels ({onednn}): {best['1']:.2f} steps/s")
    print(f"Eigen kernels{eigen}: {best['0']:.2f} steps/s")
    print(f"ratio: {best['1'] / best['0']:.2f}x")


if __name__ == "__main__":
    app.run(main)
