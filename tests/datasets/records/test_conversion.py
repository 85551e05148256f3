"""tf_convert_data: records, splits, labels.txt, the spec and tfds metadata, input problems."""

from __future__ import annotations

import glob
import io
import os
import signal
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from datasets.records import example_codec
from datasets.records.conversion import ConversionSettings, InvalidInput, convert
from datasets.records.dataset_spec import SPEC_FILE, read_spec
from datasets.records.planar_pixels import decode_planes
from datasets.records.record_reader import iter_split
from datasets.records.segmentation_masks import decode_mask
from files.png_codec import decode_png
from tests.support.cli import popen_module, run_module
from tests.support.folders import (
    add_dicom,
    add_jpeg,
    classification_folder,
    segmentation_folder,
)


def _settings(source, out, **overrides) -> ConversionSettings:
    values = dict(dataset_name="dicom", dataset_dir=str(source), output_dir=str(out),
                  output_name="dicom_train", num_workers=1, progress=False)
    return ConversionSettings(**{**values, **overrides})


def test_seed_command_writes_shards_labels_spec(tmp_path):
    source, out = tmp_path / "fetched", tmp_path / "records"
    classification_folder(str(source), {"CHEST": 12, "HEAD": 8}, patients=5,
                          spellings={"CHEST": ["Chest", "CHEST ", "chest"]})
    result = run_module(
        "tf_convert_data", "--dataset_name=dicom", f"--dataset_dir={source}",
        "--output_name=dicom_train", f"--output_dir={out}", "--need_split=tvt_split",
        "--num_shards=2", "--validation_size=0.2", "--test_size=4", "--progress=false",
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 20 classification records" in result.stdout
    names = sorted(os.listdir(out))
    for split in ("train", "validation", "test"):
        assert f"dicom_train_{split}-00000-of-00002.tfrecord" in names
        assert f"dicom_train_{split}-00001-of-00002.tfrecord" in names
    assert (out / "labels.txt").read_text() == "0:CHEST\n1:HEAD\n"
    spec = read_spec(str(out))
    assert spec.task == "classification" and spec.class_names == ["CHEST", "HEAD"]
    assert sum(s.num_examples for s in spec.splits.values()) == 20
    assert spec.channels == 1 and spec.bit_depths == [16]
    assert spec.min_size == spec.max_size == (16, 16)
    assert spec.grouped_by_patient
    patients = {
        split: {e.patient_id for e in iter_split(spec, split, str(out))} for split in spec.splits
    }
    assert not patients["train"] & patients["test"]
    assert not patients["train"] & patients["validation"]
    assert not patients["validation"] & patients["test"]


@pytest.mark.parametrize("image_format", ["planar", "png", "raw"])
def test_record_round_trip_is_bit_exact(tmp_path, image_format):
    source, out = tmp_path / "in", tmp_path / "out"
    pixels = classification_folder(str(source), {"A": 3})
    jpeg = add_jpeg(str(source), "jpeg_one", "b")
    dicom_pixels = add_dicom(str(source), "dicom_one", "b")
    convert(_settings(source, out, image_format=image_format))
    spec = read_spec(str(out))
    assert spec.image_format == image_format
    assert spec.class_names == ["A", "B"] and list(spec.splits) == ["train"]
    assert spec.splits["train"].files == ["dicom_train-00000-of-00001.tfrecord"]
    examples = {e.example_id: e for e in iter_split(spec, "train", str(out))}
    assert set(examples) == {*pixels, "jpeg_one", "dicom_one"}
    for stem, image in pixels.items():
        stored = decode_png(examples[stem].image)
        assert stored.dtype == np.uint16 and np.array_equal(stored, image)
        assert examples[stem].label == 0 and examples[stem].label_text == "A"
    if image_format == "png":  # stored as it came
        assert examples["jpeg_one"].image == jpeg and examples["jpeg_one"].image_format == "jpeg"
    else:  # decoded once at conversion (by Pillow), handed on as 16-bit PNG (x 257)
        decoded = np.asarray(Image.open(io.BytesIO(jpeg))).astype(np.uint16) * 257
        assert examples["jpeg_one"].image_format == "png"
        assert np.array_equal(decode_png(examples["jpeg_one"].image), decoded)
    dicom_stored = decode_png(examples["dicom_one"].image)
    assert dicom_stored.dtype == np.uint16 and np.array_equal(dicom_stored, dicom_pixels)
    assert dicom_stored.max() > 4095  # 12-bit stored values spread over 16 bits


@pytest.mark.parametrize("image_format", ["png", "planar"])
def test_tensorflow_datasets_reads_the_output(tmp_path, image_format):
    import tensorflow_datasets as tfds

    source, out = tmp_path / "in", tmp_path / "out"
    pixels = classification_folder(str(source), {"A": 6, "B": 4})
    convert(_settings(source, out, need_split="tt_split", test_size=0.2,
                      image_format=image_format))
    builder = tfds.builder_from_directory(str(out))
    assert builder.info.splits["train"].num_examples == 8
    assert builder.info.splits["test"].num_examples == 2
    assert builder.info.features["image"]["class"]["label"].names == ["A", "B"]
    for example in builder.as_dataset(split="test"):
        stem = example["image"]["id"].numpy().decode()
        image = example["image"]["encoded"].numpy()
        if image_format == "planar":  # tfds hands the planes on; the documented decoder
            image = decode_planes(image, *(int(example["image"][key])
                                           for key in ("height", "width", "channels")))
        assert image.dtype == np.uint16 and np.array_equal(image[..., 0], pixels[stem])


def test_segmentation_records_with_class_dict(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    masks = segmentation_folder(str(source), 10)
    result = convert(_settings(source, out, dataset_name="segmentation", output_name="shapes",
                               need_split="tt_split", test_size=0.2))
    spec = result.spec
    assert spec.task == "segmentation"
    assert spec.class_names == ["background", "square", "disc"]
    seen = 0
    for split in spec.splits:
        for example in iter_split(spec, split, str(out)):
            assert np.array_equal(decode_mask(example.mask), masks[example.example_id])
            seen += 1
    assert seen == 10


def test_label_masks_without_class_dict_name_classes_by_value(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    segmentation_folder(str(source), 4)
    os.remove(source / "class_dict.csv")
    for path in glob.glob(str(source / "masks" / "*.png")):
        from PIL import Image

        rgb = np.asarray(Image.open(path))
        labels = np.select([rgb[..., 0] == 255, rgb[..., 2] == 255], [1, 2], 0).astype(np.uint8)
        Image.fromarray(labels).save(path)
    result = convert(_settings(source, out, dataset_name="segmentation"))
    assert result.spec.class_names == ["0", "1", "2"]


def _broken_folder(source) -> None:
    classification_folder(str(source), {"A": 4})
    os.remove(source / "labels" / "000000.txt")  # image without a label
    (source / "labels" / "orphan.txt").write_text("A\n")  # label without an image
    (source / "labels" / "000001.txt").write_text("  \n")  # empty label
    (source / "images" / "000002.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)


def test_input_problems_are_listed_before_anything_is_written(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    _broken_folder(source)
    result = run_module("tf_convert_data", f"--dataset_dir={source}", f"--output_dir={out}",
                        "--progress=false")
    assert result.returncode == 2
    assert "000000.png: image without a label (labels/000000.txt)" in result.stderr
    assert "orphan.txt: label without an image" in result.stderr
    assert "000001.txt: empty label" in result.stderr
    assert "000002.png: unreadable image: not a readable PNG image" in result.stderr
    assert "error: 4 input problem(s), nothing written" in result.stderr
    assert not out.exists() or os.listdir(out) == []


def test_skip_invalid_converts_the_rest_and_lists_what_it_skipped(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    _broken_folder(source)
    with pytest.raises(InvalidInput) as raised:
        convert(_settings(source, out))
    assert len(raised.value.problems) == 4
    result = convert(_settings(source, out, skip_invalid=True))
    assert len(result.skipped) == 4
    assert result.spec.splits["train"].num_examples == 1  # only 000003 is whole


def test_a_class_too_small_for_a_requested_split_is_a_clear_error(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    classification_folder(str(source), {"A": 3})
    with pytest.raises(ValueError, match="leave no training images"):
        convert(_settings(source, out, need_split="tvt_split", validation_size=1,
                          test_size=2))


@pytest.mark.slow
def test_wrong_flag_values_exit_with_one_line(tmp_path):
    result = run_module("tf_convert_data", f"--dataset_dir={tmp_path / 'missing'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --dataset_dir")
    result = run_module("tf_convert_data", f"--dataset_dir={tmp_path}", "--test_size=1.5")
    assert result.returncode == 2 and "--test_size" in result.stderr


@pytest.mark.slow
def test_a_killed_conversion_leaves_nothing_that_looks_complete(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize

    synthesize(str(tmp_path / "dicom"), SyntheticSpec(num_images=160, seed=3, size=96,
                                                       defects=False))
    os.makedirs(source / "images")
    os.makedirs(source / "labels")
    for index, path in enumerate(sorted(glob.glob(str(tmp_path / "dicom" / "**" / "*.dcm"),
                                             recursive=True))):
        os.symlink(path, source / "images" / f"{index:06d}.dcm")
        (source / "labels" / f"{index:06d}.txt").write_text("AB"[index % 2])
    args = (f"--dataset_dir={source}", f"--output_dir={out}", "--num_shards=4",
            "--num_workers=1", "--progress=false")
    process = popen_module("tf_convert_data", *args)
    deadline = time.monotonic() + 120
    while not glob.glob(str(out / "*.partial")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert glob.glob(str(out / "*.partial")), "the run was killed before it wrote"
    assert not (out / SPEC_FILE).exists()
    with pytest.raises(FileNotFoundError, match="not a finished tf_convert_data output"):
        read_spec(str(out))
    rerun = run_module("tf_convert_data", *args)
    assert rerun.returncode == 0, rerun.stderr
    assert not glob.glob(str(out / "*.partial"))
    spec = read_spec(str(out))
    assert spec.splits["train"].num_examples == 160
    ids = [e.example_id for e in iter_split(spec, "train", str(out))]
    assert len(ids) == len(set(ids)) == 160


def test_parsing_spec_reads_what_the_codec_writes():
    from datasets.records.record_images import from_array

    image = from_array(np.arange(12, dtype=np.uint16).reshape(3, 4))
    record = example_codec.classification_example(image, 2, "HEAD", "x1", "P1")
    parsed = tf.io.parse_single_example(record, example_codec.parsing_spec("classification"))
    assert int(parsed[example_codec.LABEL]) == 2
    assert parsed[example_codec.LABEL_TEXT].numpy() == b"HEAD"
    assert int(parsed[example_codec.HEIGHT]) == 3 and int(parsed[example_codec.WIDTH]) == 4
    assert int(parsed[example_codec.CHANNELS]) == 1
    assert parsed[example_codec.PATIENT_ID].numpy() == b"P1"


def test_a_png_with_a_flipped_byte_or_cut_short_is_an_input_problem(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    classification_folder(str(source), {"A": 3})
    flipped = source / "images" / "000000.png"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    flipped.write_bytes(bytes(data))
    cut = source / "images" / "000001.png"
    cut.write_bytes(cut.read_bytes()[:200])
    with pytest.raises(InvalidInput) as raised:
        convert(_settings(source, out))
    reasons = {os.path.basename(p.path): p.reason for p in raised.value.problems}
    assert set(reasons) == {"000000.png", "000001.png"}
    assert all(r.startswith("unreadable image: corrupt PNG image") for r in reasons.values())
