"""The `planar` record format: decoded pixels as byte planes, compressed where it pays.

Why: a 16-bit PNG costs training a full inflate plus unfiltering per image, and
raw pixels cost a third to a half more disk than PNG. Medical images hold 10-12
significant bits in 16, so their high bytes are nearly constant and compress to a
fraction, while their low bytes are close to noise that no codec shrinks much.
Storing the two byte planes apart, each zlib-compressed only where that saves at
least a quarter, keeps records within about 15 % of PNG's size (measured: 0.97x
PNG at 512 px from 12-bit DICOM, 1.13x at 2048 px), and decoding inflates only the
plane that shrank. Lossless: the pixels read back are the ones stored.

Layout of `image/encoded` (`image/height`, `image/width`, `image/channels` give
the shape, row-major H x W x C):

    byte 0         P, the bytes per sample: 1 (8-bit) or 2 (16-bit)
    bytes 1..4P    each plane's stored length, uint32 little-endian
    then           the P planes, most significant byte first; a plane whose
                   stored length is below H*W*C is a zlib stream (RFC 1950),
                   otherwise it is the plane's bytes as they are.

`datasets.input_pipeline.model_input.planar_levels` is the TensorFlow decoder.
"""

from __future__ import annotations

import zlib

import numpy as np

PLANAR = "planar"
HEADER_PLANE_COUNT = 1
LENGTH_BYTES = 4
COMPRESS_IF_AT_MOST = 0.75
"""A plane is stored compressed when that saves at least a quarter of its bytes.
Inflating a 256x256 plane costs about as much as all the rest of reading a record, so
a plane that barely shrinks (the high bytes of full-range 16-bit noise) is stored as
it is: reading stays fast, and the disk given up is small."""
ZLIB_LEVEL = 1
"""Measured on a 512-px 12-bit radiograph: level 1 shrinks the high plane to 0.30 of its
bytes in 5 ms, level 6 to 0.23 in 32 ms, level 9 to 0.23 in 283 ms; with the low plane
stored as it is, the record is about 6 % larger at level 1, and conversion much faster."""
SAMPLE_STRETCHES, SAMPLE_BYTES = 4, 2048
SAMPLE_MARGIN = 1.1
"""A sample compresses a little worse than its whole plane (less history to match)."""


class CorruptPlanarImage(ValueError):
    """The bytes do not hold the planes their header and shape promise."""


def encode_planes(pixels: np.ndarray) -> bytes:
    """A uint8 or uint16 array (H, W) or (H, W, C) -> planar bytes."""
    if pixels.dtype == np.uint16:
        samples = np.ascontiguousarray(pixels, dtype="<u2").reshape(-1).view(np.uint8)
        planes = [samples[1::2].tobytes(), samples[0::2].tobytes()]
    elif pixels.dtype == np.uint8:
        planes = [np.ascontiguousarray(pixels).tobytes()]
    else:
        raise ValueError(f"planar records hold uint8 or uint16 pixels, not {pixels.dtype}")
    stored = [_smaller(plane) for plane in planes]
    header = bytes([len(planes)]) + b"".join(
        len(plane).to_bytes(LENGTH_BYTES, "little") for plane in stored)
    return header + b"".join(stored)


def _smaller(plane: bytes) -> bytes:
    if not _may_shrink(plane):
        return plane
    packed = zlib.compress(plane, ZLIB_LEVEL)
    return packed if len(packed) <= COMPRESS_IF_AT_MOST * len(plane) else plane


def _may_shrink(plane: bytes) -> bool:
    """A quick look at a few stretches of a large plane: compressing noise (a 16-bit
    image's low bytes) costs more than the whole rest of the conversion."""
    if len(plane) <= SAMPLE_STRETCHES * SAMPLE_BYTES * 4:
        return True
    step = len(plane) // SAMPLE_STRETCHES
    sample = b"".join(plane[i * step:i * step + SAMPLE_BYTES] for i in range(SAMPLE_STRETCHES))
    return len(zlib.compress(sample, ZLIB_LEVEL)) <= SAMPLE_MARGIN * COMPRESS_IF_AT_MOST * len(
        sample)


def decode_planes(data: bytes, height: int, width: int, channels: int) -> np.ndarray:
    """Planar bytes -> the uint8 or uint16 array (H, W, C) they were made from."""
    count = height * width * channels
    if not data or data[0] not in (1, 2):
        raise CorruptPlanarImage("not planar pixels: the first byte must be 1 or 2")
    num_planes = data[0]
    offset = HEADER_PLANE_COUNT + LENGTH_BYTES * num_planes
    planes = []
    for index in range(num_planes):
        start = HEADER_PLANE_COUNT + LENGTH_BYTES * index
        length = int.from_bytes(data[start:start + LENGTH_BYTES], "little")
        chunk = data[offset:offset + length]
        offset += length
        try:
            plane = zlib.decompress(chunk) if length < count else chunk
        except zlib.error as exc:
            raise CorruptPlanarImage(f"plane {index}: {exc}") from exc
        if len(plane) != count:
            raise CorruptPlanarImage(
                f"plane {index} holds {len(plane)} bytes, not {height}x{width}x{channels}")
        planes.append(np.frombuffer(plane, np.uint8))
    if offset != len(data):
        raise CorruptPlanarImage(f"{len(data) - offset} bytes after the last plane")
    pixels = planes[0] if num_planes == 1 else (planes[0].astype(np.uint16) << 8) | planes[1]
    return pixels.reshape(height, width, channels)
