"""The folder layout every stage reads and writes, named once.

A fetched, preprocessed or exported folder is `images/` (one PNG per image),
`labels/` (`<stem>.txt`, the class name), `labels.csv` (multi-label: `filename`, then
one column per label holding 1, 0, -1 for uncertain, or nothing) or `masks/`
(segmentation), a
`metadata.csv` (ID, label, patient key, attributes; the preprocessing applied)
and, for colour masks, `class_dict.csv` (`name,r,g,b`, row i is class i).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from files.atomic_file import write_atomic

IMAGES_DIR = "images"
LABELS_DIR = "labels"
LABELS_CSV = "labels.csv"
MASKS_DIR = "masks"
METADATA_FILE = "metadata.csv"
CLASS_DICT_FILE = "class_dict.csv"
MAX_CLASSES = 256


def write_metadata_csv(path: str, header: Sequence[str],
                       rows: Sequence[Mapping[str, object]]) -> None:
    """Write metadata.csv atomically with `header`'s columns, in that order."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(header))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    write_atomic(path, text.getvalue().encode("utf-8"))


@dataclass(frozen=True)
class SegmentationClass:
    name: str
    color: tuple[int, int, int]


def read_class_dict(path: str) -> list[SegmentationClass]:
    """The classes of a class_dict.csv (name,r,g,b), in file order; a ValueError naming
    the line for anything else."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        header = [h.strip().lower() for h in fieldnames]
        if header[:4] != ["name", "r", "g", "b"]:
            raise ValueError(f"{path}: header must be name,r,g,b; got {','.join(header)}")
        classes = []
        for number, row in enumerate(reader, start=2):
            values = [(row.get(k) or "").strip() for k in fieldnames[:4]]
            try:
                color = tuple(int(v) for v in values[1:])
            except ValueError:
                message = f"{path}:{number}: r,g,b must be integers, got {values[1:]}"
                raise ValueError(message) from None
            if not values[0] or any(not 0 <= c <= 255 for c in color):
                raise ValueError(f"{path}:{number}: need a name and r,g,b in 0..255")
            classes.append(SegmentationClass(values[0], color))  # type: ignore[arg-type]
    if not classes or len(classes) > MAX_CLASSES:
        raise ValueError(f"{path}: needs 1 to {MAX_CLASSES} classes, has {len(classes)}")
    colors = [c.color for c in classes]
    if len(set(colors)) != len(colors):
        raise ValueError(f"{path}: two classes share a colour")
    return classes


def write_class_dict(path: str, classes: Sequence[tuple[str, tuple[int, int, int]]]) -> None:
    """`name,r,g,b` rows in class order: the inverse of `read_class_dict`."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "r", "g", "b"])
        writer.writerows([name, r, g, b] for name, (r, g, b) in classes)


def find_class_dict(dataset_dir: str) -> list[SegmentationClass] | None:
    """The folder's class_dict.csv classes, or None when it has none."""
    path = os.path.join(dataset_dir, CLASS_DICT_FILE)
    return read_class_dict(path) if os.path.exists(path) else None


PREPROCESSING_COLUMNS = ("preprocessing_method", "preprocessing_value")


def _read_metadata(folder: str) -> tuple[list[str], list[dict[str, str]]]:
    path = os.path.join(folder, METADATA_FILE)
    if not os.path.exists(path):
        return [], []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def folder_preprocessing(folder: str) -> tuple[str, int] | None:
    """(method, value) that `preprocess_image` recorded in the folder's metadata.csv."""
    _, rows = _read_metadata(folder)
    found = {(row.get(PREPROCESSING_COLUMNS[0]) or "", row.get(PREPROCESSING_COLUMNS[1]) or "")
             for row in rows}
    applied = {pair for pair in found if pair[0]}
    if not applied:
        return None
    if len(found) > 1:
        raise ValueError(f"{os.path.join(folder, METADATA_FILE)} mixes preprocessing "
                         f"({', '.join(sorted(' '.join(p) or 'none' for p in found))}); "
                         "a data set holds one")
    method, value = applied.pop()
    return method, int(value)


def record_folder_preprocessing(folder: str, method: str, value: int,
                                stems: Sequence[str]) -> None:
    """Write (method, value) into every row of the folder's metadata.csv (creating it with
    an ID column for `stems` when the folder has none)."""
    header, rows = _read_metadata(folder)
    if not header:
        header, rows = ["ID"], [{"ID": stem} for stem in stems]
    header = [h for h in header if h not in PREPROCESSING_COLUMNS] + list(PREPROCESSING_COLUMNS)
    for row in rows:
        row[PREPROCESSING_COLUMNS[0]], row[PREPROCESSING_COLUMNS[1]] = method, str(value)
    write_metadata_csv(os.path.join(folder, METADATA_FILE), header, rows)


WINDOW_FILE = "intensity_window.json"
"""A folder whose images were displayed through a CT window (fetch_image from a catalog
ingested with --window) records it here: {center, width, name}."""


def _read_record(folder: str, name: str) -> dict | None:
    """A folder's JSON record `name`, or None when the folder has none."""
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    return raw if isinstance(raw, dict) else None


def _write_record(folder: str, name: str, record: dict) -> None:
    write_atomic(os.path.join(folder, name), (json.dumps(record, sort_keys=True) + "\n").encode())


def folder_window(folder: str) -> dict | None:
    """The CT window the folder's images went through, or None."""
    raw = _read_record(folder, WINDOW_FILE)
    if raw is None:
        return None
    return {"center": float(raw["center"]), "width": float(raw["width"]),
            "name": str(raw.get("name", ""))}


def record_folder_window(folder: str, window: dict) -> None:
    """Write the CT window the folder's images went through (see `folder_window`)."""
    _write_record(folder, WINDOW_FILE, window)


DEIDENTIFICATION_FILE = "deidentification.json"
"""What fetch_image's catalog records of its de-identification (PS3.15 edition, options,
burned-in policy; {"deidentified": false} for a plain catalog); tf_convert_data copies it
into dataset_spec.json and the evaluation's model card states it."""


def folder_deidentification(folder: str) -> dict | None:
    """The folder's de-identification record, or None when it has none."""
    return _read_record(folder, DEIDENTIFICATION_FILE)


def record_folder_deidentification(folder: str, record: dict) -> None:
    """Record, beside the folder's images, how they were de-identified."""
    _write_record(folder, DEIDENTIFICATION_FILE, record)
