"""Limits on what one DICOM file may cost, checked from its header before decoding.

A file of a few kilobytes can declare gigabytes: a header claiming 40000 x
40000 pixels, 500,000 frames, or a deflated dataset that inflates a
thousandfold. Every check here reads only the header (the file size, the
image attributes, the first bytes of each compressed frame), so a hostile
file is refused in milliseconds as `too-large`, with the numbers and the flag
that raises the limit. The defaults admit every real image
we know of but the largest multi-frame objects (a 5000 x 6000 mammogram is 57
MiB, a 1000-frame 512 x 512 CT series 500 MiB; a breast tomosynthesis volume of
650 MiB needs --max_decoded_mb raised), and keep a worker under 2 GiB.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.encaps import generate_fragments

from dicom.decoding.display import frame_count
from dicom.decoding.reading import (
    INVALID_IMAGE,
    MIB,
    NOT_REGULAR,
    TOO_LARGE,
    UNREADABLE,
    RejectedFile,
    check_head,
    read_dicom,
    require_image,
)
from files.regular_file import FileTooLarge, NotRegularFile, read_regular_file


@dataclass(frozen=True)
class ReadLimits:
    """What one file may cost; each has a create_database flag of the same name."""

    max_file_mb: int = 512
    max_frame_mb: int = 256
    max_decoded_mb: int = 512
    max_frames: int = 10_000

    @property
    def max_file_bytes(self) -> int:
        """The largest file read, in bytes."""
        return self.max_file_mb * MIB

    @property
    def max_inflated_bytes(self) -> int:
        """A deflated dataset may inflate to the decoded limit plus room for its header."""
        return (self.max_decoded_mb + 64) * MIB


def check_image(ds: Dataset, limits: ReadLimits) -> None:
    """`ds` holds an image, and decoding it stays within `limits`."""
    require_image(ds)
    check_declared_size(ds, frame_count(ds), limits)
    check_compressed_dimensions(ds)


def read_file(path: str, limits: ReadLimits) -> bytes:
    """A DICOM file's bytes, or `RejectedFile`: only regular files are opened, nothing over
    --max_file_mb is read, and junk is refused from its head."""
    try:
        return read_regular_file(path, limits.max_file_bytes, check_head)
    except NotRegularFile as exc:
        raise RejectedFile(NOT_REGULAR, str(exc)) from exc
    except FileTooLarge as exc:
        raise RejectedFile(
            TOO_LARGE,
            f"file of {exc.size / MIB:,.1f} MiB is over --max_file_mb {limits.max_file_mb}",
        ) from exc
    except OSError as exc:
        raise RejectedFile(UNREADABLE, f"cannot read: {exc.strerror or exc}") from exc


def read_within(data: bytes, limits: ReadLimits, notes: list[str] | None = None,
                stop_before_pixels: bool = False) -> Dataset:
    """`read_dicom` with the limits on its header (a deflated one's before inflating)."""
    return read_dicom(
        data,
        limits.max_inflated_bytes,
        notes,
        check_header=lambda header: check_declared_size(header, frame_count(header), limits),
        stop_before_pixels=stop_before_pixels,
    )


def read_image(data: bytes, limits: ReadLimits | None = None) -> Dataset:
    """Parse `data` as a DICOM image that is safe to decode, or raise `RejectedFile`."""
    limits = limits or ReadLimits()
    ds = read_within(data, limits)
    check_image(ds, limits)
    return ds


def check_declared_size(ds: Dataset, frames: int, limits: ReadLimits) -> None:
    """Refuse an image whose header declares more frames or bytes than the limits allow."""
    rows, columns = _attribute(ds, "Rows"), _attribute(ds, "Columns")
    samples = max(1, _attribute(ds, "SamplesPerPixel", 1))
    bits = max(1, _attribute(ds, "BitsAllocated", 8))
    if frames > limits.max_frames:
        raise RejectedFile(
            TOO_LARGE, f"{frames:,} frames is over --max_frames {limits.max_frames:,}"
        )
    frame_bytes = rows * columns * samples * ((bits + 7) // 8)
    shape = f"{rows}x{columns}x{samples} of {bits} bits"
    if frame_bytes > limits.max_frame_mb * MIB:
        raise RejectedFile(
            TOO_LARGE,
            f"frame of {shape} = {frame_bytes / MIB:,.1f} MiB is over --max_frame_mb "
            f"{limits.max_frame_mb}",
        )
    total = frame_bytes * frames
    if total > limits.max_decoded_mb * MIB:
        raise RejectedFile(
            TOO_LARGE,
            f"{frames:,} frames of {shape} = {total / MIB:,.1f} MiB decoded is over "
            f"--max_decoded_mb {limits.max_decoded_mb}",
        )


def check_compressed_dimensions(ds: Dataset) -> None:
    """A compressed frame must declare the size the DICOM header does.

    Decoders allocate what the JPEG or JPEG 2000 stream declares, not what
    Rows and Columns say, so a small header over a stream that claims
    40000 x 40000 would get past `check_declared_size`.
    """
    if "PixelData" not in ds or not _is_encapsulated(ds):
        return
    expected = (_attribute(ds, "Columns"), _attribute(ds, "Rows"))
    try:
        fragments: Iterator[bytes] = generate_fragments(ds.PixelData)
        for fragment in fragments:
            declared = stream_dimensions(fragment)
            if declared is not None and declared != expected:
                raise RejectedFile(
                    INVALID_IMAGE,
                    f"a compressed frame declares {declared[0]}x{declared[1]} pixels but the "
                    f"header says Columns x Rows = {expected[0]}x{expected[1]}",
                )
    except (ValueError, struct.error):
        return  # malformed encapsulation: the decoder reports it with its own words


def stream_dimensions(fragment: bytes) -> tuple[int, int] | None:
    """(width, height) a JPEG, JPEG-LS or JPEG 2000 codestream declares, if it starts one."""
    if fragment.startswith(b"\xff\xd8"):
        return _jpeg_frame_size(fragment)
    if fragment.startswith(b"\xff\x4f\xff\x51") and len(fragment) >= 24:
        xsiz, ysiz, xosiz, yosiz = struct.unpack(">IIII", fragment[8:24])
        return xsiz - xosiz, ysiz - yosiz
    return None


# Start-of-frame markers: baseline to lossless (C0-CF without DHT, JPG, DAC) and JPEG-LS (F7).
_SOF_MARKERS = {*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC} | {0xF7}


def _jpeg_frame_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _SOF_MARKERS:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            return None
        position += 2 + length
    return None


def _is_encapsulated(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    return bool(syntax) and bool(getattr(syntax, "is_encapsulated", False))


def _attribute(ds: Dataset, keyword: str, default: int = 0) -> int:
    try:
        value = ds.get(keyword)
        return default if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return default
