"""Flags of the commands that talk to a PACS (pull, receive, and results stored to a
PACS), defined once, and the source they open."""

from __future__ import annotations

import logging

from absl import flags

from dicom.network.dicomweb_source import DicomwebSource
from dicom.network.dimse_source import DimseSource
from dicom.network.pacs_address import (
    DIMSE,
    OPTION_FILE_VARIABLE,
    check_ae_title,
    load_credentials,
    parse_pacs_url,
)
from dicom.network.remote import PacsError, Timeouts

FLAGS = flags.FLAGS


def define_pacs_flags() -> None:
    flags.DEFINE_string(
        "pacs_option_file", None,
        "INI file with a [pacs] section of user, password or token (default "
        f"${OPTION_FILE_VARIABLE}); $MEDCV_PACS_USER, $MEDCV_PACS_PASSWORD and "
        "$MEDCV_PACS_TOKEN override it. Never printed.")
    flags.DEFINE_string("ca_bundle", None,
                        "PEM file of the CA(s) that signed an https PACS's certificate.")
    flags.DEFINE_float("connect_timeout_s", 3.0, "Seconds to wait for a PACS to accept a "
                       "connection or association.", lower_bound=0.1)
    flags.DEFINE_float("read_timeout_s", 60.0, "Seconds to wait for the next bytes or DIMSE "
                       "message before the attempt counts as failed (and is retried).",
                       lower_bound=0.1)
    flags.DEFINE_string("ae_title", "MEDCV", "Our AE title (DIMSE).")
    flags.DEFINE_integer("ae_port", 11113, "Port our AE listens on for C-MOVE's C-STOREs.",
                         lower_bound=1, upper_bound=65535)
    flags.DEFINE_string("ae_address", "127.0.0.1",
                        "Address our AE listens on (the PACS's DicomModalities entry names it).")


def open_source(url: str, dimse_retrieve: str = "move") -> DicomwebSource | DimseSource:
    address = parse_pacs_url(url)
    timeouts = Timeouts(FLAGS.connect_timeout_s, FLAGS.read_timeout_s)
    if address.kind == DIMSE:
        return DimseSource(address, check_ae_title(FLAGS.ae_title, "--ae_title"), FLAGS.ae_port,
                           FLAGS.ae_address, dimse_retrieve, timeouts)
    return DicomwebSource(address, load_credentials(FLAGS.pacs_option_file), FLAGS.ca_bundle,
                          timeouts)


def quiet_network_logs() -> None:
    """pynetdicom and dicomweb-client log every association and request at INFO."""
    for name in ("pynetdicom", "dicomweb_client"):
        logging.getLogger(name).setLevel(logging.WARNING)


def pacs_error_line(exc: Exception) -> str | None:
    return str(exc) if isinstance(exc, PacsError) else None
