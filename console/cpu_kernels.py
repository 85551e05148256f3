"""TensorFlow's oneDNN CPU kernels on every x86 CPU, not only the newest.

TensorFlow turns its oneDNN kernels on by default only where the CPU has AVX512-VNNI,
AVX512-BF16 or AMX; elsewhere (AVX2 CPUs such as AMD EPYC) it runs Eigen's kernels. On
such a CPU a ResNet-18 training step at 64 px, batch 16, took 0.57 s with Eigen's and
0.23 s with oneDNN's (`make bench-cpu-kernels`). Results differ from Eigen's by float
rounding only. Set TF_ENABLE_ONEDNN_OPTS=0 to keep TensorFlow's own choice.
"""

from __future__ import annotations

import os

ONEDNN = "TF_ENABLE_ONEDNN_OPTS"


def prefer_onednn() -> None:
    """Ask TensorFlow for its oneDNN kernels, unless the user chose; must run before
    TensorFlow is imported (it reads the variable once, when it loads)."""
    os.environ.setdefault(ONEDNN, "1")
