"""Which tf.distribute strategy `--num_clones` and TF_CONFIG ask for."""

from __future__ import annotations

import contextlib
import json
import logging
import os

import tensorflow as tf

log = logging.getLogger(__name__)


def choose_strategy(num_clones: int = 1) -> tf.distribute.Strategy:
    """TF_CONFIG with several workers: MultiWorkerMirrored; num_clones > 1: Mirrored over
    that many GPUs (or logical CPUs when there are no GPUs); else the default strategy."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    if len(config.get("cluster", {}).get("worker", [])) > 1:
        log.info("TF_CONFIG names %d workers: MultiWorkerMirroredStrategy",
                 len(config["cluster"]["worker"]))
        return tf.distribute.MultiWorkerMirroredStrategy()
    if num_clones <= 1:
        return tf.distribute.get_strategy()
    gpus = tf.config.list_physical_devices("GPU")  # physical: does not start the runtime
    if gpus:
        if len(gpus) < num_clones:
            raise ValueError(f"--num_clones={num_clones} but only {len(gpus)} GPU(s) are visible")
        devices = [f"/gpu:{index}" for index in range(num_clones)]
    else:
        devices = [d.name for d in split_cpu(num_clones)]
    log.info("MirroredStrategy over %s", ", ".join(devices))
    return tf.distribute.MirroredStrategy(devices)


def split_cpu(count: int) -> list:
    """`count` logical CPU devices (possible only before TensorFlow initialises)."""
    cpus = tf.config.list_physical_devices("CPU")
    with contextlib.suppress(RuntimeError):  # already initialised: use what exists
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    logical = tf.config.list_logical_devices("CPU")
    if len(logical) < count:
        raise ValueError(f"--num_clones={count} needs {count} devices; TensorFlow was already "
                         f"started with {len(logical)} CPU device(s) and no GPU")
    return logical[:count]
