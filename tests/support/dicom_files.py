"""Build small DICOM datasets with known pixels in any transfer syntax (test helpers)."""

from __future__ import annotations

import io

import imagecodecs
import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def gradient(rows: int = 48, cols: int = 64, bits: int = 12) -> np.ndarray:
    """A smooth, non-constant test image: easy for lossy codecs to keep close."""
    y, x = np.mgrid[0:rows, 0:cols]
    values = (x * 7 + y * 5) / (cols * 7 + rows * 5) * (2**bits - 1)
    return np.rint(values).astype(np.uint16 if bits > 8 else np.uint8)


def image_dataset(
    pixels: np.ndarray,
    bits_stored: int | None = None,
    photometric: str = "MONOCHROME2",
    **attributes: object,
) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.PatientID = "TEST-PATIENT"
    frames = pixels.shape[0] if pixels.ndim == (3 if photometric.startswith("MONO") else 4) else 1
    rows, cols = pixels.shape[-2:] if photometric.startswith("MONO") else pixels.shape[-3:-1]
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1 if photometric.startswith("MONO") else 3
    if ds.SamplesPerPixel == 3:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def _encapsulated(ds: Dataset, frame: bytes, syntax: str) -> Dataset:
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = syntax
    return ds


def encode(ds: Dataset, pixels: np.ndarray, syntax: str) -> Dataset:
    """Re-encode `ds`'s single frame `pixels` in `syntax` with a real encoder."""
    bits = int(ds.BitsStored)
    if syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian):
        ds.file_meta.TransferSyntaxUID = syntax
        return ds
    if syntax in (RLELossless, JPEG2000Lossless):
        ds.compress(syntax, generate_instance_uid=False)
        return ds
    if syntax == JPEGBaseline8Bit:
        buffer = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="JPEG", quality=95)
        return _encapsulated(ds, buffer.getvalue(), syntax)
    if syntax == JPEGExtended12Bit:
        data = imagecodecs.jpeg8_encode(pixels, level=95, bitspersample=12)
        return _encapsulated(ds, data, syntax)
    if syntax == JPEGLosslessSV1:
        data = imagecodecs.jpeg8_encode(pixels, lossless=True, bitspersample=bits, predictor=1)
        return _encapsulated(ds, data, syntax)
    if syntax == JPEGLSLossless:
        return _encapsulated(ds, imagecodecs.jpegls_encode(pixels), syntax)
    raise ValueError(f"no test encoder for {syntax}")


def to_bytes(ds: Dataset, file_format: bool = True) -> bytes:
    """Serialise; file_format=False writes a bare dataset (no preamble, no meta) like some tools."""
    buffer = io.BytesIO()
    if file_format:
        ds.preamble = b"\x00" * 128
        ds.save_as(buffer, enforce_file_format=True)
    else:
        del ds.file_meta
        ds.save_as(buffer, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()


def reread(ds: Dataset) -> Dataset:
    return pydicom.dcmread(io.BytesIO(to_bytes(ds)))
