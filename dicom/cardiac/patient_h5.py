"""cardiac.h5: one HDF5 group per patient with that patient's slices, masks and contours."""

from __future__ import annotations

import os

import h5py
import numpy as np


def write_patient_groups(path: str, patients: dict[str, dict[str, np.ndarray]],
                         attributes: dict[str, object] | None = None) -> None:
    """One HDF5 group per patient id, each holding that patient's named arrays
    (e.g. images, inner, outer, slices), chunked per slice and gzip-compressed.
    Written to `path.partial` and renamed, so a reader never sees half a file."""
    temporary = f"{path}.partial"
    with h5py.File(temporary, "w") as handle:
        for key, value in (attributes or {}).items():
            handle.attrs[key] = value
        for patient, arrays in sorted(patients.items()):
            group = handle.create_group(patient)
            for name, array in arrays.items():
                chunks = (1, *array.shape[1:]) if array.ndim > 1 and len(array) else None
                group.create_dataset(name, data=array, chunks=chunks,
                                     compression="gzip" if chunks else None)
    os.replace(temporary, path)
