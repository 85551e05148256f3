"""Source headers for results: what a catalog or a file holds, completed for highdicom."""

import pytest

from training.results.source_headers import NotADicomSource, header_from

IDENTITY = {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.1", "SOPInstanceUID": "2.25.1",
            "StudyInstanceUID": "2.25.2", "SeriesInstanceUID": "2.25.3"}


@pytest.mark.parametrize("sex, kept", [("F", "F"), ("O", "O"), ("W", ""), ("UNKNOWN", ""),
                                       ("", "")])
def test_a_patient_sex_outside_the_defined_terms_is_left_empty(sex, kept):
    header = header_from({**IDENTITY, "PatientSex": sex}, "row")
    assert header.PatientSex == kept
    assert header.PatientID == "" and header.StudyDate == ""  # type 2: present, empty


def test_a_row_without_a_uid_is_one_line_naming_it():
    with pytest.raises(NotADicomSource, match="row: no SOPInstanceUID"):
        header_from({k: v for k, v in IDENTITY.items() if k != "SOPInstanceUID"}, "row")
