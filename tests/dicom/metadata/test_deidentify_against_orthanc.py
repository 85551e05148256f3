"""Our Basic Profile against Orthanc's own /anonymize (Table E.1-1 of 2021b, the newest that
Debian's Orthanc 1.10 knows; 2023b needs Orthanc 1.12), attribute by
attribute, on pydicom's real test files: whatever Orthanc removes or empties, we do too."""

import io

import pydicom
import pytest

from dicom.metadata.deidentify import Deidentifier, DeidOptions
from tests.support.pacs_peers import pydicom_test_files, start_orthanc

pytestmark = pytest.mark.slow  # starts an Orthanc

KEY = b"orthanc-comparison-key"
# Where we keep a value that Orthanc empties, and why (docs/deidentification.md says so too).
DOCUMENTED = {
    # Orthanc empties these in every file; we replace them with the keyed pseudonym, a
    # value the Z action allows, so a label table still joins.
    "PatientName", "PatientID", "AccessionNumber",
}


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    server = start_orthanc(str(tmp_path_factory.mktemp("orthanc-anonymize")))
    yield server
    server.stop()


def _removed_or_emptied(source: pydicom.Dataset, result: pydicom.Dataset) -> set[str]:
    gone = set()
    for element in source:
        if element.tag.is_private or element.tag.group in (0x0002, 0x7FE0):
            continue
        if element.value in (None, "", b"") or (element.VR == "SQ" and not element.value):
            continue
        other = result.get(element.tag)
        if other is None or other.value in (None, "", b"") or (
                other.VR == "SQ" and not other.value):
            gone.add(element.keyword or str(element.tag))
    return gone


def test_every_attribute_orthanc_removes_or_empties_we_do_too(orthanc):
    files = pydicom_test_files()
    uploaded = orthanc.upload(files)
    assert len(uploaded) > 20
    ours = Deidentifier(KEY, DeidOptions(edition="2023", options=()))
    differences: dict[str, set[str]] = {}
    compared = 0
    for path in uploaded:
        source = pydicom.dcmread(path, force=True)
        uid = str(source.SOPInstanceUID)
        found = orthanc.rest("POST", "/tools/lookup", data=uid).json()
        instance = next(f["ID"] for f in found if f["Type"] == "Instance")
        anonymized = orthanc.rest("POST", f"/instances/{instance}/anonymize",
                                  json={"DicomVersion": "2021b", "Force": True}).content
        theirs = pydicom.dcmread(io.BytesIO(anonymized), force=True)
        mine = pydicom.dcmread(path, force=True)
        ours.apply(mine)
        missed = _removed_or_emptied(source, theirs) - _removed_or_emptied(source, mine)
        if missed - DOCUMENTED:
            differences[path.rsplit("/", 1)[-1]] = missed - DOCUMENTED
        compared += 1
    assert compared == len(uploaded)
    assert differences == {}
