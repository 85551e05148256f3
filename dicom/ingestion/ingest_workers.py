"""Worker processes that decode tasks of files and commit them to the catalog.

Each worker commits in a background thread while it decodes the next group of
files, so the waits of the database (round trips, the fsync of each commit) are
hidden behind CPU work instead of leaving a core idle. Image bytes never pass
through the parent: it receives only the settled outcomes, one message per
committed transaction. Workers die with the parent (Linux), so a killed job
commits nothing after its death.
"""

from __future__ import annotations

import copy
import ctypes
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import URL

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.file_processing import FileOutcome, FileProcessor, IngestSettings
from dicom.ingestion.ingest_commit import commit_outcomes
from dicom.metadata.cleansing import AttributeLists

# Bounds a worker's memory for one pending transaction; rows travel as separate
# prepared-statement packets on MySQL, so a transaction need not fit one packet.
MAX_TRANSACTION_BYTES = 64 << 20
_POLL_SECONDS = 0.5


class WorkerDied(ChildProcessError):
    """A worker process ended without reporting (killed, out of memory)."""


def decoded_groups(
    paths: Sequence[str], processor: FileProcessor, max_bytes: int = MAX_TRANSACTION_BYTES
) -> Iterator[list[FileOutcome]]:
    """Decode `paths`, yielding groups of whole files (one transaction each) under `max_bytes`."""
    group: list[FileOutcome] = []
    nbytes = 0
    for path in paths:
        outcome = processor(path)
        group.append(outcome)
        nbytes += outcome.nbytes
        if nbytes >= max_bytes:
            yield group
            group, nbytes = [], 0
    if group:
        yield group


def run_in_workers(
    tasks: Sequence[Sequence[str]],
    settings: IngestSettings,
    known: Mapping[str, str],
    url: URL,
    lists: AttributeLists,
    workers: int,
) -> Iterator[list[FileOutcome]]:
    """Yield committed outcomes as the workers report them, until every file is back."""
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    task_queue = context.Queue()
    # Tasks left unread when the run stops must not keep the parent from exiting.
    task_queue.cancel_join_thread()
    results = context.Queue()
    processes = [
        context.Process(
            target=_worker_main,
            args=(settings, known, url, lists, task_queue, results, os.getpid()),
            name=f"ingest-worker-{index}",
            daemon=True,
        )
        for index in range(workers)
    ]
    for process in processes:
        process.start()  # before the queue's feeder thread exists: fork copies no held lock
    for task in tasks:
        task_queue.put(list(task))
    for _ in processes:
        task_queue.put(None)
    remaining = sum(len(task) for task in tasks)
    try:
        while remaining:
            try:
                kind, payload = results.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                _check_alive(processes)
                continue
            if kind == "error":
                raise payload
            remaining -= len(payload)
            yield payload
        for process in processes:
            process.join()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # the server rolls back an open transaction
        for process in processes:
            process.join()


def _check_alive(processes: list[multiprocessing.process.BaseProcess]) -> None:
    for process in processes:
        if process.exitcode not in (None, 0):
            raise WorkerDied(
                f"{process.name} died (exit code {process.exitcode}); committed files "
                "are kept, re-run the same command to finish"
            )


def _worker_main(
    settings: IngestSettings,
    known: Mapping[str, str],
    url: URL,
    lists: AttributeLists,
    tasks: multiprocessing.Queue,
    results: multiprocessing.Queue,
    parent: int,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    _die_with_parent(parent)
    catalog = Catalog.attach(url, lists)
    committer = _BackgroundCommitter(catalog, results)
    try:
        processor = FileProcessor(settings, known)
        for task in iter(tasks.get, None):
            for group in decoded_groups(task, processor):
                committer.submit(group)
        committer.close()
    except BaseException as exc:  # report, never die silently
        results.put(("error", _picklable(exc)))
    finally:
        catalog.dispose()


class _BackgroundCommitter:
    """Commits groups in a thread; at most one group waits while one is written."""

    def __init__(self, catalog: Catalog, results: multiprocessing.Queue) -> None:
        self.catalog, self.results = catalog, results
        self.pending: queue.Queue[list[FileOutcome] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="commit", daemon=True)
        self.thread.start()

    def submit(self, outcomes: list[FileOutcome]) -> None:
        if self.error is not None:
            raise self.error
        self.pending.put(outcomes)

    def close(self) -> None:
        self.pending.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (outcomes := self.pending.get()) is not None:
            if self.error is not None:
                continue  # drain, so that submit never blocks forever
            try:
                self.results.put(("done", commit_outcomes(self.catalog, outcomes)))
            except BaseException as exc:
                self.error = exc


def _picklable(exc: BaseException) -> BaseException:
    """`exc` as it can cross to the parent: the statement's parameters hold image bytes."""
    if isinstance(exc, sa.exc.StatementError):
        exc = copy.copy(exc)
        exc.params = None
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _die_with_parent(parent: int) -> None:
    """A worker must not go on committing after its job was killed (Linux prctl)."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
