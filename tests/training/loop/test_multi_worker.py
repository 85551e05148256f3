"""Two workers on localhost ports (TF_CONFIG) with the default flags (augmentation on):
one writer, resume after a kill, same loss; two shards (by file) and one (by record)."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
import tensorflow as tf

from datasets.records.conversion import ConversionSettings, convert
from tests.support.folders import classification_folder
from tests.support.multi_worker import finish, start_workers

pytestmark = pytest.mark.slow  # three multi-process trainings


def _start(records, train_dir, steps, scratch, workers: int = 2, extra=()):
    return start_workers(
        [f"--dataset_dir={records}", f"--train_dir={train_dir}", "--model_name=resnet_v1_18",
         "--train_image_size=32", "--batch_size=16", f"--max_number_of_steps={steps}",
         "--optimizer=sgd", "--learning_rate=0.01", "--learning_rate_decay_type=fixed",
         "--seed=0", "--log_every_n_steps=2", *extra], scratch, workers)


def _saved_steps(stderr: str) -> list[int]:
    return [int(v) for v in re.findall(r"saved \S*model\.ckpt-(\d+)", stderr)]


def _logged_losses(stderr: str) -> list[float]:
    return [float(v) for v in re.findall(r"step \d+: loss (\d+\.\d+)", stderr)]


def _records(root, shards: int) -> str:
    classification_folder(str(root / "in"), {"A": 8, "B": 8}, size=32)
    convert(ConversionSettings("dicom", str(root / "in"), str(root / "out"), "dicom",
                               num_shards=shards, progress=False))
    return str(root / "out")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Two shards, one per worker: examples shared out by file."""
    return _records(tmp_path_factory.mktemp("multi_worker"), 2)


@pytest.fixture(scope="module")
def one_shard(tmp_path_factory):
    """One shard for two workers: examples shared out by record."""
    return _records(tmp_path_factory.mktemp("multi_worker_one"), 1)


def test_with_the_default_flags_only_the_chief_writes(records, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    two = finish(_start(records, tmp_path / "two", 20, scratch))
    written = sorted(os.listdir(tmp_path / "two"))
    assert sum(n.startswith("events.out") for n in written) == 1
    assert {n for n in written if not n.startswith(("events.out", "model.ckpt-"))} == {
        "checkpoint", "medcv_train.json"}
    assert "model.ckpt-20.index" in written
    assert os.listdir(scratch) == []  # the other worker's checkpoints were removed
    chief_out, worker_out = two[0][0], two[1][0]
    assert chief_out.startswith("trained resnet_v1_18 to step 20")
    assert worker_out.startswith("worker done at step 20")
    assert len(_logged_losses(two[0][1])) == 10


def test_on_the_same_input_the_loss_matches_one_worker(records, tmp_path):
    """Gradients are pooled right: the same global batch of 16 (8 per worker) trains as one
    worker's 16 does. Augmentation is off only here, so both runs see the same pixels."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    two = finish(_start(records, tmp_path / "two", 24, scratch, extra=("--noaugment",)))
    one = finish(_start(records, tmp_path / "one", 24, scratch, workers=1,
                         extra=("--noaugment",)))
    # The mean of the last five logged losses (steps 16-24; one batch's loss alone varies
    # run to run).
    two_losses, one_losses = _logged_losses(two[0][1]), _logged_losses(one[0][1])
    assert len(two_losses) == len(one_losses) == 12
    assert one_losses[-1] < one_losses[0]  # it trains
    assert abs(sum(two_losses[-5:]) / 5 - sum(one_losses[-5:]) / 5) < 0.02


def test_killed_workers_resume_from_the_chiefs_last_checkpoint(one_shard, tmp_path):
    records = one_shard
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    train_dir = tmp_path / "train"
    processes = _start(records, train_dir, 100_000, scratch, extra=("--save_interval_secs=1",))
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            saved = [n for n in os.listdir(train_dir)] if train_dir.exists() else []
            if sum(n.endswith(".index") for n in saved) >= 2:
                break
            time.sleep(0.2)
    finally:
        for process in processes:
            process.send_signal(signal.SIGKILL)
        errors = [process.communicate()[1] for process in processes]
    # Time-based saves are agreed: both workers save at the same steps, all log steps
    # (--log_every_n_steps=2), though each worker's clock runs on its own.
    chief_saves, worker_saves = (_saved_steps(err) for err in errors)
    assert chief_saves  # the wait above saw two checkpoints; the kill may beat a log line
    common = min(len(chief_saves), len(worker_saves))  # the kill may cut one save short
    assert chief_saves[:common] == worker_saves[:common]
    assert all(step % 2 == 0 for step in chief_saves)
    # The newest checkpoint the manager recorded: a kill between a save's files and its
    # entry in `checkpoint` leaves a newer .index that nothing resumes from.
    latest = tf.train.latest_checkpoint(str(train_dir))
    assert latest, "no checkpoint before the kill"
    last = int(latest.rsplit("-", 1)[1])
    outputs = finish(_start(records, train_dir, last + 4, scratch))
    assert f"resuming from {train_dir}/model.ckpt-{last} at step {last}" in outputs[0][1]
    assert f"resuming from {train_dir}/model.ckpt-{last} at step {last}" in outputs[1][1]
    assert outputs[0][0].startswith(f"trained resnet_v1_18 to step {last + 4}")
