"""The spool: instances on disk between the network and the catalog.

An instance is in the spool only once its bytes are written and fsynced under a
temporary name and renamed into place (the folder fsynced too), so whatever the spool
shows survives a kill or a power cut; a receiver acknowledges an instance only then.
Temporary files live in a hidden folder, which the ingest walk never reads.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable

from dicom.metadata.deidentify import Deidentifier

SUFFIX = ".dcm"
_TEMPORARY = ".incoming"
_SAFE = re.compile(r"[^0-9A-Za-z._-]")


class SpoolFull(OSError):
    """A write that would leave less free disk than the spool's floor."""


class InstanceTooLarge(OSError):
    """An instance over the size limit; nothing of it is kept."""


def _fsync_directory(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Spool:
    def __init__(self, directory: str, max_instance_bytes: int, min_free_bytes: int = 0) -> None:
        self.directory = os.path.abspath(directory)
        self.temporary = os.path.join(self.directory, _TEMPORARY)
        os.makedirs(self.temporary, exist_ok=True)
        self.max_instance_bytes = max_instance_bytes
        self.min_free_bytes = min_free_bytes

    @staticmethod
    def name_for(uid: str, unique: bool = False) -> str:
        """A file name from a (possibly pseudonymized) UID; `unique` for a receiver, where
        the same instance may arrive twice while its first copy still waits."""
        stem = _SAFE.sub("_", uid)[:80] or "instance"
        return f"{stem}-{uuid.uuid4().hex[:12]}{SUFFIX}" if unique else f"{stem}{SUFFIX}"

    @staticmethod
    def namer(deid_key: bytes | None, unique: bool = False) -> Callable[[str], str]:
        """Spool (and so catalog) names by SOP Instance UID, or by the UID's pseudonym
        under --deidentify, so no source UID reaches the catalog."""
        deidentifier = Deidentifier(deid_key) if deid_key else None

        def name_for(sop_uid: str) -> str:
            return Spool.name_for(deidentifier.remap_uid(sop_uid) if deidentifier else sop_uid,
                                  unique)

        return name_for

    def path(self, name: str) -> str:
        """The path of the spool file `name`."""
        return os.path.join(self.directory, name)

    def free_bytes(self) -> int:
        """Bytes free to this user on the spool's file system."""
        info = os.statvfs(self.directory)
        return info.f_bavail * info.f_frsize

    def check_space(self) -> None:
        """Raises SpoolFull when less than the configured minimum is free, so that an instance is
        refused rather than half-written."""
        if self.min_free_bytes and self.free_bytes() < self.min_free_bytes:
            raise SpoolFull(f"less than {self.min_free_bytes >> 20} MiB free in the spool "
                            f"{self.directory}")

    def temporary_path(self) -> str:
        """A new, unique path for a file being received, in the spool's temporary folder (same file
        system, so it can be renamed in atomically)."""
        return os.path.join(self.temporary, f"{uuid.uuid4().hex}.part")

    def write(self, name: str, chunks: Iterable[bytes]) -> str:
        """Stream `chunks` to the spool as `name`, durably; over the size limit nothing is
        kept (InstanceTooLarge)."""
        self.check_space()
        temporary = self.temporary_path()
        try:
            with open(temporary, "wb") as handle:
                size = 0
                for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_instance_bytes:
                        raise InstanceTooLarge(
                            f"instance over the limit of {self.max_instance_bytes >> 20} MiB")
                    handle.write(chunk)
            return self.adopt(temporary, name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)

    def adopt(self, temporary: str, name: str) -> str:
        """Make the finished file `temporary` (in this spool's file system) durable as
        `name`; returns its path."""
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
            target = self.path(name)
            try:
                os.replace(temporary, target)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                # Elsewhere than the spool's file system: copy it in, durably, then rename.
                copy = self.temporary_path()
                with open(copy, "wb") as out:
                    shutil.copyfileobj(handle, out, 1 << 20)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(copy, target)
        _fsync_directory(self.directory)
        return target

    def waiting(self) -> list[str]:
        """Complete instances not yet ingested (a killed run's included), oldest first."""
        names = [n for n in os.listdir(self.directory) if n.endswith(SUFFIX)]
        paths = [self.path(n) for n in names]
        return sorted(paths, key=lambda p: (os.stat(p).st_mtime_ns, p))

    def clear_temporary(self) -> None:
        """Half-written files of a killed run: never acknowledged, so never needed."""
        for name in os.listdir(self.temporary):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.temporary, name))

    def remove(self, name: str) -> None:
        """Removes the spool file `name`; a file already gone is not an error."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(name))
