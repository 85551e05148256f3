"""The per-file work of ingestion: read, hash, parse, decode, PNG-encode, cleanse.

A `FileProcessor` holds only picklable state, so the same object runs in the
parent (one worker) or in every worker process, and the benchmark measures it
alone as the single-core limit. Files already stored (same UID, same SHA-256)
are recognised from the header and never decoded again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydicom import config
from pydicom.dataset import Dataset

from dicom.decoding import reading
from dicom.decoding.display import display_frames, frame_count
from dicom.decoding.fingerprint import instance_sha256
from dicom.decoding.intensity_window import IntensityWindow, WindowNotApplicable
from dicom.decoding.limits import ReadLimits, check_image, read_file, read_within
from dicom.ingestion.catalog import RejectRow, string_widths
from dicom.metadata.body_part import DESCRIPTION_FIELDS, BodyPartMapper
from dicom.metadata.burned_in import BURNED_IN_TEXT, burned_in_reason, redact_text
from dicom.metadata.cleansing import (
    AttributeLists,
    attribute_text,
    cleanse_attributes,
    cleanse_string,
)
from dicom.metadata.deidentify import Deidentifier, DeidOptions, path_pseudonym
from files.png_codec import DEFAULT_COMPRESS_LEVEL, encode_png
from files.safe_names import path_text

OVERWRITE_NEVER = "never"
OVERWRITE_IF_CHANGED = "if_changed"
OVERWRITE_CHOICES = (OVERWRITE_NEVER, OVERWRITE_IF_CHANGED)

NEW, PRESENT, CONFLICT, REJECTED = "new", "present", "conflict", "rejected"
_ROW_OVERHEAD_BYTES = 8192  # the other columns of one row and protocol headers


@dataclass(frozen=True)
class IngestSettings:
    lists: AttributeLists = field(default_factory=AttributeLists)
    body_part_map: Mapping[str, str] = field(default_factory=dict)
    deid_key: bytes | None = None
    """Set: --deidentify, with `deid_options` (PS3.15 edition, options, --burned_in)."""
    deid_options: DeidOptions = field(default_factory=DeidOptions)
    overwrite: str = OVERWRITE_NEVER
    max_packet_bytes: int | None = None
    compress_level: int = DEFAULT_COMPRESS_LEVEL
    root: str = "."
    limits: ReadLimits = field(default_factory=ReadLimits)
    image_store: str | None = None
    """A pixel store URL (dicom.ingestion.pixel_store): PNGs go there, rows keep URI and
    digest; None keeps them in the catalog."""
    intensity_window: IntensityWindow | None = None
    """--window: every image displayed through this CT window (Hounsfield units); an image
    without Hounsfield units is rejected (no-hounsfield)."""
    source_prefix: str | None = None
    """Files from a network source (a pull, a receiver) are named in the catalog as this
    prefix plus their name in the spool, e.g. `dicomweb://pacs:8042/dicom-web/<SOP UID>.dcm`,
    since the spool copy is gone once ingested."""

    def __post_init__(self) -> None:
        if self.overwrite not in OVERWRITE_CHOICES:
            raise ValueError(
                f"overwrite must be one of {OVERWRITE_CHOICES}, not {self.overwrite!r}"
            )


@dataclass
class FileOutcome:
    """What became of one file; `rows` is emptied once committed (`row_count` stays)."""

    path: str
    status: str
    sop_uid: str | None = None
    sha256: str | None = None
    stored_sha256: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_count: int = 0
    reject: RejectRow | None = None
    warnings: list[str] = field(default_factory=list)
    replaces: bool = False
    body_part: str | None = None
    conflict_action: str = ""
    repeat_of: str = ""
    """Another file of this run stored under the same UID: its path (uid_repeats)."""

    @property
    def nbytes(self) -> int:
        """The PNG bytes the batch holds in memory."""
        return sum(len(r["image"] or b"") for r in self.rows)


class FileProcessor:
    """The per-file work; picklable state only, so it runs in any worker."""

    def __init__(self, settings: IngestSettings, known: Mapping[str, str]) -> None:
        # Real-world files break VR rules constantly; cleansing handles the values,
        # so pydicom's per-value validation would only cost time and flood the log.
        config.settings.reading_validation_mode = config.IGNORE
        # pydicom logs each decoder it tries and fails with a traceback; the reject (or the
        # file's warnings) says what happened to the file, once.
        logging.getLogger("pydicom").setLevel(logging.CRITICAL)
        self.settings = settings
        self.known = known
        self.mapper = BodyPartMapper(settings.body_part_map)
        self.deidentifier = (Deidentifier(settings.deid_key, settings.deid_options)
                             if settings.deid_key else None)
        self.widths = string_widths(settings.lists)
        self.store = None
        if settings.image_store:
            from dicom.ingestion.pixel_store import PixelStore

            self.store = PixelStore(settings.image_store)

    def stored_path(self, path: str) -> str:
        """The path as the catalog keeps it (relative, prefixed, or a pseudonym under de-
        identification)."""
        return stored_path(self.settings, path)

    def __call__(self, path: str) -> FileOutcome:
        shown = self.stored_path(path)
        try:
            return self._process(path, shown)
        except reading.RejectedFile as exc:
            return FileOutcome(shown, REJECTED, reject=RejectRow(shown, exc.kind, exc.reason))
        except WindowNotApplicable as exc:
            reason = str(exc).removeprefix(f"{shown}: ")
            return FileOutcome(shown, REJECTED,
                               reject=RejectRow(shown, reading.NO_HOUNSFIELD, reason))
        except MemoryError:
            reason = "ran out of memory while decoding (worker memory cap --worker_memory_mb)"
            return FileOutcome(shown, REJECTED, reject=RejectRow(shown, reading.TOO_LARGE, reason))
        except Exception as exc:  # never let one file kill the batch
            detail = str(exc).splitlines()[0][:200] if str(exc) else ""
            reason = f"unexpected {type(exc).__name__}: {detail}"
            return FileOutcome(
                shown, REJECTED, reject=RejectRow(shown, reading.INVALID_IMAGE, reason)
            )

    def _process(self, path: str, shown: str) -> FileOutcome:
        limits = self.settings.limits
        data = read_file(path, limits)
        sha256 = instance_sha256(data)
        notes: list[str] = []
        ds = read_within(data, limits, notes)
        del data
        source_uid = str(ds.SOPInstanceUID).replace("\x00", "").strip()
        uid = self.deidentifier.stored_uid(source_uid) if self.deidentifier else source_uid
        stored = self.known.get(uid)
        if stored == sha256:
            return FileOutcome(shown, PRESENT, sop_uid=uid, sha256=sha256)
        if stored is not None and self.settings.overwrite == OVERWRITE_NEVER:
            return FileOutcome(
                shown,
                CONFLICT,
                sop_uid=uid,
                sha256=sha256,
                stored_sha256=stored,
                conflict_action="stored copy kept (--overwrite never)",
            )
        check_image(ds, limits)
        frames = frame_count(ds)
        burned_in = self._burned_in_policy(ds)

        raw_body_part = attribute_text(ds, "BodyPartExamined")
        body = self.mapper.resolve(
            raw_body_part, {k: attribute_text(ds, k) for k in DESCRIPTION_FIELDS}
        )
        accession = (attribute_text(ds, "AccessionNumber") or "").strip()
        patient_key: str | None
        institution = attribute_text(ds, "InstitutionName") or ""
        if self.deidentifier:
            site = self.deidentifier.site_key(institution)
            patient_key = self.deidentifier.patient_key(ds)
            accession = self.deidentifier.accession_key(accession) if accession else ""
            self.deidentifier.apply(ds, pixels_cleaned=burned_in == "redact")
        else:
            site = cleanse_string(institution) or ""
            patient_key = cleanse_string(attribute_text(ds, "PatientID"))
            accession = cleanse_string(accession) or ""
        cleansed = cleanse_attributes(ds, self.settings.lists)
        common = {
            "body_part": body.canonical,
            "BodyPartExamined": (raw_body_part or "").strip() or None,
            "body_part_source": body.source,
            "frame_count": frames,
            "Modality": cleanse_string(attribute_text(ds, "Modality")),
            "SOPInstanceUID": uid,
            "SOPClassUID": _uid_or_none(ds.get("SOPClassUID")),
            "StudyInstanceUID": _uid_or_none(ds.get("StudyInstanceUID")),
            "SeriesInstanceUID": _uid_or_none(ds.get("SeriesInstanceUID")),
            "patient_key": patient_key,
            "site": site[:64] or None,
            "source_path": shown,
            "source_sha256": sha256,
            "burned_in": None,
            **cleansed.values,
            "AccessionNumber": accession or None,  # a core column, whatever the lists say
        }
        warnings = notes + cleansed.warnings + fit_to_widths(common, self.widths)
        rows = []
        regions = 0
        frames_shown = display_frames(ds, release=True,
                                      intensity_window=self.settings.intensity_window,
                                      source=shown)
        for index, image in enumerate(frames_shown):
            if burned_in == "redact":
                image, boxes = redact_text(image)
                regions += len(boxes)
            png = encode_png(image, self.settings.compress_level)
            if self.store is None:
                self._check_packet(png)
                stored_image: dict[str, Any] = {"image": png}
            else:  # the blob is in place before its row is committed
                uri, digest = self.store.put(png)
                stored_image = {"image": None, "image_uri": uri, "image_sha256": digest}
            rows.append(
                {
                    **common,
                    "ID": uid if frames == 1 else f"{uid}-f{index + 1}",
                    "frame": index + 1,
                    **stored_image,
                    "channels": 1 if image.ndim == 2 else 3,
                    "bit_depth": image.dtype.itemsize * 8,
                    "Rows": int(image.shape[0]),
                    "Columns": int(image.shape[1]),
                }
            )
        if burned_in is not None:
            record = (f"redacted {regions} text regions (OCR)" if burned_in == "redact"
                      else "kept (--burned_in keep)")
            for row in rows:
                row["burned_in"] = record
        return FileOutcome(
            shown,
            NEW,
            sop_uid=uid,
            sha256=sha256,
            stored_sha256=stored,
            rows=rows,
            row_count=len(rows),
            warnings=warnings,
            replaces=stored is not None,
            body_part=body.canonical,
        )

    def _burned_in_policy(self, ds: Dataset) -> str | None:
        """Under --deidentify, what --burned_in does with an image that may carry burned-in
        text: None (not suspect, or not de-identifying), 'redact' or 'keep'; rejects it
        under 'reject'."""
        if self.deidentifier is None:
            return None
        reason = burned_in_reason(ds)
        if reason is None:
            return None
        policy = self.settings.deid_options.burned_in
        if policy == "reject":
            raise reading.RejectedFile(
                BURNED_IN_TEXT, f"{reason}; not ingested under --deidentify "
                "(--burned_in redact blacks out text OCR finds, keep stores it as it is)")
        return policy

    def _check_packet(self, png: bytes) -> None:
        limit = self.settings.max_packet_bytes
        if limit is None:
            return
        # Rows travel as prepared statements (binary protocol): the PNG is sent as is.
        if len(png) + _ROW_OVERHEAD_BYTES > limit:
            raise reading.RejectedFile(
                reading.TOO_LARGE,
                f"image of {len(png)} bytes exceeds the MySQL server's max_allowed_packet "
                f"({limit} bytes); raise max_allowed_packet to store it",
            )


def stored_path(settings: IngestSettings, path: str) -> str:
    """How the catalog names `path`: absolute, or under --deidentify the keyed pseudonym of
    its path below the root (`PATH-...`); bytes that are not UTF-8 as `\\xNN`."""
    if settings.source_prefix is not None:
        return path_text(f"{settings.source_prefix}/{os.path.relpath(path, settings.root)}")
    if settings.deid_key:  # no name of a folder or file: they often name the patient
        relative = os.path.relpath(path, settings.root)
        return path_pseudonym(settings.deid_key, path_text(relative))
    return path_text(os.path.abspath(path))


def fit_to_widths(values: dict[str, Any], widths: Mapping[str, int]) -> list[str]:
    """Cut strings to their column widths in place; one warning per value cut.

    Text that some backend refuses is made storable on all of them: lone surrogates
    (no UTF-8 column takes them) are written as escapes, and NUL characters (PostgreSQL
    refuses them in text) are dropped, with a warning.
    """
    warnings = []
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            value = values[name] = value.replace("\x00", "")
            warnings.append(f"{name} held NUL characters; stored without them")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = values[name] = value.encode("utf-8", "backslashreplace").decode("utf-8")
        width = widths.get(name)
        if width is not None and len(value) > width:
            values[name] = value[:width]
            warnings.append(f"{name} cut from {len(value)} to its column's {width} characters")
    return warnings


def _uid_or_none(value: object) -> str | None:
    text = str(value or "").replace("\x00", "").strip()
    return text or None
