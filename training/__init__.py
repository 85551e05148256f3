"""The library behind train/eval/classify: optimizers, schedules, checkpoints, the loop,
metrics, prediction and export. The top-level scripts only parse flags and call in."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
