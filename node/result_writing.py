"""The node's SR writers: processes of their own that write each job's SRs while the
node's model classifies the next batch.

pydicom's work is pure Python: in the node's process it would wait for the model's
batches, and they for it (measured on two cores: 0.78x of classify_image's throughput
with SRs written in line). As in classify_image, `writer_count()` processes are forked
once, after the model has loaded and with the parent's objects frozen out of the
garbage collector, so the children share its pages and never touch TensorFlow. A job's
order carries what its SRs are made of (picklable: sources, probabilities, findings),
and the writer keeps one template per model across jobs.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from training.results.classification_report import StudyAggregation
from training.results.dicom_results import (
    fork_writer_pool,
    writer_count,
)
from training.results.report_template import ImageReportTemplate
from training.results.result_codes import ResultCodes
from training.results.result_folder import ResultFolder
from training.results.result_identity import ModelIdentity
from training.results.result_writers import ModelOutput, ResultOrder, open_result_writer


@dataclass(frozen=True)
class SrModel:
    """What writing SRs needs of a model."""

    class_names: tuple[str, ...]
    identity: ModelIdentity
    multilabel: bool


@dataclass(frozen=True)
class SrOrder:
    """One job's SRs: its folder, the run key its UIDs derive from, and its images."""

    job_id: int
    folder: str
    run_key: str
    per: str
    aggregation: StudyAggregation | None
    predictions: tuple[tuple[str, np.ndarray, tuple[str, ...]], ...]
    """(source: a path or a FrameName, probabilities, findings) per image or frame."""
    problems: tuple[tuple[str, int], ...]
    """Why some images gave no result, and how many."""


_TEMPLATES: dict[SrModel, ImageReportTemplate] = {}


def write_order(model: SrModel, order: SrOrder) -> tuple[str, int]:
    """Write one job's SRs; (its folder, images that gave none). ValueError when no image
    of the study gave a result."""
    codes = ResultCodes.load(None)
    if model not in _TEMPLATES:
        _TEMPLATES.clear()  # one model at a time is the common case: keep memory flat
        _TEMPLATES[model] = ImageReportTemplate(list(model.class_names), codes,
                                                model.identity, "", model.multilabel)
    folder = ResultFolder(order.folder)
    results = open_result_writer("sr", ResultOrder(
        folder, list(model.class_names), model.identity, codes, order.run_key,
        {"per": order.per, "multilabel": model.multilabel, "writers": 0,
         "aggregation": order.aggregation, "template": _TEMPLATES[model]}))
    for source, probabilities, findings in order.predictions:
        results.write(ModelOutput(source, probabilities, findings=findings))
    summary = results.finish()
    problems = dict(order.problems)
    if not summary.written:
        reason = "; ".join(f"{n} x {p}" for p, n in problems.items()) or (
            "; ".join(summary.skipped[:2]) or "no result")
        raise ValueError(f"no image of the study gave a result ({reason})")
    return folder.directory, sum(problems.values()) + len(summary.skipped)


class SrWriters:
    """Writer processes, forked on first use; `writers=0` writes in line (a Future that is
    already done), as a test or a one-core machine may want."""

    def __init__(self, writers: int | None = None) -> None:
        self.count = writer_count() if writers is None else writers
        self._pool: ProcessPoolExecutor | None = None
        self._froze = False

    def submit(self, model: SrModel, order: SrOrder) -> Future:
        """Write `order`'s SRs in a writer process (in this one when there are none); the
        future of (its folder, images that gave none)."""
        if self.count == 0:
            return _done(lambda: write_order(model, order))
        if self._pool is None:
            self._pool, froze = fork_writer_pool(self.count, _die_with_parent)
            self._froze = self._froze or froze
        try:
            return self._pool.submit(write_order, model, order)
        except BrokenProcessPool:  # a writer died (killed, out of memory): start anew
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            return self.submit(model, order)

    def close(self) -> None:
        """Wait for the writers' work and stop them."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
            self._pool = None
        if self._froze:
            gc.unfreeze()
            self._froze = False


def _die_with_parent() -> None:
    """In a writer: end when the node ends, even by kill -9. An orphaned writer would keep
    the node's listening sockets (inherited through fork) and hold its port against the
    restarted node."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the pool's own shutdown still applies
        pass
    if os.getppid() == 1:  # the node died before the call above
        os._exit(0)


def _done(work: Callable[[], tuple[str, int]]) -> Future:
    future: Future = Future()
    try:
        future.set_result(work())
    except Exception as exc:
        future.set_exception(exc)
    return future
