import datetime

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom.metadata.deid_profile import (
    DEVICE_IDENTITY,
    EDITIONS,
    basic_profile,
    parse_options,
)
from dicom.metadata.deidentify import (
    DeidentificationKeyError,
    Deidentifier,
    DeidLists,
    DeidOptions,
    load_key,
)
from tests.support.dicom_files import gradient, image_dataset
from tests.support.planted_phi import dataset_bytes, planted_dataset

KEY = b"a-test-secret-of-some-length"


def _phi_dataset(**extra):
    return image_dataset(
        gradient(bits=8),
        PatientName="DOE^JANE",
        PatientBirthDate="19700101",
        PatientAddress="1 ELM ST",
        InstitutionName="GENERAL",
        ReferringPhysicianName="HOUSE^G",
        AccessionNumber="ACC1",
        StudyDate="20250101",
        StudyDescription="CHEST FOR DOE",
        PatientSex="F",
        PatientAge="055Y",
        **{"PatientID": "MRN4711", **extra},
    )


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_every_table_attribute_is_gone_top_level_in_sequences_and_private(edition):
    planted = planted_dataset(edition)
    assert len(planted.markers) > 300  # the table, not a hand-picked subset
    before = dataset_bytes(planted.dataset)
    assert "MKPRIVATE1 (private)" in planted.found_in(before)  # the search does find them
    Deidentifier(KEY, DeidOptions(edition=edition, options=())).apply(planted.dataset)
    assert planted.found_in(dataset_bytes(planted.dataset)) == []


def test_the_table_comes_from_the_package_and_names_its_actions():
    profile = basic_profile("2023")
    assert len(profile) > 500
    assert profile.action(0x00100010) == "Z"  # Patient's Name
    assert profile.action(0x00080080) == "X/Z/D"  # Institution Name
    assert profile.action(0x00080018) == "U"  # SOP Instance UID
    assert profile.action(0x60023000) == "X"  # Overlay Data, any 60xx group
    assert profile.action(0x50040010) == "X"  # Curve Data
    assert profile.action(0x00280010) is None  # Rows: not in the table


def test_uids_remapped_everywhere_so_references_still_hold():
    first, second = _phi_dataset(), _phi_dataset()
    reference = Dataset()
    reference.ReferencedSOPClassUID = first.SOPClassUID
    reference.ReferencedSOPInstanceUID = first.SOPInstanceUID
    second.SourceImageSequence = Sequence([reference])
    second.FrameOfReferenceUID = "1.2.3.999"
    deidentifier = Deidentifier(KEY)
    original = first.SOPInstanceUID
    deidentifier.apply(first)
    deidentifier.apply(second)
    item = second.SourceImageSequence[0]
    assert item.ReferencedSOPInstanceUID == first.SOPInstanceUID != original
    assert item.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.7"  # a class, not PHI
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
    assert second.FrameOfReferenceUID.startswith("2.25.")
    assert len(first.SOPInstanceUID) <= 64


def test_basic_profile_alone_removes_characteristics_and_marks_the_object():
    ds = _phi_dataset()
    Deidentifier(KEY, DeidOptions(options=())).apply(ds)
    assert "PatientAge" not in ds and ds.PatientSex == ""
    assert "PatientAddress" not in ds and "StudyDescription" not in ds
    assert ds.PatientBirthDate == "" and ds.StudyDate == ""
    assert ds.PatientID == ds.PatientName == Deidentifier(KEY).patient_key(_phi_dataset())
    assert ds.AccessionNumber == Deidentifier(KEY).accession_key("ACC1")
    assert ds.PatientIdentityRemoved == "YES"
    assert "2026c" in ds.DeidentificationMethod
    assert [i.CodeValue for i in ds.DeidentificationMethodCodeSequence] == ["113100"]


def test_options_keep_what_they_name_and_are_recorded_in_the_object():
    ds = _phi_dataset(DeviceSerialNumber="SN-77", StationName="ROOM4")
    options = DeidOptions(options=("retain_patient_characteristics", "retain_device_identity",
                                   "retain_institution_identity"))
    Deidentifier(KEY, options).apply(ds)
    assert (ds.PatientSex, ds.PatientAge) == ("F", "055Y")
    assert (ds.DeviceSerialNumber, ds.StationName, ds.InstitutionName) == (
        "SN-77", "ROOM4", "GENERAL")
    assert "PatientAddress" not in ds
    codes = [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113109", "113112", "113108"]
    assert {"DeviceSerialNumber", "StationName"} <= DEVICE_IDENTITY


def test_clean_descriptors_keeps_only_the_allow_list():
    allowed = DeidOptions(options=("clean_descriptors",),
                          descriptor_allow=frozenset({"CHEST PA"}))
    kept = _phi_dataset(SeriesDescription="chest  pa")
    Deidentifier(KEY, allowed).apply(kept)
    assert kept.SeriesDescription == "chest  pa"
    assert "StudyDescription" not in kept  # 'CHEST FOR DOE' is not on the list


def test_retain_uids_keeps_them():
    ds = _phi_dataset()
    uid = ds.SOPInstanceUID
    deidentifier = Deidentifier(KEY, DeidOptions(options=("retain_uids",)))
    deidentifier.apply(ds)
    assert ds.SOPInstanceUID == uid == deidentifier.stored_uid(uid)  # the catalog's ID too


def test_longitudinal_option_keeps_intervals_and_no_original_date():
    deidentifier = Deidentifier(KEY, DeidOptions(options=("retain_longitudinal_modified_dates",)))
    studies = []
    for date in ("20240110", "20240305", "20251231"):
        ds = _phi_dataset(SeriesDate=date, AcquisitionDateTime=date + "083000")
        ds.StudyDate = date
        deidentifier.apply(ds)
        assert date not in dataset_bytes(ds).decode("latin-1")
        assert ds.AcquisitionDateTime.endswith("083000")
        assert ds.PatientBirthDate == ""  # never shifted: removed
        studies.append(datetime.datetime.strptime(ds.StudyDate, "%Y%m%d").date())
    assert (studies[1] - studies[0]).days == 55 and (studies[2] - studies[1]).days == 666
    other = _phi_dataset(PatientID="MRN-OTHER")
    assert deidentifier.date_shift_days("MRN4711") != deidentifier.date_shift_days("MRN-OTHER")
    deidentifier.apply(other)
    assert other.StudyDate != studies[0].strftime("%Y%m%d")


def test_names_and_dates_outside_the_table_still_go():
    ds = _phi_dataset()
    ds.add_new(0x00400244, "DA", "20250101")  # Performed Procedure Step Start Date: in table
    ds.add_new(0x0018A002, "DT", "20250101101010")  # Contribution DateTime
    ds.add_new(0x00081060, "PN", "WATSON^J")  # Name of Physician(s) Reading Study
    Deidentifier(KEY).apply(ds)
    text = dataset_bytes(ds).decode("latin-1")
    assert "20250101" not in text and "WATSON" not in text


def test_same_input_gives_the_same_bytes():
    one, two = _phi_dataset(), _phi_dataset()
    two.SOPInstanceUID = two.file_meta.MediaStorageSOPInstanceUID = one.SOPInstanceUID
    two.StudyInstanceUID, two.SeriesInstanceUID = one.StudyInstanceUID, one.SeriesInstanceUID
    for ds in (one, two):
        Deidentifier(KEY).apply(ds)
    assert dataset_bytes(one) == dataset_bytes(two)


def test_pseudonyms_are_stable_and_keyed():
    a, b = Deidentifier(KEY), Deidentifier(KEY)
    other = Deidentifier(b"another-secret-key-of-length")
    assert a.patient_key(_phi_dataset()) == b.patient_key(_phi_dataset())
    assert a.patient_key(_phi_dataset()) != other.patient_key(_phi_dataset())
    assert a.remap_uid("1.2.3") == b.remap_uid("1.2.3") != other.remap_uid("1.2.3")
    assert "MRN4711" not in a.patient_key(_phi_dataset())
    assert a.path_pseudonym("DOE^JOHN/1.dcm") == a.path_pseudonym("DOE^JOHN\\1.png")
    assert a.path_pseudonym("DOE^JOHN/1.dcm") != other.path_pseudonym("DOE^JOHN/1.dcm")


def test_wrong_options_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown --deid_options retain_everything"):
        parse_options(["retain_everything"])
    with pytest.raises(ValueError, match=r"unknown PS3\.15 edition '1999'"):
        DeidOptions(edition="1999")
    with pytest.raises(ValueError, match="--burned_in must be one of"):
        DeidOptions(burned_in="blur")


def test_key_required_and_long_enough(monkeypatch):
    monkeypatch.delenv("MEDCV_DEID_KEY", raising=False)
    with pytest.raises(DeidentificationKeyError, match="MEDCV_DEID_KEY"):
        load_key(None)
    with pytest.raises(DeidentificationKeyError, match="at least"):
        load_key("short")
    monkeypatch.setenv("MEDCV_DEID_KEY", "x" * 20)
    assert load_key(None) == b"x" * 20


def test_a_real_file_of_pydicoms_keeps_its_pixels():
    path = pydicom.data.get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.copy()
    name = str(ds.PatientName)
    Deidentifier(KEY).apply(ds)
    back = pydicom.dcmread(__import__("io").BytesIO(dataset_bytes(ds)))
    assert (back.pixel_array == pixels).all()
    assert name not in dataset_bytes(ds).decode("latin-1")


def test_retain_safe_private_keeps_only_the_listed_elements_of_the_listed_creator(tmp_path):
    listing = tmp_path / "safe.json"
    listing.write_text('[{"group": "0029", "creator": "ACME 1.0", "elements": ["10"]}]')
    safe = DeidLists.load(None, str(listing)).safe_private
    assert safe == {(0x0029, "ACME 1.0", 0x10)}
    ds = _phi_dataset()
    kept = ds.private_block(0x0029, "ACME 1.0", create=True)
    kept.add_new(0x10, "DS", "1.5")
    kept.add_new(0x11, "LO", "DOE^JANE")  # same creator, not listed
    ds.private_block(0x0031, "ACME 1.0", create=True).add_new(0x10, "LO", "X")  # other group
    ds.private_block(0x0029, "OTHER", create=True).add_new(0x10, "LO", "MRN4711")
    options = DeidOptions(options=("retain_safe_private",), safe_private=safe)
    Deidentifier(KEY, options).apply(ds)
    private = {(e.tag.group, e.tag.element, str(e.value)) for e in ds if e.tag.is_private}
    assert private == {(0x0029, 0x0010, "ACME 1.0"), (0x0029, 0x1010, "1.5")}
    assert "113111" in [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]


def test_retain_safe_private_needs_a_list_and_a_good_one(tmp_path):
    with pytest.raises(ValueError, match="needs the safe list: --deid_safe_private"):
        DeidOptions(options=("retain_safe_private",))
    bad = tmp_path / "bad.json"
    bad.write_text('[{"group": "0028", "creator": "X", "elements": ["10"]}]')
    with pytest.raises(ValueError, match=r"bad.json: group 0028 is not a private \(odd\) group"):
        DeidLists.load(None, str(bad))
