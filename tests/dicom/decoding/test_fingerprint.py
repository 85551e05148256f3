"""The instance fingerprint leaves out who wrote the file, and only that."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pydicom

from dicom.decoding.fingerprint import data_set_offset, instance_sha256
from tests.support.dicom_files import image_dataset, to_bytes


def _rewritten_meta(data: bytes) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.file_meta.ImplementationVersionName = "OTHER_TOOL_9"
    ds.file_meta.SourceApplicationEntityTitle = "SENDER"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_the_same_data_set_with_other_file_meta_has_one_fingerprint():
    data = to_bytes(image_dataset(np.arange(64, dtype=np.uint8).reshape(8, 8)))
    other = _rewritten_meta(data)
    assert other != data and len(other) != len(data)
    assert instance_sha256(other) == instance_sha256(data)
    assert data[data_set_offset(data):] == other[data_set_offset(other):]


def test_other_pixels_and_bare_data_sets():
    one = to_bytes(image_dataset(np.zeros((8, 8), np.uint8)))
    two = to_bytes(image_dataset(np.ones((8, 8), np.uint8)))
    assert instance_sha256(one) != instance_sha256(two)
    bare = to_bytes(image_dataset(np.zeros((8, 8), np.uint8)), file_format=False)
    assert data_set_offset(bare) == 0
    assert instance_sha256(bare) == hashlib.sha256(bare).hexdigest()
