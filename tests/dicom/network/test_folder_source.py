"""A folder as a pull's Source: headers searched, non-DICOM files skipped, the path that
sorts first wins a shared SOP Instance UID, and no folder name shows under
--deidentify."""

from __future__ import annotations

import os

import numpy as np
import pytest

from dicom.network.folder_source import FolderSource
from dicom.network.instance_filters import parse_filters
from dicom.network.remote import PacsError
from dicom.network.spool import Spool
from tests.support.dicom_files import image_dataset, to_bytes


def _write(path, sop_uid: str, modality: str, value: int) -> None:
    ds = image_dataset(np.full((8, 8), value, np.uint16), bits_stored=12)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.Modality = modality
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(to_bytes(ds))


def test_search_filters_headers_and_the_first_path_wins_a_shared_uid(tmp_path):
    root = tmp_path / "Smith^John"
    _write(root / "b" / "1.dcm", "1.2.3.1", "CR", 1)
    _write(root / "a" / "1.dcm", "1.2.3.1", "CR", 2)  # the same UID: sorts first, wins
    _write(root / "a" / "2.dcm", "1.2.3.2", "DX", 3)
    (root / "notes.txt").write_text("not DICOM")
    (root / "a" / ".hidden.dcm").write_bytes(b"")
    source = FolderSource(str(root))
    source.probe()
    found = source.search(parse_filters(["Modality=CR"]))
    assert [i.sop_uid for i in found] == ["1.2.3.1"]
    spool = Spool(str(tmp_path / "spool"), 1 << 20)
    source.start(spool, Spool.name_for)
    [copied] = source.retrieve_batch(found)
    with open(copied, "rb") as copy, open(root / "a" / "1.dcm", "rb") as first:
        assert copy.read() == first.read()
    assert source.describe() == f"file://{root}"


def test_under_deidentify_the_folder_is_a_pseudonym_and_a_missing_one_is_one_line(tmp_path):
    key = b"k" * 32
    named = FolderSource(str(tmp_path / "Smith^John"), deid_key=key)
    assert "Smith" not in named.describe() and named.describe().startswith("folder:PATH-")
    assert named.describe() == FolderSource(str(tmp_path / "Smith^John"), key).describe()
    with pytest.raises(PacsError, match="no such folder"):
        named.probe()
