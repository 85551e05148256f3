"""Whole de-identified DICOM objects for sharing, chosen from a de-identified catalog.

The catalog holds PNGs and pseudonyms, not the objects: the export reads the source
files again below the ingested root, finds each one's row through its path pseudonym,
and writes it de-identified with the catalog's own key, edition and options, so every
pseudonym and UID in the set is the one the catalog, its label sets and its SRs hold.
Burned-in text is handled as the row records: a redacted image is redacted again, in
its stored pixels; an image the catalog rejected is not in it, so not exported.

Layout: OUT/<patient pseudonym>/<study UID>/<series UID>/<SOP UID>.dcm (all pseudonyms
or remapped UIDs, so safe names), plus OUT/manifest.csv. The same key, catalog and
files give the same bytes, so a re-run rewrites nothing that differs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from dicom.decoding.display import display_frames
from dicom.decoding.limits import ReadLimits, read_file, read_within
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.deidentification_record import catalog_deidentification
from dicom.ingestion.fetch import selection
from dicom.ingestion.ingest import iter_files
from dicom.metadata.burned_in import check_ocr_available, redact, redact_text
from dicom.metadata.deidentify import Deidentifier, DeidLists, DeidOptions, key_check
from files.atomic_file import write_atomic
from files.safe_names import path_text

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("file", "patient_key", "StudyInstanceUID", "SeriesInstanceUID",
                    "SOPInstanceUID", "SOPClassUID", "sha256", "source", "burned_in")


class ExportError(ValueError):
    """A catalog, key or folder the export cannot work from (one line)."""


@dataclass
class ExportSummary:
    written: int = 0
    unchanged: int = 0
    missing: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        """The export's outcome as one console line."""
        text = (f"exported {self.written} objects ({self.unchanged} unchanged); "
                f"{self.missing} selected images not found below --directory")
        if self.failed:
            text += f"; {len(self.failed)} could not be exported"
        return text


def export_options(catalog: Catalog, key: bytes, lists: DeidLists) -> DeidOptions:
    """The catalog's own edition and options with the lists given, checked against the
    key and the lists the catalog was built with."""
    record = catalog_deidentification(catalog)
    if record is None:
        raise ExportError(f"{catalog.describe()} is not a de-identified catalog (ingest with "
                          "--deidentify first): nothing is exported from a plain catalog")
    if key_check(key) != record["key_check"]:
        raise ExportError(f"the key given is not the key {catalog.describe()} was built with")
    try:
        options = DeidOptions(edition=record["edition"], options=tuple(record["options"]),
                              burned_in=record["burned_in"], descriptor_allow=lists.descriptors,
                              safe_private=lists.safe_private)
    except ValueError as exc:
        raise ExportError(f"{catalog.describe()}: {exc}") from exc
    if options.record() != {k: v for k, v in record.items() if k != "key_check"}:
        raise ExportError("--deid_descriptor_allow or --deid_safe_private differs from the "
                          "list the catalog was built with")
    return options


def selected_sources(catalog: Catalog, values: Sequence[str] | None,
                     column: str) -> dict[str, str | None]:
    """Path pseudonym -> what the row records of burned-in text, for the selected rows."""
    table = catalog.reflected_images()
    where = selection(table, values, column)
    burned = table.c.burned_in if "burned_in" in table.c else sa.null()
    query = sa.select(table.c.source_path, burned).distinct()
    if where is not None:
        query = query.where(where)
    with catalog.engine.connect() as connection:
        return {str(path): note for path, note in connection.execute(query)}


def export_deidentified(catalog: Catalog, directory: str, out_dir: str, key: bytes,
                        values: Sequence[str] | None, column: str = "body_part",
                        lists: DeidLists | None = None,
                        limits: ReadLimits | None = None) -> ExportSummary:
    """Write every selected image's source object, de-identified, below `out_dir`."""
    options = export_options(catalog, key, lists or DeidLists())
    if not os.path.isdir(directory):
        raise ExportError(f"--directory {directory} is not a directory")
    wanted = selected_sources(catalog, values, column)
    if any(note and note.startswith("redacted") for note in wanted.values()):
        check_ocr_available()
    deidentifier = Deidentifier(key, options)
    limits = limits or ReadLimits()
    summary = ExportSummary()
    manifest: list[dict[str, str]] = []
    root = os.path.abspath(directory)
    found: set[str] = set()
    for path in iter_files(root):
        pseudonym = deidentifier.path_pseudonym(path_text(os.path.relpath(path, root)))
        if pseudonym not in wanted or pseudonym in found:
            continue
        found.add(pseudonym)
        try:
            row = _export_one(path, pseudonym, wanted[pseudonym], deidentifier, out_dir, limits,
                              summary)
        except Exception as exc:  # one bad file never stops the export; named by pseudonym
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            summary.failed.append((pseudonym, detail))
            continue
        manifest.append(row)
    summary.missing = len(set(wanted) - found)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(manifest, key=lambda r: r["file"]))
    os.makedirs(out_dir, exist_ok=True)
    write_atomic(os.path.join(out_dir, MANIFEST), buffer.getvalue().encode("utf-8"))
    write_atomic(os.path.join(out_dir, "deidentification.json"),
                 json.dumps(options.record(), indent=2, sort_keys=True).encode("utf-8"))
    return summary


def _export_one(path: str, pseudonym: str, burned_in: str | None, deidentifier: Deidentifier,
                out_dir: str, limits: ReadLimits, summary: ExportSummary) -> dict[str, str]:
    ds = read_within(read_file(path, limits), limits, [])
    redacted = bool(burned_in and burned_in.startswith("redacted"))
    if redacted:
        redact_stored_pixels(ds)
    deidentifier.apply(ds, pixels_cleaned=redacted)
    relative = os.path.join(str(ds.PatientID), str(ds.StudyInstanceUID),
                            str(ds.SeriesInstanceUID), f"{ds.SOPInstanceUID}.dcm")
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    target = os.path.join(out_dir, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.exists(target) and _same_bytes(target, data):
        summary.unchanged += 1
    else:
        write_atomic(target, data)
        summary.written += 1
    return {"file": relative.replace(os.sep, "/"), "patient_key": str(ds.PatientID),
            "StudyInstanceUID": str(ds.StudyInstanceUID),
            "SeriesInstanceUID": str(ds.SeriesInstanceUID),
            "SOPInstanceUID": str(ds.SOPInstanceUID), "SOPClassUID": str(ds.SOPClassUID),
            "sha256": hashlib.sha256(data).hexdigest(), "source": pseudonym,
            "burned_in": burned_in or ""}


def redact_stored_pixels(ds: Dataset) -> int:
    """Black out, in the stored pixel values of every frame, the text OCR finds in the
    displayed frame; the object is left uncompressed. Returns the number of regions."""
    stored = ds.pixel_array
    frames = stored if int(ds.get("NumberOfFrames", 1) or 1) > 1 else stored[np.newaxis]
    bits, signed = int(ds.BitsStored), int(ds.get("PixelRepresentation", 0)) == 1
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    black = high if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1" else low
    regions = 0
    for index, image in enumerate(display_frames(ds)):
        boxes = redact_text(image)[1]
        frames[index] = redact(frames[index], boxes, fill=black)
        regions += len(boxes)
    ds.PixelData = np.ascontiguousarray(frames if stored.ndim == frames.ndim else frames[0]
                                        ).tobytes()
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds["PixelData"].VR = "OW" if int(ds.BitsAllocated) > 8 else "OB"
        if str(ds.get("PhotometricInterpretation", "")).startswith("YBR"):
            ds.PhotometricInterpretation = "RGB"
    return regions


def _same_bytes(path: str, data: bytes) -> bool:
    with open(path, "rb") as handle:
        return handle.read() == data
