"""Flags the model commands share: which checkpoint and net, and how to read TF-Slim's."""

from __future__ import annotations

from absl import flags

from console.flags import define_channels_flag
from nets.conv_blocks import PREPROCESSING_NAMES
from nets.nets_factory import model_names
from training.loop.run_config import ModelOverrides

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()

RECORDED = "default: what the checkpoint's train_dir records"


def define_model_flags(checkpoint_help: str, checkpoint_default: str | None = None,
                       model_help: str = f"The net; {RECORDED}.",
                       model_default: str | None = None,
                       channels_default: str = "the training channels") -> None:
    """--checkpoint_path, --model_name and --channels, with each command's meaning."""
    flags.DEFINE_string("checkpoint_path", checkpoint_default, checkpoint_help)
    flags.DEFINE_enum("model_name", model_default, model_names(), model_help)
    define_channels_flag(channels_default)


CHECKPOINT_CHOICES = ("latest", "best")


def define_checkpoint_choice_flag() -> None:
    """--checkpoint: which checkpoint of a train_dir the command reads."""
    flags.DEFINE_enum(
        "checkpoint", "latest", list(CHECKPOINT_CHOICES),
        "With a train_dir as --checkpoint_path: latest (its newest checkpoint) or best (the "
        "one training kept in TRAIN_DIR/best with --keep_best_on).")


def chosen_checkpoint(path: str, choice: str) -> str:
    """`path` itself for `latest`; for `best`, the train_dir's best/ folder (one line of
    error when training kept none)."""
    import os

    if choice != "best":
        return path
    train_dir = path if os.path.isdir(path) else os.path.dirname(path)
    if os.path.basename(os.path.normpath(train_dir)) == "best":
        return train_dir
    best = os.path.join(train_dir, "best")
    if not os.path.isfile(os.path.join(best, "checkpoint")):
        raise FileNotFoundError(f"{train_dir} has no best checkpoint: train with "
                                "--keep_best_on (or --early_stopping_patience) to keep one")
    return best


def define_serving_flags() -> None:
    """Defines the flags of commands that load a model for prediction: preprocessing, label offset,
    labels file and moving averages."""
    flags.DEFINE_enum(
        "preprocessing_name", None, list(PREPROCESSING_NAMES),
        "TF-Slim's preprocessing (inception or vgg); default: what the train_dir records, "
        "else TF-Slim's for the net (vgg for resnet_v1_*).")
    flags.DEFINE_integer(
        "labels_offset", 0,
        "TF-Slim's offset of the first real class: 1 for the 1001-class zoo checkpoints, "
        "whose output 0 is 'background'; names outputs when no labels file does.",
        lower_bound=0)
    flags.DEFINE_string(
        "labels_file", None,
        "Class names, TF-Slim's labels.txt ('0:background', '1:tench', ...) or one per line; "
        "overrides the names the checkpoint's train_dir records.")
    flags.DEFINE_float(
        "moving_average_decay", None,
        "TF-Slim checkpoints: use their ExponentialMovingAverage shadow variables, as "
        "TF-Slim's eval did when given this flag (medcv checkpoints always use theirs).")


def overrides_from_flags(image_size: int | None = None, num_classes: int | None = None,
                         class_names: list[str] | None = None) -> ModelOverrides:
    """The ModelOverrides of a command that defines the model and serving flags
    (`image_size`, `num_classes` and `class_names` come from the command's own flags or
    dataset, which differ from command to command)."""
    values = flags.FLAGS
    return ModelOverrides(
        model_name=values.model_name, num_classes=num_classes, image_size=image_size,
        channels=values.channels or None, class_names=class_names,
        preprocessing_name=values.preprocessing_name, labels_offset=values.labels_offset,
        labels_file=values.labels_file, moving_average_decay=values.moving_average_decay)
