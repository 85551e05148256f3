"""Label sets in the catalog: one row per labelled image and set, its labels as JSON.

A set is replaced whole in one transaction, so a reader sees the old set or the new one,
never a mix; an import that fails leaves the old set as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from dicom.ingestion.catalog import ID_LENGTH, Catalog, utc_now

LABEL_SETS_TABLE, IMAGE_LABELS_TABLE = "label_sets", "image_labels"
_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
_BATCH = 5000


def label_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The label-set and image-label tables, declared on `metadata`."""
    sets = sa.Table(
        LABEL_SETS_TABLE, metadata,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("labels", _TEXT, nullable=False),
        sa.Column("source", _TEXT, nullable=False),
        sa.Column("table_format", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("images", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
        **_OPTIONS)
    labels = sa.Table(
        IMAGE_LABELS_TABLE, metadata,
        sa.Column("label_set", sa.String(64), primary_key=True),
        sa.Column("image_id", sa.String(ID_LENGTH), primary_key=True),
        sa.Column("labels", _TEXT, nullable=False),
        **_OPTIONS)
    return sets, labels


class LabelStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.metadata = sa.MetaData()
        self.sets, self.labels = label_tables(self.metadata)

    def ensure_schema(self) -> None:
        """Creates the label tables when they are missing; existing ones are left as they are."""
        self.metadata.create_all(self.catalog.engine, checkfirst=True)

    def replace(self, name: str, label_names: list[str], per_image: dict[str, dict[str, int]],
                source: str, table_format: str, key: str) -> None:
        """Replace set `name` with `per_image` (image ID -> {label: value}) at once."""
        now = utc_now()
        with self.catalog.engine.begin() as connection:
            connection.execute(sa.delete(self.labels).where(self.labels.c.label_set == name))
            connection.execute(sa.delete(self.sets).where(self.sets.c.name == name))
            connection.execute(sa.insert(self.sets), [{
                "name": name, "labels": json.dumps(label_names), "source": source,
                "table_format": table_format, "key": key, "images": len(per_image),
                "imported_at": now}])
            rows = [{"label_set": name, "image_id": image, "labels": json.dumps(values,
                     sort_keys=True)} for image, values in sorted(per_image.items())]
            for start in range(0, len(rows), _BATCH):
                connection.execute(sa.insert(self.labels), rows[start:start + _BATCH])

    def read(self, name: str) -> tuple[list[str], dict[str, dict[str, int]]]:
        """(label names, image ID -> {label: value}) of set `name`."""
        inspector = sa.inspect(self.catalog.engine)
        if not inspector.has_table(LABEL_SETS_TABLE):
            raise KeyError("the catalog has no label sets; import one with "
                           "python -m dicom.import_labels")
        with self.catalog.engine.connect() as connection:
            row = connection.execute(sa.select(self.sets.c.labels).where(
                self.sets.c.name == name)).first()
            if row is None:
                known = [n for (n,) in connection.execute(sa.select(self.sets.c.name))]
                raise KeyError(f"no label set {name!r} in the catalog (there are: "
                               f"{', '.join(known) or 'none'})")
            per_image = {image: json.loads(values) for image, values in connection.execute(
                sa.select(self.labels.c.image_id, self.labels.c.labels).where(
                    self.labels.c.label_set == name))}
        return json.loads(row[0]), per_image

    def names(self) -> Iterable[tuple[str, int, datetime]]:
        """(name, images labelled, import time) of each label set in the catalog."""
        with self.catalog.engine.connect() as connection:
            yield from connection.execute(sa.select(self.sets.c.name, self.sets.c.images,
                                                    self.sets.c.imported_at))
