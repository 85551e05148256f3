"""NIfTI in and out: uint8 label/intensity volumes, written whole or not at all.

A volume is written to a temporary name in its folder and renamed, so a killed
step never leaves a half-written file and "the file exists" means "finished".
nibabel writes gzip with a fixed timestamp, so the same array gives the same bytes.
"""

from __future__ import annotations

import os
import tempfile

import nibabel as nib
import numpy as np

NIFTI_SUFFIX = ".nii.gz"


class VolumeError(ValueError):
    """A NIfTI file that cannot be read; the message names it."""


def read_volume(path: str) -> np.ndarray:
    """The voxels of a NIfTI file; raises VolumeError naming the file when it cannot be read."""
    try:
        return np.asanyarray(nib.load(path).dataobj)
    except Exception as exc:  # nibabel raises many kinds for a corrupt file
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise VolumeError(f"cannot read NIfTI {path}: {reason}") from None


def write_volume(path: str, array: np.ndarray, affine: np.ndarray | None = None) -> None:
    """uint8 (or the array's dtype) NIfTI, identity affine unless given."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=NIFTI_SUFFIX, prefix=".partial-", dir=folder)
    os.close(handle)
    try:
        image = nib.Nifti1Image(np.asarray(array), np.eye(4) if affine is None else affine)
        image.set_data_dtype(np.asarray(array).dtype)
        nib.save(image, temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def numbered_name(index: int) -> str:
    """The file name of volume `index`."""
    return f"{index:06d}{NIFTI_SUFFIX}"


def numbered_files(folder: str) -> dict[int, str]:
    """{index: path} of the `NNNNNN.nii.gz` files in a folder."""
    found = {}
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        stem = name[: -len(NIFTI_SUFFIX)] if name.endswith(NIFTI_SUFFIX) else ""
        if stem.isdigit():
            found[int(stem)] = os.path.join(folder, name)
    return found
