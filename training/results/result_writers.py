"""Where a run's predictions go: one `ResultWriter` per kind of result, chosen by the kind
a record task declares (datasets.records.tasks: `result_kind`).

classify_image and the inference node hand every prediction to a writer the same way
(`write(ModelOutput)`, then `finish()`), so a new kind of DICOM result (a parametric
map, a key-object selection) is one class and one entry in `RESULT_WRITERS`, and its
text output one entry in batch_prediction.text_output's `TEXT_OUTPUTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from training.results.result_codes import ResultCodes
from training.results.result_folder import ResultFolder
from training.results.result_identity import ModelIdentity


@dataclass(frozen=True)
class ModelOutput:
    """What a model said about one input."""

    #: A DICOM file, a FrameName (one frame of a multi-frame file), or a catalog image.
    source: str
    #: Per class or label; (height, width, classes) for a segmentation.
    probabilities: np.ndarray
    #: A segmentation's class per pixel.
    mask: np.ndarray | None = None
    #: Multi-label: the labels at or above their thresholds.
    findings: tuple[str, ...] = ()
    #: A catalog image's attributes (it has no DICOM header of its own to copy).
    catalog_attributes: Mapping[str, Any] | None = None
    #: The model's input (a segmentation's overlay is drawn on it).
    image: np.ndarray | None = None
    #: Why the input could not be read; a DICOM writer writes nothing for it.
    error: str = ""


@dataclass(frozen=True)
class ResultOrder:
    """What every writer of a run shares: where, for which model, with which codes."""

    folder: ResultFolder
    class_names: list[str]
    identity: ModelIdentity
    codes: ResultCodes
    run_key: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    """The kind's own: per and multilabel for SRs, seg_type for SEGs."""


class ResultWriter(Protocol):
    """Turns a run's predictions into results: text lines, files, DICOM objects."""

    def write(self, output: ModelOutput) -> None:
        """Take one prediction (or one input's error); its result may be written now or
        at `finish` (a SEG waits for every frame of its series)."""
        ...

    def finish(self) -> Any:
        """Write what is left and return the summary."""
        ...


class DicomResultWriter(ResultWriter, Protocol):
    """A ResultWriter of DICOM objects, into a folder a PACS is then sent from; `finish`
    returns a `ResultSummary` (what was written, one reason per input that got nothing)."""

    folder: ResultFolder


def _structured_reports(order: ResultOrder) -> DicomResultWriter:
    from training.results.dicom_results import ClassificationResults

    return ClassificationResults(order.folder, order.class_names, order.identity, order.codes,
                                 order.run_key, **order.options)


def _segmentations(order: ResultOrder) -> DicomResultWriter:
    from training.results.segmentation_results import SegmentationResults

    return SegmentationResults(order.folder, order.class_names, order.identity, order.codes,
                               run_key=order.run_key, **order.options)


#: A task's `result_kind` -> how its writer is made.
RESULT_WRITERS: dict[str, Callable[[ResultOrder], DicomResultWriter]] = {
    "sr": _structured_reports,
    "seg": _segmentations,
}


def open_result_writer(kind: str, order: ResultOrder) -> DicomResultWriter:
    """The writer of `kind` ("sr", "seg"); a one-line ValueError naming the known kinds."""
    try:
        make = RESULT_WRITERS[kind]
    except KeyError:
        raise ValueError(f"no result writer for {kind!r}: known are "
                         f"{', '.join(sorted(RESULT_WRITERS))}") from None
    return make(order)
