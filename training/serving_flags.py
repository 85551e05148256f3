"""Flags classify_image and export_model share for reading TF-Slim's checkpoints."""

from __future__ import annotations

from absl import flags

from nets.conv_blocks import PREPROCESSING_NAMES


def define_serving_flags() -> None:
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
