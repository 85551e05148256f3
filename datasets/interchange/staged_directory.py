"""Build an output folder under a temporary name and rename it into place at the end.

A failure or a kill leaves the target as it was (absent or empty); the next
run removes the leftover temporary folder. The target must be absent or empty,
so a finished output is never merged with, or overwritten by, a new one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

STAGING_PREFIX = "."
STAGING_SUFFIX = ".partial"


def staging_path(target: str) -> str:
    """The temporary folder beside `target` that a staged write fills."""
    parent, name = os.path.split(os.path.abspath(target))
    return os.path.join(parent, f"{STAGING_PREFIX}{name}{STAGING_SUFFIX}")


def require_absent_or_empty(target: str) -> None:
    """Raises FileExistsError unless `target` is absent or an empty folder: an export never mixes
    with older files."""
    if os.path.isfile(target):
        raise FileExistsError(f"{target} is a file; give a directory that is absent or empty")
    if os.path.isdir(target) and os.listdir(target):
        raise FileExistsError(
            f"{target} is not empty; give a new or empty directory (nothing was written)"
        )


@contextlib.contextmanager
def staged_directory(target: str) -> Iterator[str]:
    """Yield a fresh temporary folder that becomes `target` if the block succeeds."""
    require_absent_or_empty(target)
    staging = staging_path(target)
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    require_absent_or_empty(target)
    if os.path.isdir(target):
        os.rmdir(target)
    os.replace(staging, target)
