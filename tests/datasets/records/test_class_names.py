import pytest

from datasets.records.class_names import (
    canonical_label,
    class_names_from,
    read_labels_file,
    write_labels_file,
)


def test_spellings_of_one_class_are_one_name():
    assert {canonical_label(t) for t in ["Chest", "CHEST ", " chest", "CHEST\n"]} == {"CHEST"}
    assert canonical_label("whole   body") == "WHOLE BODY"
    assert class_names_from(["Chest", "abdomen", "CHEST"]) == ["ABDOMEN", "CHEST"]


def test_labels_file_round_trip_in_tf_slim_format(tmp_path):
    write_labels_file(["ABDOMEN", "CHEST"], str(tmp_path))
    assert (tmp_path / "labels.txt").read_text() == "0:ABDOMEN\n1:CHEST\n"
    assert read_labels_file(str(tmp_path)) == ["ABDOMEN", "CHEST"]


def test_labels_file_with_gaps_is_refused(tmp_path):
    (tmp_path / "labels.txt").write_text("0:A\n2:C\n")
    with pytest.raises(ValueError, match="without gaps"):
        read_labels_file(str(tmp_path))
