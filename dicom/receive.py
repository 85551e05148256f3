"""Receive pushed instances (a C-STORE SCP) and ingest them into the catalog.

    python -m dicom.receive --port 11112 --ae_title MEDCV [--db_url URL] [--spool_dir DIR]

Every storage SOP class, in every transfer syntax pydicom decodes; C-ECHO answered. An
instance is acknowledged only once its bytes are durable in the spool, then ingested
exactly as create_database ingests a folder (rejects recorded, --deidentify,
idempotent). After kill -9 and a restart, every acknowledged instance ends in the
catalog once. SIGTERM (or Ctrl-C) stops accepting, drains the spool and exits 0.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli
from console.options import define_option_flags, settings_from_flags
from console.text import printable
from dicom.ingestion import ingest_flags
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.database_url import describe, describe_database_error, resolve_db_url
from dicom.ingestion.ingest_flags import (
    define_ingest_flags,
    ingest_settings_from_flags,
    worker_limits_from_flags,
)
from dicom.network.network_flags import quiet_network_logs
from dicom.network.pacs_address import check_ae_title
from dicom.network.receiver import ReceiveOptions, Receiver
from dicom.network.spool import Spool
from dicom.network.store_handler import receive_into

FLAGS = flags.FLAGS
define_option_flags(ReceiveOptions)
flags.DEFINE_string("spool_dir", None,
                    "Where acknowledged instances wait for the ingest; default "
                    "medcv_spool/receive in the working directory. Keep it: after a crash "
                    "it holds what was acknowledged and not yet in the catalog.")
flags.DEFINE_integer("min_free_mb", 1024,
                     "Below this much free disk in the spool, each C-STORE is answered 0xA700 "
                     "(Refused: Out of Resources) and nothing is kept.", lower_bound=0)
define_ingest_flags()
flags.adopt_module_key_flags(ingest_flags)


def _main() -> int:
    quiet_network_logs()
    options = settings_from_flags(
        ReceiveOptions, workers=FLAGS.workers, batch_files=min(FLAGS.batch_size, 16),
        worker_limits=dataclasses.replace(worker_limits_from_flags(), nice=10))
    check_ae_title(options.ae_title, "--ae_title")
    for title in options.allowed_callers:
        check_ae_title(title, "--allowed_ae_titles")
    settings = ingest_settings_from_flags()
    spool = Spool(FLAGS.spool_dir or os.path.join("medcv_spool", "receive"),
                  FLAGS.max_file_mb << 20, FLAGS.min_free_mb << 20)
    receive_into(spool)
    url = resolve_db_url(FLAGS.db_url)
    catalog = Catalog.open(url, settings.lists)
    print(f"receiving into {describe(url)} with {FLAGS.workers} workers", file=sys.stderr)
    receiver = Receiver(catalog, settings, spool, options)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: receiver.stopping.set())
    try:
        summary = receiver.run()
    finally:
        catalog.dispose()
    print(printable(f"stopped; {summary.line()}"))
    return 0


def main(argv: list[str]) -> int:
    """Runs the C-STORE receiver until stopped; returns the exit code."""
    require_no_arguments(argv)
    return run_cli(_main, "Acknowledged instances are in the spool; restart to ingest them.",
                   describe_database_error)


if __name__ == "__main__":
    app.run(main)
