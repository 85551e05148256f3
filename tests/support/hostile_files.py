"""Small files that declare or expand to far more than they hold (test helpers).

Each is built the way an attacker would: a valid header written by pydicom,
then a pixel element whose bytes are zeros streamed through zlib or a tiny
compressed fragment, so a bomb of gigabytes costs the test a few kilobytes.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from tests.support.dicom_files import SECONDARY_CAPTURE

_CHUNK = 1 << 24


def header(
    rows: int, columns: int, bits: int = 16, frames: int = 1, **attributes: object
) -> Dataset:
    """An image dataset without PixelData, claiming `frames` of `rows` x `columns`."""
    ds = Dataset()
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def _meta(ds: Dataset, syntax: str) -> bytes:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = syntax
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buffer = io.BytesIO()
    buffer.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buffer, meta, enforce_standard=True)
    return buffer.getvalue()


def _explicit_le(ds: Dataset) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_dataset(buffer, ds)
    return buffer.getvalue()


def deflate_bomb(ds: Dataset, pixel_bytes: int | None = None) -> bytes:
    """A deflated file whose zero pixels inflate to what `ds` declares (or to `pixel_bytes`,
    a lie the header does not tell); kilobytes on disk."""
    declared = int(ds.Rows) * int(ds.Columns) * int(ds.get("NumberOfFrames") or 1)
    declared *= (int(ds.BitsAllocated) + 7) // 8
    declared = declared if pixel_bytes is None else pixel_bytes
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = [deflater.compress(_explicit_le(ds))]
    body.append(deflater.compress(b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", declared)))
    zeros = bytes(min(_CHUNK, declared))
    for start in range(0, declared, _CHUNK):
        body.append(deflater.compress(zeros[: min(_CHUNK, declared - start)]))
    body.append(deflater.flush())
    return _meta(ds, DeflatedExplicitVRLittleEndian) + b"".join(body)


def encapsulated(ds: Dataset, fragment: bytes, syntax: str) -> bytes:
    """`ds` with one compressed frame `fragment` in `syntax`."""
    pixels = encapsulate([fragment]) + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # end of items
    element = b"\xe0\x7f\x10\x00OB\x00\x00" + struct.pack("<I", 0xFFFFFFFF) + pixels
    return _meta(ds, syntax) + _explicit_le(ds) + element


def small_jpeg(width: int = 64, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, format="JPEG")
    return buffer.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A valid 64 x 64 JPEG whose frame header is rewritten to claim `width` x `height`."""
    data = bytearray(small_jpeg())
    position = data.index(b"\xff\xc0")
    data[position + 5 : position + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_file(ds: Dataset, fragment: bytes) -> bytes:
    return encapsulated(ds, fragment, JPEGBaseline8Bit)


def rle_file(ds: Dataset) -> bytes:
    """RLE header for one segment, then a few bytes: the decoder would allocate Rows x Columns."""
    segments = 2 if int(ds.BitsAllocated) == 16 else 1
    offsets = [64 + 8 * index for index in range(segments)] + [0] * (15 - segments)
    fragment = struct.pack("<16I", segments, *offsets) + b"\x81\x00" * 4 * segments
    return encapsulated(ds, fragment, RLELossless)
