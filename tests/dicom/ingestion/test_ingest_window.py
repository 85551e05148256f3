"""create_database --window: CT images are stored through the chosen window, an image
without Hounsfield units is rejected, the catalog keeps one window, and fetch_image hands
it on to tf_convert_data."""

from __future__ import annotations

import json
import os

import numpy as np
import pydicom
import pytest

from datasets.records.dataset_spec import read_spec
from dicom.decoding.display import display_frames
from dicom.decoding.intensity_window import parse_window
from files.png_codec import decode_png
from tests.support.cli import run_module
from tests.support.dicom_files import image_dataset, to_bytes

pytestmark = pytest.mark.slow  # four command runs


def _write(path: str, seed: int, **attributes) -> None:
    rng = np.random.default_rng(seed)
    stored = rng.integers(0, 2500, size=(24, 24)).astype(np.uint16)
    fields = {"Modality": "CT", "RescaleSlope": "1", "RescaleIntercept": "-1024",
              "WindowCenter": "40", "WindowWidth": "400", "PatientID": f"P{seed}",
              **attributes}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(to_bytes(image_dataset(stored, bits_stored=12, **fields)))


def test_a_windowed_catalog_from_ingest_to_the_records(tmp_path):
    source = tmp_path / "archive"
    for index in range(4):
        _write(str(source / f"ct{index}.dcm"), index)
    _write(str(source / "mr.dcm"), 9, Modality="MR", RescaleIntercept="0")
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    report = tmp_path / "report.json"
    result = run_module("dicom.create_database", f"--directory={source}", f"--db_url={url}",
                        "--window=lung", f"--report={report}", "--progress=false")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ingested 4 files" in result.stdout and "no-hounsfield 1" in result.stdout
    rejects = json.loads(report.read_text())["rejects"]
    assert [r["kind"] for r in rejects] == ["no-hounsfield"]
    assert "needs Hounsfield units, but it is MR" in rejects[0]["reason"]

    folder = tmp_path / "folder"
    result = run_module("dicom.fetch_image", "--query=all", f"--directory={folder}",
                        f"--db_url={url}", "--progress=false")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((folder / "intensity_window.json").read_text()) == {
        "center": -600.0, "width": 1500.0, "name": "lung"}
    uid = pydicom.dcmread(str(source / "ct2.dcm")).SOPInstanceUID
    fetched = decode_png((folder / "images" / f"{uid}.png").read_bytes())
    dataset = pydicom.dcmread(str(source / "ct2.dcm"))
    expected = next(display_frames(dataset, intensity_window=parse_window("lung")))
    assert np.array_equal(fetched, expected)

    records = tmp_path / "records"
    result = run_module("tf_convert_data", f"--dataset_dir={folder}",
                        f"--output_dir={records}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_spec(str(records)).intensity_window["name"] == "lung"
    result = run_module("tf_convert_data", f"--dataset_dir={folder}",
                        f"--output_dir={tmp_path / 'other'}", "--window=bone")
    assert result.returncode != 0 and "cannot apply on top" in result.stderr

    result = run_module("dicom.create_database", f"--directory={source}", f"--db_url={url}",
                        "--window=bone", "--progress=false")
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: ") and "was built with --window lung" in error
    assert "asks with --window bone" in error


def test_window_on_a_catalog_of_unwindowed_images_is_refused(tmp_path):
    source = tmp_path / "archive"
    _write(str(source / "ct.dcm"), 1)
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    result = run_module("dicom.create_database", f"--directory={source}", f"--db_url={url}",
                        "--progress=false")
    assert result.returncode == 0, result.stderr[-3000:]
    _write(str(source / "ct_more.dcm"), 2)
    result = run_module("dicom.create_database", f"--directory={source}", f"--db_url={url}",
                        "--window=-600,1500", "--progress=false")
    assert result.returncode != 0
    assert "was built without --window, but this ingest asks with --window center -600" in (
        result.stderr)
