"""Checkpoints: our `model.ckpt-N` in a train_dir, resuming, and reading TF-Slim's.

Our checkpoint holds the model's variables keyed by their Keras path
(`InceptionV4.Logits.Logits/kernel`), the optimizer, the global step and the
moving averages; resuming restores all of it.

Every other read (fine-tuning, eval, classify, export) goes through
`open_checkpoint` and `restore`, which take, told nothing about the format:

- our checkpoints (a prefix, or a train_dir: its latest);
- TF-Slim's: a model-zoo file as extracted from its tarball (a V1 single file
  such as `inception_v3.ckpt`, or V2 `.index`/`.data` files, with no
  `checkpoint` state file), and a TF-Slim train_dir or its `model.ckpt-N`
  (its `global_step` and optimizer slots are not model variables and are
  ignored). Their variables are matched by TF-Slim name (`nets.slim_names`).

A restore reports `restored N of M variables from PATH (K excluded)`; a shape
mismatch names the variable and the scope to exclude; a checkpoint that fits
no variable of the model says what it holds.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from nets.nets_factory import get_net, identify_slim_checkpoint
from nets.scopes import in_scope, variable_scope_name
from nets.slim_names import BATCH_NORM_GAMMA, slim_variables

CHECKPOINT_NAME = "model.ckpt"
WEIGHTS_KEY = "model_weights"
AVERAGES_KEY = "moving_averages"
SLIM_AVERAGE_SUFFIX = "/ExponentialMovingAverage"
MEDCV, TF_SLIM = "medcv", "tf-slim"
_SIDE_FILE = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")
_V1_FILE = re.compile(r"\.ckpt(-\d+)?$")
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


def checkpoint_step(prefix: str) -> int:
    """The step a checkpoint prefix ends in ("model.ckpt-300": 300), 0 when none."""
    tail = prefix.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _is_checkpoint(prefix: str) -> bool:
    return os.path.isfile(prefix + ".index") or (
        os.path.isfile(prefix) and not _SIDE_FILE.search(prefix))


def _checkpoints_in(directory: str) -> list[str]:
    """Prefixes of the V2 (`X.index`) and V1 (`X.ckpt`, `X.ckpt-N`) checkpoints in a folder."""
    prefixes = {path[:-len(".index")] for path in glob.glob(os.path.join(directory, "*.index"))}
    prefixes |= {path for path in glob.glob(os.path.join(directory, "*"))
                 if _V1_FILE.search(path) and os.path.isfile(path)}
    return sorted(prefixes)


def resolve_checkpoint(path: str) -> str:
    """The checkpoint prefix (or V1 file) that `path` names: a prefix, one of its files
    (`.index`, `.data-…`), a V1 file, or a folder (its `checkpoint` state file's latest,
    else the only, or the highest-numbered, checkpoint in it)."""
    path = _SIDE_FILE.sub("", path.rstrip("/")) if not os.path.isdir(path) else path
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest and _is_checkpoint(latest):
            return latest
        found = _checkpoints_in(path)
        if len(found) > 1 and all(checkpoint_step(p) for p in found):
            return max(found, key=checkpoint_step)
        if len(found) == 1:
            return found[0]
        if found:
            names = ", ".join(os.path.basename(p) for p in found)
            raise FileNotFoundError(f"{path} holds {len(found)} checkpoints ({names}); "
                                    "give one of them")
        raise FileNotFoundError(f"no checkpoint in {path} (expected {CHECKPOINT_NAME}-N, a "
                                "TF-Slim zoo file such as resnet_v2_50.ckpt, or X.index)")
    if _is_checkpoint(path):
        return path
    raise FileNotFoundError(
        f"checkpoint {path} not found: give a prefix such as DIR/{CHECKPOINT_NAME}-100 "
        "(without .index), a TF-Slim .ckpt file, or a directory holding checkpoints"
    )


@dataclass
class CheckpointFile:
    """A checkpoint read once: its variable names and shapes, and whose format it is."""

    prefix: str
    reader: Any  # tf.train.CheckpointReader
    shapes: dict[str, list[int]]
    kind: str

    def describe(self) -> str:
        """What the checkpoint holds, as people name it: a medcv checkpoint, TF-Slim's net with its
        classes, or an example variable."""
        if self.kind == MEDCV:
            return "a medcv checkpoint"
        net = identify_slim_checkpoint(self.shapes)
        if net:
            return f"TF-Slim's {net[0]} with {net[1]} classes"
        example = next(iter(sorted(self.shapes)), "nothing")
        return f"{len(self.shapes)} TF-Slim variables of no net known here (e.g. {example})"

    def key(self, variable: tf.Variable, slim_name: str, averages: bool) -> str | None:
        """The checkpoint's key for one of our variables (its moving average if asked and
        present), or None when the checkpoint lacks it."""
        if self.kind == MEDCV:
            keys = [checkpoint_key(variable.path, AVERAGES_KEY)] if averages else []
            keys.append(checkpoint_key(variable.path))
        else:
            keys = [slim_name + SLIM_AVERAGE_SUFFIX] if averages else []
            keys.append(slim_name)
        return next((k for k in keys if k in self.shapes), None)

    def input_channels(self, model_name: str) -> int | None:
        """The channels `model_name`'s first convolution takes in this checkpoint, if known
        (3 for every zoo net: gray data is then replicated to RGB)."""
        stem = get_net(model_name).stem[0]
        if not stem:
            return None
        if self.kind == MEDCV:
            layer = stem.rsplit("/", 1)[0].replace("/", ".")
            stem = checkpoint_key(f"{layer}/kernel")
        shape = self.shapes.get(stem)
        return int(shape[-2]) if shape else None


def open_checkpoint(path: str) -> CheckpointFile:
    """The checkpoint at `path` (a prefix, file or folder), and whether it is ours or TF-Slim's;
    raises ValueError naming it when it cannot be read."""
    prefix = resolve_checkpoint(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as exc:
        raise ValueError(f"{prefix} is not a readable checkpoint: "
                         f"{str(exc).splitlines()[0]}") from None
    shapes = reader.get_variable_to_shape_map()
    kind = MEDCV if any(k.startswith(WEIGHTS_KEY + "/") for k in shapes) else TF_SLIM
    return CheckpointFile(prefix, reader, shapes, kind)


@dataclass
class RestoreReport:
    prefix: str
    total: int
    restored: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unit_gammas: list[str] = field(default_factory=list)
    """TF-Slim batch norm without `gamma` (scale=False): ours set to 1."""

    def summary(self) -> str:
        """The restore as one line: variables restored, excluded, defaulted and absent."""
        text = (f"restored {len(self.restored)} of {self.total} variables from {self.prefix} "
                f"({len(self.excluded)} excluded)")
        if self.unit_gammas:
            text += f"; {len(self.unit_gammas)} batch-norm gamma(s) absent, set to 1"
        if self.missing:
            text += f"; {len(self.missing)} absent, left at their initial values"
        return text


def restore(
    model: keras.Model,
    checkpoint: CheckpointFile,
    exclude_scopes: Sequence[str] = (),
    use_moving_averages: bool = False,
    ignore_missing_vars: bool = False,
) -> RestoreReport:
    """TF-Slim's `_get_init_fn` for both formats: every variable not under
    `exclude_scopes` from the checkpoint, shapes checked before anything is assigned."""
    variables = slim_variables(model)
    report = RestoreReport(checkpoint.prefix, len(variables))
    plan: list[tuple[Any, str | None]] = []
    for slim_name, variable in variables.items():
        if in_scope(variable_scope_name(variable.path), exclude_scopes):
            report.excluded.append(variable.path)
            continue
        key = checkpoint.key(variable, slim_name, use_moving_averages)
        if key is None:
            if checkpoint.kind == TF_SLIM and slim_name.endswith("/" + BATCH_NORM_GAMMA):
                report.unit_gammas.append(variable.path)
                plan.append((variable, None))
            else:
                report.missing.append(variable.path)
            continue
        _check_shape(variable, checkpoint.shapes[key], checkpoint.prefix)
        plan.append((variable, key))
        report.restored.append(variable.path)
    if report.missing and (not ignore_missing_vars or not report.restored):
        raise ValueError(_missing_message(model, checkpoint, report, ignore_missing_vars))
    for variable, key in plan:
        variable.assign(np.ones(variable.shape, variable.dtype) if key is None
                        else checkpoint.reader.get_tensor(key))
    for path in report.missing:
        log.warning("variable %s is not in %s; it keeps its initial value", path,
                    checkpoint.prefix)
    log.info("%s", report.summary())
    return report


def _missing_message(model, checkpoint: CheckpointFile, report: RestoreReport,
                     ignored: bool) -> str:
    holds = checkpoint.describe()
    if not report.restored:
        lead = (f"{checkpoint.prefix} holds {holds}, none of whose variables fit "
                f"{model.name}'s {report.total - len(report.excluded)} non-excluded ones "
                f"(e.g. {report.missing[0]})")
        return lead + ("" if ignored else "; is --model_name right?")
    return (f"{checkpoint.prefix} ({holds}) lacks {len(report.missing)} of {model.name}'s "
            f"variables, e.g. {report.missing[0]}; exclude their scopes with "
            "--checkpoint_exclude_scopes or pass --ignore_missing_vars")


def _check_shape(variable, shape, prefix: str) -> None:
    if tuple(shape) != tuple(variable.shape):
        raise ValueError(
            f"{variable.path}: checkpoint {prefix} has shape {tuple(shape)}, the model "
            f"{tuple(variable.shape)}; add its scope {variable_scope_name(variable.path)!r} to "
            "--checkpoint_exclude_scopes to leave it untrained"
        )


@dataclass
class TrainingState:
    """Everything a resumed run needs, as one tf.train.Checkpoint."""

    model: keras.Model
    optimizer: keras.optimizers.Optimizer | None = None
    averages: dict[str, tf.Variable] = field(default_factory=dict)
    step: tf.Variable = field(default_factory=lambda: tf.Variable(0, dtype=tf.int64,
                                                                   trainable=False))

    def checkpoint(self) -> tf.train.Checkpoint:
        """The tf.train.Checkpoint of the model's weights, step, optimizer and averages."""
        parts = {WEIGHTS_KEY: named_variables(self.model), "step": self.step}
        if self.optimizer is not None:
            parts["optimizer"] = self.optimizer
        if self.averages:
            parts[AVERAGES_KEY] = self.averages
        return tf.train.Checkpoint(**parts)

    def manager(self, train_dir: str, max_to_keep: int = 5) -> tf.train.CheckpointManager:
        """A manager that saves into `train_dir` under TF-Slim's checkpoint names, keeping the last
        `max_to_keep`."""
        return tf.train.CheckpointManager(
            self.checkpoint(), train_dir, max_to_keep=max_to_keep,
            checkpoint_name=CHECKPOINT_NAME, step_counter=self.step,
        )
