"""A data set encoded once, with named slots for the elements that differ per object.

pydicom spends most of an SR's write walking a few hundred nested elements that are the
same in every object of a run. Here each element that never changes is encoded once, by
pydicom; each slot is encoded per object, by pydicom too, from a (tag, VR) and a value;
sequence and item lengths around the slots, and the file meta's group length, are
recomputed. What comes out is what pydicom writes for the same data set (the tests
compare the bytes), Explicit VR Little Endian only.
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

Encodings = str | list[str] | None
"""A data set's SpecificCharacterSet, as pydicom's writer takes it."""

_ITEM, _PREFIX = b"\xfe\xff\x00\xe0", b"\x00" * 128 + b"DICM"
_GROUP_LENGTH = b"\x02\x00\x00\x00UL\x04\x00"  # (0002,0000), its value follows


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


def encode_element(element: DataElement, encodings: Encodings) -> bytes:
    """The bytes of one data element, encoded as the dataset it belongs to is."""
    stream = _stream()
    write_data_element(stream, element, encodings)
    return stream.getvalue()


class EncodedTemplate:
    """`dataset` with the elements named in `slots` (by identity) left open."""

    def __init__(self, dataset: Dataset, slots: Mapping[int, str]) -> None:
        if str(dataset.file_meta.TransferSyntaxUID) != ExplicitVRLittleEndian:
            raise ValueError("only Explicit VR Little Endian data sets are templated")
        self.slots: dict[str, Slot] = {}
        file_meta = FileMetaDataset(dataset.file_meta)
        write_file_meta_info(_stream(), file_meta, enforce_standard=True)  # completes it
        self._meta = self._encode(file_meta, {
            id(file_meta["MediaStorageSOPInstanceUID"]): "media_storage_sop_instance_uid"},
            None, skip=(0x00020000,))
        self.encodings = dataset.get("SpecificCharacterSet")
        self._parts = self._encode(dataset, slots, self.encodings)
        missing = set(slots.values()) - set(self.slots)  # the file meta's is always there
        if missing:
            raise ValueError(f"slots not in the data set: {sorted(missing)}")

    def _encode(self, dataset: Dataset, slots: Mapping[int, str], encodings,
                skip: tuple[int, ...] = ()) -> tuple:
        encodings = dataset.get("SpecificCharacterSet", encodings)
        parts: list = []
        for tag in sorted(dataset.keys()):
            if (tag.element == 0 and tag.group > 6) or tag in skip:
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

    def element(self, name: str, value: object) -> bytes:
        """The encoded slot `name` holding `value`."""
        slot = self.slots[name]
        encodings = None if slot.tag >> 16 == 2 else self.encodings  # file meta: ASCII
        return encode_element(DataElement(slot.tag, slot.vr, value), encodings)

    def render(self, values: Mapping[str, bytes], sop_instance_uid: str) -> bytes:
        """The Part 10 file: the preamble, the file meta and the data set with `values`
        (encoded elements, by slot name) in its slots."""
        meta = _render(self._meta, {"media_storage_sop_instance_uid": self.element(
            "media_storage_sop_instance_uid", sop_instance_uid)})
        return b"".join((_PREFIX, _GROUP_LENGTH, struct.pack("<I", len(meta)), meta,
                         _render(self._parts, values)))


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
