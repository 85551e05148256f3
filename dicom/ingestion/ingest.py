"""Ingest a directory tree of DICOM files into the catalog: parallel, batched, idempotent.

The walk is cut into tasks of whole files. Each worker process does the
per-file work (`dicom.ingestion.file_processing`) and commits what it decoded itself
(`dicom.ingestion.ingest_workers`, `dicom.ingestion.ingest_commit`), one transaction per task (or
per 64 MiB of images), so image bytes never travel through the parent, which
only counts what came back and draws the progress bar. A job killed at any
moment leaves only complete files behind (workers die with the parent) and a
re-run finishes the rest.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import math
import os
import queue
import re
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from dicom.ingestion.catalog import Catalog, RejectRow
from dicom.ingestion.deidentification_record import require_same_deidentification
from dicom.ingestion.file_processing import (
    CONFLICT,
    NEW,
    PRESENT,
    REJECTED,
    FileOutcome,
    FileProcessor,
    IngestSettings,
)
from dicom.ingestion.ingest_commit import commit_outcomes
from dicom.ingestion.ingest_workers import (
    WorkerLimits,
    decoded_groups,
    run_in_workers,
)
from dicom.ingestion.uid_repeats import KEPT_RULE, Repeat, Settled, settle_repeats
from dicom.ingestion.window_record import require_same_window
from dicom.metadata.body_part import UNKNOWN

log = logging.getLogger(__name__)
_QUOTED = re.compile(r"\s*(\'[^\']*\'|\"[^\"]*\")")
_NUMBER = re.compile(r"\d+")


def warning_kind(message: str) -> str:
    """A per-file warning without the values it quotes or counts."""
    return _NUMBER.sub("N", _QUOTED.sub("", message)).strip()
# Tasks per worker at least, so that the last tasks balance the workers.
_TASKS_PER_WORKER = 4


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

    repeats: list[Repeat] = field(default_factory=list)
    """Files whose UID another file of this run was stored under, to be settled."""
    defer_repeats: bool = False
    """A folder's ingest settles repeats once all is committed (uid_repeats); a stream's
    (pull, receive) counts them as they come: its spool files are gone by then."""

    def add(self, outcome: FileOutcome) -> None:
        """Count one committed outcome; log its conflict and warnings."""
        self.files += 1
        if outcome.repeat_of and self.defer_repeats:
            self.repeats.append(Repeat(outcome.path, outcome.sop_uid or "",
                                       outcome.sha256 or ""))
            self._warnings_of(outcome)
            return
        if outcome.status == REJECTED:
            assert outcome.reject is not None
            self.rejects.append(outcome.reject)
        elif outcome.status == PRESENT:
            self.present += 1
        elif outcome.status == CONFLICT:
            self.conflicts.append(
                {
                    "path": outcome.path,
                    "sop_uid": outcome.sop_uid or "",
                    "stored_sha256": outcome.stored_sha256 or "",
                    "file_sha256": outcome.sha256 or "",
                    "action": outcome.conflict_action,
                }
            )
            if not self.defer_repeats:  # a folder's ingest logs them, sorted, at its end
                log.warning("%s: SOP Instance UID %s already stored with other content; %s",
                            outcome.path, outcome.sop_uid, outcome.conflict_action)
        else:
            assert outcome.status == NEW
            self.ingested += 1
            self.rows += outcome.row_count
            self.replaced += int(outcome.replaces)
            self.body_parts[outcome.body_part or UNKNOWN] += outcome.row_count
            if outcome.body_part == UNKNOWN:
                self.unknown_body_part.append(outcome.path)
        self._warnings_of(outcome)

    def apply(self, settled: Settled) -> None:
        """Count the settled repeats: per UID, the kept file is the ingested one, the
        others already present (same bytes) or conflicts naming the kept path."""
        for uid, (kept, kept_sha) in settled.kept.items():
            for other in settled.others[uid]:
                if other.sha256 == kept_sha:
                    self.present += 1
                    continue
                self.conflicts.append({
                    "path": other.path, "sop_uid": uid, "stored_sha256": kept_sha,
                    "file_sha256": other.sha256,
                    "action": f"same SOP Instance UID as {kept} with other content in this "
                              f"run; {KEPT_RULE}"})
        for counted, kept, unknown in settled.swapped:  # the file counted was another
            was_unknown = counted in self.unknown_body_part
            if was_unknown:
                self.unknown_body_part.remove(counted)
            if unknown or (unknown is None and was_unknown):
                self.unknown_body_part.append(kept)
        self.unknown_body_part.sort()
        self.rows += settled.rows_delta
        self.body_parts.update(settled.body_parts_delta)
        self.body_parts = +self.body_parts  # drop the parts that fell to zero
        self.conflicts.sort(key=lambda c: (c["path"], c["sop_uid"]))
        self.repeats = []

    def log_conflicts(self) -> None:
        """A line per conflict, in path order (the same whatever the engine)."""
        for conflict in self.conflicts:
            log.warning("%s: SOP Instance UID %s already stored with other content; %s",
                        conflict["path"], conflict["sop_uid"], conflict["action"])

    def _warnings_of(self, outcome: FileOutcome) -> None:
        for message in outcome.warnings:
            self.warnings.append({"path": outcome.path, "message": message})
            log.debug("%s: %s", outcome.path, message)  # --verbosity=1; always in the report

    def reject_counts(self) -> list[tuple[str, int]]:
        """(kind, count) of the rejected files, the most frequent kind first."""
        return collections.Counter(r.kind for r in self.rejects).most_common()

    def warning_kinds(self) -> list[tuple[str, int]]:
        """Per-file warnings by kind, commonest first: (kind, files). A kind is the message
        without its values ("AcquisitionNumber is not an integer; stored NULL"), so an
        archive's thousands of warnings read as a few lines, and no value is echoed."""
        files: dict[str, set[str]] = collections.defaultdict(set)
        for warning in self.warnings:
            files[warning_kind(warning["message"])].add(warning["path"])
        return sorted(((kind, len(paths)) for kind, paths in files.items()),
                      key=lambda item: (-item[1], item[0]))

    def line(self) -> str:
        """The ingest's outcome as one console line, with rejects counted by kind."""
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
        """The ingest's report as JSON-ready values: counts, rejects and warnings by kind."""
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
    """Every non-folder below `directory`, sorted, skipping hidden files and folders.

    FIFOs, devices and sockets are listed too: the per-file work reports them as
    rejects without opening them.
    """
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.join(root, name)


def task_size(files: int, workers: int, batch_files: int) -> int:
    """Files per task (and transaction): at most `batch_files`, small enough to balance."""
    return max(1, min(batch_files, math.ceil(files / (workers * _TASKS_PER_WORKER))))


def ingest_directory(
    directory: str,
    catalog: Catalog,
    settings: IngestSettings | None = None,
    workers: int | None = None,
    batch_files: int = 64,
    progress: bool = True,
    worker_limits: WorkerLimits | None = None,
    beam_arguments: list[str] | None = None,
    beam_temp_location: str | None = None,
) -> IngestSummary:
    """Ingest every file below `directory`; returns what happened to each.

    `workers=0` works in this process: no memory cap, no recovery from a crash
    (for tests and the benchmark's bare work); 1 or more use worker processes.
    With `beam_arguments` (pipelines.beam_runner.pipeline_arguments) the same work runs
    as an Apache Beam pipeline instead (dicom.ingestion.beam_ingest).
    """
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"--directory {directory} is not a directory")
    settings = settings or IngestSettings()
    settings = _prepared(settings, catalog, directory)
    paths = list(iter_files(directory))
    known = catalog.stored_fingerprints()
    workers = max(0, workers if workers is not None else (os.cpu_count() or 1))
    size = task_size(len(paths), max(1, workers), max(1, batch_files))
    tasks = [paths[i : i + size] for i in range(0, len(paths), size)]
    summary = IngestSummary(defer_repeats=True)
    with _progress_bar(len(paths), progress) as bar:
        if beam_arguments is not None and tasks:
            from dicom.ingestion.beam_ingest import ingest_tasks_on_beam

            done = ingest_tasks_on_beam(tasks, catalog, settings, known, beam_arguments,
                                        beam_temp_location)
            results: Generator[list[FileOutcome], None, None] = (o for o in done)
        elif workers == 0 or not tasks:
            results = _run_here(tasks, FileProcessor(settings, known), catalog)
        else:
            results = run_in_workers(
                tasks,
                settings,
                known,
                catalog.url,
                catalog.lists,
                min(workers, len(tasks)),
                worker_limits,
                record=lambda outcomes: commit_outcomes(catalog, outcomes),
            )
        with contextlib.closing(results):  # on any error, stop the workers now
            for outcomes in results:
                for outcome in outcomes:
                    summary.add(outcome)
                bar.update(len(outcomes))
    if summary.repeats:
        processor = FileProcessor(settings, {})  # the kept file, processed as new
        wanted = {r.path for r in summary.repeats}
        real_paths = {}  # a kept file other than the stored one is always a repeat
        for path in paths:
            shown = processor.stored_path(path)
            if shown in wanted:
                real_paths[shown] = path
        summary.apply(settle_repeats(catalog, summary.repeats, processor, real_paths))
    summary.log_conflicts()
    return summary


def _prepared(settings: IngestSettings, catalog: Catalog, root: str) -> IngestSettings:
    """The settings every worker gets: the server's packet limit (moot with a pixel store,
    whose PNGs never travel through SQL) and the root that stored paths are relative to."""
    require_same_deidentification(catalog, settings)
    require_same_window(catalog, settings.intensity_window)
    if settings.image_store:
        catalog.require_store_schema()
        from dicom.ingestion.pixel_store import PixelStore

        PixelStore(settings.image_store).check_writable()
        packet = None
    else:
        packet = catalog.max_packet_bytes()
    return dataclasses.replace(settings, max_packet_bytes=packet, root=os.path.abspath(root))


def ingest_stream(
    incoming: queue.Queue,
    root: str,
    catalog: Catalog,
    settings: IngestSettings,
    workers: int,
    worker_limits: WorkerLimits | None = None,
    on_outcomes: Callable[[list[FileOutcome]], None] | None = None,
    started: threading.Event | None = None,
) -> IngestSummary:
    """Ingest the tasks (lists of paths below `root`) put on `incoming` until None arrives,
    with the same per-file work, workers and commits as a folder; `on_outcomes` sees each
    committed group (a pull or a receiver clears its spool with it); `started` is set once
    the worker processes exist (fork them before the caller starts threads)."""
    settings = _prepared(settings, catalog, root)
    summary = IngestSummary()
    results = run_in_workers(
        [], settings, catalog.stored_fingerprints(), catalog.url, catalog.lists,
        max(1, workers), worker_limits, record=lambda outcomes: commit_outcomes(catalog, outcomes),
        incoming=incoming,
    )
    if started is not None:  # the workers are forked: threads may start now
        started.set()
    with contextlib.closing(results):
        for outcomes in results:
            for outcome in outcomes:
                summary.add(outcome)
            if on_outcomes is not None:
                on_outcomes(outcomes)
    return summary


def _progress_bar(total: int | None, progress: bool) -> tqdm:
    return tqdm(total=total, unit="file", desc="ingest", disable=not progress, file=sys.stderr,
                dynamic_ncols=True)


def _run_here(
    tasks: list[list[str]], processor: FileProcessor, catalog: Catalog
) -> Generator[list[FileOutcome], None, None]:
    """One worker: decode and commit in this process, group by group."""
    for task in tasks:
        for group in decoded_groups(task, processor):
            yield commit_outcomes(catalog, group)
