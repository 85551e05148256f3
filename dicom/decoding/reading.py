"""Decide whether bytes really are a DICOM image, and say why not in one line.

`pydicom.dcmread(force=True)` is needed for files that dcmtk or GDCM wrote
without a preamble or file meta, but it "succeeds" on any garbage. So a file
counts as DICOM only when the parsed dataset carries a well-formed SOP Instance
UID; whether it is an *image* is checked separately (`require_image`).
"""

from __future__ import annotations

import io
import re
import warnings

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

# Reject kinds: short, stable codes that summaries group by.
NOT_DICOM = "not-dicom"
NO_PIXEL_DATA = "no-pixel-data"
TRUNCATED = "truncated"
UNSUPPORTED_ENCODING = "unsupported-encoding"
INVALID_IMAGE = "invalid-image"
UNREADABLE = "unreadable"
TOO_LARGE = "too-large"

_UID_PATTERN = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")
_IMAGE_ATTRIBUTES = ("Rows", "Columns", "BitsAllocated", "PhotometricInterpretation")


class RejectedFile(Exception):
    """A file that cannot become a catalog row; `kind` groups, `reason` explains."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = " ".join(reason.split())  # always one line


def is_valid_uid(value: object) -> bool:
    """True for a DICOM UID: dot-separated numbers, no leading zeros, at most 64 chars."""
    return isinstance(value, str) and len(value) <= 64 and bool(_UID_PATTERN.match(value))


def read_dicom(data: bytes) -> Dataset:
    """Parse `data` as a DICOM dataset or raise `RejectedFile`."""
    if not data:
        raise RejectedFile(NOT_DICOM, "empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
            uid = str(ds.get("SOPInstanceUID", "") or "").strip().rstrip("\x00")
    except EOFError as exc:
        raise RejectedFile(TRUNCATED, f"truncated file: {_first_line(exc)}") from exc
    except Exception as exc:  # pydicom raises many types on garbage
        kind = TRUNCATED if _looks_truncated(exc) else NOT_DICOM
        label = "truncated file" if kind == TRUNCATED else "not a DICOM file"
        raise RejectedFile(kind, f"{label}: {_first_line(exc)}") from exc
    if not is_valid_uid(uid):
        has_preamble = data[128:132] == b"DICM"
        what = "DICOM file without a SOP Instance UID" if has_preamble else "not a DICOM file"
        raise RejectedFile(NOT_DICOM, f"{what} (no valid SOP Instance UID)")
    if transfer_syntax(ds) is None:
        _infer_transfer_syntax(ds)
    return ds


def _infer_transfer_syntax(ds: Dataset) -> None:
    """Bare datasets (no file meta) are native; record the encoding they were parsed with."""
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return
    if implicit:
        syntax = ImplicitVRLittleEndian
    else:
        syntax = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax


def require_image(ds: Dataset) -> None:
    """Raise `RejectedFile` unless `ds` holds pixel data with the attributes to decode it."""
    if "PixelData" not in ds:
        other = [k for k in ("FloatPixelData", "DoubleFloatPixelData") if k in ds]
        if other:
            raise RejectedFile(UNSUPPORTED_ENCODING, f"{other[0]} (float images) is not supported")
        raise RejectedFile(NO_PIXEL_DATA, f"no pixel data ({sop_class_name(ds)})")
    missing = [k for k in _IMAGE_ATTRIBUTES if ds.get(k) in (None, "")]
    if missing:
        raise RejectedFile(INVALID_IMAGE, f"pixel data without {', '.join(missing)}")
    if not int(ds.Rows) or not int(ds.Columns):
        raise RejectedFile(INVALID_IMAGE, f"image of size {ds.Rows}x{ds.Columns}")


def sop_class_name(ds: Dataset) -> str:
    """The SOP class as a person would name it, e.g. 'Basic Text SR Storage'."""
    value = ds.get("SOPClassUID")
    if not value:
        return "no SOP Class UID"
    uid = UID(str(value))
    return uid.name if uid.is_valid else str(value)


def transfer_syntax(ds: Dataset) -> UID | None:
    meta = getattr(ds, "file_meta", None)
    value = meta.get("TransferSyntaxUID") if meta is not None else None
    return UID(str(value)) if value else None


def classify_decode_error(ds: Dataset, exc: BaseException) -> RejectedFile:
    """Turn an exception raised while decoding pixels into a reject with a reason."""
    syntax = transfer_syntax(ds)
    name = f"{syntax.name} ({syntax})" if syntax else "unknown transfer syntax"
    message = _first_line(exc)
    if isinstance(exc, NotImplementedError) or "no pixel data handlers" in message.lower():
        return RejectedFile(
            UNSUPPORTED_ENCODING, f"unsupported encoding {name}: no decoder installed"
        )
    if _looks_truncated(exc):
        return RejectedFile(TRUNCATED, f"truncated pixel data: {message}")
    return RejectedFile(INVALID_IMAGE, f"cannot decode {name}: {message}")


def _looks_truncated(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, EOFError) or any(
        marker in text
        for marker in (
            "less than expected",
            "end of file",
            "unexpected eof",
            "truncated",
            "premature end",
            "buffer is too small",
            "insufficient data",
        )
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0].strip()
    line = line.split(" - the dataset may be")[0]  # pydicom's generic advice adds nothing
    return line[:300]
