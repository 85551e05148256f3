"""Worker processes that decode tasks of files and commit them, watched by the parent.

Each worker commits in a background thread while it decodes the next group of
files, so the waits of the database (round trips, the fsync of each commit) are
hidden behind CPU work instead of leaving a core idle. Image bytes never pass
through the parent: it receives only the settled outcomes, one message per
committed transaction.

A file can still do what no header check foresaw: crash a decoder, exhaust a
worker's memory (capped by `--worker_memory_mb`), or run for ever. Each worker
publishes the file it is on in shared memory, so when one dies or passes
`--file_timeout_s` the parent records that file as a reject, hands the rest of
the worker's tasks to a fresh worker, and the run goes on. Workers die with
the parent (Linux), so a killed job commits nothing after its death.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import ctypes
import functools
import multiprocessing
import os
import pickle
import queue
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import URL

from dicom.decoding.reading import TIMED_OUT, WORKER_DIED
from dicom.ingestion.catalog import Catalog, RejectRow
from dicom.ingestion.file_processing import (
    REJECTED,
    FileOutcome,
    FileProcessor,
    IngestSettings,
    stored_path,
)
from dicom.ingestion.ingest_commit import commit_outcomes
from dicom.metadata.cleansing import AttributeLists

# Bounds a worker's memory for one pending transaction; rows travel as separate
# prepared-statement packets on MySQL, so a transaction need not fit one packet.
MAX_TRANSACTION_BYTES = 64 << 20
_POLL_SECONDS = 0.5
_STREAM_POLL_SECONDS = 0.05  # how soon a streamed task is handed out
_IDLE = -1.0
# Workers lost while on no file (a crash in the commit thread, say) before the run gives up.
_UNEXPLAINED_LOSSES = 3


class WorkerDied(ChildProcessError):
    """A worker process ended without reporting, and not while reading a file."""


@dataclass(frozen=True)
class WorkerLimits:
    """What one worker may spend; 0 switches a limit off."""

    memory_mb: int = 4096
    file_timeout_s: float = 300.0
    nice: int = 0
    """Added to each worker's niceness: a receiver's workers yield the CPU to the
    associations, so acknowledgements do not wait behind decoding."""


def decoded_groups(
    paths: Sequence[str],
    processor: FileProcessor,
    max_bytes: int = MAX_TRANSACTION_BYTES,
    starting: Callable[[int], None] | None = None,
) -> Iterator[list[FileOutcome]]:
    """Decode `paths`, yielding groups of whole files (one transaction each) under `max_bytes`.

    `starting(i)` is called before file i is opened.
    """
    group: list[FileOutcome] = []
    nbytes = 0
    for index, path in enumerate(paths):
        if starting is not None:
            starting(index)
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
    limits: WorkerLimits | None = None,
    record: Callable[[list[FileOutcome]], list[FileOutcome]] | None = None,
    incoming: queue.Queue | None = None,
) -> Generator[list[FileOutcome], None, None]:
    """Yield committed outcomes as the workers report them, until every file is back.

    `record` commits the reject of a file that killed its worker (the parent's
    catalog); without it such a death ends the run with `WorkerDied`. `incoming` takes
    tasks that arrive while the workers run (a pull, a receiver), until None.
    """
    pool = _Pool(settings, known, url, lists, workers, limits or WorkerLimits(), record)
    return pool.run([list(task) for task in tasks], incoming)


class _Pool:
    """Workers, each on a pipe of its own: a worker killed mid-message or holding a lock
    takes only its own pipe with it (a shared multiprocessing.Queue would stay locked)."""

    def __init__(
        self,
        settings: IngestSettings,
        known: Mapping[str, str],
        url: URL,
        lists: AttributeLists,
        workers: int,
        limits: WorkerLimits,
        record: Callable[[list[FileOutcome]], list[FileOutcome]] | None,
    ) -> None:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        self.context: Any = multiprocessing.get_context(method)
        self.settings, self.known, self.url, self.lists = settings, known, url, lists
        self.limits, self.record = limits, record
        # Per worker: the task it is on, the file within it, when that file started.
        self.slots = self.context.Array("d", [_IDLE, 0.0, 0.0] * workers, lock=False)
        self.tasks: list[list[str]] = []
        self.reported: list[int] = []
        self.pending: collections.deque[int] = collections.deque()
        self.waiting: set[int] = set()  # workers that asked for a task and got none yet
        self.taken_by: dict[int, set[int]] = {index: set() for index in range(workers)}
        self.unexplained_losses = 0
        self.connections: list[Connection | None] = [None] * workers
        self.processes = [self._start(index) for index in range(workers)]

    def _start(self, slot: int) -> multiprocessing.process.BaseProcess:
        self.slots[3 * slot : 3 * slot + 3] = [_IDLE, 0.0, 0.0]
        ours, theirs = self.context.Pipe()
        process = self.context.Process(
            target=_worker_main,
            args=(self.settings, self.known, self.url, self.lists, theirs, self.slots, slot,
                  self.limits.memory_mb, os.getpid(), self.limits.nice),
            name=f"ingest-worker-{slot}",
            daemon=True,
        )
        process.start()
        theirs.close()
        self.connections[slot] = ours
        return process

    def _submit(self, paths: list[str]) -> None:
        self.tasks.append(paths)
        self.reported.append(0)
        self.pending.append(len(self.tasks) - 1)
        for slot in sorted(self.waiting):
            self._dispatch(slot)

    def _dispatch(self, slot: int) -> None:
        """Hand `slot` the next task, or note that it waits for one."""
        connection = self.connections[slot]
        if not self.pending or connection is None:
            self.waiting.add(slot)
            return
        self.waiting.discard(slot)
        task = self.pending.popleft()
        try:
            connection.send((task, self.tasks[task]))
        except OSError:  # the worker is gone: the task waits for its replacement
            self.pending.appendleft(task)
            return
        self.taken_by[slot].add(task)

    def _take_incoming(self, incoming: queue.Queue) -> tuple[int, bool]:
        """Submit what has arrived; (files submitted, whether more may come)."""
        added = 0
        while True:
            try:
                task = incoming.get_nowait()
            except queue.Empty:
                return added, True
            if task is None:
                return added, False
            if task:
                self._submit(list(task))
                added += len(task)

    def run(
        self, tasks: list[list[str]], incoming: queue.Queue | None = None
    ) -> Generator[list[FileOutcome], None, None]:
        for task in tasks:
            self._submit(task)
        remaining = sum(len(task) for task in tasks)
        open_ = incoming is not None
        try:
            while remaining or open_:
                if incoming is not None and open_:
                    added, open_ = self._take_incoming(incoming)
                    remaining += added
                live = [c for c in self.connections if c is not None]
                poll = _STREAM_POLL_SECONDS if open_ else _POLL_SECONDS
                ready = wait(live, timeout=poll if live else 0.01)
                for connection in ready:
                    for outcomes in self._read(self.connections.index(
                            cast(Connection, connection))):
                        remaining -= len(outcomes)
                        yield outcomes
                for outcomes in self._supervise():
                    remaining -= len(outcomes)
                    yield outcomes
            for pipe in self.connections:
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.send(None)  # every worker waits for its next task
            for process in self.processes:
                process.join()
        finally:
            for process in self.processes:
                if process.is_alive():
                    process.terminate()  # the server rolls back an open transaction
            for process in self.processes:
                process.join()

    def _read(self, slot: int) -> Iterator[list[FileOutcome]]:
        """The messages `slot` has sent; its pipe is dropped when the worker is gone."""
        connection = self.connections[slot]
        while connection is not None and connection.poll():
            try:
                message = connection.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                self.connections[slot] = None  # dead or died mid-message: _supervise sees it
                return
            kind = message[0]
            if kind == "error":
                raise message[1]
            if kind == "ready":
                self._dispatch(slot)
                continue
            _, task, outcomes = message
            self.reported[task] += len(outcomes)
            yield outcomes

    def _supervise(self) -> Iterator[list[FileOutcome]]:
        """Replace a worker that died or overran, recording the file it was on."""
        for slot, process in enumerate(self.processes):
            task, _, started = self.slots[3 * slot : 3 * slot + 3]
            if process.exitcode is not None and (
                    process.exitcode != 0 or self.connections[slot] is None):
                # A worker ends with status 0 only when told to; gone otherwise, with its
                # pipe read to the end, it is lost like one killed (never waited for).
                yield from self._replace(slot, _death_reason(process.exitcode), WORKER_DIED)
            elif (
                self.limits.file_timeout_s
                and task != _IDLE
                and time.monotonic() - started > self.limits.file_timeout_s
                and process.is_alive()
            ):
                process.kill()
                process.join()
                reason = (f"reading took over --file_timeout_s {self.limits.file_timeout_s:g} s; "
                          "its worker was stopped")
                yield from self._replace(slot, reason, TIMED_OUT)

    def _replace(self, slot: int, reason: str, kind: str) -> Iterator[list[FileOutcome]]:
        """Record the file a lost worker was on, requeue the rest of its tasks, restart it."""
        name = self.processes[slot].name
        task, index = int(self.slots[3 * slot]), int(self.slots[3 * slot + 1])
        yield from self._read(slot)  # what the worker sent before it was lost still counts
        pipe = self.connections[slot]
        if pipe is not None:
            pipe.close()
        self.connections[slot] = None
        self.waiting.discard(slot)
        culprit = self.tasks[task][index] if task >= 0 and index >= self.reported[task] else None
        if culprit is None:
            self.unexplained_losses += 1
        if self.record is None or self.unexplained_losses > _UNEXPLAINED_LOSSES:
            raise WorkerDied(f"{name}: {reason.replace(' while reading this file', '')}; "
                             "committed files are kept, re-run the same command to finish")
        if culprit is not None:
            shown = stored_path(self.settings, culprit)
            yield self.record([FileOutcome(shown, REJECTED, reject=RejectRow(shown, kind, reason))])
        taken, self.taken_by[slot] = self.taken_by[slot], set()
        self.processes[slot] = self._start(slot)
        for lost in sorted(taken):
            paths = self.tasks[lost]
            rest = [path for path in paths[self.reported[lost] :] if path != culprit]
            self.reported[lost] = len(paths)  # closed: its rest travels as a new task
            if rest:
                self._submit(rest)


def inherited_data_bytes() -> int:
    """This process's data size (VmData) now. A forked worker starts with its parent's
    mappings, which count against RLIMIT_DATA although they are shared: a parent that
    holds TensorFlow (a notebook, a test runner) can be past a 4 GiB cap before the
    worker reads a byte. The cap is what the worker may add to that."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _death_reason(exitcode: int) -> str:
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        why = " (the kernel's out-of-memory killer sends it)" if name == "SIGKILL" else ""
        return f"its worker died from {name}{why} while reading this file"
    return f"its worker exited with status {exitcode} while reading this file"


def _worker_main(
    settings: IngestSettings,
    known: Mapping[str, str],
    url: URL,
    lists: AttributeLists,
    connection: Connection,
    slots: ctypes.Array,
    slot: int,
    memory_mb: int,
    parent: int,
    nice: int = 0,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    _die_with_parent(parent)
    if nice:
        os.nice(nice)
    if memory_mb:
        cap = inherited_data_bytes() + (memory_mb << 20)
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    catalog = Catalog.attach(url, lists)
    lock = threading.Lock()  # the decoding and the commit thread share the pipe

    def send(message: tuple) -> None:
        with lock:
            connection.send(message)

    committer = _BackgroundCommitter(catalog, send)
    base = 3 * slot

    def starting(task: int, index: int) -> None:
        # The task last: the parent reads a task only with its file's start time.
        slots[base + 2] = time.monotonic()
        slots[base + 1] = float(index)
        slots[base] = float(task)

    try:
        processor = FileProcessor(settings, known)
        while True:
            send(("ready",))  # the next task, while the last group of this one commits
            item = connection.recv()
            if item is None:
                break
            task, paths = item
            for group in decoded_groups(
                paths, processor, starting=functools.partial(starting, task)
            ):
                slots[base] = _IDLE  # waiting for the committer is no file's time
                committer.submit(task, group)
        committer.close()
    except BaseException as exc:  # report, never die silently
        if exc is not committer.error:  # the committer reported its own
            send(("error", _picklable(exc)))
    finally:
        catalog.dispose()


class _BackgroundCommitter:
    """Commits groups in a thread; at most one group waits while one is written."""

    def __init__(self, catalog: Catalog, send: Callable[[tuple], None]) -> None:
        self.catalog, self.send = catalog, send
        self.pending: queue.Queue[tuple[int, list[FileOutcome]] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="commit", daemon=True)
        self.thread.start()

    def submit(self, task: int, outcomes: list[FileOutcome]) -> None:
        if self.error is not None:
            raise self.error
        self.pending.put((task, outcomes))

    def close(self) -> None:
        self.pending.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (item := self.pending.get()) is not None:
            if self.error is not None:
                continue  # drain, so that submit never blocks forever
            task, outcomes = item
            try:
                self.send(("done", task, commit_outcomes(self.catalog, outcomes)))
            except BaseException as exc:
                # At once: the decoding thread may be waiting for a task that never comes.
                # `error` is set only once the message is sent: the decoding thread, seeing
                # it, stops the worker without a message of its own, and a worker gone
                # before this send would leave the parent nothing to report.
                try:
                    self.send(("error", _picklable(exc)))
                finally:
                    self.error = exc


def _picklable(exc: BaseException) -> BaseException:
    """`exc` as it can cross to the parent: the statement's parameters hold image bytes."""
    if isinstance(exc, sa.exc.StatementError):
        statement = copy.copy(exc)
        statement.params = None
        exc = statement
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
