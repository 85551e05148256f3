import json

import pytest

from dicom.metadata.body_part import UNKNOWN, BodyPartMapper, load_body_part_map, normalise_key


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Chest", "CHEST"),
        ("CHEST ", "CHEST"),
        ("THORAX", "CHEST"),
        ("Poitrine", "CHEST"),
        ("WHOLE BODY", "WHOLEBODY"),
        ("whole-body", "WHOLEBODY"),
        ("Tête", "HEAD"),
        ("Kopf", "HEAD"),
        ("BAUCH", "ABDOMEN"),
        ("abd", "ABDOMEN"),
        ("c-spine", "CSPINE"),
        ("Extremidad", "EXTREMITY"),
        ("SKULL", "SKULL"),
        ("Brustkorb", "CHEST"),
    ],
)
def test_spellings_map_to_defined_terms(raw, canonical):
    assert BodyPartMapper().normalise(raw) == canonical


def test_unknown_and_empty():
    mapper = BodyPartMapper()
    assert mapper.normalise("SEE NOTES") is None
    assert mapper.resolve("SEE NOTES", {"SeriesDescription": "CHEST PA"}).canonical == UNKNOWN
    assert mapper.resolve("", {}).canonical == UNKNOWN


def test_description_fallback_order_and_phrases():
    mapper = BodyPartMapper()
    result = mapper.resolve(
        None, {"SeriesDescription": "CT abd/pelvis w contrast", "StudyDescription": "CHEST"}
    )
    assert (result.canonical, result.source) == ("ABDOMENPELVIS", "SeriesDescription")
    result = mapper.resolve("  ", {"StudyDescription": "XR chest 2 views"})
    assert (result.canonical, result.source) == ("CHEST", "StudyDescription")


def test_user_map_extends_and_overrides(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"Pfote": "paw", "LIMB": "LEG"}), encoding="utf-8")
    mapper = BodyPartMapper(load_body_part_map(str(path)))
    assert mapper.normalise("pfote") == "PAW"
    assert mapper.normalise("LIMB") == "LEG"
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        load_body_part_map(str(bad))


def test_normalise_key():
    assert normalise_key(" Schädel-Röntgen ") == "SCHADEL RONTGEN"
