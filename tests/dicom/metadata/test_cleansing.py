import pytest

from dicom.metadata.cleansing import (
    AttributeLists,
    cleanse_attributes,
    cleanse_int,
    cleanse_string,
    parse_keyword_list,
)
from tests.support.dicom_files import gradient, image_dataset


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  chest  pa ", "CHEST PA"),
        ("", None),
        ("   ", None),
        (None, None),
        ("abc\x00", "ABC"),
    ],
)
def test_cleanse_string(raw, expected):
    assert cleanse_string(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected", "warns"),
    [
        (" 12 ", 12, False),
        ("-3", -3, False),
        ("4.0", 4, False),
        ("1A", None, True),
        ("", None, False),
        ("seven", None, True),
        ("5\\6", 5, False),
    ],
)
def test_cleanse_int(raw, expected, warns):
    value, warning = cleanse_int(raw)
    assert value == expected
    assert (warning is not None) == warns


def test_cleanse_attributes_reads_junk_integers_without_raising():
    ds = image_dataset(gradient(bits=8), Manufacturer="  Acme Medical ", PatientSex="")
    ds.add_new(0x00200012, "LO", "1A")  # AcquisitionNumber written with a junk value
    ds.InstanceNumber = 7
    lists = AttributeLists(("InstanceNumber", "AcquisitionNumber"), ("Manufacturer", "PatientSex"))
    result = cleanse_attributes(ds, lists)
    assert result.values == {
        "InstanceNumber": 7,
        "AcquisitionNumber": None,
        "Manufacturer": "ACME MEDICAL",
        "PatientSex": None,
    }
    assert len(result.warnings) == 1 and "AcquisitionNumber" in result.warnings[0]


def test_attribute_lists_reject_unknown_and_reserved_keywords():
    with pytest.raises(ValueError, match="NotAKeyword"):
        AttributeLists(("NotAKeyword",), ())
    with pytest.raises(ValueError, match="Modality"):
        AttributeLists((), ("Modality",))
    with pytest.raises(ValueError, match="both"):
        AttributeLists(("InstanceNumber",), ("InstanceNumber",))


def test_parse_keyword_list():
    assert parse_keyword_list(" A, B,,C ") == ("A", "B", "C")
