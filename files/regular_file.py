"""Read a file from a stranger's tree: only regular files, never more than a limit.

A FIFO blocks `open` forever, a link to `/dev/zero` reads until memory runs
out, a device can have side effects when opened. The type is checked through
links before anything is opened, and again on the open descriptor (opened
non-blocking, so a FIFO swapped in meanwhile cannot hang us); the size is
checked before a byte is read, and the head is handed to a check of the
caller's before the rest is read, so junk is refused without reading it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

_KINDS = {
    stat.S_IFIFO: "named pipe (FIFO)",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFSOCK: "socket",
    stat.S_IFDIR: "directory",
}


class NotRegularFile(OSError):
    """A path that is a FIFO, device, socket or directory (itself or behind a link)."""


class FileTooLarge(OSError):
    """A file over the caller's size limit; `size` is its size in bytes."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file of {size:,} bytes is over the limit of {limit:,}")
        self.size, self.limit = size, limit


def regular_file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is in words."""
    if stat.S_ISREG(mode):
        return None
    return _KINDS.get(stat.S_IFMT(mode), "special file")


def read_regular_file(
    path: str,
    max_bytes: int,
    check_head: Callable[[bytes], None] | None = None,
    head_bytes: int = 132,
) -> bytes:
    """The bytes of the regular file at `path` (links followed), at most `max_bytes`."""
    kind = regular_file_kind(os.stat(path).st_mode)
    if kind is not None:
        raise NotRegularFile(f"{kind}, not a regular file")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    with open(os.open(path, flags), "rb") as handle:
        info = os.fstat(handle.fileno())
        kind = regular_file_kind(info.st_mode)
        if kind is not None:  # swapped since the stat above
            raise NotRegularFile(f"{kind}, not a regular file")
        if info.st_size > max_bytes:
            raise FileTooLarge(info.st_size, max_bytes)
        if check_head is not None:
            check_head(os.pread(handle.fileno(), head_bytes, 0))
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while we read it
        raise FileTooLarge(len(data), max_bytes)
    return data
