"""Which catalog images a label table's key names.

The key is matched against any catalog column: SOPInstanceUID, StudyInstanceUID (a
study-level label then applies to every image of the study), AccessionNumber, PatientID
(the catalog's patient_key), or source_path, where the table's path (CheXpert's `Path`,
ChestX-ray14's `Image Index`) matches the end of the ingested file's path, extension
aside (ChestX-ray14 names PNGs, the catalog holds the DICOM files). On a de-identified
catalog the table's keys are pseudonymized with the catalog's key first.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.deidentification_record import catalog_deidentification
from dicom.labels.label_tables import LabelTable, LabelTableError
from dicom.metadata.cleansing import cleanse_string
from dicom.metadata.deidentify import Deidentifier

SOURCE_PATH = "source_path"
_COLUMN_FOR = {"PatientID": "patient_key"}
_UID_COLUMNS = {"SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"}
_PSEUDONYM = re.compile(r"^PAT-[0-9A-F]{20}$")
EXAMPLES = 5


@dataclass
class MatchReport:
    rows: int = 0
    images_labelled: int = 0
    unmatched_rows: list[tuple[int, str]] = field(default_factory=list)
    several: list[tuple[int, str, int]] = field(default_factory=list)
    unlabelled_images: list[str] = field(default_factory=list)
    catalog_images: int = 0

    def line(self, name: str) -> str:
        """The import's outcome as one console line, naming the label set."""
        return (f"label set {name}: {self.rows} table rows, {self.images_labelled} images "
                f"labelled; {len(self.unmatched_rows)} rows matched no image, "
                f"{len(self.several)} keys matched several images, "
                f"{len(self.unlabelled_images)} of {self.catalog_images} catalog images "
                "left without labels")

    def to_json(self, with_keys: bool = True) -> dict:
        """The report as JSON; `with_keys=False` leaves out the table's keys (a
        de-identified catalog's report names rows, not patients or paths)."""
        return {
            "table_rows": self.rows, "images_labelled": self.images_labelled,
            "catalog_images": self.catalog_images,
            "rows_without_image": {"count": len(self.unmatched_rows), "examples": [
                {"row": r, **({"key": k} if with_keys else {})}
                for r, k in self.unmatched_rows[:EXAMPLES]]},
            "keys_matching_several_images": {"count": len(self.several), "examples": [
                {"row": r, **({"key": k} if with_keys else {}), "images": n}
                for r, k, n in self.several[:EXAMPLES]]},
            "images_without_labels": {"count": len(self.unlabelled_images),
                                      "examples": self.unlabelled_images[:EXAMPLES]},
        }


def is_deidentified(catalog: Catalog) -> bool:
    """Whether the catalog was ingested with --deidentify (its record, else its keys)."""
    if catalog_deidentification(catalog) is not None:
        return True
    images = catalog.images
    with catalog.engine.connect() as connection:
        keys = [k for (k,) in connection.execute(
            sa.select(images.c.patient_key).where(images.c.patient_key.is_not(None)).limit(20))]
    return bool(keys) and all(_PSEUDONYM.match(k) for k in keys)


def _path_tails(path: str) -> list[str]:
    """'/data/a/b/c.dcm' -> ['c', 'b/c', 'a/b/c', 'data/a/b/c']: the ends a table may name."""
    stem = os.path.splitext(path.replace("\\", "/"))[0]
    parts = [p for p in stem.split("/") if p]
    return ["/".join(parts[i:]) for i in range(len(parts) - 1, -1, -1)]


def _table_keys(key: str, column: str, deidentifier: Deidentifier | None) -> list[str]:
    """What a table's key may be stored as, most specific first. A de-identified catalog
    stores the pseudonym of each path below its root: the table's path, or any end of it,
    is that path when the table's root is at or above the ingested one."""
    if column == SOURCE_PATH and deidentifier is not None:
        return [deidentifier.path_pseudonym(tail) for tail in reversed(_path_tails(key))]
    return [_table_key(key, column, deidentifier)]


def _table_key(key: str, column: str, deidentifier: Deidentifier | None) -> str:
    if column == SOURCE_PATH:
        return os.path.splitext(key.replace("\\", "/").strip("/"))[0]
    if column in _UID_COLUMNS:
        return deidentifier.remap_uid(key.strip()) if deidentifier else key.strip()
    if column == "PatientID":
        return deidentifier.patient_key_of(key) if deidentifier else cleanse_string(key) or ""
    if column == "AccessionNumber":
        return deidentifier.accession_key(key) if deidentifier else cleanse_string(key) or ""
    return key.strip()


def match(table: LabelTable, catalog: Catalog, column: str,
          deidentifier: Deidentifier | None) -> tuple[dict[str, dict[str, int]], MatchReport]:
    """image ID -> {label: value}, and what did not fit."""
    images = catalog.reflected_images()
    column_name = _COLUMN_FOR.get(column, column)
    if column_name not in images.c:
        raise LabelTableError(f"--key ...={column}: the catalog has no column {column!r} "
                              f"(e.g. {', '.join(list(images.c.keys())[:8])})")
    index: dict[str, list[str]] = defaultdict(list)
    with catalog.engine.connect() as connection:
        ids = []
        for image_id, value in connection.execute(sa.select(images.c.ID,
                                                            images.c[column_name])):
            ids.append(image_id)
            if value is None:
                continue
            plain_path = column == SOURCE_PATH and deidentifier is None
            for key in (_path_tails(value) if plain_path else [str(value)]):
                index[key].append(image_id)
    report = MatchReport(rows=len(table.rows), catalog_images=len(ids))
    labelled: dict[str, dict[str, int]] = {}
    origin: dict[str, int] = {}
    for number, key, values in table.rows:
        found = next((index[k] for k in _table_keys(key, column, deidentifier) if k in index),
                     [])
        if not found:
            report.unmatched_rows.append((number, key))
            continue
        if len(found) > 1:
            report.several.append((number, key, len(found)))
        for image_id in found:
            previous = labelled.get(image_id)
            if previous is not None and previous != values:
                raise LabelTableError(
                    f"{table.path} rows {origin[image_id]} and {number}: conflicting labels "
                    f"for one image ({image_id}) under key column {table.key_column!r}")
            labelled[image_id], origin[image_id] = values, number
    report.images_labelled = len(labelled)
    report.unlabelled_images = [i for i in ids if i not in labelled]
    return labelled, report
