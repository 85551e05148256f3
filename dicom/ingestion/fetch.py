"""Export catalog images to an `images/` + `labels/` folder that training tools read.

`OUT/images/<ID>.png` is the stored PNG byte for byte; `OUT/labels/<ID>.txt`
holds the label text (the value of the queried column, e.g. `CHEST`);
`OUT/metadata.csv` (optional) lists ID, file name, label, patient key and the
catalog's other scalar columns, so later steps can keep one patient's images in
one split. An ID is data (anyone with INSERT on a shared catalog can plant one),
so a file name is the ID only where the ID is a plain name; otherwise it is made
safe and unique (`files.safe_names`) and metadata.csv maps it back.
Values are always bound parameters, and the column name is checked against the
table's real columns, so a query like `CHEST' OR '1'='1` is just a value.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from tqdm import tqdm

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.deidentification_record import deidentification_summary
from dicom.ingestion.pixel_store import stored_png
from dicom.ingestion.window_record import catalog_window
from files.atomic_file import write_atomic
from files.folder_layout import (
    IMAGES_DIR,
    LABELS_CSV,
    LABELS_DIR,
    METADATA_FILE,
    record_folder_deidentification,
    record_folder_window,
    write_metadata_csv,
)
from files.safe_names import NameAllocator

ALL = "all"
_NOT_IN_METADATA = {"image"}


@dataclass
class FetchSummary:
    written: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    stale: int = 0

    def line(self, directory: str) -> str:
        """The fetch's outcome as one console line, with the count per label and any older files
        left in the folder."""
        detail = ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items()))
        text = f"fetched {self.written} images into {directory}" + (
            f" ({detail})" if detail else ""
        )
        if self.stale:
            text += f"; {self.stale} older files in images/ are not part of this query"
        return text


def parse_query(query: str) -> list[str] | None:
    """'CHEST' or 'CHEST, ABDOMEN' -> values; 'all' -> None (no filter)."""
    values = [v.strip() for v in query.split(",") if v.strip()]
    if not values:
        raise ValueError("--query is empty: give a value, a comma-separated list, or 'all'")
    if len(values) == 1 and values[0].lower() == ALL:
        return None
    return values


def selection(table: sa.Table, values: Sequence[str] | None,
              column: str) -> sa.ColumnElement[bool]:
    """The WHERE clause of `column IN values` (None: everything), values bound as data."""
    if column not in table.c:
        names = ", ".join(c.name for c in table.c if c.name not in _NOT_IN_METADATA)
        raise ValueError(f"--column {column!r} is not a catalog column; choose one of: {names}")
    target = table.c[column]
    if values is None:
        return None
    if isinstance(target.type, (sa.Integer, sa.BigInteger, sa.SmallInteger)):
        try:
            values = [int(v) for v in values]  # type: ignore[misc]
        except ValueError as exc:
            raise ValueError(f"--column {column} holds integers; got {list(values)}") from exc
    elif column == "body_part":
        values = [v.upper() for v in values]
    return target.in_(list(values))


def fetch_images(
    catalog: Catalog,
    out_dir: str,
    values: Sequence[str] | None,
    column: str = "body_part",
    metadata: bool = True,
    progress: bool = True,
    label_set: tuple[list[str], dict[str, dict[str, int]]] | None = None,
) -> FetchSummary:
    """Write every row whose `column` is one of `values` (all rows for None).

    With `label_set` (label names, image ID -> {label: value}), only the images it
    labels, and their labels go to `OUT/labels.csv` instead of `labels/`: one row per
    image, `filename` then one column per label holding 1, 0, -1 or nothing."""
    table = catalog.reflected_images()
    where = selection(table, values, column)
    images_dir, labels_dir = os.path.join(out_dir, IMAGES_DIR), os.path.join(out_dir, LABELS_DIR)
    os.makedirs(images_dir, exist_ok=True)
    window = catalog_window(catalog)
    if window is not None:  # the folder says so, and tf_convert_data records it
        record_folder_window(out_dir, window)
    record_folder_deidentification(out_dir, deidentification_summary(catalog))
    if label_set is None:
        os.makedirs(labels_dir, exist_ok=True)
    label_rows: list[dict[str, object]] = []
    before = {n[:-4] for n in os.listdir(images_dir) if n.endswith(".png")}
    names = NameAllocator()  # IDs are data: anyone with INSERT can plant `../../x`
    with catalog.engine.connect() as connection:
        count = sa.select(sa.func.count()).select_from(table)
        total = connection.execute(count if where is None else count.where(where)).scalar_one()
    meta_columns = [c for c in table.c if c.name not in _NOT_IN_METADATA]
    summary = FetchSummary()
    rows_out: list[dict[str, object]] = []
    query = sa.select(*table.c).order_by(table.c.ID)
    if where is not None:
        query = query.where(where)
    bar = tqdm(total=total, unit="image", desc="fetch", disable=not progress, file=sys.stderr)
    with bar, catalog.engine.connect().execution_options(stream_results=True, yield_per=128) as c:
        for row in c.execute(query):
            record = row._mapping
            image_id = str(record["ID"])
            if label_set is not None and image_id not in label_set[1]:
                bar.update(1)
                continue
            stem = names.allocate(image_id, "image")
            label = "" if record[column] is None else str(record[column])
            write_atomic(os.path.join(images_dir, f"{stem}.png"), stored_png(record, image_id))
            if label_set is None:
                write_atomic(os.path.join(labels_dir, f"{stem}.txt"), f"{label}\n".encode())
            else:
                found = label_set[1][image_id]
                label_rows.append({"filename": f"{stem}.png", **found})
                label = "|".join(sorted(k for k, v in found.items() if v == 1))
            before.discard(stem)
            summary.written += 1
            summary.labels[label or ("no positive label" if label_set else "no label")] += 1
            if metadata:
                rows_out.append(
                    {
                        "ID": image_id,
                        "filename": f"{stem}.png",
                        "label": label,
                        **{c.name: record[c.name] for c in meta_columns if c.name != "ID"},
                    }
                )
            bar.update(1)
    if metadata:
        write_metadata_csv(
            os.path.join(out_dir, METADATA_FILE),
            ["ID", "filename", "label", *(c.name for c in meta_columns if c.name != "ID")],
            rows_out,
        )
    if label_set is not None:
        write_metadata_csv(os.path.join(out_dir, LABELS_CSV), ["filename", *label_set[0]],
                           label_rows)
    summary.stale = len(before)
    return summary


