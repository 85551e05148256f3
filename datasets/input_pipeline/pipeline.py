"""The tf.data input pipeline over a converted directory.

Shards are read interleaved and in parallel, records are shuffled before they
are decoded (cheap: they are still bytes), then decoded in parallel through the
one input path (`model_input`: PNG 8/16-bit, JPEG or raw pixels to [0, 1], any
folder preprocessing still due, the model's channels, its size or TF-Slim's
eval framing), augmented when training, batched and prefetched.
`deterministic=True` fixes the order and the augmentation for a given seed;
`synthetic=True` replaces the data with one random batch repeated, to measure
the model alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import tensorflow as tf

from datasets.input_pipeline.augmentation import AugmentOptions, augment
from datasets.input_pipeline.model_input import (
    InputSpec,
    encoded_levels,
    planar_levels,
    prepare,
    raw_levels,
)
from datasets.records import example_codec
from datasets.records.dataset_spec import DatasetSpec
from datasets.records.planar_pixels import PLANAR
from dicom.preprocessing.methods import PixelPreprocessing

AUTOTUNE = tf.data.AUTOTUNE
MAX_PARALLEL_SHARDS = 8
_SEED_RANGE = 2**62


@dataclass(frozen=True)
class PipelineOptions:
    image_size: tuple[int, int] | None = None
    """(height, width) fed to the model; None: the spec's size when all images share it."""
    channels: int | None = None
    """1 or 3; None: the spec's channels (3 when the set mixes gray and colour)."""
    batch_size: int = 32
    is_training: bool = False
    shuffle: bool | None = None
    """None: shuffle when training."""
    shuffle_buffer: int = 2048
    augment: AugmentOptions | None = field(default_factory=AugmentOptions)
    """Used only when training; None turns augmentation off."""
    num_epochs: int | None = 1
    """None repeats forever."""
    drop_remainder: bool = False
    deterministic: bool = False
    seed: int | None = None
    synthetic: bool = False
    with_ids: bool = False
    """Yield (image, target, id) instead of (image, target)."""
    with_patients: bool = False
    """With `with_ids`: yield (image, target, id, patient id)."""
    eval_framing: str | None = None
    """Classification outside training: frame images with this TF-Slim preprocessing's
    eval geometry (datasets/eval_framing.py) instead of resizing them whole."""
    pixel_preprocessing: PixelPreprocessing | None = None
    """Folder preprocessing still due on these records (a model trained on preprocessed
    data, reading records of raw pixels); see model_input.preprocessing_still_due."""
    max_image_size: int | None = None
    """The model's --max_image_size: records with larger images are scaled down to it."""


def resolve_image_size(spec: DatasetSpec, options: PipelineOptions) -> tuple[int, int]:
    """The (height, width) images are resized to: the option, else the records' one size; raises
    ValueError when the records' sizes differ and no size was given."""
    if options.image_size is not None:
        return tuple(options.image_size)  # type: ignore[return-value]
    if tuple(spec.min_size) == tuple(spec.max_size):
        return tuple(spec.min_size)  # type: ignore[return-value]
    raise ValueError(
        f"images range from {spec.min_size} to {spec.max_size} (height, width): "
        "give an image size to resize them to"
    )


def resolve_channels(spec: DatasetSpec, options: PipelineOptions) -> int:
    """The channels images are read with: the option, else the records', else 3; raises ValueError
    for any count but 1 or 3."""
    channels = options.channels or spec.channels or 3
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    return channels


def record_files(spec: DatasetSpec, split_name: str, dataset_dir: str) -> list[str]:
    """The split's shard paths; raises FileNotFoundError, saying to re-run tf_convert_data, when
    one is missing."""
    files = [os.path.join(dataset_dir, name) for name in spec.split(split_name).files]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} shard(s) of split {split_name!r} are missing, e.g. {missing[0]}; "
            "re-run tf_convert_data"
        )
    return files


def build_pipeline(
    spec: DatasetSpec, split_name: str, dataset_dir: str, options: PipelineOptions
) -> tf.data.Dataset:
    """The batched (images, targets) tf.data pipeline of one split, decoded, preprocessed and
    augmented as `options` say; synthetic data of the same shapes when `options.synthetic`."""
    height, width = resolve_image_size(spec, options)
    channels = resolve_channels(spec, options)
    seed = options.seed if options.seed is not None else (0 if options.deterministic else None)
    if options.synthetic:
        return _synthetic(spec, height, width, channels, options, seed)
    files = record_files(spec, split_name, dataset_dir)
    shuffle = options.is_training if options.shuffle is None else options.shuffle
    segmentation = spec.kind.dense
    parse_spec = example_codec.parsing_spec(spec.task, spec.num_classes)

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), MAX_PARALLEL_SHARDS),
        num_parallel_calls=AUTOTUNE,
        deterministic=options.deterministic or not shuffle,
    )
    if shuffle:
        dataset = dataset.shuffle(options.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.repeat(options.num_epochs)
    augment_options = options.augment if options.is_training else None
    if augment_options is not None:
        dataset = with_element_seeds(dataset, seed)
    else:
        dataset = dataset.map(_plain(lambda record: (record, tf.zeros([2], tf.int64))))

    framing = options.eval_framing if not (options.is_training or segmentation) else None
    raw_bits = 16 if max(spec.bit_depths, default=8) == 16 else 8
    resize = bool(framing) or (height, width) != tuple(spec.min_size) or (
        spec.min_size != spec.max_size)
    input_spec = InputSpec(channels, (height, width) if resize else None, framing,
                           options.pixel_preprocessing, options.max_image_size)

    def decode(record: tf.Tensor, element_seed: tf.Tensor):
        example = tf.io.parse_single_example(record, parse_spec)
        if spec.image_format == PLANAR:
            levels, bits = planar_levels(example[example_codec.ENCODED],
                                         example[example_codec.HEIGHT],
                                         example[example_codec.WIDTH],
                                         example[example_codec.CHANNELS])
        elif spec.image_format == "raw":
            levels, bits = raw_levels(example[example_codec.ENCODED],
                                      example[example_codec.HEIGHT],
                                      example[example_codec.WIDTH],
                                      example[example_codec.CHANNELS], raw_bits)
        else:
            levels, bits = encoded_levels(example[example_codec.ENCODED])
        image = prepare(levels, bits, input_spec)
        if segmentation:
            mask = tf.io.decode_png(example[example_codec.MASK_ENCODED], channels=1)
            mask = tf.image.resize(mask, [height, width], method="nearest")
            mask = tf.cast(mask, tf.int32)
        else:
            mask = None
        if augment_options is not None:
            image, mask = augment(image, mask, element_seed, augment_options)
        image = tf.ensure_shape(image, [height, width, channels])
        if segmentation:
            target = mask[..., 0]
        elif spec.kind.multi_label:
            target = multilabel_target(example[example_codec.MULTI_HOT],
                                       example[example_codec.LABEL_MASK])
        else:
            target = example[example_codec.LABEL]
        if options.with_ids and options.with_patients:
            return (image, target, example[example_codec.ID],
                    example[example_codec.PATIENT_ID])
        if options.with_ids:
            return image, target, example[example_codec.ID]
        return image, target

    dataset = dataset.map(_plain(decode), num_parallel_calls=AUTOTUNE,
                          deterministic=options.deterministic or not shuffle)
    dataset = dataset.batch(options.batch_size, drop_remainder=options.drop_remainder)
    dataset = dataset.prefetch(AUTOTUNE)
    dataset_options = tf.data.Options()
    dataset_options.deterministic = bool(options.deterministic or not shuffle)
    return dataset.with_options(dataset_options)


def multilabel_target(multi_hot: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """One float32 tensor per example: 1 or 0 where the label is known, -1 where it is left
    out of the loss and the metrics (its mask is 0)."""
    return tf.where(mask > 0, tf.cast(multi_hot, tf.float32), -1.0)


def with_element_seeds(dataset: tf.data.Dataset, seed: int | None) -> tf.data.Dataset:
    """Pair each element with a seed of shape [2] for the stateless augmentation.

    The seeds come from a seeded random op in a sequential map, so with a fixed seed
    every run draws the same sequence, and each epoch (the map runs after `repeat`) new
    ones. A map is what tf.distribute's auto-shard walks through to the files; a zip with
    `Dataset.random`, or a scan, stops it ("Did not find a shardable source").
    """
    def attach(record: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return record, tf.random.uniform([2], 0, _SEED_RANGE, tf.int64, seed=seed)

    return dataset.map(_plain(attach))


def _plain(function: Callable) -> Callable:
    """`function` traced as written, without AutoGraph's rewrite: the input path branches
    with tf.cond and tf.where only, and AutoGraph's conversion of it cost about a second
    of every command's start-up."""
    return tf.autograph.experimental.do_not_convert(function)


def _synthetic(spec, height, width, channels, options, seed) -> tf.data.Dataset:
    """One random batch, repeated: the input costs nothing, so the model is measured."""
    generator = tf.random.Generator.from_seed(seed or 0)
    images = generator.uniform([options.batch_size, height, width, channels])
    if spec.kind.dense:
        targets = generator.uniform(
            [options.batch_size, height, width], maxval=spec.num_classes, dtype=tf.int32
        )
    elif spec.kind.multi_label:
        targets = tf.cast(generator.uniform([options.batch_size, spec.num_classes]) < 0.3,
                          tf.float32)
    else:
        targets = generator.uniform(
            [options.batch_size], maxval=spec.num_classes, dtype=tf.int64
        )
    dataset = tf.data.Dataset.from_tensors((images, targets))
    return dataset.repeat(None if options.is_training or options.num_epochs is None else 1)
