"""What a PACS peer must do for us, whatever it speaks: the two seams of dicom/network.

A `Source` is where a pull reads instances from (DICOMweb: `DicomwebSource`; DIMSE
C-FIND with C-MOVE or C-GET: `DimseSource`; a folder's files: `FolderSource`); a
`ResultStore` is where our SRs and SEGs go (STOW-RS: `DicomwebStore`; C-STORE:
`DimseStore`). `network_flags.open_source` and `result_store.open_store` choose one by
the URL's scheme; a new protocol is one class that satisfies the Protocol and one branch
there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from dicom.network.instance_filters import InstanceQuery
from dicom.network.remote import RemoteInstance, RetryCounter
from dicom.network.spool import Spool


class Source(Protocol):
    """A PACS a pull reads from. Every failure is a one-line `PacsError` naming the peer."""

    #: Retries spent so far on transient faults (the pull's summary reports them).
    retries: RetryCounter
    #: Instances per retrieval request: 1 over DICOMweb, part of a series over DIMSE.
    batch_size: int

    def describe(self) -> str:
        """The peer as the user named it (host, port, AE title), no credentials."""
        ...

    def probe(self) -> None:
        """Reach the peer once (C-ECHO, a QIDO request) so a wrong address fails in
        seconds, before any search."""
        ...

    def search(self, query: InstanceQuery) -> list[RemoteInstance]:
        """Every instance the query matches, with the UIDs a retrieval needs."""
        ...

    def start(self, spool: Spool, name_for: Callable[[str], str]) -> None:
        """Get ready to receive into `spool` (DIMSE: our C-MOVE destination starts
        listening); `name_for` gives each SOP Instance UID its file name there."""
        ...

    def retrieve_batch(self, instances: list[RemoteInstance]) -> list[str]:
        """Retrieve up to `batch_size` instances; the spool paths of those delivered
        (each durable before it is returned). Those missing are retried or reported."""
        ...

    def stop(self) -> None:
        """Release what `start` took (a listening port); safe to call twice."""
        ...


class ResultStore(Protocol):
    """A PACS our DICOM results are sent to."""

    def describe(self) -> str:
        """The peer as the user named it, no credentials."""
        ...

    def store(self, paths: list[str]) -> Iterator[tuple[str, str | None]]:
        """Send each file: (path, None) once the peer acknowledged it, (path, reason) when
        it refused it. A peer that cannot be reached raises `PacsError`."""
        ...
