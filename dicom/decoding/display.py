"""Stored pixel values -> display-ready 2-D images, one per frame.

Order (DICOM PS3.4 grayscale pipeline): Modality LUT (RescaleSlope /
RescaleIntercept or a Modality LUT Sequence), then the VOI LUT Sequence or the
first WindowCenter/WindowWidth pair (LINEAR, LINEAR_EXACT or SIGMOID), else the
full range the stored bits can represent; MONOCHROME1 is inverted last, so a
window is always applied to the values the modality produced.

Grayscale comes out as uint16 over 0..65535 -- never truncated to 8 bits: with
no window, 12-bit data maps injectively onto the 16-bit scale. Colour (RGB,
YBR_* converted by pydicom, PALETTE COLOR through its LUT) comes out as uint8
HxWx3.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import cast

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, pixel_array

from dicom.decoding.intensity_window import IntensityWindow, check_hounsfield
from dicom.decoding.reading import INVALID_IMAGE, RejectedFile, classify_decode_error

GRAY_MAX = 65535
_BAND_PIXELS = 1 << 20
_COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"}


class FrameName(str):
    """The name of one frame of a multi-frame instance as a model input (`<UID>-f2` in the
    catalog, `file.dcm#f2` for a file), carrying the instance it came from and the frame's
    1-based number, so a result can point at the frame without parsing the name."""

    source: str
    frame: int
    separator: str

    def __new__(cls, source: str, frame: int, separator: str = "#f") -> FrameName:
        name = super().__new__(cls, f"{source}{separator}{frame}")
        name.source, name.frame, name.separator = source, frame, separator
        return name

    def __reduce__(self):
        return FrameName, (self.source, self.frame, self.separator)


def frame_count(ds: Dataset) -> int:
    """NumberOfFrames, or 1 when missing or not a number."""
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def decode_frames(ds: Dataset) -> np.ndarray:
    """All frames as stored values, shape (frames, rows, cols[, samples])."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = pixel_array(ds)
    except MemoryError:
        raise  # the caller files it as too-large, not as a corrupt image
    except Exception as exc:
        raise classify_decode_error(ds, exc) from exc
    samples = int(ds.get("SamplesPerPixel") or 1)
    if frame_count(ds) == 1 or arr.ndim == (2 if samples == 1 else 3):
        arr = arr[np.newaxis]
    return arr


def display_frames(ds: Dataset, release: bool = False,
                   intensity_window: IntensityWindow | None = None,
                   source: str = "the image") -> Iterator[np.ndarray]:
    """Yield one display-ready image per frame (uint16 gray or uint8 RGB).

    `release` deletes the encoded PixelData from `ds` once decoded, so a large
    image is not held twice (encoded and decoded) while its frames are made.
    `intensity_window` replaces the file's VOI window (Hounsfield units only:
    `WindowNotApplicable` naming `source` otherwise).
    """
    if intensity_window is not None:
        check_hounsfield(ds, source)
    frames = decode_frames(ds)
    if release:
        del ds.PixelData
    for frame in frames:
        yield to_display(frame, ds, intensity_window)


def to_display(stored: np.ndarray, ds: Dataset,
               intensity_window: IntensityWindow | None = None) -> np.ndarray:
    """Stored pixel values as display values in [0, 1]: the modality and VOI LUTs (or
    `intensity_window`) applied and MONOCHROME1 inverted for grayscale, palette and YBR
    converted to RGB."""
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        return _grayscale(stored, ds, invert=photometric == "MONOCHROME1",
                          intensity_window=intensity_window)
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(stored, ds)
        return _to_uint8(rgb, 16 if rgb.dtype.itemsize > 1 else 8)
    if photometric in _COLOUR:
        # pydicom's pixel_array has already converted YBR_* to RGB.
        return _to_uint8(stored, int(ds.get("BitsStored") or ds.BitsAllocated))
    raise RejectedFile(INVALID_IMAGE, f"unsupported photometric interpretation {photometric!r}")


def _grayscale(stored: np.ndarray, ds: Dataset, invert: bool,
               intensity_window: IntensityWindow | None = None) -> np.ndarray:
    """Through the LUTs in bands of rows: float64 temporaries stay a few MiB per band."""
    if stored.ndim != 2:
        raise RejectedFile(INVALID_IMAGE, f"grayscale image with shape {stored.shape}")
    out = np.empty(stored.shape, dtype=np.uint16)
    band = max(1, _BAND_PIXELS // max(1, stored.shape[1]))
    for top in range(0, stored.shape[0], band):
        out[top : top + band] = _grayscale_band(stored[top : top + band], ds, invert,
                                                intensity_window)
    return out


def _grayscale_band(stored: np.ndarray, ds: Dataset, invert: bool,
                    intensity_window: IntensityWindow | None = None) -> np.ndarray:
    values = np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)
    unit: np.ndarray | None
    if intensity_window is not None:
        unit = window(values, intensity_window.center, intensity_window.width)
    else:
        unit = _voi(values, ds)
    if unit is None:
        low, high = modality_range(ds)
        unit = (values - low) / (high - low) if high > low else np.zeros_like(values)
    unit = np.clip(unit, 0.0, 1.0)
    if invert:
        unit = 1.0 - unit
    return np.rint(unit * GRAY_MAX).astype(np.uint16)


def modality_range(ds: Dataset) -> tuple[float, float]:
    """The range the stored bits can represent, through the Modality LUT."""
    bits = int(ds.get("BitsStored") or ds.BitsAllocated)
    if int(ds.get("PixelRepresentation") or 0):
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2**bits - 1
    if "ModalityLUTSequence" in ds and len(ds.ModalityLUTSequence):
        lut_bits = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**lut_bits - 1)
    ends = np.asarray(apply_modality_lut(np.array([lo, hi]), ds), dtype=np.float64)
    return float(ends.min()), float(ends.max())


def _voi(values: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """VOI LUT or window to [0, 1]; None when the file has neither."""
    if "VOILUTSequence" in ds and len(ds.VOILUTSequence):
        item = ds.VOILUTSequence[0]
        lut_bits = int(item.LUTDescriptor[2])
        out = np.asarray(apply_voi(values, ds, index=0), dtype=np.float64)
        return out / float(2**lut_bits - 1)
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    return window(values, center, width, function)


def window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 windowing, scaled to [0, 1]."""
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if function == "LINEAR_EXACT":
        return np.clip((values - (center - width / 2.0)) / width, 0.0, 1.0)
    if width < 1:
        raise RejectedFile(INVALID_IMAGE, f"WindowWidth {width} < 1 for LINEAR")
    if width == 1:
        return (values >= center - 0.5).astype(np.float64)
    return np.clip((values - (center - 0.5)) / (width - 1.0) + 0.5, 0.0, 1.0)


def _first(value: object) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        items = cast(list, value)
        value = items[0] if len(items) else None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _to_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise RejectedFile(INVALID_IMAGE, f"colour image with shape {rgb.shape}")
    if rgb.dtype == np.uint8 and bits <= 8:
        return rgb
    scale = 255.0 / float(2**bits - 1)
    return np.clip(np.rint(rgb.astype(np.float64) * scale), 0, 255).astype(np.uint8)
