"""A pull: search the PACS, leave out what the catalog has, retrieve the rest into the
spool with N connections while the ingest workers decode and commit what has arrived.

Retrieval and decoding overlap: each finished instance is handed to the ingest workers
in small tasks, and a spool file is removed only once its row or reject is committed.
The spool holds at most a few tasks per worker ahead of the ingest, so disk and memory
stay bounded however large the query. A killed pull leaves complete spool files (and
only those) behind; the next run ingests them first and retrieves only the rest.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from console.options import option
from dicom.ingestion.catalog import Catalog, RejectRow
from dicom.ingestion.file_processing import REJECTED, FileOutcome, IngestSettings
from dicom.ingestion.ingest import IngestSummary, ingest_stream
from dicom.ingestion.ingest_commit import commit_outcomes
from dicom.ingestion.ingest_workers import WorkerLimits
from dicom.metadata.deidentify import Deidentifier
from dicom.network.instance_filters import InstanceQuery
from dicom.network.pacs_protocols import Source
from dicom.network.remote import PacsError, RemoteInstance
from dicom.network.spool import InstanceTooLarge, Spool

log = logging.getLogger(__name__)
TOO_LARGE = "too-large"


@dataclass
class PullSummary:
    source: str
    matched: int = 0
    in_catalog: int = 0
    rejected_before: int = 0
    resumed: int = 0
    retrieved: int = 0
    not_delivered: list[str] = field(default_factory=list)
    retries: int = 0
    seconds: float = 0.0
    ingest: IngestSummary = field(default_factory=IngestSummary)

    def line(self) -> str:
        """The pull's outcome as one console line."""
        parts = [f"pulled from {self.source}: {self.matched} instances match",
                 f"already in the catalog {self.in_catalog}"]
        if self.rejected_before:
            parts.append(f"rejected before {self.rejected_before}")
        if self.resumed:
            parts.append(f"resumed from the spool {self.resumed}")
        parts.append(f"retrieved {self.retrieved}")
        if self.not_delivered:
            parts.append(f"not delivered {len(self.not_delivered)}")
        if self.retries:
            parts.append(f"retries {self.retries}")
        return f"{', '.join(parts)}; {self.ingest.line()}"

    def to_json(self) -> dict[str, Any]:
        """The ingest report with the pull's counts added under "pull"."""
        report = self.ingest.to_json()
        report["pull"] = {
            "source": self.source, "matched": self.matched,
            "already_in_catalog": self.in_catalog, "rejected_before": self.rejected_before,
            "resumed_from_spool": self.resumed, "retrieved": self.retrieved,
            "not_delivered": self.not_delivered, "retries": self.retries,
            "seconds": round(self.seconds, 3), "line": self.line(),
        }
        return report


@dataclass(frozen=True)
class PullOptions:
    """How a pull runs; `connections` is also `dicom.pull`'s flag, the ingest's workers and
    batch come with the ingest flags."""

    connections: int = option(4, "Retrievals run side by side.", lower_bound=1)
    workers: int = 2
    batch_files: int = 16
    progress: bool = True
    worker_limits: WorkerLimits = field(default_factory=WorkerLimits)


def pull(source: Source, query: InstanceQuery, catalog: Catalog, settings: IngestSettings,
         spool: Spool, options: PullOptions) -> PullSummary:
    """Searches the source, retrieves what the catalog lacks into the spool and ingests it in
    batches. Instances already in the catalog or rejected before are not retrieved again, and
    what the spool holds from a killed run is ingested first, so a re-run finishes the work
    without duplicates."""
    started = time.monotonic()
    prefix = source.describe()
    settings = dataclasses.replace(settings, source_prefix=prefix)
    summary = PullSummary(prefix)
    source.probe()
    found = source.search(query)
    summary.matched = len(found)
    name_for = Spool.namer(settings.deid_key)
    # The catalog holds UIDs as --deidentify stored them (remapped, unless retain_uids).
    deidentifier = (Deidentifier(settings.deid_key, settings.deid_options)
                    if settings.deid_key else None)
    stored = catalog.stored_fingerprints()
    rejected = catalog.rejected_paths(prefix + "/")
    spool.clear_temporary()
    waiting = {os.path.basename(p) for p in spool.waiting()}
    todo: list[RemoteInstance] = []
    for instance in found:
        uid = deidentifier.stored_uid(instance.sop_uid) if deidentifier else instance.sop_uid
        name = name_for(instance.sop_uid)
        if uid in stored:
            summary.in_catalog += 1
        elif f"{prefix}/{name}" in rejected:
            summary.rejected_before += 1
        elif name not in waiting:
            todo.append(instance)
    resumed = sorted(spool.path(n) for n in waiting)
    summary.resumed = len(resumed)
    log.info("%d match, %d in the catalog, %d waiting in the spool, %d to retrieve",
             len(found), summary.in_catalog, len(resumed), len(todo))

    incoming: queue.Queue = queue.Queue()
    # Files retrieved but not yet committed: a few tasks per worker, never the whole query.
    ahead = threading.BoundedSemaphore(max(4 * options.workers * options.batch_files,
                                           2 * options.connections * source.batch_size))
    for start in range(0, len(resumed), options.batch_files):
        incoming.put(resumed[start:start + options.batch_files])
    bar = tqdm(total=len(todo) + len(resumed), unit="instance", desc="pull",
               disable=not options.progress, file=sys.stderr, dynamic_ncols=True)
    ingest_error: list[BaseException] = []
    untracked = len(resumed)  # resumed files took no slot of `ahead`

    def committed(outcomes: list[FileOutcome]) -> None:
        nonlocal untracked
        for outcome in outcomes:
            spool.remove(outcome.path[len(prefix) + 1:])
            if untracked:
                untracked -= 1
            else:
                ahead.release()
        bar.update(len(outcomes))

    def run_ingest() -> None:
        try:
            summary.ingest = ingest_stream(incoming, spool.directory, catalog, settings,
                                           options.workers, options.worker_limits, committed,
                                           workers_started)
        except BaseException as exc:  # the main thread reports it
            ingest_error.append(exc)
            while True:  # unblock the retrieval
                try:
                    ahead.release()
                except ValueError:
                    break

    workers_started = threading.Event()
    ingest_thread = threading.Thread(target=run_ingest, name="pull-ingest", daemon=True)
    ingest_thread.start()
    workers_started.wait(60)  # fork the workers before the retrieval threads start
    failure: BaseException | None = None
    too_large: list[RejectRow] = []
    source.start(spool, name_for)
    try:
        with bar:
            failure = _retrieve_all(todo, source, incoming, ahead, options, summary,
                                    name_for, ingest_error, too_large)
            incoming.put(None)
            ingest_thread.join()
    finally:
        incoming.put(None)
        source.stop()
    if too_large:
        commit_outcomes(catalog, [FileOutcome(r.path, REJECTED, reject=r) for r in too_large])
        for reject in too_large:
            summary.ingest.add(FileOutcome(reject.path, REJECTED, reject=reject))
    summary.retries = source.retries.count
    summary.seconds = time.monotonic() - started
    if ingest_error:
        raise ingest_error[0]
    if failure is not None:
        raise PacsError(f"{failure}; {summary.retrieved} instances retrieved this run were "
                        "ingested") from None
    return summary


def _batches(instances: list[RemoteInstance], size: int) -> list[list[RemoteInstance]]:
    by_series: dict[tuple[str, str], list[RemoteInstance]] = {}
    for instance in instances:
        by_series.setdefault((instance.study_uid, instance.series_uid), []).append(instance)
    return [members[i:i + size] for members in by_series.values()
            for i in range(0, len(members), size)]


def _retrieve_all(todo, source, incoming, ahead, options, summary, name_for, ingest_error,
                  too_large) -> BaseException | None:
    """Retrieve on `options.connections` threads; hand finished files to the ingest."""
    batches = _batches(todo, source.batch_size)
    prefix = summary.source
    pending: list[str] = []
    stop = threading.Event()

    def work(batch: list[RemoteInstance]) -> tuple[list[RemoteInstance], list[str]]:
        for _ in batch:
            ahead.acquire()
        if stop.is_set() or ingest_error:
            return batch, []
        try:
            return batch, source.retrieve_batch(batch)
        except InstanceTooLarge as exc:  # a reject, as it is in a folder
            for instance in batch:
                path = f"{prefix}/{name_for(instance.sop_uid)}"
                too_large.append(RejectRow(path, TOO_LARGE, str(exc)))
            return batch, []

    failure = None
    with concurrent.futures.ThreadPoolExecutor(max(1, options.connections),
                                               thread_name_prefix="retrieve") as pool:
        futures = [pool.submit(work, batch) for batch in batches]
        for future in concurrent.futures.as_completed(futures):
            if future.cancelled():
                continue
            try:
                batch, paths = future.result()
            except PacsError as exc:
                failure = failure or exc
                stop.set()
                for other in futures:
                    other.cancel()
                continue
            summary.retrieved += len(paths)
            arrived = {os.path.basename(p) for p in paths}
            for instance in batch:
                if name_for(instance.sop_uid) not in arrived:
                    if not stop.is_set():
                        summary.not_delivered.append(instance.sop_uid)
                    ahead.release()
            pending += paths
            if len(pending) >= options.batch_files:
                incoming.put(pending)
                pending = []
    if pending:
        incoming.put(pending)
    return failure
