"""Watching a running create_database from the test: stop it part-way, not before."""

from __future__ import annotations

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
