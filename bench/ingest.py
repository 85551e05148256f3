"""Ingestion throughput against two peers measured in the same run.

    make bench        (or: python -m bench.ingest --num_files 2000)

Peers:
  bare   the per-file work alone (read, hash, parse, decode, PNG-encode, cleanse)
         in one process, no database: the most one core can do.
  naive  the seed's way: sequential, the same per-file work, one INSERT and one
         COMMIT per file, on MySQL.
Measured: create_database's engine with --workers 2 on SQLite and on MySQL.
Targets (issue 2): >= 2x naive on MySQL, >= 1.6x bare (2 cores: ideal 2x).
"""

from __future__ import annotations

import os
import time
import uuid

import sqlalchemy as sa
from absl import app, flags

from dicom.catalog import Catalog, utc_now
from dicom.database_url import resolve_db_url
from dicom.file_processing import FileProcessor, IngestSettings
from dicom.ingest import ingest_directory, iter_files
from dicom.synthetic_dicom import SyntheticSpec, synthesize

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_files", 2000, "Synthetic files to ingest.")
flags.DEFINE_integer("size", 256, "Image size of the synthetic files.")
flags.DEFINE_integer("workers", 2, "Workers for create_database.")
flags.DEFINE_string("work_dir", "bench_output", "Where the synthetic files and SQLite go.")
flags.DEFINE_string(
    "mysql_url",
    os.environ.get("MEDCV_TEST_MYSQL_URL", "mysql+mysqlconnector://root@127.0.0.1:3306/test"),
    "MySQL server; a scratch database is created on it and dropped.",
)


def _files(directory: str) -> list[str]:
    marker = os.path.join(directory, f".complete-{FLAGS.num_files}-{FLAGS.size}")
    if not os.path.exists(marker):
        synthesize(
            directory, SyntheticSpec(FLAGS.num_files, seed=11, size=FLAGS.size, defects=False)
        )
        open(marker, "w").close()
    return list(iter_files(directory))


def bare(paths: list[str]) -> float:
    processor = FileProcessor(IngestSettings(), {})
    start = time.perf_counter()
    for path in paths:
        assert processor(path).status == "new"
    return len(paths) / (time.perf_counter() - start)


def naive(paths: list[str], url: str) -> float:
    catalog = Catalog.open(resolve_db_url(url))
    processor = FileProcessor(IngestSettings(), {})
    insert = sa.insert(catalog.images)
    start = time.perf_counter()
    with catalog.engine.connect() as connection:
        for path in paths:
            for row in processor(path).rows:
                connection.execute(insert, dict(row, ingested_at=utc_now()))
            connection.commit()
    rate = len(paths) / (time.perf_counter() - start)
    assert catalog.count() == len(paths)
    catalog.dispose()
    return rate


def engine_rate(directory: str, url: str, expected: int) -> float:
    catalog = Catalog.open(resolve_db_url(url))
    start = time.perf_counter()
    summary = ingest_directory(directory, catalog, workers=FLAGS.workers, progress=False)
    rate = summary.ingested / (time.perf_counter() - start)
    assert summary.ingested == expected == catalog.count(), summary.line()
    catalog.dispose()
    return rate


def _scratch_mysql() -> tuple[str, sa.Engine, str]:
    server = sa.make_url(FLAGS.mysql_url)
    name = f"medcv_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server)
    with admin.begin() as c:
        c.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return server.set(database=name).render_as_string(hide_password=False), admin, name


def _drop(admin: sa.Engine, name: str) -> None:
    with admin.begin() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")


def main(argv: list[str]) -> None:
    del argv
    os.makedirs(FLAGS.work_dir, exist_ok=True)
    directory = os.path.join(FLAGS.work_dir, "dicom")
    paths = _files(directory)
    n = len(paths)
    print(
        f"{n} synthetic files of {FLAGS.size}x{FLAGS.size} 12-bit, "
        f"{os.cpu_count()} cores, workers={FLAGS.workers}"
    )
    rates: dict[str, float] = {"bare, 1 process, no DB": bare(paths)}
    sqlite_path = os.path.join(FLAGS.work_dir, "bench.sqlite")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(sqlite_path + suffix):
            os.remove(sqlite_path + suffix)
    rates["create_database SQLite"] = engine_rate(directory, f"sqlite:///{sqlite_path}", n)
    url, admin, name = _scratch_mysql()
    try:
        rates["naive MySQL (commit per file)"] = naive(paths, url)
        _drop(admin, name)
        url, admin, name = _scratch_mysql()
        rates["create_database MySQL"] = engine_rate(directory, url, n)
    finally:
        _drop(admin, name)
        admin.dispose()
    for label, rate in rates.items():
        print(f"  {label:32s} {rate:8.1f} files/s")
    base, ref = rates["bare, 1 process, no DB"], rates["naive MySQL (commit per file)"]
    mysql, sqlite = rates["create_database MySQL"], rates["create_database SQLite"]
    print(f"ratio MySQL engine / naive MySQL: {mysql / ref:.2f}x (target >= 2)")
    print(f"ratio MySQL engine / bare:        {mysql / base:.2f}x (target >= 1.6)")
    print(f"ratio SQLite engine / bare:       {sqlite / base:.2f}x (target >= 1.6)")


if __name__ == "__main__":
    app.run(main)
