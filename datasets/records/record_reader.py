"""Iterate the contents of a converted split as image files would hold them.

For tools that hand the stored images on (image folders, HDF5 export): PNG and
JPEG records come back unchanged, raw and planar pixels as lossless PNG. Training
reads through `datasets.input_pipeline.pipeline` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import tensorflow as tf

from datasets.input_pipeline.pipeline import record_files
from datasets.records import example_codec
from datasets.records.dataset_spec import DatasetSpec
from datasets.records.record_images import as_png


@dataclass(frozen=True)
class StoredExample:
    example_id: str
    image: bytes
    """PNG or JPEG bytes."""
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
    segmentation = spec.kind.dense
    single = not segmentation and not spec.kind.multi_label
    records = tf.data.TFRecordDataset(record_files(spec, split_name, dataset_dir))
    for record in records.map(lambda r: tf.io.parse_single_example(r, parse_spec)):
        stored_format = record[example_codec.FORMAT].numpy().decode("utf-8")
        yield StoredExample(
            example_id=record[example_codec.ID].numpy().decode("utf-8"),
            image=as_png(record[example_codec.ENCODED].numpy(), stored_format,
                         int(record[example_codec.HEIGHT]), int(record[example_codec.WIDTH]),
                         int(record[example_codec.CHANNELS])),
            image_format=stored_format if stored_format == "jpeg" else "png",
            label=int(record[example_codec.LABEL]) if single else None,
            label_text="" if segmentation else record[example_codec.LABEL_TEXT].numpy().decode(),
            mask=record[example_codec.MASK_ENCODED].numpy() if segmentation else None,
            patient_id=record[example_codec.PATIENT_ID].numpy().decode("utf-8"),
        )
