"""One split in one HDF5 file, and batches read back from it.

Layout: `images` (N, H, W, C) in the stored dtype (uint8 or uint16), `labels`
(N,) int64 or `masks` (N, H, W) uint8, `ids` and `patient_ids` (N,) UTF-8
strings; attributes record the task, class names and source. Pixel datasets
are chunked one image per chunk (random access for shuffling) and compressed
with gzip + byte shuffle. Writing appends in blocks, so memory stays bounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import h5py
import numpy as np

from datasets.records.tasks import record_task

IMAGES, LABELS, MASKS, IDS, PATIENT_IDS = "images", "labels", "masks", "ids", "patient_ids"
_TEXT = h5py.string_dtype("utf-8")


class Hdf5SplitWriter:
    """Append examples of one shape to a new HDF5 file."""

    def __init__(
        self,
        path: str,
        image_shape: tuple[int, int, int],
        image_dtype: np.dtype,
        task: str,
        class_names: Sequence[str],
        attributes: dict[str, object] | None = None,
    ) -> None:
        self.file = h5py.File(path, "w")
        self.task = task
        height, width, channels = image_shape
        compression = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
        self.images = self.file.create_dataset(
            IMAGES, (0, height, width, channels), dtype=image_dtype,
            maxshape=(None, height, width, channels), chunks=(1, height, width, channels),
            **compression,
        )
        if record_task(task).dense:
            self.targets = self.file.create_dataset(
                MASKS, (0, height, width), dtype=np.uint8, maxshape=(None, height, width),
                chunks=(1, height, width), **compression,
            )
        else:
            self.targets = self.file.create_dataset(
                LABELS, (0,), dtype=np.int64, maxshape=(None,), chunks=(4096,)
            )
        self.ids = self.file.create_dataset(
            IDS, (0,), dtype=_TEXT, maxshape=(None,), chunks=(4096,)
        )
        self.patients = self.file.create_dataset(
            PATIENT_IDS, (0,), dtype=_TEXT, maxshape=(None,), chunks=(4096,)
        )
        self.file.attrs["task"] = task
        self.file.attrs["class_names"] = json.dumps(list(class_names))
        for key, value in (attributes or {}).items():
            self.file.attrs[key] = value

    def append(
        self, images: np.ndarray, targets: np.ndarray, ids: Sequence[str], patients: Sequence[str]
    ) -> None:
        """Appends images and their targets, IDs and patients."""
        start, count = self.images.shape[0], images.shape[0]
        for dataset, values in (
            (self.images, images), (self.targets, targets), (self.ids, list(ids)),
            (self.patients, list(patients)),
        ):
            dataset.resize(start + count, axis=0)
            dataset[start : start + count] = values

    def close(self) -> None:
        """Closes the file."""
        self.file.close()

    def __enter__(self) -> Hdf5SplitWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Hdf5BatchReader:
    """Batches from an HDF5 split, reshuffled every epoch from (seed, epoch).

    Images come as float32 in [0, 1] (divided by the dtype's maximum) unless
    `normalize=False`; targets are labels (int64) or masks (int32).
    """

    def __init__(
        self,
        path: str,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        drop_remainder: bool = False,
        normalize: bool = True,
    ) -> None:
        self.path = path
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_remainder = drop_remainder
        self.normalize = normalize
        with h5py.File(path, "r") as handle:
            self.task = str(handle.attrs["task"])
            self.class_names = json.loads(handle.attrs["class_names"])
            self.num_examples = int(handle[IMAGES].shape[0])
            self.image_shape = tuple(handle[IMAGES].shape[1:])
            self.image_dtype = handle[IMAGES].dtype
        self.target_key = MASKS if record_task(self.task).dense else LABELS

    def __len__(self) -> int:
        full, rest = divmod(self.num_examples, self.batch_size)
        return full + (0 if self.drop_remainder or not rest else 1)

    def epoch(self, number: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(images, targets, ids) batches of one epoch."""
        order = (
            np.random.default_rng([self.seed, number]).permutation(self.num_examples)
            if self.shuffle else np.arange(self.num_examples)
        )
        scale = float(np.iinfo(self.image_dtype).max) if self.normalize else None
        with h5py.File(self.path, "r") as handle:
            images, targets, ids = handle[IMAGES], handle[self.target_key], handle[IDS]
            for start in range(0, self.num_examples, self.batch_size):
                wanted = order[start : start + self.batch_size]
                if self.drop_remainder and len(wanted) < self.batch_size:
                    break
                ascending = np.sort(wanted)  # h5py reads increasing indices only
                back = np.argsort(np.argsort(wanted))
                batch = images[ascending][back]
                if scale is not None:
                    batch = batch.astype(np.float32) / scale
                target = targets[ascending][back]
                if self.target_key == MASKS:
                    target = target.astype(np.int32)
                names = np.array([i.decode("utf-8") for i in ids[ascending][back]])
                yield batch, target, names

    def as_tf_dataset(self, num_epochs: int | None = 1) -> Any:
        """A tf.data source yielding (images, targets) batches, a new order each epoch."""
        import tensorflow as tf

        def generate():
            number = 0
            while num_epochs is None or number < num_epochs:
                for images, targets, _ in self.epoch(number):
                    yield images, targets
                number += 1

        image_dtype = tf.float32 if self.normalize else tf.as_dtype(self.image_dtype)
        target_spec = (
            tf.TensorSpec([None, *self.image_shape[:2]], tf.int32)
            if self.target_key == MASKS else tf.TensorSpec([None], tf.int64)
        )
        return tf.data.Dataset.from_generator(
            generate,
            output_signature=(tf.TensorSpec([None, *self.image_shape], image_dtype), target_spec),
        ).prefetch(2)
