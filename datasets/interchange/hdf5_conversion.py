"""Write one split of a converted dataset into a single HDF5 file.

    python -m datasets.hdf5_export --dataset_dir TFRECORDS --split_name train \\
      --output train.h5 [--image_size 128,128] [--channels 1]

Images keep their stored depth (16-bit stays uint16). HDF5 stacks images, so
they must share one size: when the split's sizes differ, give --image_size
(bilinear for images, nearest for masks). Written to `OUTPUT.partial` and
renamed when complete. Read it back with `datasets.interchange.hdf5_store.Hdf5BatchReader`.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from tqdm import tqdm

from datasets.interchange.hdf5_store import Hdf5SplitWriter
from datasets.records.dataset_spec import read_spec
from datasets.records.segmentation_masks import decode_mask

BLOCK = 256


def export_split(
    dataset_dir: str,
    split_name: str,
    output: str,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    progress: bool = True,
) -> int:
    """Writes a records split as an HDF5 file of images and targets, resized when asked; returns
    the image count."""
    import tensorflow as tf

    from datasets.records.record_reader import iter_split

    spec = read_spec(dataset_dir)
    if spec.kind.multi_label:
        raise ValueError(f"{dataset_dir} holds multi-label records; HDF5 export takes "
                         "classification and segmentation records only")
    total = spec.split(split_name).num_examples
    if image_size is None:
        if tuple(spec.min_size) != tuple(spec.max_size):
            raise ValueError(
                f"images range from {spec.min_size} to {spec.max_size}: give --image_size H,W"
            )
        image_size = (int(spec.min_size[0]), int(spec.min_size[1]))
    size = (int(image_size[0]), int(image_size[1]))
    channels = channels or spec.channels or 3
    dtype = np.uint16 if 16 in spec.bit_depths else np.uint8
    tf_dtype = tf.uint16 if dtype == np.uint16 else tf.uint8
    segmentation = spec.kind.dense
    temporary = f"{output}.partial"
    block: dict[str, list] = {"images": [], "targets": [], "ids": [], "patients": []}
    count = 0
    try:
        with Hdf5SplitWriter(
            temporary, (*size, channels), np.dtype(dtype), spec.task, spec.class_names,
            {"source": os.path.abspath(dataset_dir), "split": split_name},
        ) as writer:
            def flush() -> None:
                if block["ids"]:
                    writer.append(np.stack(block["images"]), np.stack(block["targets"]),
                                  block["ids"], block["patients"])
                    for values in block.values():
                        values.clear()

            for example in tqdm(iter_split(spec, split_name, dataset_dir), total=total,
                                unit="image", desc="hdf5", disable=not progress, file=sys.stderr):
                image = tf.io.decode_image(example.image, channels=channels, dtype=tf_dtype,
                                           expand_animations=False)
                if tuple(image.shape[:2]) != size:
                    image = tf.cast(tf.round(tf.clip_by_value(
                        tf.image.resize(image, size), 0, np.iinfo(dtype).max)), tf_dtype)
                block["images"].append(image.numpy())
                if segmentation:
                    mask = decode_mask(example.mask or b"")
                    if mask.shape != size:
                        mask = tf.image.resize(mask[..., None], size,
                                               method="nearest").numpy()[..., 0]
                    block["targets"].append(mask.astype(np.uint8))
                else:
                    block["targets"].append(np.int64(example.label))
                block["ids"].append(example.example_id)
                block["patients"].append(example.patient_id)
                count += 1
                if len(block["ids"]) >= BLOCK:
                    flush()
            flush()
        os.replace(temporary, output)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return count


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """(height, width) from "H,W" or "HxW"; None for none; raises ValueError naming --image_size
    otherwise."""
    if not text:
        return None
    try:
        height, width = (int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise ValueError(f"--image_size must be H,W (e.g. 128,128), got {text!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"--image_size must be positive, got {text!r}")
    return height, width
