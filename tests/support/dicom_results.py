"""Reading DICOM results back as a PACS or a viewer would, and dicom3tools' validator."""

from __future__ import annotations

import subprocess

import highdicom as hd
import pydicom

from tests.support.pacs_peers import require_tool


def dciodvfy_errors(path: str) -> list[str]:
    """dciodvfy's Error lines for `path` (its warnings, e.g. on our private code scheme,
    are not errors)."""
    tool = require_tool("dciodvfy")
    result = subprocess.run([tool, path], capture_output=True, text=True, errors="replace",
                            timeout=60)
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.startswith("Error")]


def referenced_uids(sr_path: str) -> set[str]:
    """Every SOP Instance UID an SR's evidence names."""
    dataset = pydicom.dcmread(sr_path)
    found = set()
    for study in dataset.get("CurrentRequestedProcedureEvidenceSequence", []):
        for series in study.ReferencedSeriesSequence:
            for instance in series.ReferencedSOPSequence:
                found.add(str(instance.ReferencedSOPInstanceUID))
    return found


def sr_measurements(sr_path: str) -> dict[str, dict[str, float]]:
    """Source SOP Instance UID -> {code meaning: probability}, through highdicom."""
    report = hd.sr.srread(sr_path)
    out: dict[str, dict[str, float]] = {}
    for group in report.content.get_image_measurement_groups():
        source = group.source_images[0].referenced_sop_instance_uid
        out[source] = {m.name.meaning: float(m.value) for m in group.get_measurements()}
    return out


def sr_evaluations(sr_path: str) -> dict[str, list[tuple[str, str]]]:
    """Source SOP Instance UID -> [(evaluation name, value meaning)]."""
    report = hd.sr.srread(sr_path)
    out: dict[str, list[tuple[str, str]]] = {}
    for group in report.content.get_image_measurement_groups():
        source = group.source_images[0].referenced_sop_instance_uid
        out[source] = [(e.name.meaning, e.value.meaning)
                       for e in group.get_qualitative_evaluations()]
    return out


def sr_image_references(sr_path: str) -> list[tuple[str, list[int] | None]]:
    """Each measurement group's source image: (SOP Instance UID, the frame numbers the
    reference names, or None for the whole instance), through highdicom."""
    report = hd.sr.srread(sr_path)
    found = []
    for group in report.content.get_image_measurement_groups():
        image = group.source_images[0]
        frames = image.referenced_frame_numbers
        found.append((image.referenced_sop_instance_uid,
                      None if frames is None else [int(f) for f in frames]))
    return found


def multi_frame_source(path: str, frames: int = 3, size: int = 32) -> str:
    """A Multi-frame Grayscale Word Secondary Capture file (an IOD made for frames) whose
    frames differ, written to `path`; returns its SOP Instance UID."""
    import numpy as np

    from tests.support.dicom_files import gradient, image_dataset

    pixels = np.stack([np.roll(gradient(size, size), 5 * i, axis=1) for i in range(frames)])
    dataset = image_dataset(pixels, bits_stored=12, PatientName="Frames^Multi",
                            StudyDate="20240102", StudyTime="101010", StudyID="MF1",
                            AccessionNumber="MF-ACC", SeriesNumber=1, InstanceNumber=1,
                            PatientBirthDate="", PatientSex="O", ReferringPhysicianName="")
    dataset.SOPClassUID = MULTI_FRAME_WORD_SC
    dataset.file_meta.MediaStorageSOPClassUID = MULTI_FRAME_WORD_SC
    dataset.save_as(path, enforce_file_format=True)
    return str(dataset.SOPInstanceUID)


MULTI_FRAME_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3"


def legacy_converted_enhanced_mr(slices: list[str], path: str) -> str:
    """One multi-frame MR (geometry in its functional groups) made from single-frame MR
    slices by highdicom's legacy converter, written to `path`; returns its UID."""
    from pydicom.uid import generate_uid

    datasets = [pydicom.dcmread(p) for p in slices]
    for dataset in datasets:
        dataset.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    enhanced = hd.legacy.LegacyConvertedEnhancedMRImage(
        datasets, series_instance_uid=generate_uid(), series_number=50,
        sop_instance_uid=generate_uid(), instance_number=1)
    enhanced.save_as(path, enforce_file_format=True)
    return str(enhanced.SOPInstanceUID)
