import logging

import numpy as np
import pytest

from dicom.preprocessing.folder import preprocess_folder
from dicom.preprocessing.methods import (
    clamp_value,
    otsu_threshold,
    preprocess,
)
from files.png_codec import read_image, write_image
from tests.support.cli import run_module

RAMP8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
RAMP16 = (np.arange(256, dtype=np.uint32).reshape(16, 16) * 257).astype(np.uint16)


@pytest.mark.parametrize("image", [RAMP8, RAMP16], ids=["8bit", "16bit"])
def test_bitwise_downsampling_keeps_the_top_bits(image):
    out = preprocess(image, "bitwise_downsampling", 3)
    assert out.dtype == image.dtype
    assert len(np.unique(out)) == 8
    assert np.all(out <= image) and np.all(image - out < image.max() // 8 + 1)
    np.testing.assert_array_equal(preprocess(RAMP8, "bitwise_downsampling", 8), RAMP8)


def test_contrast_enhancing_saturates_value_percent_each_end():
    narrow = (100 + RAMP8 // 4).astype(np.uint8)  # values 100..163
    out = preprocess(narrow, "contrast_enhancing", 5)
    assert out.min() == 0 and out.max() == 255
    assert 0.03 <= np.mean(out == 0) <= 0.08 and 0.03 <= np.mean(out == 255) <= 0.08
    assert np.all(np.diff(out.ravel().astype(int)) >= 0)  # monotone


def test_color_quantization_levels():
    out = preprocess(RAMP16, "color_quantization", 4)
    assert sorted(np.unique(out).tolist()) == [0, 21845, 43690, 65535]


def test_target_segmentation_zeroes_background_only():
    image = np.full((20, 20), 10, dtype=np.uint16)
    image[5:15, 5:15] = 40000
    out = preprocess(image, "target_segmentation", 4)
    np.testing.assert_array_equal(out[5:15, 5:15], 40000)
    assert out.sum() == 40000 * 100
    assert 10 <= otsu_threshold(image.astype(float)) <= 40000


def test_rgb_images_are_processed_per_channel_or_by_luma():
    rgb = np.stack([RAMP8, RAMP8[::-1], (RAMP8.T // 2 + 60).astype(np.uint8)], axis=-1)
    # bit masking and contrast stretching act on each channel as on a gray image
    for method in ("bitwise_downsampling", "contrast_enhancing"):
        out = preprocess(rgb, method, 4)
        for channel in range(3):
            np.testing.assert_array_equal(out[..., channel], preprocess(rgb[..., channel],
                                                                        method, 4))
    # quantisation spans the whole image's range: every channel takes the same 4 levels
    quantized = preprocess(rgb, "color_quantization", 4)
    assert sorted(np.unique(quantized).tolist()) == [0, 85, 170, 255]
    # target segmentation thresholds luma and keeps or zeroes all three channels together
    segmented = preprocess(rgb, "target_segmentation", 4)
    kept = segmented.any(axis=-1)
    np.testing.assert_array_equal(segmented[kept], rgb[kept])
    luma = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert 0 < kept.sum() < kept.size and luma[kept].min() > luma[~kept].max()


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [
        ("bitwise_downsampling", 0, 1),
        ("bitwise_downsampling", 12, 8),
        ("contrast_enhancing", 11, 10),
        ("color_quantization", 1, 2),
        ("target_segmentation", 4, 4),
    ],
)
def test_values_are_clamped_with_a_warning(method, value, expected, caplog):
    with caplog.at_level(logging.WARNING):
        assert clamp_value(method, value) == expected
    assert ("outside" in caplog.text) == (value != expected)


def test_folder_output_is_separate_and_carries_labels(tmp_path):
    src = tmp_path / "fetched"
    (src / "images").mkdir(parents=True)
    (src / "labels").mkdir()
    write_image(str(src / "images" / "a.png"), RAMP16)
    (src / "labels" / "a.txt").write_text("CHEST\n")
    summary = preprocess_folder(str(src), "color_quantization", 4, None, progress=False)
    out = tmp_path / "fetched_color_quantization_4"
    assert summary.written == 1 and summary.output_directory == str(out)
    assert len(np.unique(read_image(str(out / "images" / "a.png")))) == 4
    assert (out / "labels" / "a.txt").read_text() == "CHEST\n"
    np.testing.assert_array_equal(read_image(str(src / "images" / "a.png")), RAMP16)  # untouched


@pytest.mark.slow
def test_cli_in_place_and_clamp_warning(tmp_path):
    write_image(str(tmp_path / "a.png"), RAMP8)
    result = run_module(
        "dicom.preprocess_image",
        "--directory",
        str(tmp_path),
        "--preprocess",
        "bitwise_downsampling",
        "--value",
        "20",
        "--in_place",
        "--progress=false",
    )
    assert result.returncode == 0, result.stderr
    assert "value 20 is outside 1-8; using 8" in result.stderr
    bad = run_module(
        "dicom.preprocess_image", "--directory", str(tmp_path), "--preprocess", "sharpen"
    )
    assert bad.returncode != 0 and "sharpen" in bad.stderr
