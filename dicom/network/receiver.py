"""A C-STORE SCP that ingests what is pushed to it.

An instance is acknowledged only once its bytes are durable in the spool
(`store_handler`); the spool is ingested in small batches by the same ingest workers as
a folder, and a spool file is removed only once its row or reject is committed. So after
`kill -9` at any moment, a restart ingests whatever the spool still holds: every
acknowledged instance ends in the catalog exactly once (the catalog is idempotent by
SOP Instance UID and SHA-256). SIGTERM stops accepting, drains the spool and returns.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from pynetdicom import AE, evt
from pynetdicom.events import Event
from pynetdicom.sop_class import Verification

from console.options import option
from console.text import printable
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.file_processing import REJECTED, FileOutcome, IngestSettings
from dicom.ingestion.ingest import IngestSummary, ingest_stream
from dicom.ingestion.ingest_workers import WorkerLimits
from dicom.network.spool import Spool
from dicom.network.store_handler import MAX_PDU_BYTES, SpoolingStoreHandler, storage_contexts

log = logging.getLogger(__name__)
_FEED_SECONDS = 0.2


@dataclass(frozen=True)
class ReceiveOptions:
    """How the receiver listens and whom it accepts; the fields with help are also
    `dicom.receive`'s flags. The ingest's workers and batch come with the ingest flags."""

    ae_title: str = option("MEDCV", "Our AE title (the called AE title peers use).")
    port: int = option(11112, "Port to listen on.", lower_bound=1, upper_bound=65535)
    address: str = option("0.0.0.0", "Address to listen on (127.0.0.1: this machine only).")
    workers: int = 2
    batch_files: int = 16
    allowed_callers: tuple[str, ...] = option(
        (), "Calling AE titles accepted; default any (each association is logged).",
        flag="allowed_ae_titles")
    max_associations: int = option(10, "Concurrent associations.", lower_bound=1)
    idle_timeout_s: float = option(60.0, "An association silent this long is aborted.",
                                   lower_bound=1)
    worker_limits: WorkerLimits = field(default_factory=WorkerLimits)


class Receiver:
    def __init__(self, catalog: Catalog, settings: IngestSettings, spool: Spool,
                 options: ReceiveOptions, out=sys.stdout) -> None:
        self.catalog, self.spool, self.options, self.out = catalog, spool, options, out
        self.prefix = f"c-store://{options.ae_title}"
        self.settings = dataclasses.replace(settings, source_prefix=self.prefix)
        self._name_for = Spool.namer(settings.deid_key, unique=True)
        self._lock = threading.Lock()
        self._arrived: list[str] = []
        self._per_association: dict[int, Counter] = {}
        self.summary = IngestSummary()
        self.stopping = threading.Event()

    def _stored(self, path: str, _uid: str, event: Event) -> None:
        with self._lock:
            self._arrived.append(path)
            self._per_association.setdefault(id(event.assoc), Counter())["instances"] += 1

    def _refused(self, _uid: str, _reason: str, event: Event) -> None:
        with self._lock:
            self._per_association.setdefault(id(event.assoc), Counter())["refused"] += 1

    def _association_ended(self, event: Event) -> None:
        with self._lock:
            counts = self._per_association.pop(id(event.assoc), Counter())
        requestor = event.assoc.requestor
        how = "aborted" if event.event.name == "EVT_ABORTED" else "released"
        self._say(f"association from {requestor.ae_title or '?'} ({requestor.address}) {how}: "
                  f"{counts['instances']} instances stored, {counts['refused']} refused")

    def _say(self, line: str) -> None:
        print(printable(line), file=self.out, flush=True)

    def _committed(self, outcomes: list[FileOutcome]) -> None:
        for outcome in outcomes:
            if outcome.status == REJECTED and outcome.reject is not None:
                self._say(f"rejected {outcome.reject.kind}: {outcome.path}: "
                          f"{outcome.reject.reason}")
            self.spool.remove(outcome.path[len(self.prefix) + 1:])

    def _take_arrived(self) -> list[str]:
        with self._lock:
            arrived, self._arrived = self._arrived, []
        return arrived

    def run(self) -> IngestSummary:
        """Serve until `stopping` is set; then drain the spool and return the summary."""
        self.spool.clear_temporary()
        incoming: queue.Queue = queue.Queue()
        waiting = self.spool.waiting()
        for start in range(0, len(waiting), self.options.batch_files):
            incoming.put(waiting[start:start + self.options.batch_files])
        if waiting:
            self._say(f"ingesting {len(waiting)} instances a previous run left in the spool")
        errors: list[BaseException] = []
        started = threading.Event()

        def ingest() -> None:
            try:
                self.summary = ingest_stream(
                    incoming, self.spool.directory, self.catalog, self.settings,
                    self.options.workers, self.options.worker_limits, self._committed, started)
            except BaseException as exc:
                errors.append(exc)
                self.stopping.set()

        thread = threading.Thread(target=ingest, name="receive-ingest", daemon=True)
        thread.start()
        started.wait(60)
        server = self._start_server()
        self._say(f"listening as {self.options.ae_title} on {self.options.address}:"
                  f"{self.options.port}")
        try:
            pending: list[str] = []
            last = time.monotonic()
            while not self.stopping.wait(_FEED_SECONDS):
                pending += self._take_arrived()
                if pending and (len(pending) >= self.options.batch_files
                                or time.monotonic() - last > 2 * _FEED_SECONDS):
                    incoming.put(pending)
                    pending, last = [], time.monotonic()
        finally:
            server.shutdown()  # stops accepting, ends the associations
            remaining = self._take_arrived()
            incoming.put(pending + remaining if not errors else [])
            incoming.put(None)
            thread.join()
        if errors:
            raise errors[0]
        return self.summary

    def _start_server(self):
        ae = AE(ae_title=self.options.ae_title)
        ae.supported_contexts = storage_contexts()
        ae.maximum_pdu_size = MAX_PDU_BYTES
        ae.add_supported_context(Verification)
        ae.maximum_associations = self.options.max_associations
        ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = self.options.idle_timeout_s
        if self.options.allowed_callers:
            ae.require_calling_aet = list(self.options.allowed_callers)
        handler = SpoolingStoreHandler(self.spool, self._name_for, self._stored, self._refused)
        handlers = [(evt.EVT_C_STORE, handler), (evt.EVT_RELEASED, self._association_ended),
                    (evt.EVT_ABORTED, self._association_ended),
                    (evt.EVT_ACCEPTED, lambda event: log.debug(
                        "association from %s", event.assoc.requestor.ae_title))]
        try:
            return ae.start_server((self.options.address, self.options.port), block=False,
                                   evt_handlers=handlers)
        except OSError as exc:
            raise OSError(f"cannot listen on {self.options.address}:{self.options.port}: "
                          f"{exc.strerror or exc}; choose another --port") from None
