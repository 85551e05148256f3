"""Send finished DICOM objects (our SRs and SEGs) to a PACS: STOW-RS over DICOMweb, or
C-STORE over DIMSE, with the same addresses, credentials, TLS and one-line faults as a
pull. Each object is acknowledged or not; the caller records which."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import pydicom
from dicomweb_client.api import DICOMwebClient
from pynetdicom import AE
from pynetdicom.presentation import build_context

from dicom.network.dicomweb_source import DicomwebSource
from dicom.network.dimse_source import DimseSource
from dicom.network.pacs_address import DIMSE, Credentials, PacsAddress
from dicom.network.pacs_protocols import ResultStore
from dicom.network.remote import DEFAULT_TIMEOUTS, PacsError, RequestRefused, Timeouts

_STORE_SYNTAXES = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]


class DicomwebStore:
    def __init__(self, address: PacsAddress, credentials: Credentials,
                 ca_bundle: str | None = None, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self.source = DicomwebSource(address, credentials, ca_bundle, timeouts)  # its faults
        self.client: DICOMwebClient = self.source.client

    def describe(self) -> str:
        """The destination as logs and errors name it."""
        return self.source.describe()

    def store(self, paths: list[str]) -> Iterator[tuple[str, str | None]]:
        """(path, None) once acknowledged, (path, reason) when refused; a server that
        cannot be reached raises PacsError."""
        self.source.probe()
        for path in paths:
            dataset = pydicom.dcmread(path)
            try:
                answer = self.source.call(
                    functools.partial(self.client.store_instances, [dataset]), "STOW-RS")
            except RequestRefused as exc:  # the server said no to this object
                yield path, str(exc)
                continue
            failed = answer.get("FailedSOPSequence") if answer is not None else None
            yield path, (f"refused: {failed[0].get('FailureReason', '?')}" if failed else None)


class DimseStore:
    def __init__(self, address: PacsAddress, ae_title: str,
                 timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self.address, self.ae_title, self.timeouts = address, ae_title, timeouts
        self.probe_source = DimseSource(address, ae_title, 0, timeouts=timeouts)

    def describe(self) -> str:
        """The PACS's address as logs and errors name it."""
        return self.address.describe()

    def store(self, paths: list[str]) -> Iterator[tuple[str, str | None]]:
        """Sends the files by C-STORE over one association; yields (path, None) for each stored and
        (path, reason) for each refused."""
        self.probe_source.probe()
        classes = sorted({str(pydicom.dcmread(p, stop_before_pixels=True).SOPClassUID)
                          for p in paths})
        ae = AE(ae_title=self.ae_title)
        ae.acse_timeout = ae.connection_timeout = self.timeouts.connect_s
        ae.dimse_timeout = ae.network_timeout = self.timeouts.read_s
        ae.requested_contexts = [build_context(c, _STORE_SYNTAXES) for c in classes]
        association = ae.associate(self.address.host, self.address.port,
                                   ae_title=self.address.ae_title)
        if not association.is_established:
            raise PacsError(self.probe_source.refusal_line(association, "C-STORE"))
        with contextlib.ExitStack() as stack:
            stack.callback(lambda: association.is_established and association.release())
            for path in paths:
                status = association.send_c_store(path)
                if not status:
                    raise PacsError(f"{self.describe()} stopped answering during C-STORE; the "
                                    "objects are kept, re-run to store the rest")
                code = int(status.Status)
                yield path, None if code in (0x0000, 0xB000, 0xB007, 0xB006) else (
                    f"refused with status 0x{code:04X}")


def open_store(url: str, credentials: Credentials, ca_bundle: str | None, ae_title: str,
               timeouts: Timeouts = DEFAULT_TIMEOUTS) -> ResultStore:
    """The store `url` names: C-STORE for dimse://, else STOW-RS."""
    from dicom.network.pacs_address import parse_pacs_url

    address = parse_pacs_url(url, "--store_to")
    if address.kind == DIMSE:
        return DimseStore(address, ae_title, timeouts)
    return DicomwebStore(address, credentials, ca_bundle, timeouts)


