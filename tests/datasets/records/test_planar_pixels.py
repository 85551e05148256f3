"""The planar record format: lossless both ways, compact on 12-bit data, corrupt bytes refused."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import tensorflow as tf

from datasets.input_pipeline.model_input import encoded_levels, planar_levels
from datasets.records.planar_pixels import CorruptPlanarImage, decode_planes, encode_planes
from dicom.synthetic.phantoms import radiograph
from files.png_codec import encode_png


def _twelve_bit(size: int = 128, seed: int = 3) -> np.ndarray:
    """A synthetic radiograph holding 12-bit values, as most CR/DX detectors store them."""
    return (radiograph("CHEST", size, np.random.default_rng(seed)) * 4095).round().astype(
        np.uint16)


@pytest.mark.parametrize("pixels", [
    _twelve_bit(),
    np.random.default_rng(0).integers(0, 65536, (17, 23), dtype=np.uint16),  # full range
    np.random.default_rng(1).integers(0, 256, (9, 31), dtype=np.uint8),
    np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8),  # RGB
    np.zeros((5, 7), np.uint16),
])
def test_round_trip_in_numpy_and_tensorflow_is_exact(pixels):
    shaped = pixels if pixels.ndim == 3 else pixels[..., None]
    data = encode_planes(pixels)
    assert np.array_equal(decode_planes(data, *shaped.shape), shaped)
    levels, bits = planar_levels(tf.constant(data), *shaped.shape)
    top = 65535 if pixels.dtype == np.uint16 else 255
    assert int(bits) == (16 if pixels.dtype == np.uint16 else 8)
    np.testing.assert_array_equal(np.rint(levels.numpy() * top), shaped)


def test_levels_equal_what_the_png_path_gives_bit_for_bit():
    for pixels in (_twelve_bit(64), np.arange(256, dtype=np.uint8).reshape(16, 16)):
        png_levels, png_bits = encoded_levels(tf.constant(encode_png(pixels)))
        levels, bits = planar_levels(tf.constant(encode_planes(pixels)), *pixels.shape, 1)
        assert int(bits) == int(png_bits)
        assert np.array_equal(levels.numpy(), png_levels.numpy())


def test_only_the_plane_that_shrinks_is_compressed_and_twelve_bits_beat_png():
    pixels = _twelve_bit(256)
    data = encode_planes(pixels)
    high, low = (int.from_bytes(data[1 + 4 * i:5 + 4 * i], "little") for i in range(2))
    count = pixels.size
    assert high < 0.35 * count  # 4 significant bits: a fraction of its bytes
    assert low == count  # close to noise: stored as it is, nothing to inflate
    assert zlib.decompress(data[9:9 + high]) == (pixels >> 8).astype(np.uint8).tobytes()
    assert len(data) < len(encode_png(pixels)) < 2 * count  # smaller than PNG, and than raw


@pytest.mark.parametrize(("damage", "message"), [
    (lambda data: b"\x03" + data[1:], "first byte"),
    (lambda data: data[:-10], "holds"),
    (lambda data: data + b"extra", "after the last plane"),
    (lambda data: data[:9] + b"\x00" * 8 + data[17:], "plane 0"),
])
def test_corrupt_bytes_are_refused_with_what_is_wrong(damage, message):
    pixels = _twelve_bit(32)
    with pytest.raises(CorruptPlanarImage, match=message):
        decode_planes(damage(encode_planes(pixels)), 32, 32, 1)
