"""The one way a checkpoint or train_dir becomes a ready model (eval, classify, export).

What to build comes from the train_dir's run config when there is one, else
from the flags, else (a TF-Slim checkpoint) from the checkpoint itself: its
variable names say the net and its logits the class count, so
`classify_image --checkpoint_path=resnet_v2_50.ckpt` needs nothing more.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras

from nets.nets_factory import build_model, identify_slim_checkpoint
from training.loop.checkpoints import MEDCV, RestoreReport, open_checkpoint, restore
from training.loop.run_config import (
    ModelOverrides,
    RunConfig,
    find_run_config,
    read_labels_file,
    reconcile,
)


@dataclass
class LoadedModel:
    model: keras.Model
    config: RunConfig
    restore: RestoreReport

    @property
    def prefix(self) -> str:
        """The checkpoint prefix the weights came from."""
        return self.restore.prefix


def load_model(path: str, overrides: ModelOverrides | None = None,
               use_moving_averages: bool = True) -> LoadedModel:
    """Build the net `path` was trained as and restore it, in float32.

    Moving averages: ours are used when `use_moving_averages` and present; TF-Slim's
    `ExponentialMovingAverage` shadows only when `moving_average_decay` is given, as
    TF-Slim's eval did.
    """
    overrides = overrides or ModelOverrides()
    checkpoint = open_checkpoint(path)
    recorded = find_run_config(checkpoint.prefix)
    if recorded is None and checkpoint.kind != MEDCV:
        found = identify_slim_checkpoint(checkpoint.shapes)
        if found and not overrides.model_name:
            overrides = dataclasses.replace(overrides, model_name=found[0])
        if (found and not overrides.num_classes and not overrides.class_names
                and overrides.model_name == found[0]):
            overrides = dataclasses.replace(overrides, num_classes=found[1])
        if not overrides.model_name:
            raise ValueError(f"--model_name is required: {checkpoint.prefix} holds "
                             f"{checkpoint.describe()} and no run config")
    config = reconcile(recorded, overrides)
    if overrides.labels_file:
        config.class_names = read_labels_file(overrides.labels_file, config.num_classes)
    keras.mixed_precision.set_dtype_policy("float32")
    model = build_model(config.model_name, config.num_classes, config.image_size,
                        config.channels, config.model_options, config.preprocessing)
    averages = use_moving_averages if checkpoint.kind == MEDCV else (
        overrides.moving_average_decay is not None)
    report = restore(model, checkpoint, use_moving_averages=averages)
    return LoadedModel(model, config, report)
