"""The flags of any PACS client (pull, and results stored to a PACS), without importing
the network stack: commands that only may talk to a PACS define them cheaply."""

from __future__ import annotations

from absl import flags

from console.options import define_option_flags
from dicom.network.pacs_address import OPTION_FILE_VARIABLE
from dicom.network.remote import Timeouts

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()


def define_pacs_client_flags() -> None:
    """Credentials, TLS, timeouts and our AE title: what any client of a PACS needs."""
    flags.DEFINE_string(
        "pacs_option_file", None,
        "INI file with a [pacs] section of user, password or token (default "
        f"${OPTION_FILE_VARIABLE}); $MEDCV_PACS_USER, $MEDCV_PACS_PASSWORD and "
        "$MEDCV_PACS_TOKEN override it. Never printed.")
    flags.DEFINE_string("ca_bundle", None,
                        "PEM file of the CA(s) that signed an https PACS's certificate.")
    define_option_flags(Timeouts)
    flags.DEFINE_string("ae_title", "MEDCV", "Our AE title (DIMSE).")
