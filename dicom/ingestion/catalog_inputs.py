"""Catalog images as inputs of a model (classify_image --db_url --query): the stored PNG
and what a DICOM result needs to refer to the image, as the catalog holds it (the
de-identified values, where it was de-identified)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dicom.decoding.display import FrameName
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.deidentification_record import catalog_deidentification
from dicom.ingestion.fetch import selection
from dicom.ingestion.pixel_store import STORE_COLUMNS, stored_png
from dicom.metadata.deidentify import deidentification_marks

# Catalog column -> the DICOM keyword it fills in a result's copy of the source.
HEADER_COLUMNS = {
    "SOPInstanceUID": "SOPInstanceUID", "SOPClassUID": "SOPClassUID",
    "StudyInstanceUID": "StudyInstanceUID", "SeriesInstanceUID": "SeriesInstanceUID",
    "patient_key": "PatientID", "AccessionNumber": "AccessionNumber",
    "StudyDate": "StudyDate", "Modality": "Modality", "PatientSex": "PatientSex",
    "PatientAge": "PatientAge", "StudyDescription": "StudyDescription",
    "Rows": "Rows", "Columns": "Columns", "channels": "SamplesPerPixel",
    "PhotometricInterpretation": "PhotometricInterpretation", "BitsStored": "BitsStored",
    "bit_depth": "BitsAllocated", "frame_count": "NumberOfFrames",
}


@dataclass(frozen=True)
class CatalogImage:
    image_id: str
    """The catalog ID; a frame of a multi-frame instance is a FrameName (`<UID>-f2`) that
    carries the instance's UID and the frame's number."""
    png: bytes
    attributes: dict[str, Any]
    """DICOM keyword -> the catalog's value, for the columns the catalog has; from a
    de-identified catalog also the marks that say how (`deidentification_marks`)."""


def catalog_images(catalog: Catalog, values: Sequence[str] | None, column: str = "body_part",
                   only: set[str] | None = None) -> Iterator[CatalogImage]:
    """Rows whose `column` is one of `values` (None: all), restricted to the IDs `only`
    (a label set's images) when given, in ID order, streamed."""
    table = catalog.reflected_images()
    where = selection(table, values, column)
    columns = [c for c in HEADER_COLUMNS if c in table.c]
    stored = [table.c[c] for c in ("image", *STORE_COLUMNS, "burned_in") if c in table.c]
    deidentified = catalog_deidentification(catalog)
    query = sa.select(table.c.ID, table.c.frame, *stored,
                      *(table.c[c] for c in columns)).order_by(table.c.ID)
    if where is not None:
        query = query.where(where)
    with catalog.engine.connect().execution_options(stream_results=True, yield_per=128) as c:
        for row in c.execute(query):
            record = row._mapping
            if only is not None and record["ID"] not in only:
                continue
            image_id = str(record["ID"])
            if int(record.get("frame_count") or 1) > 1:
                image_id = FrameName(str(record["SOPInstanceUID"]), int(record["frame"]), "-f")
            attributes: dict[str, Any] = {
                HEADER_COLUMNS[k]: "" if record[k] is None else str(record[k]) for k in columns}
            if deidentified is not None:  # a result made from these values says so too
                redacted = str(record.get("burned_in") or "").startswith("redacted")
                attributes.update(deidentification_marks(
                    deidentified["edition"], deidentified["options"], redacted))
            yield CatalogImage(image_id, stored_png(record, image_id), attributes)
