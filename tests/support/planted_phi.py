"""Datasets whose every PS3.15 Table E.1-1 attribute carries a unique marker (test helpers).

A marker is a short string (`MK0042`), a unique date or time, or a unique UID, planted
at the top level, inside a sequence item and in a private block. A test then searches
every byte a command wrote for every marker: one found is an identifier that leaked.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pydicom import config
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom.metadata.deid_profile import basic_profile
from tests.support.dicom_files import gradient, image_dataset

_SHORT_MARKER = re.compile(rb"MK\d{4}")  # _marker_value's; "MK" starts no other
_TEXT_VRS = {"AE", "CS", "SH", "LO", "PN", "ST", "LT", "UT", "UC", "AS"}
# Attributes the test image needs as they are (its pixels and identity).
_STRUCTURAL = {"SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID",
               "MediaStorageSOPInstanceUID", "Modality"}


@dataclass
class Planted:
    dataset: Dataset
    markers: dict[str, str] = field(default_factory=dict)
    """marker -> where it was planted (keyword, 'in sequence', 'private')."""
    dates: dict[str, str] = field(default_factory=dict)
    """original date or date-time value -> keyword."""

    def found_in(self, data: bytes, ignore: set[str] = frozenset()) -> list[str]:
        """The planted markers (and dates) that occur in `data` (letters in any case), with
        where they were. The `MK0042` kind are found in one pass and looked up, so a
        checkpoint of tens of megabytes is searched once, not once per marker."""
        text = data.upper()
        short = set(_SHORT_MARKER.findall(text))

        def occurs(marker: str) -> bool:
            needle = marker.upper().encode("latin-1")
            return needle in short if _SHORT_MARKER.fullmatch(needle) else needle in text

        found = [f"{m} ({w})" for m, w in self.markers.items()
                 if w.split(" ")[0] not in ignore and occurs(m)]
        return found + [f"{d} ({w})" for d, w in self.dates.items()
                        if w not in ignore and occurs(d)]


def _marker_value(vr: str, number: int) -> str:
    if vr == "AS":
        return f"{number % 1000:03d}Y"
    return f"MK{number:04d}"


@contextlib.contextmanager
def _lenient_writing() -> Iterator[None]:
    """Markers need not be valid values; the setting is pydicom's global, so it is put back."""
    previous = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        yield
    finally:
        config.settings.writing_validation_mode = previous


def planted_dataset(edition: str = "2026c", rows: int = 48, cols: int = 64) -> Planted:
    """A CR image whose every text, date and UID attribute of Table E.1-1 holds a marker."""
    with _lenient_writing():
        return _planted(edition, rows, cols)


def _planted(edition: str, rows: int, cols: int) -> Planted:
    ds = image_dataset(gradient(rows, cols, bits=12), bits_stored=12)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.Modality = "CR"
    ds.BodyPartExamined = "CHEST"
    planted = Planted(ds)
    base = datetime.date(1951, 1, 1)
    number = 0
    for tag, _action in sorted(basic_profile(edition).exact.items()):
        keyword = keyword_for_tag(tag)
        if not keyword or keyword in _STRUCTURAL or tag >> 16 in (0x0000, 0x0002, 0xFFFE):
            continue
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        number += 1
        if vr in _TEXT_VRS:
            value = _marker_value(vr, number)
            ds.add_new(tag, vr, value)
            planted.markers[value] = keyword
        elif vr in ("DA", "DT"):
            value = (base + datetime.timedelta(days=number * 3)).strftime("%Y%m%d")
            ds.add_new(tag, vr, value if vr == "DA" else value + "101500")
            planted.dates[value] = keyword
        elif vr == "UI":
            value = f"1.2.826.0.1.3680043.10.1{number:04d}"
            ds.add_new(tag, vr, value)
            planted.markers[value] = keyword
        elif vr == "SQ":
            item = Dataset()
            marker = f"MK{number:04d}"
            item.PatientName = marker
            item.InstitutionName = f"MQ{number:04d}"
            item.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.10.2{number:04d}"
            ds.add_new(tag, vr, Sequence([item]))
            planted.markers[marker] = f"{keyword} in sequence"
            planted.markers[f"MQ{number:04d}"] = f"{keyword} in sequence"
            planted.markers[item.ReferencedSOPInstanceUID] = f"{keyword} in sequence"
    block = ds.private_block(0x0029, "MEDCV PLANTED", create=True)
    block.add_new(0x10, "LO", "MKPRIVATE1")
    planted.markers["MKPRIVATE1"] = "private"
    ds.add_new(0x60003000, "OW", b"MKOVERLAY1")
    planted.markers["MKOVERLAY1"] = "OverlayData"
    return planted


def require_tesseract() -> None:
    """Skip without Tesseract (fail under CI=true, where scripts/ensure_ocr.sh installs it)."""
    if shutil.which("tesseract") is None:
        message = "tesseract is not installed (bash scripts/ensure_ocr.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def dataset_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    with _lenient_writing():
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
