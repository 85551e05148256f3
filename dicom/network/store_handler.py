"""A C-STORE handler that acknowledges an instance only once it is durable in the spool.

pynetdicom writes each incoming dataset to a temporary file as it arrives
(`STORE_RECV_CHUNKED_DATASET`), so an instance is never held whole in memory; the
handler checks its size and the free disk, fsyncs it and renames it into the spool, and
only then answers Success. Shared by the receiver and a DIMSE pull's own AE (C-MOVE
destination, C-GET).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable

from pydicom.uid import UID
from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from pynetdicom import _config as pynetdicom_config
from pynetdicom.events import Event
from pynetdicom.presentation import PresentationContext, build_context

from dicom.network.spool import Spool, SpoolFull

log = logging.getLogger(__name__)
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
# Larger PDUs than pynetdicom's 16 KiB default: fewer messages per instance (measured:
# about 15 % more instances/s from storescu).
MAX_PDU_BYTES = 256 << 10
_UID = re.compile(r"^[0-9.]{1,64}$")
# pynetdicom accepts, of the syntaxes a peer proposes in a context, the first in *our*
# list: compressed first, so an instance proposed as stored arrives as stored (a sender
# that also offers Little Endian would otherwise decompress it for us).
ACCEPTED_SYNTAXES = sorted(ALL_TRANSFER_SYNTAXES, key=lambda uid: (
    not UID(uid).is_compressed, not UID(uid).is_deflated))


def storage_contexts() -> list[PresentationContext]:
    """Every storage SOP class, in every transfer syntax, as stored preferred."""
    return [build_context(c.abstract_syntax, ACCEPTED_SYNTAXES)
            for c in AllStoragePresentationContexts]


def receive_into(spool: Spool) -> None:
    """Have pynetdicom stream incoming datasets to files in `spool`'s file system (a global
    setting of pynetdicom and tempfile: the commands call it once)."""
    pynetdicom_config.STORE_RECV_CHUNKED_DATASET = True
    tempfile.tempdir = spool.temporary


class SpoolingStoreHandler:
    """`evt.EVT_C_STORE` handler; `stored(path, sop_uid, event)` hears of each durable file,
    `refused(sop_uid, reason, event)` of each one it would not keep."""

    def __init__(self, spool: Spool, name_for: Callable[[str], str],
                 stored: Callable[[str, str, Event], None],
                 refused: Callable[[str, str, Event], None] | None = None) -> None:
        self.spool, self.name_for, self.stored, self.refused = spool, name_for, stored, refused

    def __call__(self, event: Event) -> int:
        sop_uid = str(event.request.AffectedSOPInstanceUID or "").strip()
        if not _UID.match(sop_uid):
            return self._refuse(sop_uid, "no valid Affected SOP Instance UID", event,
                                CANNOT_UNDERSTAND)
        try:
            self.spool.check_space()
        except SpoolFull as exc:
            return self._refuse(sop_uid, str(exc), event, OUT_OF_RESOURCES)
        try:
            temporary = str(event.dataset_path)
        except AttributeError:  # chunked receive is off: the dataset is in memory
            data = event.encoded_dataset(include_meta=True)
            chunks: list[bytes] | None = [data]
        else:
            size = os.path.getsize(temporary)
            if size > self.spool.max_instance_bytes:
                return self._refuse(sop_uid, f"instance of {size:,} bytes is over the limit of "
                                    f"{self.spool.max_instance_bytes:,}", event, OUT_OF_RESOURCES)
            chunks = None
        try:
            name = self.name_for(sop_uid)
            if chunks is None:
                path = self.spool.adopt(temporary, name)
            else:
                path = self.spool.write(name, chunks)
        except OSError as exc:
            return self._refuse(sop_uid, f"cannot write to the spool: {exc}", event,
                                OUT_OF_RESOURCES)
        self.stored(path, sop_uid, event)
        return SUCCESS

    def _refuse(self, sop_uid: str, reason: str, event: Event, status: int) -> int:
        # Named as the spool would name it: the UID's pseudonym under --deidentify.
        shown = self.name_for(sop_uid) if _UID.match(sop_uid) else "(no valid UID)"
        log.warning("refused instance %s: %s", shown, reason)
        if self.refused is not None:
            self.refused(sop_uid, reason, event)
        return status
