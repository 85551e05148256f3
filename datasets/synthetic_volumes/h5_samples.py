"""Step 3 of the generator: the paired views and their labels in two HDF5 files.

`train_data.hdf5` and `val_data.hdf5` hold one group per sample, named by its
global index `{:06}` (validation continues the numbering: it is the last
`val_count` samples). A group holds `img` uint8 (2, S, S, S) = [view1, view2]
and `seg` uint8 (S, S, S). Each file is written under a temporary name and
renamed, so a killed run leaves the previous files or none.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import h5py
import numpy as np

from datasets.synthetic_volumes.volume_files import numbered_files, read_volume

TRAIN_FILE = "train_data.hdf5"
VAL_FILE = "val_data.hdf5"
IMAGE, SEGMENTATION = "img", "seg"


def group_name(index: int) -> str:
    """The HDF5 group name of sample `index`."""
    return f"{index:06d}"


@dataclass
class H5Summary:
    train: int
    val: int
    skipped: bool = False


def sample_indices(view1_dir: str, view2_dir: str, seg_dir: str) -> list[int]:
    """Indices present in all three folders; an error names what is missing."""
    folders = {"--view1_dir": view1_dir, "--view2_dir": view2_dir, "--seg_dir": seg_dir}
    found = {flag: numbered_files(folder) for flag, folder in folders.items()}
    for flag, files in found.items():
        if not files:
            raise FileNotFoundError(f"{flag} {folders[flag]} holds no NNNNNN.nii.gz volume")
    common = set.intersection(*(set(files) for files in found.values()))
    for flag, files in found.items():
        extra = sorted(set(files) - common)
        if extra:
            raise ValueError(f"{flag} {folders[flag]} has {len(extra)} volume(s) the other "
                             f"folders lack, e.g. {group_name(extra[0])}; finish the earlier "
                             "steps first")
    return sorted(common)


def _complete(path: str, names: list[str]) -> bool:
    if not os.path.exists(path):
        return False
    try:
        with h5py.File(path, "r") as handle:
            return sorted(handle) == names
    except OSError:
        return False


def write_h5(view1_dir: str, view2_dir: str, seg_dir: str, out_dir: str, val_count: int,
             on_sample: Callable[[int], None] | None = None) -> H5Summary:
    """Writes the train and validation HDF5 files, the last `val_count` samples validating. Each
    file is written under a temporary name and renamed when whole; when both are already whole,
    nothing is written."""
    indices = sample_indices(view1_dir, view2_dir, seg_dir)
    if not 0 <= val_count < len(indices):
        raise ValueError(f"--val_count={val_count} must leave training samples: there are "
                         f"{len(indices)} samples")
    split = len(indices) - val_count
    plan = {TRAIN_FILE: indices[:split], VAL_FILE: indices[split:]}
    os.makedirs(out_dir, exist_ok=True)
    if all(_complete(os.path.join(out_dir, name), [group_name(i) for i in chosen])
           for name, chosen in plan.items()):
        return H5Summary(split, val_count, skipped=True)
    views = (numbered_files(view1_dir), numbered_files(view2_dir), numbered_files(seg_dir))
    for name, chosen in plan.items():
        final = os.path.join(out_dir, name)
        temporary = os.path.join(out_dir, f".partial-{name}")
        with h5py.File(temporary, "w") as handle:
            for index in chosen:
                first, second, labels = (read_volume(files[index]) for files in views)
                if not first.shape == second.shape == labels.shape:
                    raise ValueError(f"sample {group_name(index)}: view and label shapes "
                                     f"differ ({first.shape}, {second.shape}, {labels.shape})")
                group = handle.create_group(group_name(index))
                group.create_dataset(IMAGE, data=np.stack([first, second]).astype(np.uint8),
                                     compression="gzip", compression_opts=1)
                group.create_dataset(SEGMENTATION, data=labels.astype(np.uint8),
                                     compression="gzip", compression_opts=1)
                if on_sample is not None:
                    on_sample(index)
        os.replace(temporary, final)
    return H5Summary(split, val_count)
