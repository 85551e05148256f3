"""classify_image's DICOM output for a segmentation model: one SEG per source series (or
per multi-frame instance), written when the run ends, from the masks collected by
series."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from training.results.dicom_results import ResultSummary
from training.results.result_codes import ResultCodes
from training.results.result_folder import ResultFolder
from training.results.result_identity import ModelIdentity
from training.results.result_writers import ModelOutput
from training.results.segmentation_object import BINARY, check_geometry, segmentation_object
from training.results.source_headers import NotADicomSource, read_source


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
                 codes: ResultCodes, seg_type: str = BINARY, run_key: str = "") -> None:
        """`run_key`: see `segmentation_object` (empty for classify_image's SEGs)."""
        self.folder, self.class_names, self.identity = folder, class_names, identity
        self.codes, self.seg_type, self.run_key = codes, seg_type, run_key
        self.series: dict[str, list[_Frame]] = defaultdict(list)
        self.summary = ResultSummary()
        self._header: tuple[str, Dataset | NotADicomSource] | None = None

    def _source_header(self, path: str) -> Dataset:
        """The header of `path`, read once for all the frames of a multi-frame file."""
        if self._header is None or self._header[0] != path:
            header: Dataset | NotADicomSource
            try:
                read = read_source(path)
                check_geometry(read, path)
                header = read
            except NotADicomSource as exc:
                header = exc
                self.summary.skipped.append(str(exc))  # one line per file, not per frame
            self._header = (path, header)
        found = self._header[1]
        if isinstance(found, NotADicomSource):
            raise found
        return found

    def write(self, output: ModelOutput) -> None:
        """ResultWriter's call: one image's (or frame's) mask and class probabilities."""
        if output.error:
            return
        if output.mask is None:
            raise ValueError(f"{output.source}: a SEG needs the prediction's mask")
        self.add(output.source, output.mask, output.probabilities)

    def add(self, source: str, mask: np.ndarray, probabilities: np.ndarray) -> None:
        """Keeps an image's mask for its series' SEG; a source that is not DICOM is skipped, and a
        mask of another size than the source's is an error."""
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
        """Writes one SEG per series, frames in order; returns what was written and skipped."""
        for series in sorted(self.series):
            frames = sorted(self.series[series], key=_frame_order)
            try:
                dataset = segmentation_object(
                    _sources_of(series, frames), [f.mask for f in frames], self.class_names,
                    self.codes, self.identity, self.seg_type,
                    [np.asarray(f.probabilities).astype(np.float32) / 255 for f in frames]
                    if self.seg_type != BINARY else None, self.run_key)
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
