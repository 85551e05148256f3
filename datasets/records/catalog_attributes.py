"""The catalog attributes a record carries beside its image, for evaluation to slice by.

fetch_image writes the catalog's columns to `metadata.csv`; tf_convert_data copies a
chosen set of them into each record as `attribute/NAME` strings (never through the
model's input path), and counts them per split in `dataset_spec.json` (the data's
make-up). Three are derived rather than copied:

- `age_band`: a decade from PatientAge (`045Y` -> `40-49`, months, weeks and days ->
  `0-9`, 90 and over -> `90+`);
- `study_year`: the year of StudyDate;
- `site`: the catalog's `site` column (InstitutionName, or its keyed pseudonym when the
  catalog is de-identified), else InstitutionName where a folder has it.

A value the folder does not have is the empty string, reported as `unknown`.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from datasets.records.example_codec import ATTRIBUTE_PREFIX as PREFIX
from files.folder_layout import METADATA_FILE

DEFAULT_ATTRIBUTES = ("Manufacturer", "ManufacturerModelName", "PatientSex", "age_band",
                      "ViewPosition", "site", "study_year")
UNKNOWN = "unknown"
STUDY_COLUMN = "StudyInstanceUID"
_AGE = re.compile(r"(\d{1,3})\s*([DWMY]?)", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def age_band(patient_age: str) -> str:
    """A decade band of a DICOM AS value ('045Y'); '' when it is not one."""
    match = _AGE.fullmatch((patient_age or "").strip())
    if not match:
        return ""
    years = int(match.group(1)) if match.group(2).upper() in ("", "Y") else 0
    if years >= 90:
        return "90+"
    low = years // 10 * 10
    return f"{low}-{low + 9}"


def study_year(study_date: str) -> str:
    """The year of a DICOM date (YYYYMMDD), or "" when it has none."""
    text = (study_date or "").strip()
    return text[:4] if len(text) >= 4 and text[:4].isdigit() else ""


_DERIVED = {
    "age_band": (("PatientAge",), lambda row: age_band(row.get("PatientAge", ""))),
    "study_year": (("StudyDate",), lambda row: study_year(row.get("StudyDate", ""))),
    "site": (("site", "InstitutionName"),
             lambda row: (row.get("site") or row.get("InstitutionName") or "").strip()),
}


def parse_attribute_names(text: str) -> tuple[str, ...]:
    """`--attributes` as names; raises ValueError naming a bad one."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"--attributes: {name!r} is not a column name")
    if len(set(names)) != len(names):
        raise ValueError(f"--attributes names a column twice: {text}")
    return names


def available(header: Iterable[str], names: Iterable[str]) -> tuple[str, ...]:
    """Those of `names` a metadata.csv with this header can give."""
    columns = set(header)
    return tuple(n for n in names
                 if n in columns or (n in _DERIVED and columns & set(_DERIVED[n][0])))


@dataclass(frozen=True)
class FolderAttributes:
    names: tuple[str, ...]
    """The attributes the folder gives, in the asked order."""
    values: dict[str, tuple[str, ...]]
    """image stem -> one value per name."""
    studies: dict[str, str]
    """image stem -> its StudyInstanceUID, where the folder has one (the make-up counts
    studies)."""


def read_folder_attributes(dataset_dir: str, names: tuple[str, ...],
                           stem_of: Callable[[str], str],
                           id_columns: tuple[str, ...], required: bool = False
                           ) -> FolderAttributes:
    """The attributes of each image from `DIR/metadata.csv`. Names the file cannot give
    are dropped, or, when `required` (the user named them), an error naming them."""
    path = os.path.join(dataset_dir, METADATA_FILE)
    if not os.path.exists(path):
        if required and names:
            raise ValueError(f"--attributes {','.join(names)}: {dataset_dir} has no "
                             f"{METADATA_FILE} (fetch_image writes it)")
        return FolderAttributes((), {}, {})
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        kept = available(header, names)
        missing = [n for n in names if n not in kept]
        if required and missing:
            raise ValueError(f"--attributes: {path} has no column for {', '.join(missing)}")
        id_column = next((c for c in id_columns if c in header), None)
        if id_column is None:
            return FolderAttributes((), {}, {})
        values, studies = {}, {}
        for row in reader:
            key = (row.get(id_column) or "").strip()
            if not key:
                continue
            stem = stem_of(key)
            values[stem] = tuple(
                (_DERIVED[n][1](row) if n in _DERIVED and n not in header
                 else (row.get(n) or "").strip())[:128] for n in kept)
            if row.get(STUDY_COLUMN):
                studies[stem] = row[STUDY_COLUMN].strip()
    return FolderAttributes(kept, values, studies)


def parsing_spec(names: Iterable[str]) -> dict:
    """`tf.io.parse_single_example` features of the attributes (absent: '')."""
    import tensorflow as tf

    return {PREFIX + n: tf.io.FixedLenFeature([], tf.string, default_value="")
            for n in names}


def read_split_attributes(files: list[str], names: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """record ID -> {attribute: value} for every record in `files`, parsing only the ID
    and the attributes (no image is decoded)."""
    import tensorflow as tf

    from datasets.records.example_codec import ID

    spec = {ID: tf.io.FixedLenFeature([], tf.string, default_value=""), **parsing_spec(names)}
    out: dict[str, dict[str, str]] = {}
    records = tf.data.TFRecordDataset(files).batch(1024).map(
        lambda batch: tf.io.parse_example(batch, spec))
    for batch in records:
        ids = [i.decode("utf-8", "replace") for i in batch[ID].numpy()]
        columns = {n: [v.decode("utf-8", "replace") for v in batch[PREFIX + n].numpy()]
                   for n in names}
        for row, example_id in enumerate(ids):
            out[example_id] = {n: columns[n][row] or UNKNOWN for n in names}
    return out
