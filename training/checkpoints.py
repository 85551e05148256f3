"""Checkpoints `model.ckpt-N` in a train_dir, resuming, and TF-Slim-style fine-tuning.

A checkpoint holds the model's variables keyed by their Keras path
(`InceptionV4.Logits/kernel`), the optimizer, the global step and the moving
averages. Resuming restores all of it. Fine-tuning from another checkpoint
restores model variables by name, except those under `exclude_scopes`, and
checks every shape first, so a mismatch names the variable and the scope to
exclude instead of failing deep inside TensorFlow.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import tensorflow as tf

from nets.scopes import in_scope, variable_scope_name

CHECKPOINT_NAME = "model.ckpt"
WEIGHTS_KEY = "model_weights"
AVERAGES_KEY = "moving_averages"
log = logging.getLogger(__name__)


def named_variables(model: keras.Model) -> dict[str, tf.Variable]:
    """Weights and batch-norm statistics by path. Dropout's random-generator state is left
    out: Keras numbers it per process (`seed_generator_1`), so it has no stable name."""
    return {variable.path: variable for variable in model.variables
            if "seed_generator" not in variable.path}


def checkpoint_key(path: str, group: str = WEIGHTS_KEY) -> str:
    """The key tf.train.Checkpoint gives `model_weights[path]` (`.`->`..`, `/`->`.S`)."""
    escaped = path.replace(".", "..").replace("/", ".S")
    return f"{group}/{escaped}/.ATTRIBUTES/VARIABLE_VALUE"


def resolve_checkpoint(path: str) -> str:
    """A checkpoint prefix from a prefix (`DIR/model.ckpt-840`) or a directory (latest)."""
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(f"no checkpoint in {path} (expected {CHECKPOINT_NAME}-N)")
        return latest
    if os.path.exists(path + ".index"):
        return path
    raise FileNotFoundError(
        f"checkpoint {path} not found: give a prefix such as DIR/{CHECKPOINT_NAME}-100 "
        "(without .index) or a directory holding checkpoints"
    )


def checkpoint_step(prefix: str) -> int:
    tail = prefix.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


@dataclass
class TrainingState:
    """Everything a resumed run needs, as one tf.train.Checkpoint."""

    model: keras.Model
    optimizer: keras.optimizers.Optimizer | None = None
    averages: dict[str, tf.Variable] = field(default_factory=dict)
    step: tf.Variable = field(default_factory=lambda: tf.Variable(0, dtype=tf.int64,
                                                                   trainable=False))

    def checkpoint(self) -> tf.train.Checkpoint:
        parts = {WEIGHTS_KEY: named_variables(self.model), "step": self.step}
        if self.optimizer is not None:
            parts["optimizer"] = self.optimizer
        if self.averages:
            parts[AVERAGES_KEY] = self.averages
        return tf.train.Checkpoint(**parts)

    def manager(self, train_dir: str, max_to_keep: int = 5) -> tf.train.CheckpointManager:
        return tf.train.CheckpointManager(
            self.checkpoint(), train_dir, max_to_keep=max_to_keep,
            checkpoint_name=CHECKPOINT_NAME, step_counter=self.step,
        )


def restore_for_inference(model: keras.Model, path: str, use_moving_averages: bool = False) -> str:
    """Load model variables from a checkpoint file or directory; returns the prefix."""
    prefix = resolve_checkpoint(path)
    reader = tf.train.load_checkpoint(prefix)
    have = reader.get_variable_to_shape_map()
    missing = []
    for name, variable in named_variables(model).items():
        key = checkpoint_key(name)
        if use_moving_averages and checkpoint_key(name, AVERAGES_KEY) in have:
            key = checkpoint_key(name, AVERAGES_KEY)
        if key not in have:
            missing.append(name)
            continue
        _assign(variable, reader.get_tensor(key), name, prefix)
    if missing:
        raise ValueError(
            f"{prefix} lacks {len(missing)} variable(s) of this model, e.g. {missing[0]}: "
            "is --model_name (and --num_classes) the one it was trained with?"
        )
    return prefix


def _assign(variable, value, name: str, prefix: str) -> None:
    if tuple(value.shape) != tuple(variable.shape):
        raise ValueError(
            f"{name}: checkpoint {prefix} has shape {tuple(value.shape)}, the model "
            f"{tuple(variable.shape)}; add its scope {variable_scope_name(name)!r} to "
            "--checkpoint_exclude_scopes to leave it untrained"
        )
    variable.assign(value)


def restore_for_fine_tuning(
    model: keras.Model,
    path: str,
    exclude_scopes: Sequence[str],
    ignore_missing_vars: bool = False,
) -> tuple[str, list[str], list[str]]:
    """TF-Slim's `_get_init_fn`: restore every variable not under `exclude_scopes`.

    Returns (prefix, restored names, names left at their initial values).
    """
    prefix = resolve_checkpoint(path)
    reader = tf.train.load_checkpoint(prefix)
    have = reader.get_variable_to_shape_map()
    restored, skipped = [], []
    wanted = {n: v for n, v in named_variables(model).items()
              if not in_scope(variable_scope_name(n), exclude_scopes)}
    missing = [n for n in wanted if checkpoint_key(n) not in have]
    if missing and not ignore_missing_vars:
        raise ValueError(
            f"{prefix} lacks {len(missing)} variable(s), e.g. {missing[0]}; exclude their "
            "scopes with --checkpoint_exclude_scopes or pass --ignore_missing_vars"
        )
    for name, variable in wanted.items():
        key = checkpoint_key(name)
        if key not in have:
            log.warning("variable %s is not in %s; it keeps its initial value", name, prefix)
            skipped.append(name)
            continue
        _assign(variable, reader.get_tensor(key), name, prefix)
        restored.append(name)
    skipped += [n for n in named_variables(model) if n not in wanted]
    return prefix, restored, skipped
