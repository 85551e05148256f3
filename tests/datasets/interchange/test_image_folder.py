from __future__ import annotations

import csv

import numpy as np
import pytest

from datasets.interchange.folder_export import folder_from_fetched, folder_from_records
from datasets.records.conversion import ConversionSettings, convert
from files.png_codec import decode_png
from tests.support.folders import add_jpeg, classification_folder


def test_folder_from_records_holds_the_stored_bytes(tmp_path):
    source = tmp_path / "in"
    classification_folder(str(source), {"Chest": 3}, patients=2)
    jpeg = add_jpeg(str(source), "photo", "head")
    convert(ConversionSettings("dicom", str(source), str(tmp_path / "out"), "dicom",
                               progress=False, image_format="png"))
    folder = tmp_path / "folder"
    assert folder_from_records(str(tmp_path / "out"), "train", str(folder), False) == 4
    with open(folder / "metadata.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["filename"]: r["label"] for r in rows} == {
        "000000.png": "CHEST", "000001.png": "CHEST", "000002.png": "CHEST", "photo.jpg": "HEAD"
    }
    assert (folder / "photo.jpg").read_bytes() == jpeg
    assert (folder / "000001.png").read_bytes() == (source / "images" / "000001.png").read_bytes()
    assert {r["patient_id"] for r in rows} == {"P000", "P001", ""}


def test_folder_from_planar_records_holds_the_same_pixels_as_png(tmp_path):
    source = tmp_path / "in"
    pixels = classification_folder(str(source), {"Chest": 3}, patients=2)
    convert(ConversionSettings("dicom", str(source), str(tmp_path / "out"), "dicom",
                               progress=False))  # the default: planar
    folder = tmp_path / "folder"
    assert folder_from_records(str(tmp_path / "out"), "train", str(folder), False) == 3
    for stem, image in pixels.items():
        assert np.array_equal(decode_png((folder / f"{stem}.png").read_bytes()), image)


def test_folder_from_fetched_and_refusing_a_non_empty_target(tmp_path):
    source = tmp_path / "fetched"
    classification_folder(str(source), {"A": 2})
    folder = tmp_path / "folder"
    assert folder_from_fetched(str(source), str(folder), False) == 2
    assert (folder / "metadata.csv").read_text().splitlines()[0] == "filename,label,patient_id"
    with pytest.raises(FileExistsError, match="not empty"):
        folder_from_fetched(str(source), str(folder), False)
