"""The source instances a result refers to: their headers, read without pixel data, with
what highdicom needs present.

highdicom copies the patient and study module from the source into each result and
insists on PatientID, PatientName, PatientBirthDate, PatientSex, StudyDate, StudyTime,
StudyID and AccessionNumber being there, if empty (type 2 in DICOM).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from dicom.decoding.limits import ReadLimits, read_file, read_within
from dicom.decoding.reading import RejectedFile

REQUIRED_EMPTY = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyDate",
                  "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")
_PATIENT_SEX = {"M", "F", "O", ""}  # the defined terms of Patient's Sex
_INTEGERS = {"Rows", "Columns", "SamplesPerPixel", "BitsStored", "BitsAllocated"}
IDENTITY = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


class NotADicomSource(ValueError):
    """An input a DICOM result cannot refer to (PNG, JPEG, a record), or one that lacks
    the attribute named."""


def read_source(path: str, limits: ReadLimits | None = None) -> Dataset:
    """The header of a DICOM file (pixel data not parsed), completed for highdicom."""
    limits = limits or ReadLimits()
    try:
        dataset = read_within(read_file(path, limits), limits, stop_before_pixels=True)
    except RejectedFile as exc:
        raise NotADicomSource(f"{path}: {exc.reason}") from None
    return complete(dataset, path)


def header_from(attributes: Mapping[str, Any], name: str) -> Dataset:
    """A source header from what a catalog holds of it (keyword -> value: text, or a
    sequence such as the de-identification method's codes)."""
    dataset = Dataset()
    for keyword, value in attributes.items():
        if value and not (keyword == "NumberOfFrames" and value == "1"):
            setattr(dataset, keyword, int(value) if keyword in _INTEGERS else value)
    # The image pixel description a result's reference needs, from what the catalog stored.
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    dataset.SamplesPerPixel = samples
    if "PhotometricInterpretation" not in dataset:
        dataset.PhotometricInterpretation = "RGB" if samples == 3 else "MONOCHROME2"
    dataset.BitsAllocated = 16 if int(dataset.get("BitsAllocated", 8) or 8) > 8 else 8
    dataset.BitsStored = min(int(dataset.get("BitsStored") or dataset.BitsAllocated),
                             dataset.BitsAllocated)
    dataset.HighBit, dataset.PixelRepresentation = dataset.BitsStored - 1, 0
    return complete(dataset, name)


def complete(dataset: Dataset, name: str) -> Dataset:
    """The source's header ready to be referred to: pixels dropped, required empty attributes added
    and an undefined PatientSex blanked; raises NotADicomSource when it lacks an identifying
    UID."""
    for keyword in IDENTITY:
        if not str(dataset.get(keyword, "") or "").strip():
            raise NotADicomSource(f"{name}: no {keyword}, so no DICOM result can refer to it")
    if "PixelData" in dataset:
        del dataset.PixelData
    for keyword in REQUIRED_EMPTY:
        if keyword not in dataset:
            setattr(dataset, keyword, "")
    if str(dataset.PatientSex or "").strip().upper() not in _PATIENT_SEX:
        # Sources hold "W", "U", "unknown"; highdicom refuses anything but the defined terms,
        # and the value is type 2, so one odd source would have failed a whole run.
        dataset.PatientSex = ""
    return dataset


def is_dicom_path(path: str) -> bool:
    """Whether the file is DICOM: a Part-10 preamble, or (for a name not ending in an image suffix)
    what pydicom recognises."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM" or (
        not path.lower().endswith((".png", ".jpg", ".jpeg")) and pydicom.misc.is_dicom(path))
