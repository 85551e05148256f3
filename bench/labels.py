"""Label import at scale: a 100,000-row CheXpert-shaped table into a catalog of 100,000
images, on SQLite and on MariaDB (target: under 10 s each).

    make bench-labels   (python -m bench.labels --rows 100000)

The peer, in the same run: the same rows loaded the way a quick script does it, one
INSERT per (image, label) value through SQLAlchemy, into a long table.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
import uuid

import numpy as np
import sqlalchemy as sa
from absl import app, flags

from dicom.ingestion.catalog import Catalog, utc_now
from dicom.ingestion.database_url import resolve_db_url
from dicom.synthetic.finding_tables import CHEXPERT_COLUMNS

FLAGS = flags.FLAGS
flags.DEFINE_integer("rows", 100_000, "Images in the catalog and rows in the table.")
flags.DEFINE_string("work_dir", "bench_output/labels", "Scratch folder.")
flags.DEFINE_string(
    "mysql_url",
    os.environ.get("MEDCV_TEST_MYSQL_URL", "mysql+mysqlconnector://root@127.0.0.1:3306/test"),
    "MySQL server; a scratch database is created on it and dropped.")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fill_catalog(url: str, uids: list[str]) -> None:
    catalog = Catalog.open(resolve_db_url(url))
    now = utc_now()
    rows = [{"ID": uid, "body_part": "CHEST", "body_part_source": "BodyPartExamined",
             "image": b"\x89PNG", "channels": 1, "bit_depth": 16, "frame": 1, "frame_count": 1,
             "Rows": 1, "Columns": 1, "SOPInstanceUID": uid, "source_path": f"/x/{uid}.dcm",
             "source_sha256": "0" * 64, "ingested_at": now} for uid in uids]
    with catalog.engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(sa.insert(catalog.images), rows[start:start + 5000])
    catalog.dispose()


def _table(path: str, uids: list[str]) -> None:
    rng = np.random.default_rng(0)
    choices = np.array(["1.0", "0.0", "-1.0", ""])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sop", *CHEXPERT_COLUMNS])
        for uid in uids:
            writer.writerow([uid, *rng.choice(choices, len(CHEXPERT_COLUMNS))])


def _import(url: str, table: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "dicom.import_labels", f"--db_url={url}", f"--table={table}",
         "--label_set=bench", "--format=chexpert", "--key=sop=SOPInstanceUID"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(result.stderr[-2000:])
    return time.perf_counter() - started


def _naive(url: str, table: str) -> float:
    engine = sa.create_engine(resolve_db_url(url))
    metadata = sa.MetaData()
    long = sa.Table("naive_labels", metadata, sa.Column("image_id", sa.String(80)),
                    sa.Column("label", sa.String(64)), sa.Column("value", sa.Integer))
    metadata.create_all(engine)
    started = time.perf_counter()
    with open(table, encoding="utf-8") as handle, engine.begin() as connection:
        reader = csv.reader(handle)
        header = next(reader)
        for row in reader:
            for name, cell in zip(header[1:], row[1:], strict=True):
                if cell:
                    connection.execute(sa.insert(long).values(image_id=row[0], label=name,
                                                              value=int(float(cell))))
    engine.dispose()
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    del argv
    folder = os.path.abspath(FLAGS.work_dir)
    os.makedirs(folder, exist_ok=True)
    uids = [f"2.25.{i + 1}" for i in range(FLAGS.rows)]
    table = os.path.join(folder, f"table_{FLAGS.rows}.csv")
    if not os.path.exists(table):
        _table(table, uids)
    sqlite = os.path.join(folder, "catalog.sqlite")
    if os.path.exists(sqlite):
        os.remove(sqlite)
    _fill_catalog(f"sqlite:///{sqlite}", uids)
    admin = sa.create_engine(FLAGS.mysql_url)
    name = f"medcv_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    mysql = sa.make_url(FLAGS.mysql_url).set(database=name).render_as_string(hide_password=False)
    try:
        _fill_catalog(mysql, uids)
        figures = {"SQLite": (_import(f"sqlite:///{sqlite}", table),
                              _naive(f"sqlite:///{sqlite}", table)),
                   "MariaDB": (_import(mysql, table), _naive(mysql, table))}
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()
    print(f"import_labels, {FLAGS.rows:,} rows x {len(CHEXPERT_COLUMNS)} CheXpert columns "
          "(whole command, matching included):")
    for backend, (ours, naive) in figures.items():
        print(f"  {backend:8s} import_labels {ours:6.1f} s (target < 10 s); an INSERT per "
              f"value {naive:6.1f} s; {naive / ours:.1f}x")


if __name__ == "__main__":
    app.run(main)
