"""Pull instances from a PACS into the catalog: search, leave out what the catalog has,
retrieve the rest and ingest it exactly as create_database ingests a folder.

    python -m dicom.pull --source dicomweb+http://pacs:8042/dicom-web --filter Modality=CR
    python -m dicom.pull --source dimse://ORTHANC@pacs:4242 --ae_title MEDCV --ae_port 11113 \\
        --filter StudyDate=20240101-20241231 --accession_file accessions.txt
    python -m dicom.pull --source /mnt/export --filter Modality=CR     (a folder)

Credentials: $MEDCV_PACS_USER and $MEDCV_PACS_PASSWORD (HTTP Basic), or
$MEDCV_PACS_TOKEN (bearer), or an option file (--pacs_option_file, [pacs] section);
never printed, never in the report. Re-running the same pull retrieves nothing; a pull
killed at any point resumes where it stopped.
Exit status: 0 when the pull completed (even with rejects), 2 on a fatal error (an
unreachable or refusing PACS, a bad filter, an unreachable database), 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli
from console.flags import define_progress_flag
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
from dicom.network import network_flags
from dicom.network.instance_filters import parse_filters
from dicom.network.network_flags import (
    define_pacs_flags,
    open_source,
    pacs_error_line,
    quiet_network_logs,
)
from dicom.network.pull_run import PullOptions, pull
from dicom.network.spool import Spool
from dicom.network.store_handler import receive_into
from files.atomic_file import write_atomic

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "source", None,
    "The PACS: dicomweb+http(s)://HOST:PORT/PATH (QIDO-RS search, WADO-RS retrieval of the "
    "stored bytes) or dimse://AET@HOST:PORT (C-FIND, then C-MOVE to our AE or C-GET); or a "
    "folder (a path or file://PATH: a mounted export, searched by its files' headers).")
flags.DEFINE_multi_string(
    "filter", [],
    "KEY=VALUE, repeatable: Modality, BodyPartExamined, StudyDate (YYYYMMDD, "
    "YYYYMMDD-YYYYMMDD, -YYYYMMDD, YYYYMMDD-), StudyDescription, SeriesDescription, "
    "PatientID, AccessionNumber, or a list of Study/Series/SOP Instance UIDs (comma or "
    "backslash). '*' and '?' are wildcards; spaces are kept (BodyPartExamined=WHOLE BODY).")
flags.DEFINE_string("accession_file", None,
                    "File of accession numbers, one a line: instances of those studies.")
flags.DEFINE_enum("dimse_retrieve", "move", ["move", "get"],
                  "DIMSE retrieval: C-MOVE to our AE (--ae_title/--ae_port/--ae_address, which "
                  "the PACS must know) or C-GET on the query's association.")
define_option_flags(PullOptions)
flags.DEFINE_string("spool_dir", None,
                    "Where retrieved instances wait for the ingest (removed once committed; "
                    "what a killed pull left is ingested first on the next run). Default: "
                    "medcv_spool/pull in the working directory.")
define_ingest_flags()
define_pacs_flags()
define_progress_flag()
flags.adopt_module_key_flags(ingest_flags)
flags.adopt_module_key_flags(network_flags)
flags.mark_flag_as_required("source")


def _main() -> int:
    quiet_network_logs()
    query = parse_filters(FLAGS.filter, FLAGS.accession_file)
    settings = ingest_settings_from_flags()
    spool = Spool(FLAGS.spool_dir or os.path.join("medcv_spool", "pull"),
                  FLAGS.max_file_mb << 20)
    receive_into(spool)
    source = open_source(FLAGS.source, FLAGS.dimse_retrieve, settings.deid_key)
    url = resolve_db_url(FLAGS.db_url)
    catalog = Catalog.open(url, settings.lists)
    print(f"pulling from {source.describe()} into {describe(url)} with "
          f"{FLAGS.connections} connections and {FLAGS.workers} workers", file=sys.stderr)
    # Small tasks, so that the ingest starts while the retrieval goes on.
    options = settings_from_flags(PullOptions, workers=FLAGS.workers,
                                  batch_files=min(FLAGS.batch_size, 16), progress=FLAGS.progress,
                                  worker_limits=worker_limits_from_flags())
    try:
        summary = pull(source, query, catalog, settings, spool, options)
    finally:
        catalog.dispose()
    for kind, count in summary.ingest.reject_counts():
        example = next(r for r in summary.ingest.rejects if r.kind == kind)
        print(printable(f"  rejected {kind} x{count}, e.g. {example.path}: {example.reason}"),
              file=sys.stderr)
    print(printable(summary.line()))
    if FLAGS.report:
        report = {"source": source.describe(), "database": describe(url),
                  "filters": FLAGS.filter, "accession_file": FLAGS.accession_file,
                  **summary.to_json()}
        write_atomic(FLAGS.report, json.dumps(report, indent=2).encode("utf-8"))
    return 0


def _describe(exc: Exception) -> str | None:
    return pacs_error_line(exc) or describe_database_error(exc)


def main(argv: list[str]) -> int:
    """Pulls the instances the filters match from the PACS and ingests them; returns the exit code.
    """
    require_no_arguments(argv)
    return run_cli(_main, "What was retrieved is kept; re-run the same command to finish.",
                   _describe)


if __name__ == "__main__":
    app.run(main)
