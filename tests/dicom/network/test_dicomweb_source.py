"""The DICOMweb Source against a real Orthanc: an instance deleted between the search and
its retrieval is skipped with a warning that names it as the spool does (its pseudonym
under --deidentify), never by its UID."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from dicom.network.dicomweb_source import DicomwebSource
from dicom.network.instance_filters import parse_filters
from dicom.network.pacs_address import Credentials, parse_pacs_url
from dicom.network.spool import Spool
from tests.support.dicom_files import image_dataset, to_bytes
from tests.support.pacs_peers import start_orthanc

pytestmark = pytest.mark.slow  # a real Orthanc

SOP_UID = "1.2.826.0.1.3680043.8.498.77001"


def test_an_instance_gone_since_the_search_is_skipped_and_named_by_its_pseudonym(
        tmp_path, caplog):
    ds = image_dataset(np.full((8, 8), 7, np.uint16), bits_stored=12)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = SOP_UID
    path = tmp_path / "one.dcm"
    path.write_bytes(to_bytes(ds))
    orthanc = start_orthanc(str(tmp_path / "orthanc"), authentication=False)
    try:
        assert orthanc.upload([str(path)]) == [str(path)]
        [match] = orthanc.rest("POST", "/tools/lookup", data=SOP_UID).json()
        source = DicomwebSource(parse_pacs_url(orthanc.dicomweb), Credentials())
        [found] = source.search(parse_filters([f"SOPInstanceUID={SOP_UID}"]))
        orthanc.rest("DELETE", f"/instances/{match['ID']}").raise_for_status()
        spool = Spool(str(tmp_path / "spool"), 1 << 20)
        name_for = Spool.namer(b"k" * 32)  # as a pull under --deidentify names files
        source.start(spool, name_for)
        with caplog.at_level(logging.WARNING):
            assert source.retrieve_batch([found]) == []
        source.stop()
    finally:
        orthanc.stop()
    [warning] = [r.getMessage() for r in caplog.records if "is gone" in r.getMessage()]
    assert name_for(SOP_UID) in warning and "(HTTP 404)" in warning
    assert SOP_UID not in warning
