"""Cleanse the DICOM attributes the catalog keeps.

Scanner metadata is dirty: padded strings, mixed case, `1A` in an integer
field. Integers that are junk become NULL with a warning rather than an
exception, so one odd file never stops a batch. Strings are stripped,
whitespace-collapsed and upper-cased (DICOM code strings are upper case by
definition; upper-casing free text too keeps queries simple); empty -> NULL.
Multi-valued attributes are joined with a backslash, as DICOM stores them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataset import Dataset

DEFAULT_INT_ATTRIBUTES: tuple[str, ...] = (
    "BitsStored",
    "NumberOfFrames",
    "SeriesNumber",
    "InstanceNumber",
    "AcquisitionNumber",
)
DEFAULT_STRING_ATTRIBUTES: tuple[str, ...] = (
    "PatientSex",
    "PatientAge",
    "ViewPosition",
    "ImageLaterality",
    "PhotometricInterpretation",
    "Manufacturer",
    "ManufacturerModelName",
    "StudyDescription",
    "SeriesDescription",
    "ProtocolName",
    "StudyDate",
)
# Attributes that are catalog columns of their own; not configurable.
CORE_ATTRIBUTES = frozenset(
    {
        "Modality",
        "Rows",
        "Columns",
        "BodyPartExamined",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "PatientID",
    }
)
_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL_INTEGER = re.compile(r"^[+-]?\d+\.0*$")


@dataclass(frozen=True)
class AttributeLists:
    """Which attributes become catalog columns, and as what type."""

    integers: tuple[str, ...] = DEFAULT_INT_ATTRIBUTES
    strings: tuple[str, ...] = DEFAULT_STRING_ATTRIBUTES

    def __post_init__(self) -> None:
        validate_keywords(self.integers + self.strings)
        both = set(self.integers) & set(self.strings)
        if both:
            raise ValueError(f"attributes listed as both integer and string: {sorted(both)}")


@dataclass
class CleansedAttributes:
    values: dict[str, int | str | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def validate_keywords(keywords: Iterable[str]) -> None:
    """Raise ValueError naming every keyword that is not a DICOM attribute or is reserved."""
    unknown = [k for k in keywords if k not in keyword_dict]
    if unknown:
        raise ValueError(f"not DICOM attribute keywords: {', '.join(unknown)}")
    reserved = [k for k in keywords if k in CORE_ATTRIBUTES]
    if reserved:
        raise ValueError(f"always stored as catalog columns, do not list: {', '.join(reserved)}")
    sequences = [k for k in keywords if dictionary_VR(keyword_dict[k]) == "SQ"]
    if sequences:
        raise ValueError(f"sequence attributes cannot be columns: {', '.join(sequences)}")


def cleanse_string(raw: str | None) -> str | None:
    """A text attribute with NULs dropped, whitespace collapsed and letters upper-cased; None for
    missing or blank, so that equal values compare equal in the catalog."""
    if raw is None:
        return None
    text = " ".join(raw.replace("\x00", " ").split()).upper()
    return text or None


def cleanse_int(raw: str | None) -> tuple[int | None, str | None]:
    """Return (value, warning). Junk such as '1A' gives (None, warning)."""
    text = cleanse_string(raw)
    if text is None:
        return None, None
    first = text.split("\\")[0].strip()
    if _INTEGER.match(first) or _DECIMAL_INTEGER.match(first):
        return int(first.split(".")[0]), None
    return None, f"{text!r} is not an integer; stored NULL"


def attribute_text(ds: Dataset, keyword: str) -> str | None:
    """The attribute's value as text, surviving values pydicom cannot convert."""
    if keyword not in ds:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = ds[keyword].value
    except Exception:
        element = ds.get_item(keyword)
        value = getattr(element, "value", None)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1", errors="replace")
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def cleanse_attributes(ds: Dataset, lists: AttributeLists) -> CleansedAttributes:
    """The catalog's values of the listed attributes, with one warning per value that could not be
    stored as read (the value becomes NULL)."""
    result = CleansedAttributes()
    for keyword in lists.integers:
        value, warning = cleanse_int(attribute_text(ds, keyword))
        result.values[keyword] = value
        if warning:
            result.warnings.append(f"{keyword} {warning}")
    for keyword in lists.strings:
        result.values[keyword] = cleanse_string(attribute_text(ds, keyword))
    return result


def parse_keyword_list(text: str | Sequence[str]) -> tuple[str, ...]:
    """'A, B,C' or a list -> ('A', 'B', 'C'); empty entries dropped."""
    items = text.split(",") if isinstance(text, str) else list(text)
    return tuple(item.strip() for item in items if item and item.strip())
