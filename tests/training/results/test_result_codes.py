"""--result_codes: the defaults, a site's JSON map over them, local codes for the rest,
and a bad map refused in one line naming the entry."""

from __future__ import annotations

import json

import pytest

from training.results.result_codes import LOCAL_SCHEME, ResultCodes, ResultCodesError


def _triple(concept) -> tuple[str, str, str]:
    return (concept.value, concept.scheme_designator, concept.meaning)


def test_the_defaults_code_body_parts_and_cardiac_segments_in_snomed():
    codes = ResultCodes.load()
    assert _triple(codes.for_class("chest")) == ("816094009", "SCT", "Chest")
    category, kind = codes.for_segment("LV cavity")
    assert _triple(category) == ("91723000", "SCT", "Anatomical Structure")
    assert _triple(kind) == ("87878005", "SCT", "Left ventricle")


def test_a_sites_map_overrides_the_defaults_and_unmapped_names_get_local_codes(tmp_path):
    path = tmp_path / "codes.json"
    path.write_text(json.dumps({
        "classes": {"Chest": {"value": "51185008", "scheme_designator": "SCT",
                              "meaning": "Thoracic structure"},
                    "Lung Opacity": ["RID28530", "RADLEX", "opacity"]},
        "segments": {"scar": {"category": ["49755003", "SCT", "Morphologically Altered"],
                              "type": ["134375005", "SCT", "Myocardial scar"]}}}))
    codes = ResultCodes.load(str(path))
    assert _triple(codes.for_class("CHEST")) == ("51185008", "SCT", "Thoracic structure")
    assert _triple(codes.for_class("lung_opacity")) == ("RID28530", "RADLEX", "opacity")
    assert [_triple(c) for c in codes.for_segment("Scar")] == [
        ("49755003", "SCT", "Morphologically Altered"), ("134375005", "SCT", "Myocardial scar")]
    assert _triple(codes.for_class("Pleural Thickening, left apex")) == (
        "PLEURAL_THICKENI", LOCAL_SCHEME, "Pleural Thickening, left apex")
    assert _triple(codes.for_class("ABDOMEN")) == ("818981001", "SCT", "Abdomen")


@pytest.mark.parametrize("content, expected", [
    ("{not json", "--result_codes {path}: Expecting property name"),
    ("[1, 2]", "--result_codes {path}: expected a JSON object"),
    ('{"classes": {"X": ["1", "SCT"]}}',
     "{path}: classes.X: expected {{value, scheme_designator, meaning}}"),
    ('{"classes": {"X": ["1", "", "x"]}}',
     "{path}: classes.X: value, scheme_designator and meaning must be text"),
    ('{"classes": {"X": ["1", "SCT", "' + "m" * 65 + '"]}}',
     "{path}: classes.X: meaning has 65 characters; DICOM allows at most 64"),
    ('{"segments": {"S": ["1", "SCT", "x"]}}', "{path}: segments.S: expected category, type"),
])
def test_a_bad_map_is_one_line_naming_the_entry(tmp_path, content, expected):
    path = tmp_path / "codes.json"
    path.write_text(content)
    with pytest.raises(ResultCodesError) as raised:
        ResultCodes.load(str(path))
    assert str(raised.value).startswith(expected.format(path=path))
    assert "\n" not in str(raised.value)


def test_a_missing_map_names_the_flag_and_the_path(tmp_path):
    with pytest.raises(ResultCodesError, match=r"^--result_codes .*nowhere\.json: "):
        ResultCodes.load(str(tmp_path / "nowhere.json"))
