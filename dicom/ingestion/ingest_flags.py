"""The options every ingest command shares (create_database, pull, receive): one table,
`IngestOptions`, whose fields give each flag its name, default and help once, and the
settings the options make."""

from __future__ import annotations

import dataclasses
import os

from absl import flags

from console.options import define_option_flags, option, settings_from_flags
from dicom.decoding.intensity_window import parse_window
from dicom.decoding.limits import ReadLimits
from dicom.ingestion.catalog_flags import DB_URL_HELP
from dicom.ingestion.file_processing import OVERWRITE_CHOICES, IngestSettings
from dicom.ingestion.ingest_workers import WorkerLimits
from dicom.metadata.body_part import load_body_part_map
from dicom.metadata.burned_in import check_ocr_available
from dicom.metadata.cleansing import (
    DEFAULT_INT_ATTRIBUTES,
    DEFAULT_STRING_ATTRIBUTES,
    AttributeLists,
    parse_keyword_list,
)
from dicom.metadata.deid_profile import DEFAULT_EDITION, DEFAULT_OPTIONS, EDITIONS, USER_OPTIONS
from dicom.metadata.deidentify import (
    BURNED_IN_CHOICES,
    KEY_ENVIRONMENT_VARIABLE,
    DeidLists,
    DeidOptions,
    load_key,
)

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()

_LIMITS = ReadLimits()
_WORKER_LIMITS = WorkerLimits()


@dataclasses.dataclass(frozen=True)
class IngestOptions:
    """What an ingesting command's shared flags say, each option spelled once here."""

    db_url: str | None = option(None, DB_URL_HELP)
    image_store: str | None = option(
        None,
        "Keep the PNGs outside the database, in this pixel store: a folder, or any URL "
        "fsspec opens (s3://, gs://, ...). Each PNG is written once, content-addressed "
        "(ab/cd/<sha256>.png), before its row; the row keeps image_uri and image_sha256, and "
        "every reader checks the digest. `python -m dicom.verify_store` checks a store. "
        "Unset: PNGs in the catalog's image column.",
    )
    workers: int = option(
        os.cpu_count() or 1,
        "Worker processes; each decodes files and commits them on its own connection.",
        lower_bound=1,
    )
    batch_size: int = option(
        64,
        "Files per task and database transaction (smaller on small runs, so workers balance).",
        lower_bound=1,
    )
    deidentify: bool = option(
        False,
        "De-identify to DICOM PS3.15's Basic Application Level Confidentiality Profile "
        "(every attribute of Table E.1-1, inside sequences too; private attributes, "
        "overlays and curves removed), with keyed pseudonyms for patients, accession "
        "numbers, UIDs and file paths; catalog columns are taken afterwards. See "
        "docs/deidentification.md.",
    )
    deid_options: tuple[str, ...] = option(
        tuple(DEFAULT_OPTIONS),
        "PS3.15 options under --deidentify, comma-separated (empty: the Basic Profile "
        f"alone): {', '.join(USER_OPTIONS)}. The catalog records them.",
    )
    deid_profile_edition: str = option(
        DEFAULT_EDITION,
        "Edition of PS3.15 Table E.1-1 applied under --deidentify (from the "
        "dicom-anonymizer package's copy of the standard's table).",
        choices=sorted(EDITIONS),
    )
    deid_descriptor_allow: str | None = option(
        None,
        "With --deid_options clean_descriptors: a text file of descriptions (one a line, "
        "case and spacing ignored) kept as they are; every other description is removed.",
    )
    deid_safe_private: str | None = option(
        None,
        "With --deid_options retain_safe_private: a JSON list of the private attributes "
        'kept, e.g. [{"group": "0029", "creator": "SIEMENS CSA HEADER", "elements": '
        '["08", "09"]}] (your copy of PS3.15 Table E.3.10-1, or a vetted subset); every other '
        "private attribute is removed.",
    )
    burned_in: str = option(
        "reject",
        "Under --deidentify, an image that may carry text in its pixels (BurnedInAnnotation "
        "YES, or US, SC, OT, XC, document scans): 'reject' records it as a reject; "
        "'redact' blacks out the text Tesseract OCR finds (needs tesseract-ocr); 'keep' "
        "stores it as it is. The row records what was done.",
        choices=BURNED_IN_CHOICES,
    )
    deid_key: str | None = option(
        None,
        f"Secret for --deidentify pseudonyms (prefer "
        f"${KEY_ENVIRONMENT_VARIABLE}; a flag shows up in `ps`). Keep it: the "
        "same key gives the same pseudonyms across runs.",
    )
    overwrite: str = option(
        "never",
        "When a file's SOP Instance UID "
        "is stored with a different SHA-256: 'never' keeps the stored copy and "
        "reports the file; 'if_changed' replaces it.",
        choices=OVERWRITE_CHOICES,
    )
    window: str | None = option(
        None,
        "Display every image through this CT window, in Hounsfield units after the rescale, "
        "instead of its own VOI window: a preset (lung, mediastinum, bone, brain) or "
        "center,width. An image without Hounsfield units (not CT, no RescaleType HU) is "
        "rejected as no-hounsfield. Recorded in the catalog (one window a catalog) and "
        "handed on by fetch_image (docs/experiments.md).",
    )
    report: str | None = option(
        None,
        "Write the summary, every reject (path, reason), conflicts and warnings as JSON to "
        "this file.",
    )
    int_attributes: tuple[str, ...] = option(
        tuple(DEFAULT_INT_ATTRIBUTES),
        "DICOM keywords kept as integer columns (junk values become NULL with a warning).",
    )
    string_attributes: tuple[str, ...] = option(
        tuple(DEFAULT_STRING_ATTRIBUTES),
        "DICOM keywords kept as cleansed string columns (stripped, upper case, empty -> NULL).",
    )
    body_part_map: str | None = option(
        None,
        "JSON file of extra BodyPartExamined spellings "
        'to canonical terms, e.g. {"Brustkorb": "CHEST"}.'
    )
    max_file_mb: int = option(
        _LIMITS.max_file_mb,
        "Files larger than this are rejected as too-large without being read.",
        lower_bound=1,
    )
    max_frame_mb: int = option(
        _LIMITS.max_frame_mb,
        "Largest decoded frame (Rows x Columns x samples x bytes), checked from the header "
        "before decoding.",
        lower_bound=1,
    )
    max_decoded_mb: int = option(
        _LIMITS.max_decoded_mb,
        "Largest decoded image of one file, all frames together, checked from the header; a "
        "deflated dataset may inflate to this plus 64 MiB, and stops there.",
        lower_bound=1,
    )
    max_frames: int = option(
        _LIMITS.max_frames,
        "Most frames one file may hold (NumberOfFrames), checked from the header.",
        lower_bound=1,
    )
    worker_memory_mb: int = option(
        _WORKER_LIMITS.memory_mb,
        "Memory each worker process may allocate beyond what it starts with (RLIMIT_DATA "
        "over its size when forked); a file that exhausts it is rejected as too-large, a "
        "worker killed anyway costs its one file. 0: no cap.",
        lower_bound=0,
    )
    file_timeout_s: float = option(
        _WORKER_LIMITS.file_timeout_s,
        "A file that takes longer is rejected as timed-out and its worker replaced. 0: no limit.",
        lower_bound=0,
    )

    def attribute_lists(self) -> AttributeLists:
        """The integer and string attributes the catalog is asked to keep."""
        return AttributeLists(parse_keyword_list(list(self.int_attributes)),
                              parse_keyword_list(list(self.string_attributes)))

    def deid(self) -> DeidOptions:
        """The PS3.15 edition, options and --burned_in policy; ValueError in one line."""
        lists = DeidLists.load(self.deid_descriptor_allow, self.deid_safe_private)
        options = DeidOptions(
            edition=self.deid_profile_edition,
            options=tuple(self.deid_options),
            descriptor_allow=lists.descriptors,
            burned_in=self.burned_in,
            safe_private=lists.safe_private,
        )
        if self.deidentify and options.burned_in == "redact":
            check_ocr_available()
        return options

    def settings(self) -> IngestSettings:
        """The ingest settings the options ask for; a wrong value is a one-line ValueError."""
        return IngestSettings(
            lists=self.attribute_lists(),
            body_part_map=load_body_part_map(self.body_part_map) if self.body_part_map else {},
            deid_key=load_key(self.deid_key) if self.deidentify else None,
            deid_options=self.deid(),
            overwrite=self.overwrite,
            image_store=self.image_store or None,
            intensity_window=parse_window(self.window),
            limits=ReadLimits(self.max_file_mb, self.max_frame_mb, self.max_decoded_mb,
                              self.max_frames),
        )

    def worker_limits(self) -> WorkerLimits:
        """The per-file memory and time limits."""
        return WorkerLimits(self.worker_memory_mb, self.file_timeout_s)


def define_ingest_flags() -> None:
    """Defines the flags every ingesting command shares (catalog URL, attributes, workers,
    limits, de-identification): one per `IngestOptions` field."""
    define_option_flags(IngestOptions)


def ingest_options_from_flags() -> IngestOptions:
    """The shared options as the command line gave them."""
    return settings_from_flags(IngestOptions)


def ingest_settings_from_flags() -> IngestSettings:
    """The ingest settings the flags ask for; a wrong value is a one-line ValueError."""
    return ingest_options_from_flags().settings()


def worker_limits_from_flags() -> WorkerLimits:
    """The per-file memory and time limits the flags set."""
    return ingest_options_from_flags().worker_limits()
