"""Watching a running create_database from the test: stop it part-way, not before."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import sqlalchemy as sa


def wait_for_rows(
    engine: sa.Engine, table: str, count: int, process: subprocess.Popen, timeout: float = 120.0
) -> int:
    """Poll until `table` holds `count` rows or `process` ends; returns the last count seen."""
    deadline = time.monotonic() + timeout
    rows = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with engine.connect() as connection:
                rows = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
        except sa.exc.SQLAlchemyError:
            rows = 0  # tables not created yet
        if rows >= count:
            break
        time.sleep(0.01)
    return rows


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a command and its worker processes at once, as a crash or the OOM killer
    would."""
    for pid in [process.pid, *children(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)
