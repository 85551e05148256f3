"""Tiny NIfTI trees for the 3-D generator's tests."""

from __future__ import annotations

import os

import numpy as np

from datasets.synthetic_volumes.volume_files import numbered_name, write_volume


def box(shape, low, high) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    mask[tuple(slice(a, b) for a, b in zip(low, high, strict=True))] = 1
    return mask


def subject_tree(root: str, masks: dict[str, np.ndarray], subject: str = "s0001",
                 with_ct: bool = True) -> str:
    """root/sNNNN/segmentations/<name>.nii.gz (+ ct.nii.gz)."""
    folder = os.path.join(root, subject, "segmentations")
    for name, mask in masks.items():
        write_volume(os.path.join(folder, f"{name}.nii.gz"), mask)
    if with_ct:
        shape = next(iter(masks.values())).shape
        write_volume(os.path.join(root, subject, "ct.nii.gz"), np.zeros(shape, np.int16))
    return os.path.join(root, subject)


def numbered_volumes(folder: str, volumes: dict[int, np.ndarray]) -> None:
    for index, volume in volumes.items():
        write_volume(os.path.join(folder, numbered_name(index)), volume)


def tree_bytes(folder: str) -> dict[str, bytes]:
    """{relative path: bytes} of every file under `folder`."""
    found = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, folder)] = handle.read()
    return found
