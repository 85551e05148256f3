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
    result = subprocess.run([tool, path], capture_output=True, text=True, timeout=60)
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
