"""Ingest a directory of DICOM files into the catalog database.

    python -m dicom.create_database --directory DIR [--db_url URL] [--workers N]
        [--deidentify] [--overwrite never|if_changed] [--report report.json]

Re-running is safe: stored files (same SOP Instance UID and SHA-256) are
skipped, a killed run resumes where its last committed batch ended. Rejected
files (not DICOM, no pixel data, truncated, unsupported encoding, over a size
limit, not a regular file, one that crashed or stalled its worker) are listed
with a reason; they never stop the run.
Exit status: 0 when the run completed (even with rejects), 2 on a fatal error
such as an unreachable database, 130 when interrupted.

--runner=beam runs the same per-file work and commits as an Apache Beam pipeline
(docs/scaling.md): locally on the FnApiRunner, or on a cluster through
--beam_pipeline_options.
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli
from console.flags import define_progress_flag
from console.text import printable
from dicom.ingestion import ingest_flags
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.database_url import (
    describe,
    describe_database_error,
    resolve_db_url,
)
from dicom.ingestion.ingest import ingest_directory
from dicom.ingestion.ingest_flags import (
    define_ingest_flags,
    ingest_settings_from_flags,
    worker_limits_from_flags,
)
from files.atomic_file import write_atomic
from pipelines import beam_flags
from pipelines.beam_flags import define_beam_flags
from pipelines.beam_runner import pipeline_arguments

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "directory",
    None,
    "Folder to scan recursively for DICOM files (hidden files and folders are skipped).",
)
define_ingest_flags()
define_beam_flags()
flags.adopt_module_key_flags(ingest_flags)  # --help lists them here
flags.adopt_module_key_flags(beam_flags)
define_progress_flag()
flags.mark_flag_as_required("directory")


def _main() -> int:
    if not os.path.isdir(FLAGS.directory):
        raise NotADirectoryError(f"--directory {FLAGS.directory} is not a directory")
    settings = ingest_settings_from_flags()
    worker_limits = worker_limits_from_flags()
    url = resolve_db_url(FLAGS.db_url)
    catalog = Catalog.open(url, settings.lists)
    beam = None
    if FLAGS.runner == "beam":
        beam = pipeline_arguments(FLAGS.beam_pipeline_options, FLAGS.direct_num_workers)
        how = f"on Beam ({' '.join(beam)})"
    else:
        how = f"with {FLAGS.workers} workers"
    # Under --deidentify no folder name is printed or stored: exports name them after patients.
    shown = "--directory" if FLAGS.deidentify else FLAGS.directory
    print(printable(f"ingesting {shown} into {describe(url)} {how}"), file=sys.stderr)
    try:
        summary = ingest_directory(
            FLAGS.directory,
            catalog,
            settings,
            FLAGS.workers,
            FLAGS.batch_size,
            FLAGS.progress,
            worker_limits,
            beam_arguments=beam,
            beam_temp_location=FLAGS.beam_temp_location,
        )
    finally:
        catalog.dispose()
    for kind, count in summary.reject_counts():
        example = next(r for r in summary.rejects if r.kind == kind)
        print(printable(f"  rejected {kind} x{count}, e.g. {example.path}: {example.reason}"),
              file=sys.stderr)
    for kind, count in summary.warning_kinds():
        where = "--report" if FLAGS.report else "--report FILE"
        print(printable(f"  {count} file{'s' if count > 1 else ''}: {kind} (each in {where}, "
                        "and with --verbosity=1)"), file=sys.stderr)
    print(printable(summary.line()))
    if FLAGS.report:
        report = {
            "directory": None if FLAGS.deidentify else os.path.abspath(FLAGS.directory),
            "database": describe(url),
            **summary.to_json(),
        }
        write_atomic(FLAGS.report, json.dumps(report, indent=2).encode("utf-8"))
    return 0


def main(argv: list[str]) -> int:
    """Ingests --directory into the catalog; returns 0, or 1 with one line saying what went wrong.
    """
    require_no_arguments(argv)
    return run_cli(_main, "Committed batches are kept; re-run the same command to finish.",
                   describe_database_error)


if __name__ == "__main__":
    app.run(main)
