"""The node's C-STORE SCP: an instance is acknowledged only once its bytes are durable in
the spool and its row is committed in the queue; an instance the node cannot read (not
DICOM, no Study Instance UID) is refused and nothing of it is kept. Our own results,
sent back with their study, are acknowledged and dropped."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import pydicom
from pynetdicom import AE, evt
from pynetdicom.events import Event
from pynetdicom.sop_class import Verification

from dicom.network.spool import Spool
from dicom.network.store_handler import MAX_PDU_BYTES, SpoolingStoreHandler, storage_contexts
from node.job_queue import JobQueue

log = logging.getLogger(__name__)


def _is_our_result(ds) -> bool:
    """An SR or SEG made by medcv (its equipment says so): acknowledged, never queued, so a
    PACS that sends a study back with our results in it starts no loop."""
    from training.results.result_identity import MANUFACTURER

    return str(ds.get("Modality", "")) in ("SR", "SEG") and (
        str(ds.get("Manufacturer", "")).strip() == MANUFACTURER)


class Unreadable(ValueError):
    """An instance the node refuses (pynetdicom answers 0xC211, not stored)."""


def _caller(event: Event) -> str:
    return str(event.assoc.requestor.ae_title or "?").strip()


class NodeReceiver:
    """Takes durable instances into the queue, from C-STORE (`start`) or from the STOW-RS
    endpoint (`accept`); `on_received(study, caller)` and `on_refused(sop_uid, reason,
    caller)` hear of each."""

    def __init__(self, queue: JobQueue, spool: Spool, keywords: set[str],
                 on_received: Callable[[str, str], None],
                 on_refused: Callable[[str, str, str], None]) -> None:
        self.queue, self.spool = queue, spool
        self.keywords = sorted(keywords | {"Modality", "SOPClassUID"})
        self.on_received, self.on_refused = on_received, on_refused
        self.name_for = Spool.namer(None, unique=True)

    def accept(self, path: str, sop_uid: str, caller: str) -> None:
        """Queue the durable instance at `path`; Unreadable (and `path` removed) when the
        node cannot read it. Our own results are dropped, not queued."""
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=False)
            study = _text(ds.get("StudyInstanceUID"))
            if not study:
                raise Unreadable("no Study Instance UID")
            if "\x00" in sop_uid:
                raise Unreadable("its SOP Instance UID holds a NUL character")
            attributes = {k: _text(ds.get(k)) for k in self.keywords}
            own = _is_our_result(ds)
        except Exception as exc:  # hostile bytes: any parser error
            os.unlink(path)
            reason = exc if isinstance(exc, Unreadable) else f"not readable DICOM ({exc})"
            self.on_refused(sop_uid, str(reason), caller)
            raise Unreadable(f"{sop_uid}: {reason}") from None
        if own:  # our own SR coming back with its study (a PACS forwarding it): kept out
            os.unlink(path)
            log.debug("ignored our own result %s from %s", sop_uid, caller)
            return
        earlier = self.queue.record_instance(sop_uid, study, path, attributes, caller)
        if earlier and os.path.exists(earlier):
            os.unlink(earlier)
        self.on_received(study, caller)

    def start(self, ae_title: str, address: str, port: int,
              allowed: tuple[str, ...]) -> Any:
        """The C-STORE SCP, serving on its own threads."""
        ae = AE(ae_title=ae_title)
        ae.supported_contexts = storage_contexts()
        ae.add_supported_context(Verification)
        ae.maximum_pdu_size = MAX_PDU_BYTES
        if allowed:
            ae.require_calling_aet = list(allowed)
        handler = SpoolingStoreHandler(
            self.spool, self.name_for,
            lambda path, uid, event: self.accept(path, uid, _caller(event)),
            lambda uid, reason, event: self.on_refused(uid, reason, _caller(event)))
        try:
            return ae.start_server((address, port), block=False,
                                   evt_handlers=[(evt.EVT_C_STORE, handler)])
        except OSError as exc:
            raise OSError(f"cannot listen on {address}:{port}: {exc.strerror or exc}; "
                          "choose another listen.port") from None


def _text(value: object) -> str:
    """An attribute as the queue stores it: NUL characters (which PostgreSQL refuses and
    no valid value holds) dropped, padding stripped."""
    return str(value or "").replace("\x00", "").strip()
