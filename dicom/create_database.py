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
from dicom.decoding.limits import ReadLimits
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.database_url import (
    DEFAULT_DB_URL,
    describe,
    describe_database_error,
    resolve_db_url,
)
from dicom.ingestion.file_processing import OVERWRITE_CHOICES, IngestSettings
from dicom.ingestion.ingest import ingest_directory
from dicom.ingestion.ingest_workers import WorkerLimits
from dicom.metadata.body_part import load_body_part_map
from dicom.metadata.cleansing import (
    DEFAULT_INT_ATTRIBUTES,
    DEFAULT_STRING_ATTRIBUTES,
    AttributeLists,
    parse_keyword_list,
)
from dicom.metadata.deidentify import KEY_ENVIRONMENT_VARIABLE, load_key
from files.atomic_file import write_atomic

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "directory",
    None,
    "Folder to scan recursively for DICOM files (hidden files and folders are skipped).",
)
flags.DEFINE_string(
    "db_url",
    None,
    "Catalog database URL. Default: $MEDCV_DB_URL, else "
    f"{DEFAULT_DB_URL} in the working directory. MySQL: "
    "mysql+mysqlconnector://user@host/db with the password in "
    "$MEDCV_DB_PASSWORD or a MySQL option file (~/.my.cnf).",
)
flags.DEFINE_integer(
    "workers",
    os.cpu_count() or 1,
    "Worker processes; each decodes files and commits them on its own connection.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "batch_size",
    64,
    "Files per task and database transaction (smaller on small runs, so workers balance).",
    lower_bound=1,
)
flags.DEFINE_bool(
    "deidentify",
    False,
    "Strip PHI (names, IDs, birth date, addresses, "
    "physicians, institution, accession number, dates, descriptions) and "
    "replace patient keys and UIDs with keyed pseudonyms.",
)
flags.DEFINE_string(
    "deid_key",
    None,
    f"Secret for --deidentify pseudonyms (prefer "
    f"${KEY_ENVIRONMENT_VARIABLE}; a flag shows up in `ps`). Keep it: the "
    "same key gives the same pseudonyms across runs.",
)
flags.DEFINE_enum(
    "overwrite",
    "never",
    OVERWRITE_CHOICES,
    "When a file's SOP Instance UID "
    "is stored with a different SHA-256: 'never' keeps the stored copy and "
    "reports the file; 'if_changed' replaces it.",
)
flags.DEFINE_string(
    "report",
    None,
    "Write the summary, every reject (path, reason), conflicts and warnings as JSON to this file.",
)
flags.DEFINE_list(
    "int_attributes",
    list(DEFAULT_INT_ATTRIBUTES),
    "DICOM keywords kept as integer columns (junk values become NULL with a warning).",
)
flags.DEFINE_list(
    "string_attributes",
    list(DEFAULT_STRING_ATTRIBUTES),
    "DICOM keywords kept as cleansed string columns (stripped, upper case, empty -> NULL).",
)
flags.DEFINE_string(
    "body_part_map",
    None,
    "JSON file of extra BodyPartExamined spellings "
    'to canonical terms, e.g. {"Brustkorb": "CHEST"}.',
)
_DEFAULT_LIMITS = ReadLimits()
flags.DEFINE_integer(
    "max_file_mb",
    _DEFAULT_LIMITS.max_file_mb,
    "Files larger than this are rejected as too-large without being read.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "max_frame_mb",
    _DEFAULT_LIMITS.max_frame_mb,
    "Largest decoded frame (Rows x Columns x samples x bytes), checked from the header "
    "before decoding.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "max_decoded_mb",
    _DEFAULT_LIMITS.max_decoded_mb,
    "Largest decoded image of one file, all frames together, checked from the header; a "
    "deflated dataset may inflate to this plus 64 MiB, and stops there.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "max_frames",
    _DEFAULT_LIMITS.max_frames,
    "Most frames one file may hold (NumberOfFrames), checked from the header.",
    lower_bound=1,
)
flags.DEFINE_integer(
    "worker_memory_mb",
    WorkerLimits().memory_mb,
    "Memory cap of each worker process (RLIMIT_DATA); a file that exhausts it is rejected "
    "as too-large, a worker killed anyway costs its one file. 0: no cap.",
    lower_bound=0,
)
flags.DEFINE_float(
    "file_timeout_s",
    WorkerLimits().file_timeout_s,
    "A file that takes longer is rejected as timed-out and its worker replaced. 0: no limit.",
    lower_bound=0,
)
define_progress_flag()
flags.mark_flag_as_required("directory")


def _main() -> int:
    if not os.path.isdir(FLAGS.directory):
        raise NotADirectoryError(f"--directory {FLAGS.directory} is not a directory")
    lists = AttributeLists(
        parse_keyword_list(FLAGS.int_attributes), parse_keyword_list(FLAGS.string_attributes)
    )
    settings = IngestSettings(
        lists=lists,
        body_part_map=load_body_part_map(FLAGS.body_part_map) if FLAGS.body_part_map else {},
        deid_key=load_key(FLAGS.deid_key) if FLAGS.deidentify else None,
        overwrite=FLAGS.overwrite,
        limits=ReadLimits(
            FLAGS.max_file_mb, FLAGS.max_frame_mb, FLAGS.max_decoded_mb, FLAGS.max_frames
        ),
    )
    worker_limits = WorkerLimits(FLAGS.worker_memory_mb, FLAGS.file_timeout_s)
    url = resolve_db_url(FLAGS.db_url)
    catalog = Catalog.open(url, lists)
    print(
        f"ingesting {FLAGS.directory} into {describe(url)} with {FLAGS.workers} workers",
        file=sys.stderr,
    )
    try:
        summary = ingest_directory(
            FLAGS.directory,
            catalog,
            settings,
            FLAGS.workers,
            FLAGS.batch_size,
            FLAGS.progress,
            worker_limits,
        )
    finally:
        catalog.dispose()
    for kind, count in summary.reject_counts():
        example = next(r for r in summary.rejects if r.kind == kind)
        print(printable(f"  rejected {kind} x{count}, e.g. {example.path}: {example.reason}"),
              file=sys.stderr)
    print(printable(summary.line()))
    if FLAGS.report:
        report = {
            "directory": os.path.abspath(FLAGS.directory),
            "database": describe(url),
            **summary.to_json(),
        }
        write_atomic(FLAGS.report, json.dumps(report, indent=2).encode("utf-8"))
    return 0


def main(argv: list[str]) -> int:
    require_no_arguments(argv)
    return run_cli(_main, "Committed batches are kept; re-run the same command to finish.",
                   describe_database_error)


if __name__ == "__main__":
    app.run(main)
