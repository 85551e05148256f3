"""Which tf.distribute strategy `--num_clones` and TF_CONFIG ask for."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

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


def worker_count() -> int:
    """Tasks that train (workers and a chief) that TF_CONFIG names; 1 without it."""
    cluster = (json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("cluster") or {})
    return max(1, len(cluster.get("worker", [])) + len(cluster.get("chief", [])))


def any_worker(strategy: tf.distribute.Strategy, flag: bool) -> bool:
    """Whether `flag` holds on any worker. A collective: every worker calls it at the same
    step, and all get the same answer."""
    votes = strategy.run(lambda: tf.constant(int(flag), tf.int32))
    return int(strategy.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None)) > 0


def shards_by_record(files: int) -> bool:
    """Whether examples are shared out by record (fewer files than workers): every worker
    then reads all files and keeps its share by position, so all workers must read them
    in one order (a fixed seed, deterministic input)."""
    return worker_count() > files


def shard_across_workers(dataset: tf.data.Dataset, files: int) -> tf.data.Dataset:
    """Each example once per epoch across workers: by file when every worker gets one,
    else by record (see shards_by_record)."""
    if worker_count() == 1:
        return dataset
    policy = tf.data.experimental.AutoShardPolicy
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        policy.DATA if shards_by_record(files) else policy.FILE)
    return dataset.with_options(options)


def is_chief() -> bool:
    """Whether this process writes the run's files: the chief task of TF_CONFIG, else
    worker 0 when there is no chief, and any process without TF_CONFIG."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task") or {}
    cluster = config.get("cluster") or {}
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0 and (
        "chief" not in cluster)


@contextlib.contextmanager
def write_dir(train_dir: str, chief: bool) -> Iterator[str]:
    """Where this worker writes checkpoints: the train_dir for the chief; for the others a
    temporary folder removed at the end (tf.distribute's guidance: every worker takes part
    in saving, one writes)."""
    if chief:
        os.makedirs(train_dir, exist_ok=True)
        yield train_dir
        return
    scratch = tempfile.mkdtemp(prefix="medcv-worker-")
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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
