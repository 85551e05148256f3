"""HDF5 export of a split and the batch reader: a round trip on real records."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from datasets.interchange.hdf5_conversion import export_split
from datasets.interchange.hdf5_store import Hdf5BatchReader
from datasets.records.conversion import ConversionSettings, convert
from tests.support.cli import run_module
from tests.support.folders import classification_folder, segmentation_folder


@pytest.fixture(scope="module")
def classification_records(tmp_path_factory):
    root = tmp_path_factory.mktemp("h5")
    pixels = classification_folder(str(root / "in"), {"A": 7, "B": 6}, size=12, patients=4)
    convert(ConversionSettings("dicom", str(root / "in"), str(root / "out"), "dicom",
                               progress=False))
    return str(root / "out"), pixels


def test_round_trip_keeps_pixels_labels_and_ids(classification_records, tmp_path):
    out, pixels = classification_records
    path = str(tmp_path / "train.h5")
    assert export_split(out, "train", path, progress=False) == 13
    with h5py.File(path) as handle:
        assert handle["images"].dtype == np.uint16 and handle["images"].shape == (13, 12, 12, 1)
        assert handle["images"].compression == "gzip"
        assert handle["images"].chunks == (1, 12, 12, 1)
    reader = Hdf5BatchReader(path, batch_size=5, shuffle=False, normalize=False)
    assert len(reader) == 3 and reader.class_names == ["A", "B"]
    seen = 0
    for images, labels, ids in reader.epoch(0):
        for image, label, example_id in zip(images, labels, ids, strict=True):
            assert np.array_equal(image[..., 0], pixels[example_id])
            assert label == (0 if int(example_id) < 7 else 1)
            seen += 1
    assert seen == 13


def test_each_epoch_is_reshuffled_reproducibly(classification_records, tmp_path):
    out, _ = classification_records
    path = str(tmp_path / "train.h5")
    export_split(out, "train", path, progress=False)

    def order(seed: int, epoch: int) -> list[str]:
        reader = Hdf5BatchReader(path, batch_size=4, seed=seed)
        return [i for _, _, ids in reader.epoch(epoch) for i in ids]

    assert sorted(order(0, 0)) == sorted(order(0, 1))
    assert order(0, 0) != order(0, 1)
    assert order(0, 1) == order(0, 1)
    reader = Hdf5BatchReader(path, batch_size=4, drop_remainder=True)
    batches = list(reader.as_tf_dataset(num_epochs=2))
    assert len(batches) == 6 and batches[0][0].dtype.name == "float32"
    assert float(max(b[0].numpy().max() for b in batches)) <= 1.0


def test_segmentation_masks_round_trip(tmp_path):
    masks = segmentation_folder(str(tmp_path / "in"), 5, size=16)
    convert(ConversionSettings("segmentation", str(tmp_path / "in"), str(tmp_path / "out"),
                               "shapes", progress=False))
    path = str(tmp_path / "shapes.h5")
    export_split(str(tmp_path / "out"), "train", path, progress=False)
    reader = Hdf5BatchReader(path, batch_size=5, shuffle=False)
    _, targets, ids = next(reader.epoch(0))
    assert targets.dtype == np.int32
    for target, example_id in zip(targets, ids, strict=True):
        assert np.array_equal(target, masks[example_id])


@pytest.mark.slow
def test_cli_needs_a_size_when_images_differ(tmp_path):
    classification_folder(str(tmp_path / "in"), {"A": 2}, size=12)
    classification_folder(str(tmp_path / "in2"), {"A": 1}, size=20)
    (tmp_path / "in2" / "images" / "000000.png").rename(tmp_path / "in" / "images" / "big.png")
    (tmp_path / "in2" / "labels" / "000000.txt").rename(tmp_path / "in" / "labels" / "big.txt")
    convert(ConversionSettings("dicom", str(tmp_path / "in"), str(tmp_path / "out"), "dicom",
                               progress=False))
    output = tmp_path / "x.h5"
    result = run_module("datasets.hdf5_export", f"--dataset_dir={tmp_path / 'out'}",
                        f"--output={output}")
    assert result.returncode == 2 and "give --image_size" in result.stderr
    assert not output.exists()
    result = run_module("datasets.hdf5_export", f"--dataset_dir={tmp_path / 'out'}",
                        f"--output={output}", "--image_size=16,16", "--progress=false")
    assert result.returncode == 0, result.stderr
    with h5py.File(output) as handle:
        assert handle["images"].shape == (3, 16, 16, 1)
