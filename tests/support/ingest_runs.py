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


def _alive(pid: int) -> bool:
    """`pid` still runs: it exists and is not a zombie waiting for its new parent."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: list[int], timeout: float = 30.0) -> list[int]:
    """Poll until none of `pids` runs; returns those still running at the timeout."""
    deadline = time.monotonic() + timeout
    while (running := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return running


def settled_rows(engine: sa.Engine, table: str, quiet: float = 0.5, timeout: float = 10.0) -> int:
    """`table`'s row count once it has not changed for `quiet` seconds: a commit a killed
    writer had already sent lands on the server a moment after the writer is gone."""
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
    stable_since = time.monotonic()
    while time.monotonic() - stable_since < quiet and time.monotonic() < deadline:
        time.sleep(0.05)
        with engine.connect() as connection:
            now = connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
        if now != rows:
            rows, stable_since = now, time.monotonic()
    return rows
