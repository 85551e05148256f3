"""Flags of the commands that talk to a PACS (pull, receive, and results stored to a
PACS), defined once, and the source they open."""

from __future__ import annotations

import logging

from absl import flags

from console.options import settings_from_flags
from dicom.network.client_flags import define_pacs_client_flags
from dicom.network.dicomweb_source import DicomwebSource
from dicom.network.dimse_source import DimseSource
from dicom.network.pacs_address import (
    DIMSE,
    check_ae_title,
    load_credentials,
    parse_pacs_url,
)
from dicom.network.pacs_protocols import ResultStore, Source
from dicom.network.remote import PacsError, Timeouts

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()

FLAGS = flags.FLAGS


def define_pacs_flags() -> None:
    """A pull's flags: the client's, and where our AE listens for C-MOVE."""
    define_pacs_client_flags()
    flags.DEFINE_integer("ae_port", 11113, "Port our AE listens on for C-MOVE's C-STOREs.",
                         lower_bound=1, upper_bound=65535)
    flags.DEFINE_string("ae_address", "127.0.0.1",
                        "Address our AE listens on (the PACS's DicomModalities entry names it).")


def open_source(url: str, dimse_retrieve: str = "move", deid_key: bytes | None = None) -> Source:
    """The pull source `url` names (dicomweb+http[s]://, dimse://, or a folder: a path or
    file://PATH), with the client flags; under --deidentify (`deid_key`) a folder is named
    by its pseudonym."""
    if url.startswith("file://") or "://" not in url:
        from dicom.network.folder_source import FolderSource

        return FolderSource(url.removeprefix("file://"), deid_key)
    address = parse_pacs_url(url)
    timeouts = settings_from_flags(Timeouts)
    if address.kind == DIMSE:
        return DimseSource(address, check_ae_title(FLAGS.ae_title, "--ae_title"), FLAGS.ae_port,
                           FLAGS.ae_address, dimse_retrieve, timeouts)
    return DicomwebSource(address, load_credentials(FLAGS.pacs_option_file), FLAGS.ca_bundle,
                          timeouts)


def quiet_network_logs() -> None:
    """pynetdicom and dicomweb-client log every association and request at INFO."""
    for name in ("pynetdicom", "dicomweb_client"):
        logging.getLogger(name).setLevel(logging.WARNING)


def open_result_store(url: str) -> ResultStore:
    """Where --store_to sends results, with the client flags."""
    from dicom.network.result_store import open_store

    return open_store(url, load_credentials(FLAGS.pacs_option_file), FLAGS.ca_bundle,
                      check_ae_title(FLAGS.ae_title, "--ae_title"),
                      settings_from_flags(Timeouts))


def pacs_error_line(exc: Exception) -> str | None:
    """The one-line message of a PACS error; None for any other exception, so that the caller
    reports it."""
    return str(exc) if isinstance(exc, PacsError) else None
