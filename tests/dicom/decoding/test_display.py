import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import convert_color_space

from dicom.decoding.display import GRAY_MAX, display_frames, window
from tests.support.dicom_files import image_dataset, reread

STORED = np.array([[0, 500, 1000], [1500, 2000, 4095]], dtype=np.uint16)


def _one(ds: Dataset) -> np.ndarray:
    return next(iter(display_frames(reread(ds))))


def test_full_range_without_window_maps_12_bits_onto_16_without_loss():
    out = _one(image_dataset(STORED, bits_stored=12))
    assert out.dtype == np.uint16
    expected = np.rint(STORED / 4095 * GRAY_MAX).astype(np.uint16)
    np.testing.assert_array_equal(out, expected)
    assert (
        len(
            np.unique(
                _one(
                    image_dataset(np.arange(4096, dtype=np.uint16).reshape(64, 64), bits_stored=12)
                )
            )
        )
        == 4096
    )


def test_rescale_is_applied_before_the_window():
    # slope 2, intercept -1000: stored 500 -> 0, stored 1000 -> 1000 (modality units).
    ds = image_dataset(
        STORED,
        bits_stored=12,
        RescaleSlope="2",
        RescaleIntercept="-1000",
        WindowCenter="500.5",
        WindowWidth="1001",
    )
    out = _one(ds)
    values = STORED.astype(float) * 2 - 1000
    expected = np.clip((values - 500) / 1000 + 0.5, 0, 1)
    np.testing.assert_array_equal(out, np.rint(expected * GRAY_MAX).astype(np.uint16))
    assert out[0, 1] == 0 and out[0, 2] == GRAY_MAX  # window edges in modality units


def test_monochrome1_is_inverted_after_the_window():
    kwargs = dict(
        bits_stored=12,
        RescaleSlope="2",
        RescaleIntercept="-1000",
        WindowCenter="500",
        WindowWidth="1001",
    )
    mono2 = _one(image_dataset(STORED, **kwargs))
    mono1 = _one(image_dataset(STORED, photometric="MONOCHROME1", **kwargs))
    np.testing.assert_array_equal(mono1.astype(int), GRAY_MAX - mono2.astype(int))


def test_voi_lut_sequence_takes_precedence_over_window():
    ds = image_dataset(STORED, bits_stored=12, WindowCenter="2048", WindowWidth="4096")
    item = Dataset()
    item.LUTDescriptor = [4, 0, 8]  # 4 entries, first value 0, 8-bit output
    item.add_new(0x00283006, "US", [0, 85, 170, 255])  # LUTData
    ds.VOILUTSequence = [item]
    out = _one(ds)
    # stored 0 -> first entry; values past the table saturate at the last entry.
    assert out[0, 0] == 0 and out[1, 2] == GRAY_MAX
    assert np.all(out[0, 1:] == GRAY_MAX)  # with the window alone these would be mid-grey


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_window_functions_are_monotone_and_centered(function):
    values = np.linspace(-1000, 1000, 101)
    out = window(values, 0.0, 400.0, function)
    assert np.all(np.diff(out) >= 0)
    assert abs(out[50] - 0.5) < 0.01
    assert out[0] < 0.02 and out[-1] > 0.98


def test_palette_colour_becomes_rgb():
    ds = pydicom.dcmread(get_testdata_file("examples_palette.dcm"))
    out = next(iter(display_frames(ds)))
    assert out.shape == (ds.Rows, ds.Columns, 3) and out.dtype == np.uint8
    assert len(np.unique(out.reshape(-1, 3), axis=0)) > 10


def test_ybr_full_is_converted_to_rgb():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    out = _one(image_dataset(ybr, photometric="YBR_FULL"))
    assert np.abs(out.astype(int) - rgb.astype(int)).max() <= 2


def test_multiframe_yields_one_image_per_frame():
    frames = np.stack([STORED, STORED + 1, STORED + 2]).astype(np.uint16)
    out = list(display_frames(reread(image_dataset(frames, bits_stored=12))))
    assert len(out) == 3
    assert out[0][0, 0] < out[1][0, 0] < out[2][0, 0]
