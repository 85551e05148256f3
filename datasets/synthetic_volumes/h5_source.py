"""tf.data over the generator's HDF5 files: (view1, view2, seg) for contrastive pretraining.

Group names are shuffled in TensorFlow (a new order every epoch, reproducible
from `seed`) before any volume is read; volumes are read with h5py one sample
at a time, so memory holds a few samples, not the file.
"""

from __future__ import annotations

import h5py
import numpy as np
import tensorflow as tf

from datasets.synthetic_volumes.h5_samples import IMAGE, SEGMENTATION


def volume_pairs(path: str, batch_size: int = 1, shuffle: bool = True, seed: int | None = None,
                 num_epochs: int | None = 1) -> tf.data.Dataset:
    """Batches of (view1, view2, seg), each uint8 (B, S, S, S)."""
    with h5py.File(path, "r") as handle:
        names = sorted(handle)
        if not names:
            raise ValueError(f"{path} holds no sample")
        side = handle[names[0]][SEGMENTATION].shape
    cache: dict[str, h5py.File] = {}

    def read(name) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        handle = cache.get(path) or cache.setdefault(path, h5py.File(path, "r"))
        group = handle[name.numpy().decode()]
        views = group[IMAGE][()]
        return views[0], views[1], group[SEGMENTATION][()]

    def load(name):
        first, second, labels = tf.py_function(read, [name], [tf.uint8] * 3)
        return tuple(tf.ensure_shape(v, side) for v in (first, second, labels))

    dataset = tf.data.Dataset.from_tensor_slices(names)
    if shuffle:
        dataset = dataset.shuffle(len(names), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.repeat(num_epochs).map(load, num_parallel_calls=1)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
