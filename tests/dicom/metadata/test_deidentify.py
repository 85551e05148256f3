import pytest

from dicom.metadata.deidentify import DeidentificationKeyError, Deidentifier, load_key
from tests.support.dicom_files import gradient, image_dataset

KEY = b"a-test-secret-of-some-length"


def _phi_dataset():
    return image_dataset(
        gradient(bits=8),
        PatientName="DOE^JANE",
        PatientID="MRN4711",
        PatientBirthDate="19700101",
        PatientAddress="1 ELM ST",
        InstitutionName="GENERAL",
        ReferringPhysicianName="HOUSE^G",
        AccessionNumber="ACC1",
        StudyDate="20250101",
        StudyDescription="CHEST FOR DOE",
        PatientSex="F",
        PatientAge="055Y",
    )


def test_phi_removed_characteristics_kept_uids_remapped():
    ds = _phi_dataset()
    original_uid = ds.SOPInstanceUID
    Deidentifier(KEY).apply(ds)
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientAddress",
        "InstitutionName",
        "ReferringPhysicianName",
        "AccessionNumber",
        "StudyDate",
        "StudyDescription",
    ):
        assert keyword not in ds
    assert ds.PatientSex == "F" and ds.PatientAge == "055Y"
    assert ds.SOPInstanceUID != original_uid and ds.SOPInstanceUID.startswith("2.25.")
    assert len(ds.SOPInstanceUID) <= 64
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"


def test_pseudonyms_are_stable_and_keyed():
    a, b = Deidentifier(KEY), Deidentifier(KEY)
    other = Deidentifier(b"another-secret-key-of-length")
    assert a.patient_key(_phi_dataset()) == b.patient_key(_phi_dataset())
    assert a.patient_key(_phi_dataset()) != other.patient_key(_phi_dataset())
    assert a.remap_uid("1.2.3") == b.remap_uid("1.2.3") != other.remap_uid("1.2.3")
    assert "MRN4711" not in a.patient_key(_phi_dataset())


def test_key_required_and_long_enough(monkeypatch):
    monkeypatch.delenv("MEDCV_DEID_KEY", raising=False)
    with pytest.raises(DeidentificationKeyError, match="MEDCV_DEID_KEY"):
        load_key(None)
    with pytest.raises(DeidentificationKeyError, match="at least"):
        load_key("short")
    monkeypatch.setenv("MEDCV_DEID_KEY", "x" * 20)
    assert load_key(None) == b"x" * 20
