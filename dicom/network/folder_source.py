"""A folder as a pull's `Source`: a mounted export, a CD's or a share's DICOM tree, read
with the same filters, resumable runs and one-line faults as a PACS.

`python -m dicom.pull --source /mnt/export --filter Modality=CR` ingests only the
matching instances, where `create_database --directory` would take every file. The
search reads each file's header (no pixels); a file that is not DICOM is skipped and
counted. Where several files hold one SOP Instance UID, the one whose path sorts first is
taken, as ingest settles such conflicts.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from dicom.metadata.deidentify import path_pseudonym
from dicom.network.instance_filters import RETURN_KEYS, InstanceQuery
from dicom.network.remote import PacsError, RemoteInstance, RetryCounter
from dicom.network.spool import InstanceTooLarge, Spool

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


class FolderSource:
    """The DICOM files below `root`, searched by their headers and copied into the spool."""

    def __init__(self, root: str, deid_key: bytes | None = None) -> None:
        self.root = os.path.abspath(root)
        self.deid_key = deid_key
        self.retries = RetryCounter()
        self.batch_size = 16
        self._paths: dict[str, str] = {}
        self._spool: Spool | None = None
        self._name_for: Callable[[str], str] = Spool.name_for

    def describe(self) -> str:
        """file:// and the folder; under --deidentify its keyed pseudonym instead, since a
        folder's name often names the patient."""
        if self.deid_key:
            return f"folder:{path_pseudonym(self.deid_key, self.root)}"
        return f"file://{self.root}"

    def probe(self) -> None:
        """Raises PacsError in one line when the folder is missing or cannot be listed."""
        if not os.path.isdir(self.root):
            raise PacsError(f"--source {self.describe()}: no such folder")
        try:
            os.listdir(self.root)
        except OSError as exc:
            raise PacsError(f"--source {self.describe()}: cannot list it "
                            f"({exc.strerror or exc})") from None

    def search(self, query: InstanceQuery) -> list[RemoteInstance]:
        """The instances whose headers match the query, one per SOP Instance UID (the
        first path in sorted order wins), in path order."""
        keys = list(dict.fromkeys([*RETURN_KEYS, *query.keys]))
        found: dict[str, RemoteInstance] = {}
        skipped = 0
        for path in self._files():
            attributes = _header(path, keys)
            if attributes is None:
                skipped += 1
                continue
            uid = attributes["SOPInstanceUID"]
            if uid and uid not in found and query.matches(attributes):
                found[uid] = RemoteInstance(attributes["StudyInstanceUID"],
                                            attributes["SeriesInstanceUID"], uid, attributes)
                self._paths[uid] = path
        if skipped:
            log.warning("%d file(s) in %s are not DICOM (or their header is unreadable); "
                        "skipped", skipped, self.describe())
        return list(found.values())

    def start(self, spool: Spool, name_for: Callable[[str], str]) -> None:
        """Prepares copying into `spool`, naming each file by `name_for(sop_uid)`."""
        self._spool, self._name_for = spool, name_for

    def retrieve_batch(self, instances: list[RemoteInstance]) -> list[str]:
        """Copies the instances into the spool, durably; returns the paths of those copied.
        A file gone or grown past the size limit since the search is left out, with a
        warning."""
        if self._spool is None:
            raise RuntimeError("FolderSource.start was not called")
        delivered = []
        for instance in instances:
            source = self._paths.get(instance.sop_uid)
            if source is None:
                continue
            try:
                with open(source, "rb") as handle:
                    delivered.append(self._spool.write(self._name_for(instance.sop_uid),
                                                       _chunks(handle)))
            except (FileNotFoundError, InstanceTooLarge) as exc:
                log.warning("%s: %s not copied (%s)", self.describe(),  # the spool's name:
                            self._name_for(instance.sop_uid),  # a pseudonym under --deidentify
                            exc.strerror if isinstance(exc, FileNotFoundError) else exc)
        return delivered

    def stop(self) -> None:
        """Nothing to release: a folder holds no connection."""

    def _files(self) -> Iterator[str]:
        """Every regular file below the root in sorted path order, hidden ones left out."""
        for base, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                path = os.path.join(base, name)
                if not name.startswith(".") and os.path.isfile(path):
                    yield path


def _header(path: str, keys: list[str]) -> dict[str, str] | None:
    """The keys' values in the file's header, as text; None when it is not DICOM."""
    try:
        with warnings.catch_warnings():  # a quirk per file would flood the console
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=keys,
                                      defer_size="64 KB")
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError):
        return None
    values = {}
    for key in keys:
        value = dataset.get(key)
        if isinstance(value, MultiValue):  # the first value, as a QIDO answer's
            value = value[0] if value else None
        values[key] = "" if value is None else str(value).strip()
    return values


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The file's bytes a MiB at a time."""
    while chunk := handle.read(_CHUNK):
        yield chunk
