"""The catalog: one SQLAlchemy Core schema that runs unchanged on SQLite, MySQL/MariaDB
and PostgreSQL (what differs is in dicom.ingestion.catalog_dialects).

`images` holds one row per frame: `ID` (the SOP Instance UID, with `-f<N>`
appended for frame N of a multi-frame file), the canonical body part and its
raw value, the display-ready image as PNG (or, with a pixel store, its blob's URI
and SHA-256: dicom.ingestion.pixel_store), core DICOM attributes, the patient
key, the source path and its SHA-256, the ingestion time, and one nullable
column per configured cleansed attribute (DICOM keyword as column name).
`rejects` holds one row per rejected path (latest reason), keyed by a hash of
the path so re-runs update instead of duplicating.
"""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, Engine

from dicom.ingestion.catalog_dialects import CatalogDialect, dialect_for
from dicom.ingestion.database_url import DatabaseUnavailable, connect_check, create_engine, describe
from dicom.metadata.cleansing import AttributeLists

IMAGES_TABLE = "images"
REJECTS_TABLE = "rejects"
SETTINGS_TABLE = "catalog_settings"
DEIDENTIFICATION_SETTING = "deidentification"
WINDOW_SETTING = "intensity_window"
ID_LENGTH = 80
_UID_LENGTH = 64
_MYSQL_TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_unicode_ci",
}
_BLOB = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
_TEXT = sa.Text().with_variant(mysql.TEXT(), "mysql", "mariadb")


def core_columns() -> list[sa.Column]:
    """The columns every catalog has, whatever attributes it keeps."""
    return [
        sa.Column("ID", sa.String(ID_LENGTH), primary_key=True),
        sa.Column("body_part", sa.String(32), nullable=False),
        sa.Column("BodyPartExamined", sa.String(64)),
        sa.Column("body_part_source", sa.String(32), nullable=False),
        sa.Column("image", _BLOB),  # NULL when the PNG is in a pixel store
        sa.Column("image_uri", _TEXT),
        sa.Column("image_sha256", sa.String(64)),
        sa.Column("channels", sa.SmallInteger, nullable=False),
        sa.Column("bit_depth", sa.SmallInteger, nullable=False),
        sa.Column("frame", sa.Integer, nullable=False),
        sa.Column("frame_count", sa.Integer, nullable=False),
        sa.Column("Modality", sa.String(16)),
        sa.Column("Rows", sa.Integer, nullable=False),
        sa.Column("Columns", sa.Integer, nullable=False),
        sa.Column("SOPInstanceUID", sa.String(_UID_LENGTH), nullable=False),
        sa.Column("SOPClassUID", sa.String(_UID_LENGTH)),  # what DICOM results refer to
        sa.Column("StudyInstanceUID", sa.String(_UID_LENGTH)),
        sa.Column("SeriesInstanceUID", sa.String(_UID_LENGTH)),
        sa.Column("patient_key", sa.String(64)),
        # Label tables of a hospital are keyed by it; a keyed pseudonym under --deidentify.
        sa.Column("AccessionNumber", sa.String(64)),
        # The institution an image comes from (InstitutionName; its keyed pseudonym under
        # --deidentify): evaluation's `site` subgroup.
        sa.Column("site", sa.String(64)),
        sa.Column("source_path", _TEXT, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("ingested_at", sa.DateTime, nullable=False),
        # Under --deidentify, what was done to burned-in text (redacted N regions, kept).
        sa.Column("burned_in", sa.String(64)),
    ]


def attribute_column(keyword: str, integer: bool) -> sa.Column:
    """The nullable column that keeps one DICOM attribute: an integer or a string of up to 255."""
    return sa.Column(keyword, sa.BigInteger if integer else sa.String(255), nullable=True)


def settings_table(metadata: sa.MetaData) -> sa.Table:
    """How the catalog was built, one JSON value a name (de-identification, ...)."""
    return sa.Table(
        SETTINGS_TABLE,
        metadata,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", _TEXT, nullable=False),
        **_MYSQL_TABLE_OPTIONS,
    )


def build_tables(metadata: sa.MetaData, lists: AttributeLists) -> tuple[sa.Table, sa.Table]:
    """The images and rejects tables for the attribute lists, declared on `metadata`."""
    core = core_columns()
    names = {c.name for c in core}
    images = sa.Table(
        IMAGES_TABLE,
        metadata,
        *core,
        *(attribute_column(k, True) for k in lists.integers if k not in names),
        *(attribute_column(k, False) for k in lists.strings if k not in names),
        sa.Index("ix_images_body_part", "body_part"),
        # One file per UID: parallel writers of one run settle duplicates here.
        sa.Index("ux_images_sop_uid_frame", "SOPInstanceUID", "frame", unique=True),
        sa.Index("ix_images_patient_key", "patient_key"),
        sa.Index("ix_images_accession", "AccessionNumber"),
        **_MYSQL_TABLE_OPTIONS,
    )
    rejects = sa.Table(
        REJECTS_TABLE,
        metadata,
        sa.Column("path_key", sa.String(64), primary_key=True),
        sa.Column("path", _TEXT, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", _TEXT, nullable=False),
        sa.Column("rejected_at", sa.DateTime, nullable=False),
        **_MYSQL_TABLE_OPTIONS,
    )
    return images, rejects


def string_widths(lists: AttributeLists) -> dict[str, int]:
    """Column -> the characters its VARCHAR holds: the one width policy of every backend.

    MySQL refuses a longer value (error 1406) and SQLite stores it; ingestion
    cuts every value to these widths first, with a warning, so both agree.
    """
    images, _ = build_tables(sa.MetaData(), lists)
    return {
        column.name: column.type.length
        for column in images.columns
        if isinstance(column.type, sa.String) and column.type.length
    }


def path_key(path: str) -> str:
    """A fixed-width key for a path of any length or encoding (SHA-256 of its bytes)."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()


def utc_now() -> datetime:
    """Now, in UTC, to the second and without a zone: what every backend stores alike."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class RejectRow:
    path: str
    kind: str
    reason: str


class Catalog:
    """The images and rejects tables on one engine."""

    def __init__(self, engine: Engine, url: URL, lists: AttributeLists) -> None:
        self.engine = engine
        self.url = url
        self.lists = lists
        self.metadata = sa.MetaData()
        self.images, self.rejects = build_tables(self.metadata, lists)
        self.settings = settings_table(self.metadata)
        self.dialect: CatalogDialect = dialect_for(url)

    @classmethod
    def open(cls, url: URL, lists: AttributeLists | None = None, create: bool = True) -> Catalog:
        """Connect (one-line DatabaseUnavailable on failure) and make the schema current."""
        engine = create_engine(url)
        connect_check(engine, url)
        catalog = cls(engine, url, lists or AttributeLists())
        if create:
            catalog.ensure_schema()
        else:
            catalog.require_schema()
        return catalog

    @classmethod
    def attach(cls, url: URL, lists: AttributeLists) -> Catalog:
        """A fresh engine on a catalog whose schema is already current (worker processes)."""
        return cls(create_engine(url), url, lists)

    def describe(self) -> str:
        """The catalog as errors name it, without a password."""
        return describe(self.url)

    def ensure_schema(self) -> None:
        """Create missing tables; add columns for newly configured attributes."""
        self.metadata.create_all(self.engine, checkfirst=True)
        inspector = sa.inspect(self.engine)
        existing = {c["name"] for c in inspector.get_columns(IMAGES_TABLE)}
        missing = [c for c in self.images.columns if c.name not in existing]
        indexed = {i["name"] for i in inspector.get_indexes(IMAGES_TABLE)}
        for index in self.images.indexes:
            if index.name not in indexed:
                index.create(self.engine)
        if not missing:
            return
        preparer = self.engine.dialect.identifier_preparer
        with self.engine.begin() as connection:
            for column in missing:
                if not column.nullable:
                    raise DatabaseUnavailable(
                        f"{self.describe()}: table {IMAGES_TABLE} predates column {column.name}; "
                        "ingest into a new catalog"
                    )
                ddl = column.type.compile(dialect=self.engine.dialect)
                connection.exec_driver_sql(
                    f"ALTER TABLE {preparer.quote(IMAGES_TABLE)} "
                    f"ADD COLUMN {preparer.quote(column.name)} {ddl}"
                )

    def require_store_schema(self) -> None:
        """A pixel store needs an images table whose `image` may be NULL."""
        if not self.reflected_images().c.image.nullable:
            raise DatabaseUnavailable(
                f"{self.describe()}: table {IMAGES_TABLE} was created before pixel stores "
                "(its image column is NOT NULL); use --image_store with a new catalog"
            )

    def require_schema(self) -> None:
        """Raises DatabaseUnavailable, saying to run create_database, when the catalog has no
        images table."""
        if not sa.inspect(self.engine).has_table(IMAGES_TABLE):
            raise DatabaseUnavailable(
                f"{self.describe()} has no {IMAGES_TABLE} table: "
                "run python -m dicom.create_database first"
            )

    def reflected_images(self) -> sa.Table:
        """The images table as it is in the database (all attribute columns)."""
        return sa.Table(IMAGES_TABLE, sa.MetaData(), autoload_with=self.engine)

    def max_packet_bytes(self) -> int | None:
        """The largest statement the server takes (MySQL's max_allowed_packet); None where
        there is no such limit."""
        return self.dialect.max_packet_bytes(self.engine)

    def stored_fingerprints(self) -> dict[str, str]:
        """SOP Instance UID -> SHA-256 of the source file, for every stored file."""
        query = sa.select(self.images.c.SOPInstanceUID, self.images.c.source_sha256).distinct()
        with self.engine.connect() as connection:
            return {uid: sha for uid, sha in connection.execute(query)}

    def rejected_paths(self, prefix: str) -> set[str]:
        """Paths of the recorded rejects that start with `prefix` (a network source's)."""
        rejects = self.rejects
        query = sa.select(rejects.c.path).where(rejects.c.path.startswith(prefix, autoescape=True))
        with self.engine.connect() as connection:
            return {path for (path,) in connection.execute(query)}

    def stored_copy(self, sop_uid: str) -> tuple[str, str] | None:
        """(SHA-256, source path) of the file stored under `sop_uid`, if any."""
        images = self.images
        query = (
            sa.select(images.c.source_sha256, images.c.source_path)
            .where(images.c.SOPInstanceUID == sop_uid)
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else (row[0], row[1])

    def set_source_path(self, sop_uid: str, path: str) -> None:
        """The stored copy of `sop_uid` is (also) the file at `path`: same bytes, and
        `path` is the one kept (dicom.ingestion.uid_repeats)."""
        with self.engine.begin() as connection:
            connection.execute(sa.update(self.images).where(
                self.images.c.SOPInstanceUID == sop_uid).values(source_path=path))

    def body_parts_of(self, sop_uid: str) -> collections.Counter[str]:
        """The stored rows of `sop_uid` (one per frame), counted by canonical body part."""
        query = sa.select(self.images.c.body_part).where(self.images.c.SOPInstanceUID == sop_uid)
        with self.engine.connect() as connection:
            return collections.Counter(str(r[0]) for r in connection.execute(query))

    def write_batch(
        self,
        rows: Sequence[Mapping[str, Any]],
        rejects: Sequence[RejectRow],
        replaced: Mapping[str, str] | None = None,
        accepted_paths: Iterable[str] = (),
    ) -> None:
        """One transaction: replace, insert, record rejects, clear resolved rejects.

        `replaced` maps a SOP Instance UID to the SHA-256 it was stored with; only
        that copy is deleted, so a copy another writer stored meanwhile stays and
        the insert fails on the unique keys instead (sqlalchemy IntegrityError).
        """
        now = utc_now()
        cleared = {path_key(p) for p in accepted_paths} | {path_key(r.path) for r in rejects}
        images = self.images
        with self.engine.begin() as connection:
            if replaced:
                connection.execute(
                    sa.delete(images).where(
                        images.c.SOPInstanceUID == sa.bindparam("uid"),
                        images.c.source_sha256 == sa.bindparam("sha"),
                    ),
                    [{"uid": uid, "sha": sha} for uid, sha in replaced.items()],
                )
            if rows:
                stamped = [dict(r, ingested_at=now) for r in rows]
                self.dialect.insert_rows(connection, images, stamped)
            if cleared:
                connection.execute(
                    sa.delete(self.rejects).where(self.rejects.c.path_key.in_(cleared))
                )
            if rejects:
                connection.execute(
                    sa.insert(self.rejects),
                    [
                        {
                            "path_key": path_key(r.path),
                            "path": r.path,
                            "kind": r.kind,
                            "reason": r.reason,
                            "rejected_at": now,
                        }
                        for r in {r.path: r for r in rejects}.values()
                    ],
                )

    def setting(self, name: str) -> str | None:
        """The recorded value of a build setting, None when none was recorded."""
        if not sa.inspect(self.engine).has_table(SETTINGS_TABLE):
            return None
        query = sa.select(self.settings.c.value).where(self.settings.c.name == name)
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one_or_none()

    def record_setting(self, name: str, value: str) -> str:
        """Record `value` unless a value is recorded already; returns the one recorded.

        Two ingests starting at once on a new catalog: the second insert fails on the
        key and the first one's value is returned, so the caller can compare."""
        self.settings.create(self.engine, checkfirst=True)
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(self.settings), {"name": name, "value": value})
        except sa.exc.IntegrityError:
            pass
        recorded = self.setting(name)
        assert recorded is not None
        return recorded

    def count(self, table: sa.Table | None = None) -> int:
        """How many rows `table` (the images table by default) holds."""
        table = self.images if table is None else table
        with self.engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )

    def dispose(self) -> None:
        """Closes the catalog's connections."""
        self.engine.dispose()
