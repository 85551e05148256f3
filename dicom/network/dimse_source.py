"""Pull over DIMSE with pynetdicom: C-FIND at the image level, then C-MOVE to our own AE
(started for the pull) or C-GET on the same association.

The retrieval asks for a list of SOP Instance UIDs of one series at a time, so only
what the catalog lacks travels. Orthanc aborts a C-FIND or C-MOVE from an AE title that
is not in its DicomModalities: that is one line saying so.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator

from pydicom.dataset import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.association import Association
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)
from pynetdicom.status import code_to_category

from dicom.network.instance_filters import RETURN_KEYS, InstanceQuery
from dicom.network.pacs_address import PacsAddress
from dicom.network.remote import (
    DEFAULT_TIMEOUTS,
    PacsError,
    RemoteInstance,
    RetryCounter,
    Timeouts,
    TransientError,
)
from dicom.network.spool import Spool
from dicom.network.store_handler import MAX_PDU_BYTES, SpoolingStoreHandler, storage_contexts

log = logging.getLogger(__name__)
MOVE, GET = "move", "get"
PENDING = {0xFF00, 0xFF01}
# C-GET proposes one context per SOP class and transfer syntax, so the PACS can send each
# instance as stored (Orthanc cannot transcode JPEG 2000); at most 127 contexts.
_GET_SYNTAXES = (
    "1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
)


class RetrievalRefused(RuntimeError):
    """The PACS answered a request with a failure status (not a lost association)."""


class DimseSource:
    def __init__(self, address: PacsAddress, our_ae_title: str, our_port: int,
                 our_address: str = "127.0.0.1", retrieve: str = MOVE,
                 timeouts: Timeouts = DEFAULT_TIMEOUTS,
                 retries: RetryCounter | None = None) -> None:
        self.address, self.retrieve_mode, self.timeouts = address, retrieve, timeouts
        self.our_ae_title, self.our_port, self.our_address = our_ae_title, our_port, our_address
        self.retries = retries or RetryCounter()
        self._server = None
        self._lock = threading.Lock()
        self._arrived: dict[str, str] = {}  # SOP Instance UID -> spool path (C-MOVE)
        self.batch_size = 64  # instances of one series per C-MOVE / C-GET

    def describe(self) -> str:
        """The PACS's address as logs and errors name it."""
        return self.address.describe()

    def _ae(self) -> AE:
        ae = AE(ae_title=self.our_ae_title)
        ae.acse_timeout = ae.connection_timeout = self.timeouts.connect_s
        ae.dimse_timeout = ae.network_timeout = self.timeouts.read_s
        return ae

    @contextlib.contextmanager
    def _association(self, contexts: list, what: str, **kwargs) -> Iterator[Association]:
        ae = self._ae()
        ae.requested_contexts = contexts
        try:
            association = ae.associate(self.address.host, self.address.port,
                                       ae_title=self.address.ae_title, **kwargs)
        except OSError as exc:  # a host name that does not resolve, say
            raise PacsError(f"cannot reach {self.describe()} ({exc}); check host and port") \
                from None
        if not association.is_established:
            raise PacsError(self.refusal_line(association, what))
        try:
            yield association
        finally:
            if association.is_established:
                association.release()

    def refusal_line(self, association: Association, what: str, aborted: bool = False) -> str:
        """One line saying why the association for `what` failed (rejected, aborted or no answer)
        and what to check."""
        if association.is_rejected:
            return (f"{self.describe()} rejected our association for {what} (called AE "
                    f"{self.address.ae_title!r}, ours {self.our_ae_title!r}); check both titles "
                    "and that the PACS knows ours")
        if association.is_aborted or aborted:
            return (f"{self.describe()} aborted our association for {what}; check that our AE "
                    f"{self.our_ae_title!r} is registered with it (Orthanc: DicomModalities)")
        return (f"cannot connect to {self.describe()} for {what} (no answer within "
                f"{self.timeouts.connect_s:g} s or connection refused); check host and port")

    def probe(self) -> None:
        """Checks within the connect timeout that the PACS is reachable and answers C-ECHO; raises
        a PacsError that says which of the two failed."""
        try:  # a plain connection first: "refused" and "no answer" read differently
            socket.create_connection((self.address.host, self.address.port),
                                     self.timeouts.connect_s).close()
        except socket.gaierror:
            raise PacsError(f"cannot resolve the host of {self.describe()}; check the host "
                            "name") from None
        except OSError as exc:
            raise PacsError(f"cannot connect to {self.describe()} ({exc.strerror or exc}); "
                            "check host and port") from None
        with self._association([build_context(Verification)], "C-ECHO") as association:
            status = association.send_c_echo()
            if not status or status.Status != 0:
                raise PacsError(f"{self.describe()} did not answer C-ECHO; check the server")

    def search(self, query: InstanceQuery) -> list[RemoteInstance]:
        """The instances that match the query, by C-FIND at the study root, one per SOP Instance
        UID, each variant of the query searched in turn."""
        keys = list(dict.fromkeys([*RETURN_KEYS, *query.keys]))
        found: dict[str, RemoteInstance] = {}
        model = StudyRootQueryRetrieveInformationModelFind
        with self._association([build_context(model)], "C-FIND") as association:
            for variant in query.variants():
                identifier = Dataset()
                identifier.QueryRetrieveLevel = "IMAGE"
                for key in keys:
                    setattr(identifier, key, variant.get(key, ""))
                for status, answer in association.send_c_find(identifier, model):
                    if not status:  # Orthanc aborts a C-FIND from an AE it does not know
                        raise PacsError(self.refusal_line(association, "C-FIND", aborted=True))
                    try:
                        self._check(association, status, "C-FIND")
                    except RetrievalRefused as exc:
                        raise PacsError(str(exc)) from None
                    if status.Status not in PENDING or answer is None:
                        continue
                    attributes = {key: str(answer.get(key, "") or "").strip() for key in keys}
                    if attributes["SOPInstanceUID"] and query.matches(attributes):
                        found.setdefault(attributes["SOPInstanceUID"], RemoteInstance(
                            attributes["StudyInstanceUID"], attributes["SeriesInstanceUID"],
                            attributes["SOPInstanceUID"], attributes))
        return list(found.values())

    def _check(self, association: Association, status: Dataset | None, what: str) -> None:
        if association.is_aborted:
            raise PacsError(self.refusal_line(association, what))
        if not status:  # no answer: the association died, or the read timed out
            raise TransientError(f"{what}: no answer from {self.describe()}")
        if code_to_category(status.Status) == "Failure":
            raise RetrievalRefused(self._status_line(status, what))

    def _status_line(self, status: Dataset, what: str) -> str:
        comment = status.get("ErrorComment", "")
        return (f"{self.describe()}: {what} failed with status 0x{status.Status:04X}"
                + (f" ({comment})" if comment else ""))

    # Retrieval

    def start(self, spool: Spool, name_for: Callable[[str], str]) -> None:
        """C-MOVE: our AE listens on our port for the PACS's C-STOREs."""
        self._spool, self._name_for = spool, name_for
        if self.retrieve_mode != MOVE:
            return
        ae = self._ae()
        ae.supported_contexts = storage_contexts()
        ae.maximum_pdu_size = MAX_PDU_BYTES
        handler = SpoolingStoreHandler(spool, name_for, self._on_stored)
        try:
            self._server = ae.start_server((self.our_address, self.our_port), block=False,
                                           evt_handlers=[(evt.EVT_C_STORE, handler)])
        except OSError as exc:
            raise PacsError(f"cannot listen on {self.our_address}:{self.our_port} for C-MOVE "
                            f"({exc}); choose another --ae_port") from None

    def stop(self) -> None:
        """Stops the C-STORE listener that received C-MOVE's instances, if one runs."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _on_stored(self, path: str, sop_uid: str, _event) -> None:
        with self._lock:
            self._arrived[sop_uid] = path

    def retrieve_batch(self, instances: list[RemoteInstance]) -> list[str]:
        """Retrieve instances of one series; returns the spool paths of those that came."""
        return self.retries.run(lambda: self._retrieve_once(instances),
                                f"{self.retrieve_mode} {instances[0].series_uid}",
                                lambda exc: (f"{self.describe()} stopped answering ({exc}); "
                                             "what was retrieved is kept, re-run the same "
                                             "command to finish"))

    def _retrieve_once(self, instances: list[RemoteInstance]) -> list[str]:
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "IMAGE"
        identifier.StudyInstanceUID = instances[0].study_uid
        identifier.SeriesInstanceUID = instances[0].series_uid
        identifier.SOPInstanceUID = [i.sop_uid for i in instances]
        if self.retrieve_mode == MOVE:
            return self._move(identifier, instances)
        return self._get(identifier, instances)

    def _move(self, identifier: Dataset, instances: list[RemoteInstance]) -> list[str]:
        model = StudyRootQueryRetrieveInformationModelMove
        with self._association([build_context(model)], "C-MOVE") as association:
            self._follow(association.send_c_move(identifier, self.our_ae_title, model),
                         association, "C-MOVE")
        with self._lock:
            return [self._arrived.pop(i.sop_uid) for i in instances if i.sop_uid in self._arrived]

    def _follow(self, answers, association: Association, what: str) -> None:
        """Read a retrieval's answers; a refused one is logged, and what came is kept (the
        rest counts as not delivered)."""
        try:
            for status, _ in answers:
                self._check(association, status, what)
        except RetrievalRefused as exc:
            log.warning("%s", exc)

    def _get(self, identifier: Dataset, instances: list[RemoteInstance]) -> list[str]:
        model = StudyRootQueryRetrieveInformationModelGet
        classes = sorted({i.attributes.get("SOPClassUID", "") for i in instances} - {""})
        contexts, roles = [build_context(model)], []
        for sop_class in classes:
            for syntax in _GET_SYNTAXES:
                if len(contexts) < 127:
                    contexts.append(build_context(sop_class, syntax))
            roles.append(build_role(sop_class, scp_role=True))
        arrived: dict[str, str] = {}
        handler = SpoolingStoreHandler(self._spool, self._name_for,
                                       lambda path, uid, _event: arrived.__setitem__(uid, path))
        with self._association(contexts, "C-GET", ext_neg=roles,
                               evt_handlers=[(evt.EVT_C_STORE, handler)]) as association:
            self._follow(association.send_c_get(identifier, model), association, "C-GET")
        return [arrived[i.sop_uid] for i in instances if i.sop_uid in arrived]
