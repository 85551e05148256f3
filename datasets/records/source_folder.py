"""The conversion's input: `DIR/images/` paired by file stem with `DIR/labels/*.txt`
(classification), with the rows of `DIR/labels.csv` (multi-label) or with
`DIR/masks/*.png` (segmentation), plus an optional `DIR/metadata.csv` naming each
image's patient.

Scanning finds the pairing problems (an image without a label, a label without
an image, an empty label, two images with one stem); decoding problems are
found later by the probe. Nothing here writes.
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass

from datasets.records.class_names import canonical_label
from datasets.records.dataset_spec import MULTILABEL
from datasets.records.label_policy import parse_value
from datasets.records.tasks import record_task
from files.folder_layout import (
    IMAGES_DIR,
    LABELS_CSV,
    LABELS_DIR,
    MASKS_DIR,
    METADATA_FILE,
    PREPROCESSING_COLUMNS,
)

# `filename` first: fetch_image writes the catalog ID and, where the ID was not a plain
# file name, the safe name it used (files.safe_names).
ID_COLUMNS = ("filename", "ID", "id", "image", "stem")
PATIENT_COLUMNS = ("patient_key", "patient_id", "PatientID", "patient")
# Only these suffixes are cut to find a stem: catalog IDs are UIDs full of dots.
KNOWN_SUFFIXES = {".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".ima", ".txt"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceItem:
    example_id: str
    image_path: str
    label: str | None = None
    mask_path: str | None = None
    patient_id: str = ""
    findings: tuple[int | None, ...] | None = None
    """Multi-label: each label's cell, 1, 0, -1 (uncertain) or None (blank)."""
    attributes: tuple[tuple[str, str], ...] = ()
    """Catalog attributes from metadata.csv, carried beside the image (evaluation's)."""
    study: str = ""

    @property
    def group(self) -> str:
        """Images of one patient stay together; an image without a patient stands alone."""
        return f"patient:{self.patient_id}" if self.patient_id else f"image:{self.example_id}"


@dataclass(frozen=True)
class InputProblem:
    path: str
    reason: str

    def line(self) -> str:
        """The problem as one line: the file and what is wrong with it."""
        return f"{self.path}: {self.reason}"


def _stem_map(directory: str, role: str, problems: list[InputProblem]) -> dict[str, str]:
    stems: dict[str, str] = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.startswith(".") or name.endswith(".partial") or not os.path.isfile(path):
            continue
        stem = file_stem(name)
        if stem in stems:
            problems.append(
                InputProblem(path, f"two {role} share the stem {stem!r} "
                             f"({os.path.basename(stems[stem])} and {name})")
            )
            continue
        stems[stem] = path
    return stems


def file_stem(name: str) -> str:
    """`000000.png` -> `000000`; `1.2.840.1.png` -> `1.2.840.1`; `1.2.840.1` stays."""
    stem, suffix = os.path.splitext(name)
    return stem if suffix.lower() in KNOWN_SUFFIXES else name


def _require_dir(dataset_dir: str, name: str) -> str:
    path = os.path.join(dataset_dir, name)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"{dataset_dir} has no {name}/ folder (expected {IMAGES_DIR}/ with "
            f"{'masks' if name == MASKS_DIR else 'labels'}/ beside it)"
        )
    return path


def source_task(dataset_dir: str, task: str) -> str:
    """A classification folder with a labels.csv is multi-label."""
    if record_task(task).dense or not os.path.isfile(os.path.join(dataset_dir, LABELS_CSV)):
        return task
    if os.path.isdir(os.path.join(dataset_dir, LABELS_DIR)):
        log.warning("%s has both %s and %s/: converting the multi-label %s", dataset_dir,
                    LABELS_CSV, LABELS_DIR, LABELS_CSV)
    return MULTILABEL


def scan_source(dataset_dir: str, task: str) -> tuple[list[SourceItem], list[InputProblem]]:
    """Pair images with labels or masks; problems list what cannot be paired."""
    if not os.path.isdir(dataset_dir):
        raise FileNotFoundError(f"--dataset_dir {dataset_dir} does not exist")
    problems: list[InputProblem] = []
    images = _stem_map(_require_dir(dataset_dir, IMAGES_DIR), IMAGES_DIR, problems)
    kind = record_task(task)
    if kind.multi_label:
        return _pair_label_rows(dataset_dir, images, problems), problems
    partner_dir = _require_dir(dataset_dir, kind.targets_folder)
    partners = _stem_map(partner_dir, kind.targets_folder, problems)
    patients = read_patient_keys(dataset_dir)
    items: list[SourceItem] = []
    for stem, image_path in images.items():
        partner = partners.get(stem)
        if partner is None:
            what = "mask" if kind.dense else "label"
            expected = f"{kind.targets_folder}/{stem}.{'png' if kind.dense else 'txt'}"
            problems.append(InputProblem(image_path, f"image without a {what} ({expected})"))
            continue
        patient = patients.get(stem, "")
        if kind.dense:
            items.append(SourceItem(stem, image_path, mask_path=partner, patient_id=patient))
            continue
        label = _read_label(partner, problems)
        if label is not None:
            items.append(SourceItem(stem, image_path, label=label, patient_id=patient))
    for stem, partner in partners.items():
        if stem not in images:
            what = "mask" if kind.dense else "label"
            problems.append(InputProblem(partner, f"{what} without an image in {IMAGES_DIR}/"))
    if patients:
        missing = sum(1 for item in items if not item.patient_id)
        if missing:
            log.warning("%d images have no patient key in %s; each is its own group",
                        missing, METADATA_FILE)
    return items, problems


def label_names(dataset_dir: str) -> list[str]:
    """The label columns of `DIR/labels.csv`, in file order."""
    path = os.path.join(dataset_dir, LABELS_CSV)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    names = [name.strip() for name in header[1:]]
    if not header or header[0].strip() not in ID_COLUMNS:
        raise ValueError(f"{path}: the first column must be filename (as fetch_image "
                         f"--label_set writes it), got {header[:1]}")
    if not names:
        raise ValueError(f"{path} has no label columns after {header[0]}")
    if len(set(names)) != len(names) or "" in names:
        raise ValueError(f"{path}: label columns must be named and distinct, got {names}")
    return names


def _pair_label_rows(dataset_dir: str, images: dict[str, str],
                     problems: list[InputProblem]) -> list[SourceItem]:
    path = os.path.join(dataset_dir, LABELS_CSV)
    names = label_names(dataset_dir)
    patients = read_patient_keys(dataset_dir)
    rows: dict[str, tuple[int | None, ...]] = {}
    refused: set[str] = set()  # stems whose row is a problem already
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader)
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            where = f"{path}:{number}"
            if len(row) != len(names) + 1:
                problems.append(InputProblem(where, f"{len(row)} cells; the header has "
                                             f"{len(names) + 1}"))
                continue
            stem = file_stem(row[0].strip())
            if stem in rows or stem in refused:
                problems.append(InputProblem(where, f"a second row for {row[0].strip()!r}"))
                continue
            try:
                values: list[int | None] = []
                for name, cell in zip(names, row[1:], strict=True):
                    try:
                        values.append(parse_value(cell))
                    except ValueError as exc:
                        raise ValueError(f"column {name!r}: {exc}") from None
            except ValueError as exc:
                problems.append(InputProblem(where, str(exc)))
                refused.add(stem)
                continue
            rows[stem] = tuple(values)
    items = []
    for stem, image_path in images.items():
        if stem not in rows:
            if stem not in refused:
                problems.append(InputProblem(image_path,
                                             f"image without a row in {LABELS_CSV}"))
            continue
        findings = rows.pop(stem)
        positives = "|".join(n for n, v in zip(names, findings, strict=True) if v == 1)
        items.append(SourceItem(stem, image_path, label=positives,
                                patient_id=patients.get(stem, ""), findings=findings))
    for stem in rows:
        problems.append(InputProblem(path, f"row {stem!r} has no image in {IMAGES_DIR}/"))
    return items


def _read_label(path: str, problems: list[InputProblem]) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(InputProblem(path, f"unreadable label: {exc}"))
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        problems.append(InputProblem(path, "empty label"))
        return None
    if len(lines) > 1:
        problems.append(InputProblem(path, f"label has {len(lines)} lines; expected one"))
        return None
    return canonical_label(lines[0])


def read_patient_keys(dataset_dir: str) -> dict[str, str]:
    """stem -> patient key from `metadata.csv`, or {} when it has no patient column."""
    path = os.path.join(dataset_dir, METADATA_FILE)
    if not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        id_column = next((c for c in ID_COLUMNS if c in header), None)
        patient_column = next((c for c in PATIENT_COLUMNS if c in header), None)
        recorded_only = set(header) <= {*ID_COLUMNS, *PREPROCESSING_COLUMNS}
        if id_column is None or patient_column is None:
            if not recorded_only:  # written by preprocess_image alone: nothing to warn of
                log.warning("%s has no %s column; splits are not grouped by patient", path,
                            "image id" if id_column is None else "patient key")
            return {}
        return {
            file_stem(row[id_column].strip()): row[patient_column].strip()
            for row in reader
            if row.get(id_column)
        }
