"""Iterate the raw contents of a converted split: encoded bytes, no decoding.

For tools that hand the stored images on unchanged (image folders, HDF5
export); training reads through `datasets.input_pipeline.pipeline` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import tensorflow as tf

from datasets.input_pipeline.pipeline import record_files
from datasets.records import example_codec
from datasets.records.dataset_spec import MULTILABEL, SEGMENTATION, DatasetSpec


@dataclass(frozen=True)
class StoredExample:
    example_id: str
    image: bytes
    image_format: str
    label: int | None
    """The class index; None for segmentation and multi-label records."""
    label_text: str
    """The class name, or a multi-label record's positives joined by `|`."""
    mask: bytes | None
    patient_id: str


def iter_split(spec: DatasetSpec, split_name: str, dataset_dir: str) -> Iterator[StoredExample]:
    """Every record of the split in file order."""
    parse_spec = example_codec.parsing_spec(spec.task, spec.num_classes)
    segmentation = spec.task == SEGMENTATION
    single = not segmentation and spec.task != MULTILABEL
    records = tf.data.TFRecordDataset(record_files(spec, split_name, dataset_dir))
    for record in records.map(lambda r: tf.io.parse_single_example(r, parse_spec)):
        yield StoredExample(
            example_id=record[example_codec.ID].numpy().decode("utf-8"),
            image=record[example_codec.ENCODED].numpy(),
            image_format=record[example_codec.FORMAT].numpy().decode("utf-8"),
            label=int(record[example_codec.LABEL]) if single else None,
            label_text="" if segmentation else record[example_codec.LABEL_TEXT].numpy().decode(),
            mask=record[example_codec.MASK_ENCODED].numpy() if segmentation else None,
            patient_id=record[example_codec.PATIENT_ID].numpy().decode("utf-8"),
        )
