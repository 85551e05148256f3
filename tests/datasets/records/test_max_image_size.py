"""tf_convert_data --max_image_size: scaled once at conversion, the same way at serving."""

from __future__ import annotations

import glob
import os

import numpy as np
import tensorflow as tf

from datasets.input_pipeline.model_input import InputSpec, model_input
from datasets.records import example_codec
from datasets.records.conversion import ConversionSettings, convert
from datasets.records.dataset_spec import read_spec
from files.png_codec import decode_png, write_image
from tests.support.folders import segmentation_folder


def _records(folder: str, task: str = "classification") -> dict[str, dict]:
    spec = example_codec.parsing_spec(task)
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.tfrecord*"))):
        for record in tf.data.TFRecordDataset(path):
            example = tf.io.parse_single_example(record, spec)
            out[example[example_codec.ID].numpy().decode()] = example
    return out


def _folder(root: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    checker = (np.indices((300, 200)).sum(axis=0) % 2 * 60000 + 2000).astype(np.uint16)
    images = {
        "checker16": checker,  # 1-pixel checkerboard: only an anti-aliasing filter greys it
        "wide8": rng.integers(0, 255, (90, 240), dtype=np.uint8),
        "small": rng.integers(0, 65535, (40, 30), dtype=np.uint16),
    }
    for sub in ("images", "labels"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for index, (stem, pixels) in enumerate(images.items()):
        write_image(os.path.join(root, "images", f"{stem}.png"), pixels)
        with open(os.path.join(root, "labels", f"{stem}.txt"), "w") as handle:
            handle.write("AB"[index % 2])
    return images


def test_records_hold_images_scaled_once_and_serving_scales_inputs_alike(tmp_path):
    images = _folder(str(tmp_path / "in"))
    out = str(tmp_path / "out")
    convert(ConversionSettings("dicom", str(tmp_path / "in"), out, "dicom", progress=False,
                               max_image_size=64, image_format="png"))
    spec = read_spec(out)
    assert spec.max_image_size == 64
    assert spec.max_size == (64, 64) and spec.min_size == (24, 30)
    records = _records(out)
    stored = {key: decode_png(r[example_codec.ENCODED].numpy()) for key, r in records.items()}
    # The longer side to 64, aspect kept (integer rounding), bit depth kept, never upscaled.
    assert stored["checker16"].shape == (64, 43) and stored["checker16"].dtype == np.uint16
    assert stored["wide8"].shape == (24, 64) and stored["wide8"].dtype == np.uint8
    np.testing.assert_array_equal(stored["small"], images["small"])
    # Anti-aliased: the checkerboard becomes its mean grey, not a pattern of samples.
    middle = stored["checker16"][4:-4, 4:-4].astype(float)
    assert abs(middle.mean() - 32000) < 600 and middle.std() < 1500
    # Serving: the full-size PNG reaches the net exactly as its record does.
    for stem in ("checker16", "wide8"):
        with open(tmp_path / "in" / "images" / f"{stem}.png", "rb") as handle:
            full = handle.read()
        serving = InputSpec(channels=1, size=(32, 32), max_image_size=64)
        from_record = model_input(records[stem][example_codec.ENCODED], serving)
        from_full = model_input(tf.constant(full), serving)
        np.testing.assert_array_equal(from_full.numpy(), from_record.numpy())
        unscaled = model_input(tf.constant(full), InputSpec(channels=1, size=(32, 32)))
        assert np.abs(unscaled.numpy() - from_record.numpy()).max() > 1e-3  # it can fail


def test_masks_are_scaled_by_nearest_neighbour(tmp_path):
    labels = segmentation_folder(str(tmp_path / "in"), count=2, size=96)
    out = str(tmp_path / "out")
    convert(ConversionSettings("segmentation", str(tmp_path / "in"), out, "seg",
                               progress=False, max_image_size=48))
    for key, record in _records(out, "segmentation").items():
        mask = tf.io.decode_png(record[example_codec.MASK_ENCODED]).numpy()[..., 0]
        assert mask.shape == (48, 48)
        assert set(np.unique(mask)) == set(np.unique(labels[key]))  # labels, no blends
        np.testing.assert_array_equal(mask, labels[key][1::2, 1::2])  # pixel centres
