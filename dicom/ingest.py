"""Ingest a directory tree of DICOM files into the catalog: parallel, batched, idempotent.

Worker processes do the per-file work (read, SHA-256, parse, decode, PNG
encode, cleanse); the parent alone writes, one transaction per batch of whole
files, so a job killed at any moment leaves only complete files behind and a
re-run finishes the rest. Files already stored (same UID, same SHA-256) are
recognised from the header alone and never decoded again.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydicom import config
from tqdm import tqdm

from dicom import reading
from dicom.body_part import DESCRIPTION_FIELDS, UNKNOWN, BodyPartMapper
from dicom.catalog import Catalog, RejectRow
from dicom.cleansing import AttributeLists, attribute_text, cleanse_attributes, cleanse_string
from dicom.deidentify import Deidentifier
from dicom.display import display_frames, frame_count
from dicom.png_codec import DEFAULT_COMPRESS_LEVEL, encode_png

log = logging.getLogger(__name__)

OVERWRITE_NEVER = "never"
OVERWRITE_IF_CHANGED = "if_changed"
OVERWRITE_CHOICES = (OVERWRITE_NEVER, OVERWRITE_IF_CHANGED)

NEW, PRESENT, CONFLICT, REJECTED = "new", "present", "conflict", "rejected"
_ROW_OVERHEAD_BYTES = 8192  # the other columns of one row and protocol headers
# Bounds the parent's memory for one pending batch; rows travel as separate
# prepared-statement packets on MySQL, so the batch need not fit one packet.
_MAX_BATCH_BYTES = 64 << 20


@dataclass(frozen=True)
class IngestSettings:
    lists: AttributeLists = field(default_factory=AttributeLists)
    body_part_map: Mapping[str, str] = field(default_factory=dict)
    deid_key: bytes | None = None
    overwrite: str = OVERWRITE_NEVER
    max_packet_bytes: int | None = None
    compress_level: int = DEFAULT_COMPRESS_LEVEL
    root: str = "."

    def __post_init__(self) -> None:
        if self.overwrite not in OVERWRITE_CHOICES:
            raise ValueError(
                f"overwrite must be one of {OVERWRITE_CHOICES}, not {self.overwrite!r}"
            )


@dataclass
class FileOutcome:
    path: str
    status: str
    sop_uid: str | None = None
    sha256: str | None = None
    stored_sha256: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    reject: RejectRow | None = None
    warnings: list[str] = field(default_factory=list)
    replaces: bool = False
    body_part: str | None = None

    @property
    def nbytes(self) -> int:
        return sum(len(r["image"]) for r in self.rows)


class FileProcessor:
    """The per-file work; picklable state only, so it runs in any worker."""

    def __init__(self, settings: IngestSettings, known: Mapping[str, str]) -> None:
        # Real-world files break VR rules constantly; cleansing handles the values,
        # so pydicom's per-value validation would only cost time and flood the log.
        config.settings.reading_validation_mode = config.IGNORE
        self.settings = settings
        self.known = known
        self.mapper = BodyPartMapper(settings.body_part_map)
        self.deidentifier = Deidentifier(settings.deid_key) if settings.deid_key else None

    def stored_path(self, path: str) -> str:
        """Absolute path; relative to the ingest root under --deidentify (no host paths)."""
        if self.deidentifier:
            return os.path.relpath(path, self.settings.root)
        return os.path.abspath(path)

    def __call__(self, path: str) -> FileOutcome:
        shown = self.stored_path(path)
        try:
            return self._process(path, shown)
        except reading.RejectedFile as exc:
            return FileOutcome(shown, REJECTED, reject=RejectRow(shown, exc.kind, exc.reason))
        except MemoryError:
            return FileOutcome(
                shown,
                REJECTED,
                reject=RejectRow(shown, reading.TOO_LARGE, "out of memory while decoding"),
            )
        except Exception as exc:  # never let one file kill the batch
            detail = str(exc).splitlines()[0][:200] if str(exc) else ""
            reason = f"unexpected {type(exc).__name__}: {detail}"
            return FileOutcome(
                shown, REJECTED, reject=RejectRow(shown, reading.INVALID_IMAGE, reason)
            )

    def _process(self, path: str, shown: str) -> FileOutcome:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise reading.RejectedFile(reading.UNREADABLE, f"cannot read: {exc.strerror}") from exc
        sha256 = hashlib.sha256(data).hexdigest()
        ds = reading.read_dicom(data)
        del data
        source_uid = str(ds.SOPInstanceUID).strip()
        uid = self.deidentifier.remap_uid(source_uid) if self.deidentifier else source_uid
        stored = self.known.get(uid)
        if stored == sha256:
            return FileOutcome(shown, PRESENT, sop_uid=uid, sha256=sha256)
        if stored is not None and self.settings.overwrite == OVERWRITE_NEVER:
            return FileOutcome(shown, CONFLICT, sop_uid=uid, sha256=sha256, stored_sha256=stored)
        reading.require_image(ds)

        raw_body_part = attribute_text(ds, "BodyPartExamined")
        body = self.mapper.resolve(
            raw_body_part, {k: attribute_text(ds, k) for k in DESCRIPTION_FIELDS}
        )
        if self.deidentifier:
            patient_key = self.deidentifier.patient_key(ds)
            self.deidentifier.apply(ds)
        else:
            patient_key = cleanse_string(attribute_text(ds, "PatientID"))
        cleansed = cleanse_attributes(ds, self.settings.lists)
        frames = frame_count(ds)
        common = {
            "body_part": body.canonical,
            "BodyPartExamined": (raw_body_part or "").strip()[:64] or None,
            "body_part_source": body.source,
            "frame_count": frames,
            "Modality": cleanse_string(attribute_text(ds, "Modality")),
            "SOPInstanceUID": uid,
            "StudyInstanceUID": _uid_or_none(ds.get("StudyInstanceUID")),
            "SeriesInstanceUID": _uid_or_none(ds.get("SeriesInstanceUID")),
            "patient_key": patient_key,
            "source_path": shown,
            "source_sha256": sha256,
            **cleansed.values,
        }
        rows = []
        for index, image in enumerate(display_frames(ds)):
            png = encode_png(image, self.settings.compress_level)
            self._check_packet(png)
            rows.append(
                {
                    **common,
                    "ID": uid if frames == 1 else f"{uid}-f{index + 1}",
                    "frame": index + 1,
                    "image": png,
                    "channels": 1 if image.ndim == 2 else 3,
                    "bit_depth": image.dtype.itemsize * 8,
                    "Rows": int(image.shape[0]),
                    "Columns": int(image.shape[1]),
                }
            )
        return FileOutcome(
            shown,
            NEW,
            sop_uid=uid,
            sha256=sha256,
            stored_sha256=stored,
            rows=rows,
            warnings=cleansed.warnings,
            replaces=stored is not None,
            body_part=body.canonical,
        )

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


def _uid_or_none(value: object) -> str | None:
    text = str(value or "").strip()
    return text or None


@dataclass
class IngestSummary:
    files: int = 0
    ingested: int = 0
    rows: int = 0
    present: int = 0
    replaced: int = 0
    conflicts: list[dict[str, str]] = field(default_factory=list)
    rejects: list[RejectRow] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    unknown_body_part: list[str] = field(default_factory=list)
    body_parts: collections.Counter[str] = field(default_factory=collections.Counter)

    def reject_counts(self) -> list[tuple[str, int]]:
        return collections.Counter(r.kind for r in self.rejects).most_common()

    def line(self) -> str:
        rejected = f"rejected {len(self.rejects)}"
        if self.rejects:
            rejected += " (" + ", ".join(f"{k} {n}" for k, n in self.reject_counts()) + ")"
        parts = [
            f"ingested {self.ingested} files ({self.rows} rows)",
            f"already present {self.present}",
        ]
        if self.replaced:
            parts.append(f"replaced {self.replaced}")
        if self.conflicts:
            parts.append(f"changed but kept {len(self.conflicts)}")
        parts.append(rejected)
        if self.unknown_body_part:
            parts.append(f"body part UNKNOWN {len(self.unknown_body_part)}")
        if self.warnings:
            parts.append(f"warnings {len(self.warnings)}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": {
                "files_seen": self.files,
                "ingested": self.ingested,
                "rows": self.rows,
                "already_present": self.present,
                "replaced": self.replaced,
                "changed_but_kept": len(self.conflicts),
                "rejected": len(self.rejects),
                "rejected_by_kind": dict(self.reject_counts()),
                "body_parts": dict(self.body_parts.most_common()),
                "unknown_body_part": len(self.unknown_body_part),
                "warnings": len(self.warnings),
                "line": self.line(),
            },
            "rejects": [{"path": r.path, "kind": r.kind, "reason": r.reason} for r in self.rejects],
            "conflicts": self.conflicts,
            "warnings": self.warnings,
            "unknown_body_part": self.unknown_body_part,
        }


def iter_files(directory: str) -> Iterator[str]:
    """Every regular file below `directory`, sorted, skipping hidden files and folders."""
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.join(root, name)


_WORKER: FileProcessor | None = None


def _init_worker(settings: IngestSettings, known: Mapping[str, str]) -> None:
    global _WORKER
    _WORKER = FileProcessor(settings, known)


def _work(path: str) -> FileOutcome:
    assert _WORKER is not None
    return _WORKER(path)


class _BatchWriter:
    """Collects outcomes and commits whole files per transaction."""

    def __init__(self, catalog: Catalog, summary: IngestSummary, max_files: int, max_bytes: int):
        self.catalog, self.summary = catalog, summary
        self.max_files, self.max_bytes = max_files, max_bytes
        self.seen: dict[str, tuple[str, str]] = {}
        self._reset()

    def _reset(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.rejects: list[RejectRow] = []
        self.replaced: list[str] = []
        self.accepted: list[str] = []
        self.pending: list[FileOutcome] = []
        self.files = 0
        self.nbytes = 0

    def add(self, outcome: FileOutcome) -> None:
        summary = self.summary
        summary.files += 1
        if outcome.status == REJECTED:
            assert outcome.reject is not None
            self.rejects.append(outcome.reject)
            self.files += 1
        elif outcome.status == PRESENT:
            summary.present += 1
        elif outcome.status == CONFLICT:
            self._conflict(outcome, "stored copy kept (--overwrite never)")
        else:
            assert outcome.sop_uid is not None and outcome.sha256 is not None
            earlier = self.seen.get(outcome.sop_uid)
            if earlier is not None:
                if earlier[0] == outcome.sha256:
                    summary.present += 1
                else:
                    self._conflict(
                        outcome,
                        f"same SOP Instance UID as {earlier[1]} with other "
                        "content in this run; the first was kept",
                    )
            else:
                self.seen[outcome.sop_uid] = (outcome.sha256, outcome.path)
                self.pending.append(outcome)
                self.rows.extend(outcome.rows)
                self.accepted.append(outcome.path)
                if outcome.replaces:
                    self.replaced.append(outcome.sop_uid)
                self.files += 1
                self.nbytes += outcome.nbytes
        if self.files >= self.max_files or self.nbytes >= self.max_bytes:
            self.flush()

    def _conflict(self, outcome: FileOutcome, action: str) -> None:
        self.summary.conflicts.append(
            {
                "path": outcome.path,
                "sop_uid": outcome.sop_uid or "",
                "stored_sha256": outcome.stored_sha256 or "",
                "file_sha256": outcome.sha256 or "",
                "action": action,
            }
        )
        log.warning(
            "%s: SOP Instance UID %s already stored with other content; %s",
            outcome.path,
            outcome.sop_uid,
            action,
        )

    def flush(self) -> None:
        if self.files == 0:
            return
        self.catalog.write_batch(self.rows, self.rejects, self.replaced, self.accepted)
        summary = self.summary
        for outcome in self.pending:  # counted only once committed
            summary.ingested += 1
            summary.rows += len(outcome.rows)
            summary.replaced += int(outcome.replaces)
            summary.body_parts[outcome.body_part or UNKNOWN] += len(outcome.rows)
            if outcome.body_part == UNKNOWN:
                summary.unknown_body_part.append(outcome.path)
            for message in outcome.warnings:
                summary.warnings.append({"path": outcome.path, "message": message})
                log.warning("%s: %s", outcome.path, message)
        summary.rejects.extend(self.rejects)
        self._reset()


def ingest_directory(
    directory: str,
    catalog: Catalog,
    settings: IngestSettings | None = None,
    workers: int | None = None,
    batch_files: int = 64,
    progress: bool = True,
) -> IngestSummary:
    """Ingest every file below `directory`; returns what happened to each."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"--directory {directory} is not a directory")
    settings = settings or IngestSettings()
    packet = catalog.max_packet_bytes()
    settings = dataclasses.replace(
        settings, max_packet_bytes=packet, root=os.path.abspath(directory)
    )
    paths = list(iter_files(directory))
    known = catalog.stored_fingerprints()
    workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    summary = IngestSummary()
    writer = _BatchWriter(catalog, summary, max(1, batch_files), _MAX_BATCH_BYTES)
    bar = tqdm(
        total=len(paths),
        unit="file",
        desc="ingest",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    with bar:
        if workers == 1 or len(paths) < 2:
            processor = FileProcessor(settings, known)
            outcomes: Iterator[FileOutcome] = (processor(p) for p in paths)
            _drain(outcomes, writer, bar)
        else:
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            context = multiprocessing.get_context(method)
            with context.Pool(
                workers, initializer=_init_worker, initargs=(settings, known)
            ) as pool:
                _drain(pool.imap_unordered(_work, paths, chunksize=4), writer, bar)
        writer.flush()
    return summary


def _drain(outcomes: Iterator[FileOutcome], writer: _BatchWriter, bar: tqdm) -> None:
    for outcome in outcomes:
        writer.add(outcome)
        bar.update(1)
