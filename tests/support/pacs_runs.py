"""Run dicom.pull and dicom.receive as a user would, and read back what they left."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

from tests.support.cli import ROOT
from tests.support.pacs_peers import NODELAY, PASSWORD, USER

CREDENTIALS = {"MEDCV_PACS_USER": USER, "MEDCV_PACS_PASSWORD": PASSWORD}


def pull(source: str, db_path: str, spool: str, *args: str, env: dict | None = None,
         timeout: int = 120) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": ROOT, **NODELAY, **CREDENTIALS, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dicom.pull", f"--source={source}", f"--db_url=sqlite:///{db_path}",
         f"--spool_dir={spool}", "--workers=2", "--progress=false", *args],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout)


def retrieved(stdout: str) -> int:
    found = re.search(r"retrieved (\d+)", stdout)
    assert found, stdout
    return int(found.group(1))


def catalog_contents(db_path: str) -> tuple[list[str], set[str]]:
    """(SOP Instance UID of every row, SOP Instance UIDs of the rejects) of a catalog that
    network sources filled (their reject paths end in `<UID>[-suffix].dcm`)."""
    with sqlite3.connect(db_path) as connection:
        rows = [uid for (uid,) in connection.execute(
            "SELECT SOPInstanceUID FROM images WHERE frame <= 1")]
        paths = [path for (path,) in connection.execute("SELECT path FROM rejects")]
    rejected = {re.sub(r"(-[0-9a-f]{12})?\.dcm$", "", os.path.basename(p)) for p in paths}
    return rows, rejected


def catalog_rows(db_path: str) -> list[tuple]:
    """Every row's content columns, sorted: equal for equal catalogs, wherever they came
    from (source paths and times left out)."""
    with sqlite3.connect(db_path) as connection:
        return sorted(connection.execute(
            "SELECT ID, SOPInstanceUID, source_sha256, body_part, Modality, Rows, Columns, "
            "frame, image FROM images"))
