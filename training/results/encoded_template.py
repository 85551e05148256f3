"""A data set encoded once, with named slots for the elements that differ per object.

pydicom spends most of an SR's write walking a few hundred nested elements that are the
same in every object of a run. Here each element that never changes is encoded once, by
pydicom; each slot is encoded per object, by pydicom too, from a (tag, VR) and a value;
sequence and item lengths around the slots are recomputed. What comes out is what
pydicom writes for the same data set (the tests compare the bytes), Explicit VR Little
Endian only.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRLittleEndian

_ITEM, _PREFIX = b"\xfe\xff\x00\xe0", b"\x00" * 128 + b"DICM"


@dataclass(frozen=True)
class Slot:
    name: str
    tag: BaseTag
    vr: str


@dataclass(frozen=True)
class _Sequence:
    header: bytes  # tag, "SQ" and the reserved bytes; the length follows
    items: tuple[tuple, ...]  # each item: a tuple of bytes, Slot and _Sequence parts


def _stream() -> DicomBytesIO:
    stream = DicomBytesIO()
    stream.is_little_endian, stream.is_implicit_VR = True, False
    return stream


def encode_element(element: DataElement, encodings) -> bytes:
    stream = _stream()
    write_data_element(stream, element, encodings)
    return stream.getvalue()


class EncodedTemplate:
    """`dataset` with the elements named in `slots` (by identity) left open."""

    def __init__(self, dataset: Dataset, slots: Mapping[int, str]) -> None:
        if str(dataset.file_meta.TransferSyntaxUID) != ExplicitVRLittleEndian:
            raise ValueError("only Explicit VR Little Endian data sets are templated")
        self.file_meta = FileMetaDataset(dataset.file_meta)
        self.encodings = dataset.get("SpecificCharacterSet")
        self.slots: dict[str, Slot] = {}
        self._parts = self._encode(dataset, slots, self.encodings)
        missing = set(slots.values()) - set(self.slots)
        if missing:
            raise ValueError(f"slots not in the data set: {sorted(missing)}")

    def _encode(self, dataset: Dataset, slots: Mapping[int, str], encodings) -> tuple:
        encodings = dataset.get("SpecificCharacterSet", encodings)
        parts: list = []
        for tag in sorted(dataset.keys()):
            if tag.element == 0 and tag.group > 6:
                continue  # retired group lengths, as pydicom skips them
            element = dataset[tag]
            if id(element) in slots:
                slot = Slot(slots[id(element)], element.tag, element.VR)
                self.slots[slot.name] = slot
                parts.append(slot)
            elif element.VR == "SQ" and _holds(element, slots):
                parts.append(_Sequence(
                    struct.pack("<HH", tag.group, tag.element) + b"SQ\x00\x00",
                    tuple(self._encode(item, slots, encodings) for item in element.value)))
            else:
                parts.append(encode_element(element, encodings))
        return _merged(parts)

    def element(self, name: str, value) -> bytes:
        """The encoded slot `name` holding `value`."""
        slot = self.slots[name]
        return encode_element(DataElement(slot.tag, slot.vr, value), self.encodings)

    def render(self, values: Mapping[str, bytes], sop_instance_uid: str) -> bytes:
        """The Part 10 file: the preamble, the file meta (pydicom's) and the data set with
        `values` (encoded elements, by slot name) in its slots."""
        self.file_meta.MediaStorageSOPInstanceUID = sop_instance_uid
        stream = _stream()
        write_file_meta_info(stream, self.file_meta, enforce_standard=True)
        return _PREFIX + stream.getvalue() + _render(self._parts, values)


def _holds(element: DataElement, slots: Mapping[int, str]) -> bool:
    for item in element.value:
        for inner in item:  # its elements
            if id(inner) in slots or (inner.VR == "SQ" and _holds(inner, slots)):
                return True
    return False


def _merged(parts: list) -> tuple:
    out: list = []
    for part in parts:
        if isinstance(part, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += part
        else:
            out.append(part)
    return tuple(out)


def _render(parts: tuple, values: Mapping[str, bytes]) -> bytes:
    chunks = []
    for part in parts:
        if isinstance(part, bytes):
            chunks.append(part)
        elif isinstance(part, Slot):
            chunks.append(values[part.name])
        else:
            items = [_render(item, values) for item in part.items]
            body = b"".join(_ITEM + struct.pack("<I", len(i)) + i for i in items)
            chunks.append(part.header + struct.pack("<I", len(body)) + body)
    return b"".join(chunks)
