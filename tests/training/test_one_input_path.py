"""Training = serving: a model trained on a preprocessed folder sees the same pixels from a
raw DICOM (classify_image), from that image's record in the converted data set, and
through the SavedModel's serving signature."""

from __future__ import annotations

import json
import os

import numpy as np
import pydicom
import pytest
import tensorflow as tf

from datasets.records.dataset_spec import read_spec
from datasets.records.record_images import load_record_image
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from files.folder_layout import METADATA_FILE, PREPROCESSING_COLUMNS
from tests.support.cli import run_module
from training.serving.prediction import Predictor, inputs_for, predict

PREPROCESSING = {"method": "contrast_enhancing", "value": 4}


def _run(module: str, *args: str) -> None:
    result = run_module(module, *args)
    assert result.returncode == 0, f"{module}: {result.stderr[-3000:]}"


def _probabilities(path: str, infile: str, tfrecord: bool) -> dict[str, np.ndarray]:
    predictor = Predictor.load(path)
    return {p.source: p.probabilities
            for p in predict(predictor, inputs_for(infile, tfrecord, predictor.config), 8)}


@pytest.mark.slow
def test_raw_dicom_its_record_and_the_saved_model_agree(tmp_path):
    result = synthesize(str(tmp_path / "dicom"), SyntheticSpec(num_images=24, size=64,
                                                               defects=False))
    catalog = f"--db_url=sqlite:///{tmp_path / 'catalog.sqlite'}"
    _run("dicom.create_database", f"--directory={tmp_path / 'dicom'}", catalog, "--workers=1",
         "--progress=false")
    _run("dicom.fetch_image", "--query=all", f"--directory={tmp_path / 'fetched'}",
         "--metadata=True", catalog, "--progress=false")
    _run("dicom.preprocess_image", f"--directory={tmp_path / 'fetched'}",
         "--preprocess=contrast_enhancing", "--value=4",
         f"--output_directory={tmp_path / 'pre'}", "--progress=false")
    header = (tmp_path / "pre" / METADATA_FILE).read_text().splitlines()[0].split(",")
    assert set(PREPROCESSING_COLUMNS) <= set(header)
    records = str(tmp_path / "records")
    _run("tf_convert_data", "--dataset_name=dicom", f"--dataset_dir={tmp_path / 'pre'}",
         f"--output_dir={records}", "--need_split=tt_split", "--test_size=0.25")
    assert read_spec(records).pixel_preprocessing == PREPROCESSING
    train_dir = tmp_path / "train"
    _run("train_image_classifier", f"--train_dir={train_dir}", f"--dataset_dir={records}",
         "--model_name=resnet_v1_18", "--train_image_size=32", "--batch_size=8",
         "--preprocessing_name=inception", "--max_number_of_steps=3", "--optimizer=sgd",
         "--learning_rate=0.0001",  # near its initialisation: outputs follow the pixels
         f"--export_dir={tmp_path / 'saved'}")
    recorded = json.loads((train_dir / "medcv_train.json").read_text())
    assert recorded["pixel_preprocessing"] == PREPROCESSING

    listing = tmp_path / "dicom_files.txt"
    listing.write_text("\n".join(result.images) + "\n")
    from_dicom = _probabilities(str(train_dir), str(listing), tfrecord=False)
    from_records = _probabilities(str(train_dir), os.path.join(records, "*.tfrecord"), True)
    saved = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    compared = 0
    for path in result.images:
        uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        if uid not in from_records:
            continue
        stored = load_record_image(path)  # the DICOM decoded as ingestion decodes it
        served = saved(tf.constant([stored.data]))["probabilities"].numpy()[0]
        np.testing.assert_allclose(from_dicom[path], from_records[uid], atol=1e-5)
        np.testing.assert_allclose(served, from_records[uid], atol=1e-5)
        compared += 1
    assert compared == len(result.images)

    # the comparison has teeth: the model inputs from a DICOM and from its record are the
    # same pixels, which differ from the DICOM's without its preprocessing, and so do the
    # classifications
    config = Predictor.load(str(train_dir)).config
    dicom_inputs = dict(inputs_for(str(listing), False, config))
    record_inputs = dict(inputs_for(os.path.join(records, "*.tfrecord"), True, config))
    uid = str(pydicom.dcmread(result.images[0], stop_before_pixels=True).SOPInstanceUID)
    # equal up to float32 rounding (each path is its own traced graph, optimised on its own)
    np.testing.assert_allclose(dicom_inputs[result.images[0]], record_inputs[uid], atol=1e-6)
    config.pixel_preprocessing = None
    raw_inputs = dict(inputs_for(str(listing), False, config))
    assert np.abs(raw_inputs[result.images[0]] - dicom_inputs[result.images[0]]).max() > 0.02
    predictor = Predictor.load(str(train_dir))
    predictor.config.pixel_preprocessing = None
    unprocessed = {p.source: p.probabilities for p in predict(
        predictor, inputs_for(str(listing), False, predictor.config), 8)}
    assert max(np.abs(unprocessed[p] - from_dicom[p]).max() for p in result.images) > 1e-3
    raw = tf.io.decode_png(load_record_image(result.images[0]).data, dtype=tf.uint16).numpy()
    uid = str(pydicom.dcmread(result.images[0], stop_before_pixels=True).SOPInstanceUID)
    preprocessed = tf.io.decode_png((tmp_path / "pre" / "images" / f"{uid}.png").read_bytes(),
                                    dtype=tf.uint16).numpy()
    assert raw.shape == preprocessed.shape and not np.array_equal(raw, preprocessed)
