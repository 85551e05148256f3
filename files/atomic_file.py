"""Write a file so that a killed job leaves either the old file or the new one, never half."""

from __future__ import annotations

import os


def write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path.partial`, then rename it over `path`."""
    temporary = f"{path}.partial"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
