"""Decide whether bytes really are a DICOM image, and say why not in one line.

`pydicom.dcmread(force=True)` is needed for files that dcmtk or GDCM wrote
without a preamble or file meta, but it "succeeds" on any garbage. So a file
counts as DICOM only when the parsed dataset carries a well-formed SOP Instance
UID; whether it is an *image* is checked separately (`require_image`).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from collections.abc import Callable

import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.filereader import _read_file_meta_info, read_dataset, read_preamble
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
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
NOT_REGULAR = "not-a-regular-file"
WORKER_DIED = "worker-died"
TIMED_OUT = "timed-out"
NO_HOUNSFIELD = "no-hounsfield"
"""--window asked for, but the image's values are not Hounsfield units."""

MIB = 1 << 20
_DEFLATED_HEAD_BYTES = MIB  # enough for any header; pixels come last
_INFLATE_STEP = 16 * MIB
_PIXELS = 0x7FE00010
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


def looks_like_dicom(data: bytes) -> bool:
    """True when `data` starts as a DICOM file can: the DICM signature or a first tag.

    A dataset without preamble starts with its lowest tag, which is in group
    0002 (file meta) or 0008 (the SOP Instance UID lives there). Zero-filled
    and junk files fail this in microseconds, whatever their size, instead of
    being parsed as millions of empty elements.
    """
    if data[128:132] == b"DICM":
        return True
    if len(data) < 8:
        return False
    group_le, group_be = struct.unpack("<H", data[:2])[0], struct.unpack(">H", data[:2])[0]
    return group_le in (0x0002, 0x0008) or group_be == 0x0008


def check_head(data: bytes) -> None:
    """Raise `RejectedFile` unless `data` (a file's first 132 bytes suffice) can start DICOM."""
    if not data:
        raise RejectedFile(NOT_DICOM, "empty file")
    if not looks_like_dicom(data):
        raise RejectedFile(NOT_DICOM, "not a DICOM file (no DICM signature, no DICOM tag first)")


def read_dicom(
    data: bytes,
    max_inflated_bytes: int | None = None,
    notes: list[str] | None = None,
    check_header: Callable[[Dataset], None] | None = None,
    stop_before_pixels: bool = False,
) -> Dataset:
    """Parse `data` as a DICOM dataset or raise `RejectedFile` (`stop_before_pixels`:
    the header only, for a reader that never decodes; a deflated one is parsed whole).

    A deflated dataset is inflated here: its first MiB is parsed up to the
    pixel data and handed to `check_header` (which raises to refuse it) before
    the rest is inflated, and inflation stops with `too-large` once it passes
    `max_inflated_bytes`. A dataset without SOP
    Instance UID is keyed by the file meta's MediaStorageSOPInstanceUID when
    that one is valid; a line saying so is appended to `notes`.
    """
    check_head(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = _parse(data, max_inflated_bytes, check_header, stop_before_pixels)
            uid = _uid_text(ds.get("SOPInstanceUID"))
    except (RejectedFile, MemoryError):
        raise
    except EOFError as exc:
        raise RejectedFile(TRUNCATED, f"truncated file: {_first_line(exc)}") from exc
    except Exception as exc:  # pydicom raises many types on garbage
        kind = TRUNCATED if _looks_truncated(exc) else NOT_DICOM
        label = "truncated file" if kind == TRUNCATED else "not a DICOM file"
        raise RejectedFile(kind, f"{label}: {_first_line(exc)}") from exc
    if not is_valid_uid(uid):
        meta = getattr(ds, "file_meta", None)
        meta_uid = _uid_text(meta.get("MediaStorageSOPInstanceUID") if meta is not None else None)
        if not is_valid_uid(meta_uid):
            has_preamble = data[128:132] == b"DICM"
            what = "DICOM file without a SOP Instance UID" if has_preamble else "not a DICOM file"
            raise RejectedFile(NOT_DICOM, f"{what} (no valid SOP Instance UID)")
        ds.SOPInstanceUID = meta_uid
        if notes is not None:
            notes.append("SOPInstanceUID missing or invalid; keyed by the file meta's "
                         "MediaStorageSOPInstanceUID")
    if transfer_syntax(ds) is None:
        _infer_transfer_syntax(ds)
    return ds


def _parse(
    data: bytes, max_inflated_bytes: int | None, check_header: Callable[[Dataset], None] | None,
    stop_before_pixels: bool = False,
) -> Dataset:
    """pydicom's parse, except that a deflated dataset is inflated here under bounds."""
    buffer = io.BytesIO(data)
    preamble = read_preamble(buffer, True)
    meta = _read_file_meta_info(buffer)
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return pydicom.dcmread(io.BytesIO(data), force=True,
                               stop_before_pixels=stop_before_pixels)
    compressed = memoryview(data)[buffer.tell() :]
    if check_header is not None:
        head = _inflate(compressed, _DEFLATED_HEAD_BYTES, head_only=True)
        check_header(
            read_dataset(io.BytesIO(head), False, True, stop_when=lambda tag, *_: tag >= _PIXELS)
        )
        del head
    # From the start again, in one piece: a single bytes object that BytesIO shares.
    inflated = _inflate(compressed, max_inflated_bytes)
    dataset = read_dataset(io.BytesIO(inflated), is_implicit_VR=False, is_little_endian=True)
    return FileDataset(io.BytesIO(), dataset, preamble, meta, False, True)


def _inflate(
    compressed: bytes | memoryview, limit: int | None, head_only: bool = False
) -> bytes:
    """Raw deflate: all of it, or `too-large` past `limit` bytes, so a bomb stops there
    (`head_only`: the first `limit` bytes or so, no error).

    Inflated in 16 MiB steps: one call with a large output limit grows its
    buffer by doubling, costing up to twice the limit before it stops.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    chunks, total, pending = [], 0, compressed
    try:
        while not inflater.eof:
            step = _INFLATE_STEP if limit is None else min(_INFLATE_STEP, limit + 1 - total)
            # Called again with no input left: a step may stop with output still pending.
            chunk = inflater.decompress(pending, step)
            chunks.append(chunk)
            total += len(chunk)
            pending = inflater.unconsumed_tail
            if limit is not None and total > limit:
                if head_only:
                    break
                raise RejectedFile(
                    TOO_LARGE,
                    f"deflated dataset inflates past {limit / MIB:,.0f} MiB "
                    f"(--max_decoded_mb plus 64 MiB of header)",
                )
            if not chunk and not pending:
                break  # the stream ends early: parsing reports the truncation
    except zlib.error as exc:
        raise RejectedFile(INVALID_IMAGE, f"corrupt deflated dataset: {exc}") from exc
    return b"".join(chunks)


def _uid_text(value: object) -> str:
    return str(value or "").strip().rstrip("\x00")


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
    """The file's transfer syntax UID, or None when it has no file meta saying one."""
    meta = getattr(ds, "file_meta", None)
    value = meta.get("TransferSyntaxUID") if meta is not None else None
    return UID(str(value)) if value else None


def classify_decode_error(ds: Dataset, exc: BaseException) -> RejectedFile:
    """Turn an exception raised while decoding pixels into a reject with a reason."""
    syntax = transfer_syntax(ds)
    name = f"{syntax.name} ({syntax})" if syntax else "unknown transfer syntax"
    message = decoder_message(exc)
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


def decoder_message(exc: BaseException) -> str:
    """The decoders' own words on one line.

    pydicom's "exceptions were raised by all available plugins:" puts each
    plugin's reason on a line of its own; the first line alone says nothing.
    """
    lines = [line.strip() for line in (str(exc).strip() or type(exc).__name__).splitlines()]
    text = "; ".join(line for line in lines if line).replace(":;", ":")
    return text[:600]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0].strip()
    line = line.split(" - the dataset may be")[0]  # pydicom's generic advice adds nothing
    return line[:300]
