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


def catalog_fingerprints(db_path: str) -> dict[str, set[str]]:
    """SOP Instance UID -> the fingerprints stored for it."""
    with sqlite3.connect(db_path) as connection:
        found: dict[str, set[str]] = {}
        for uid, sha in connection.execute("SELECT SOPInstanceUID, source_sha256 FROM images"):
            found.setdefault(uid, set()).add(sha)
    return found


def catalog_rows(db_path: str) -> list[tuple]:
    """Every row's content columns, sorted: equal for equal catalogs, wherever they came
    from (source paths and times left out)."""
    with sqlite3.connect(db_path) as connection:
        return sorted(connection.execute(
            "SELECT ID, SOPInstanceUID, source_sha256, body_part, Modality, Rows, Columns, "
            "frame, image FROM images"))


class RunningReceiver:
    """`python -m dicom.receive` on a free port, as a user starts it."""

    def __init__(self, db_path: str, spool: str, port: int, *args: str) -> None:
        self.db_path, self.spool, self.port, self.args = db_path, spool, port, args
        self.process: subprocess.Popen | None = None

    def start(self) -> RunningReceiver:
        environment = {**os.environ, "PYTHONPATH": ROOT, **NODELAY}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dicom.receive", f"--port={self.port}",
             "--address=127.0.0.1", f"--db_url=sqlite:///{self.db_path}",
             f"--spool_dir={self.spool}", "--workers=2", "--min_free_mb=1", *self.args],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        line = self.process.stdout.readline()  # "listening as ..." once it accepts
        assert line.startswith(("listening", "ingesting")), line + self.process.stderr.read()
        while not line.startswith("listening"):
            line = self.process.stdout.readline()
            assert line, self.process.stderr.read()
        return self

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM: stop accepting, drain the spool, exit."""
        assert self.process is not None
        self.process.terminate()
        out, err = self.process.communicate(timeout=120)
        return self.process.returncode, out, err

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.communicate()


def push(tool: str, port: int, paths: list[str], *args: str,
         timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """dcmtk's storescu (-R: each file's own transfer syntax) or dcmsend."""
    environment = {**os.environ, **NODELAY}
    if tool == "storescu":
        command = ["storescu", "-R", "-nh", "-v", "-aet", "STORESCU", *args, "127.0.0.1",
                   str(port), *paths]
    else:
        command = ["dcmsend", "--no-halt", "-v", "-aet", "DCMSEND", *args, "127.0.0.1",
                   str(port), *paths]
    return subprocess.run(command, env=environment, capture_output=True, text=True,
                          timeout=timeout)


def acknowledged(push_output: str) -> int:
    return push_output.count("Received Store Response (Success)")
