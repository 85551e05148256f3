"""The metadata `tfds.builder_from_directory(OUT)` needs to read our shards.

The feature tree mirrors the record keys: tfds joins nested feature names with
`/`, so {"image": {"class": {"label": ...}}} reads `image/class/label`.
Split infos come from the conversion's own counts, so nothing is re-read. tfds
decodes PNG records itself; for raw and planar records it hands `image/encoded`
on as bytes, which `datasets.records.record_images.as_png` (or the input
pipeline) decodes.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from datasets.records.dataset_spec import DatasetSpec

TFDS_VERSION = "1.0.0"


def feature_tree(spec: DatasetSpec) -> Any:
    """The tensorflow-datasets FeaturesDict that describes the records, so that tfds can read them
    as a data set."""
    import tensorflow_datasets as tfds

    dtype = np.uint16 if 16 in spec.bit_depths else np.uint8
    if spec.image_format == "png":
        encoded = tfds.features.Image(
            shape=(None, None, spec.channels), dtype=dtype, encoding_format=None)
    else:  # raw and planar pixels: tfds hands the bytes on (see docs/records.md)
        encoded = tfds.features.Tensor(shape=(), dtype=np.object_)
    image = {
        "encoded": encoded,
        "format": tfds.features.Text(),
        "height": tfds.features.Scalar(dtype=np.int64),
        "width": tfds.features.Scalar(dtype=np.int64),
        "channels": tfds.features.Scalar(dtype=np.int64),
        "id": tfds.features.Text(),
        "patient_id": tfds.features.Text(),
    }
    if spec.kind.dense:
        image["segmentation"] = {
            "class": {
                "encoded": tfds.features.Image(
                    shape=(None, None, 1), dtype=np.uint8, encoding_format="png"
                ),
                "format": tfds.features.Text(),
            }
        }
    elif spec.kind.multi_label:
        labels = (spec.num_classes,)
        image["class"] = {
            "multi_hot": tfds.features.Tensor(shape=labels, dtype=np.int64),
            "mask": tfds.features.Tensor(shape=labels, dtype=np.int64),
            "text": tfds.features.Text(),
        }
    else:
        image["class"] = {
            "label": tfds.features.ClassLabel(names=spec.class_names),
            "text": tfds.features.Text(),
        }
    return tfds.features.FeaturesDict({"image": image})


def filename_template(spec: DatasetSpec) -> str:
    """Our shard names as a tfds template (`{SHARD_X_OF_Y}` is `00000-of-00004`)."""
    if _unsplit(spec):
        return "{DATASET}-{SHARD_X_OF_Y}.tfrecord"
    return "{DATASET}_{SPLIT}-{SHARD_X_OF_Y}.tfrecord"


def _unsplit(spec: DatasetSpec) -> bool:
    first = next(iter(spec.splits.values()))
    return len(spec.splits) == 1 and first.files[0].startswith(f"{spec.output_name}-")


def write_tfds_metadata(spec: DatasetSpec, output_dir: str) -> None:
    """Write dataset_info.json and features.json beside the shards."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import dataset_info, file_adapters

    template = tfds.core.ShardedFileTemplate(
        data_dir=os.path.abspath(output_dir),
        template=filename_template(spec),
        dataset_name=spec.output_name,
        filetype_suffix="tfrecord",
    )
    identity = dataset_info.DatasetIdentity(
        name=spec.output_name,
        version=tfds.core.Version(TFDS_VERSION),
        data_dir=os.path.abspath(output_dir),
        module_name="",
    )
    info = dataset_info.DatasetInfo(
        builder=identity,
        features=feature_tree(spec),
        description=f"medcv {spec.task} dataset converted by tf_convert_data.py",
    )
    info.set_file_format(file_adapters.FileFormat.TFRECORD)
    split_infos = [
        tfds.core.SplitInfo(
            name=name,
            shard_lengths=list(split.shard_lengths),
            num_bytes=split.num_bytes,
            filename_template=template.replace(split=name),
        )
        for name, split in spec.splits.items()
    ]
    info.set_splits(
        tfds.core.SplitDict.from_proto(
            repeated_split_infos=[s.to_proto() for s in split_infos],
            filename_template=template,
        )
    )
    info.write_to_directory(output_dir)
