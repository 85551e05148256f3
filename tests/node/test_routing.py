"""Route matching: value lists, wildcards and numeric comparisons on DICOM attributes."""

from __future__ import annotations

import pytest

from node.routing import matches, parse_match


def test_lists_wildcards_and_comparisons():
    match = parse_match({"Modality": ["CR", "DX"], "BodyPartExamined": "CHE*",
                         "Rows": ">=1024", "SeriesDescription": "!=scout"}, "m")
    chest = {"Modality": "DX", "BodyPartExamined": "chest", "Rows": "2048",
             "SeriesDescription": "PA"}
    assert matches(match, chest)
    assert not matches(match, {**chest, "Modality": "CT"})
    assert not matches(match, {**chest, "Rows": "512"})
    assert not matches(match, {**chest, "SeriesDescription": "SCOUT"})
    assert not matches(match, {**chest, "BodyPartExamined": ""})
    assert not matches(match, {k: v for k, v in chest.items() if k != "Rows"})  # absent
    assert matches(parse_match(None, "m"), {})  # no match: every study
    assert matches(parse_match({"StudyDescription": "?HEST*"}, "m"),
                   {"StudyDescription": "CHEST PA"})


def test_a_comparison_with_a_non_number_compares_text():
    match = parse_match({"Rows": ">=1024"}, "m")
    assert not matches(match, {"Rows": "wide"})
    assert matches(parse_match({"Modality": "==cr"}, "m"), {"Modality": "CR"})


@pytest.mark.parametrize(("raw", "message"), [
    ({"NotAKeyword": "x"}, "m.NotAKeyword: not a DICOM keyword pydicom knows"),
    ({"Modality": []}, "m.Modality: values are strings or numbers"),
    ({"Modality": {"a": 1}}, "m.Modality: values are strings or numbers"),
    (["Modality"], "m: a mapping of DICOM keywords to values"),
])
def test_bad_matches_name_the_key(raw, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        parse_match(raw, "m")
