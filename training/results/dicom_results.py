"""classify_image's DICOM output: the results of a run as SRs or SEGs in a local folder,
then stored to a PACS.

Sources must be DICOM: a PNG, JPEG or record input gets its text line as always, and the
run says once how many inputs had no DICOM result and why.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import defaultdict, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from training.results.classification_report import (
    ImageResult,
    ModelIdentity,
    classification_sr,
    result_uid,
)
from training.results.report_template import ImageReportTemplate
from training.results.result_codes import ResultCodes
from training.results.result_folder import ResultFolder, ResultObject
from training.results.segmentation_object import BINARY, check_geometry, segmentation_object
from training.results.source_headers import NotADicomSource, header_from, read_source

log = logging.getLogger(__name__)
PER_IMAGE, PER_STUDY = "image", "study"
_SAVE_EVERY = 50
_IN_FLIGHT = 64
_WRITERS = 2  # with the classifying loop, about what keeps two cores busy


@dataclass
class ResultSummary:
    written: list[ResultObject] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """One reason per input that got no DICOM result."""

    def line(self, directory: str) -> str:
        kinds = defaultdict(int)
        for entry in self.written:
            kinds[entry.kind] += 1
        made = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no DICOM objects"
        text = f"wrote {made} to {directory}"
        if self.skipped:
            text += (f"; {len(self.skipped)} input(s) got none, e.g. {self.skipped[0]}")
        return text


class ClassificationResults:
    """Collects predictions, writes one SR per image (or per study).

    Per-image SRs are read, built and written by `_WRITERS` processes of their own while
    the model classifies the next inputs: pydicom's work is pure Python, so on a thread
    it would wait for the GIL that the classifying loop holds (measured: no faster than
    in line). The processes are forked (they never touch TensorFlow), at most
    `_IN_FLIGHT` inputs wait for them, so memory stays bounded, and the results come back
    in input order. The ledger (results.json) is kept here, in the parent.
    """

    def __init__(self, folder: ResultFolder, class_names: list[str], identity: ModelIdentity,
                 codes: ResultCodes, run_key: str, per: str = PER_IMAGE,
                 multilabel: bool = False) -> None:
        self.folder, self.class_names, self.identity = folder, class_names, identity
        self.codes, self.per, self.multilabel = codes, per, multilabel
        self.series_uid = result_uid("sr series", identity.config_hash, per, run_key)
        self.by_study: dict[str, list[ImageResult]] = defaultdict(list)
        self.summary = ResultSummary()
        self.template = ImageReportTemplate(class_names, codes, identity, self.series_uid,
                                            multilabel)
        self._submitted = 0
        self._pending: deque[Future] = deque()
        self._writer = ProcessPoolExecutor(
            _WRITERS, mp_context=multiprocessing.get_context("fork")) if per == PER_IMAGE else None

    def add(self, source: str, probabilities: np.ndarray,
            catalog_attributes: dict[str, str] | None = None,
            findings: tuple[str, ...] = ()) -> None:
        """`source` a DICOM file, or a catalog image with its `catalog_attributes`; a
        FrameName for one frame of a multi-frame one. `findings`, for a multi-label model,
        the labels at or above their thresholds."""
        self._submitted += 1
        arguments = (source, probabilities, catalog_attributes, findings, self._submitted)
        if self.per != PER_IMAGE:
            result = self._result(*arguments[:4])
            if isinstance(result, ImageResult):
                self.by_study[str(result.source.StudyInstanceUID)].append(result)
            else:
                self.summary.skipped.append(result)
            return
        if self._submitted == 1:  # the writer forks on the first submit: it inherits this
            global _WORKER_RESULTS
            _WORKER_RESULTS = self
        while len(self._pending) >= _IN_FLIGHT:
            self._record(self._pending.popleft().result())
        self._pending.append(self._writer.submit(_write_one, *arguments))

    def _record(self, outcome: ResultObject | str) -> None:
        if isinstance(outcome, str):
            self.summary.skipped.append(outcome)
            return
        previous = self.folder.objects.get(outcome.sop_instance_uid)
        if previous:
            outcome.stored_to = previous.stored_to
        self.folder.objects[outcome.sop_instance_uid] = outcome
        self.summary.written.append(outcome)

    def _result(self, source: str, probabilities: np.ndarray,
                catalog_attributes: dict[str, str] | None,
                findings: tuple[str, ...]) -> ImageResult | str:
        try:
            header = (header_from(catalog_attributes, source) if catalog_attributes is not None
                      else read_source(getattr(source, "source", source)))
        except NotADicomSource as exc:
            return f"{exc} (a DICOM result needs a DICOM source)"
        return ImageResult(header, probabilities, findings, name=str(source),
                           frame=getattr(source, "frame", None))

    def _build(self, results: list[ImageResult], number: int) -> ResultObject:
        sources = [str(r.source.SOPInstanceUID) for r in results]
        if len(results) == 1:
            report = self.template.encode(results[0], number)
            return self.folder.write_file("SR", report.data, (
                report.sop_instance_uid, report.series_instance_uid,
                report.study_instance_uid), sources)
        dataset = classification_sr(results, self.class_names, self.codes, self.identity,
                                    self.series_uid, number, self.multilabel)
        return self.folder.write("SR", dataset, sources)

    def finish(self) -> ResultSummary:
        try:
            while self._pending:
                self._record(self._pending.popleft().result())
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True, cancel_futures=True)
        for number, study in enumerate(sorted(self.by_study), start=1):
            self._record(self._build(self.by_study[study], number))
        self.folder.save()
        return self.summary


_WORKER_RESULTS: ClassificationResults | None = None
"""The collector whose writer process this is (inherited through fork)."""


def _write_one(source: str, probabilities: np.ndarray, catalog_attributes: dict | None,
               findings: tuple[str, ...], number: int) -> ResultObject | str:
    """One per-image SR, in the writer process: what was written, or why nothing was."""
    results = _WORKER_RESULTS
    result = results._result(source, probabilities, catalog_attributes, findings)
    if isinstance(result, str):
        return result
    return results._build([result], number)


@dataclass
class _Frame:
    source: Dataset
    mask: np.ndarray
    probabilities: np.ndarray | None
    number: int | None = None
    """The frame of a multi-frame source; None for a single-frame one."""


class SegmentationResults:
    """Collects masks by source series, writes one SEG per series at the end; the frames of
    a multi-frame source (FrameName inputs) make one SEG over that instance."""

    def __init__(self, folder: ResultFolder, class_names: list[str], identity: ModelIdentity,
                 codes: ResultCodes, seg_type: str = BINARY) -> None:
        self.folder, self.class_names, self.identity = folder, class_names, identity
        self.codes, self.seg_type = codes, seg_type
        self.series: dict[str, list[_Frame]] = defaultdict(list)
        self.summary = ResultSummary()
        self._header: tuple[str, Dataset | NotADicomSource] | None = None

    def _source_header(self, path: str) -> Dataset:
        """The header of `path`, read once for all the frames of a multi-frame file."""
        if self._header is None or self._header[0] != path:
            try:
                header: Dataset | NotADicomSource = read_source(path)
                check_geometry(header, path)
            except NotADicomSource as exc:
                header = exc
                self.summary.skipped.append(str(exc))  # one line per file, not per frame
            self._header = (path, header)
        found = self._header[1]
        if isinstance(found, NotADicomSource):
            raise found
        return found

    def add(self, source: str, mask: np.ndarray, probabilities: np.ndarray) -> None:
        try:
            header = self._source_header(getattr(source, "source", source))
        except NotADicomSource:
            return
        rows, columns = int(header.Rows), int(header.Columns)
        if mask.shape != (rows, columns):
            pick_r = (np.arange(rows) * mask.shape[0] // rows)[:, None]
            pick_c = (np.arange(columns) * mask.shape[1] // columns)[None, :]
            mask, probabilities = mask[pick_r, pick_c], probabilities[pick_r, pick_c]
        kept = None
        if self.seg_type != BINARY:  # 8-bit, as the SEG stores it: a quarter of float32
            kept = np.round(np.clip(probabilities, 0, 1) * 255).astype(np.uint8)
        self.series[str(header.SeriesInstanceUID)].append(
            _Frame(header, mask, kept, getattr(source, "frame", None)))

    def finish(self) -> ResultSummary:
        for series in sorted(self.series):
            frames = sorted(self.series[series], key=_frame_order)
            try:
                dataset = segmentation_object(
                    _sources_of(series, frames), [f.mask for f in frames], self.class_names,
                    self.codes, self.identity, self.seg_type,
                    [f.probabilities.astype(np.float32) / 255 for f in frames]
                    if self.seg_type != BINARY else None)
            except NotADicomSource as exc:
                self.summary.skipped.append(str(exc))
                continue
            sources = list(dict.fromkeys(str(f.source.SOPInstanceUID) for f in frames))
            self.summary.written.append(self.folder.write("SEG", dataset, sources))
        self.folder.save()
        return self.summary


def _frame_order(frame: _Frame) -> tuple[float, int, int]:
    position = frame.source.get("ImagePositionPatient") or [0, 0, 0]
    return (float(position[2]), int(frame.source.get("InstanceNumber", 0) or 0),
            frame.number or 0)


def _sources_of(series: str, frames: list[_Frame]) -> list[Dataset]:
    """The source images of one SEG: each single-frame image, or the one multi-frame
    instance whose every frame was segmented (its frames are the SEG's, in order)."""
    if all(f.number is None for f in frames):
        return [f.source for f in frames]
    instances = {str(f.source.SOPInstanceUID) for f in frames}
    if len(instances) != 1 or any(f.number is None for f in frames):
        raise NotADicomSource(f"series {series}: a multi-frame image among other images; "
                              "one SEG covers one multi-frame instance or single-frame ones")
    source = frames[0].source
    expected = list(range(1, int(source.get("NumberOfFrames", 1) or 1) + 1))
    if [f.number for f in frames] != expected:
        raise NotADicomSource(f"{source.SOPInstanceUID}: {len(frames)} of its {len(expected)} "
                              "frames were segmented; its SEG needs every frame")
    return [source]


def store_results(folder: ResultFolder, store, destination: str) -> tuple[int, list[str]]:
    """Send what `destination` has not acknowledged; (acknowledged now, refusals). A PACS
    that cannot be reached raises, with what was acknowledged already saved."""
    pending = folder.unacknowledged(destination)
    by_path = {folder.path(e): e for e in pending}
    stored, refused = 0, []
    try:
        for path, problem in store.store(list(by_path)):
            if problem is None:
                folder.acknowledge(by_path[path], destination)
                stored += 1
                if stored % _SAVE_EVERY == 0:
                    folder.save()
            else:
                refused.append(f"{by_path[path].file}: {problem}")
    finally:
        folder.save()
    return stored, refused
