"""The flags every ingest command shares (create_database, pull, receive), defined once,
and the settings they make."""

from __future__ import annotations

import os

from absl import flags

from dicom.decoding.limits import ReadLimits
from dicom.ingestion.database_url import DEFAULT_DB_URL
from dicom.ingestion.file_processing import OVERWRITE_CHOICES, IngestSettings
from dicom.ingestion.ingest_workers import WorkerLimits
from dicom.metadata.body_part import load_body_part_map
from dicom.metadata.cleansing import (
    DEFAULT_INT_ATTRIBUTES,
    DEFAULT_STRING_ATTRIBUTES,
    AttributeLists,
    parse_keyword_list,
)
from dicom.metadata.deidentify import KEY_ENVIRONMENT_VARIABLE, load_key

FLAGS = flags.FLAGS


def define_ingest_flags() -> None:
    flags.DEFINE_string(
        "db_url",
        None,
        "Catalog database URL. Default: $MEDCV_DB_URL, else "
        f"{DEFAULT_DB_URL} in the working directory. MySQL: "
        "mysql+mysqlconnector://user@host/db with the password in "
        "$MEDCV_DB_PASSWORD or a MySQL option file (~/.my.cnf).",
    )
    flags.DEFINE_string(
        "image_store",
        None,
        "Keep the PNGs outside the database, in this pixel store: a folder, or any URL "
        "fsspec opens (s3://, gs://, ...). Each PNG is written once, content-addressed "
        "(ab/cd/<sha256>.png), before its row; the row keeps image_uri and image_sha256, and "
        "every reader checks the digest. `python -m dicom.verify_store` checks a store. "
        "Unset: PNGs in the catalog's image column.",
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
        "Write the summary, every reject (path, reason), conflicts and warnings as JSON to "
        "this file.",
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
        "Memory each worker process may allocate beyond what it starts with (RLIMIT_DATA "
        "over its size when forked); a file that exhausts it is rejected as too-large, a "
        "worker killed anyway costs its one file. 0: no cap.",
        lower_bound=0,
    )
    flags.DEFINE_float(
        "file_timeout_s",
        WorkerLimits().file_timeout_s,
        "A file that takes longer is rejected as timed-out and its worker replaced. 0: no limit.",
        lower_bound=0,
    )


def attribute_lists_from_flags() -> AttributeLists:
    return AttributeLists(
        parse_keyword_list(FLAGS.int_attributes), parse_keyword_list(FLAGS.string_attributes)
    )


def settings_from_flags() -> IngestSettings:
    return IngestSettings(
        lists=attribute_lists_from_flags(),
        body_part_map=load_body_part_map(FLAGS.body_part_map) if FLAGS.body_part_map else {},
        deid_key=load_key(FLAGS.deid_key) if FLAGS.deidentify else None,
        overwrite=FLAGS.overwrite,
        image_store=FLAGS.image_store or None,
        limits=ReadLimits(
            FLAGS.max_file_mb, FLAGS.max_frame_mb, FLAGS.max_decoded_mb, FLAGS.max_frames
        ),
    )


def worker_limits_from_flags() -> WorkerLimits:
    return WorkerLimits(FLAGS.worker_memory_mb, FLAGS.file_timeout_s)
