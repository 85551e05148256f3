"""A CT window travels with the data: tf_convert_data --window records it and stores
windowed pixels; a model trained on those records windows the DICOM files it classifies
the same way; a file without Hounsfield units is one line."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from datasets.records.dataset_spec import read_spec
from datasets.records.record_images import load_record_image
from dicom.decoding.display import display_frames
from dicom.decoding.intensity_window import parse_window
from files.png_codec import decode_png, write_image
from tests.support.cli import run_module
from tests.support.dicom_files import image_dataset, reread, to_bytes
from training.serving.prediction import Predictor, inputs_for, predict

pytestmark = pytest.mark.slow  # converts, trains two steps and classifies


def _ct(path: str, seed: int, **attributes) -> None:
    rng = np.random.default_rng(seed)
    hounsfield = rng.integers(-1024, 1500, size=(24, 24))
    fields = {"Modality": "CT", "RescaleSlope": "1", "RescaleIntercept": "-1024",
              "WindowCenter": "40", "WindowWidth": "400", **attributes}
    with open(path, "wb") as handle:
        handle.write(to_bytes(image_dataset((hounsfield + 1024).astype(np.uint16),
                                            bits_stored=12, **fields)))


def _folder(root: str, count: int) -> None:
    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "labels"))
    for index in range(count):
        _ct(os.path.join(root, "images", f"{index:03d}.dcm"), index)
        with open(os.path.join(root, "labels", f"{index:03d}.txt"), "w") as handle:
            handle.write("A\n" if index % 2 else "B\n")


def _run(module: str, *args: str) -> str:
    result = run_module(module, *args)
    assert result.returncode == 0, f"{module}: {result.stderr[-3000:]}"
    return result.stdout


def test_the_window_is_recorded_applied_and_followed_by_the_model(tmp_path):
    source, records = str(tmp_path / "in"), str(tmp_path / "records")
    _folder(source, 8)
    _run("tf_convert_data", f"--dataset_dir={source}", f"--output_dir={records}",
         "--window=lung", "--image_format=png")
    spec = read_spec(records)
    assert spec.intensity_window == {"center": -600.0, "width": 1500.0, "name": "lung"}
    dicom_path = os.path.join(source, "images", "003.dcm")
    with open(dicom_path, "rb") as handle:
        from pydicom import dcmread

        dataset = dcmread(handle)
    windowed = next(display_frames(reread(dataset), intensity_window=parse_window("lung")))
    own = next(display_frames(reread(dataset)))
    stored = load_record_image(dicom_path, intensity_window=parse_window("lung"))
    assert np.array_equal(decode_png(stored.data), windowed)
    assert not np.array_equal(windowed, own)

    train_dir = str(tmp_path / "run")
    _run("train_image_classifier", f"--train_dir={train_dir}", f"--dataset_dir={records}",
         "--model_name=resnet_v1_18", "--train_image_size=32", "--batch_size=4",
         "--max_number_of_steps=2")
    with open(os.path.join(train_dir, "medcv_train.json")) as handle:
        assert json.load(handle)["intensity_window"]["name"] == "lung"

    write_image(str(tmp_path / "windowed.png"), windowed)
    write_image(str(tmp_path / "own.png"), own)
    mr = str(tmp_path / "mr.dcm")
    _ct(mr, 99, Modality="MR", RescaleIntercept="0")
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join([dicom_path, str(tmp_path / "windowed.png"),
                                  str(tmp_path / "own.png"), mr]) + "\n")
    predictor = Predictor.load(train_dir)
    inputs = dict(inputs_for(str(listing), False, predictor.config))  # what the net is fed
    assert np.array_equal(np.asarray(inputs[dicom_path]),
                          np.asarray(inputs[str(tmp_path / "windowed.png")]))
    assert not np.array_equal(np.asarray(inputs[dicom_path]),
                              np.asarray(inputs[str(tmp_path / "own.png")]))
    assert "needs Hounsfield units, but it is MR" in inputs[mr]
    results = {p.source: p for p in predict(predictor, inputs_for(str(listing), False,
                                                                  predictor.config), 8)}
    assert results[dicom_path].probabilities is not None
    assert "needs Hounsfield units, but it is MR" in results[mr].error


def test_a_window_over_a_folder_with_an_mr_file_is_one_line_naming_it(tmp_path):
    source = str(tmp_path / "in")
    _folder(source, 4)
    mr = os.path.join(source, "images", "002.dcm")
    _ct(mr, 2, Modality="MR", RescaleIntercept="0")
    result = run_module("tf_convert_data", f"--dataset_dir={source}",
                        f"--output_dir={tmp_path / 'out'}", "--window=bone")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "Hounsfield" in line]
    assert len(lines) == 1 and "002.dcm: --window needs Hounsfield units" in lines[0]
    assert not os.path.exists(tmp_path / "out" / "dataset_spec.json")
    result = run_module("tf_convert_data", f"--dataset_dir={source}",
                        f"--output_dir={tmp_path / 'out'}", "--window=40")
    assert result.returncode != 0 and "--window=40: give a preset" in result.stderr
