"""Per-image SRs of one run at the speed of a copy: highdicom builds the first, the rest
are that object with the image's values put in.

Every per-image SR of a run has one structure (the same classes, algorithm, observer and
series); what differs is the source (its patient and study attributes, the evidence and
the image reference), the tracking identifiers, the probabilities and the predicted
class. highdicom's constructor costs about 40 ms an object, mostly deep copies and
evidence collection; a copy of the finished data set costs well under 1 ms. A source
whose SOP class, or whose set of patient and study attributes, differs from the
template's gets a new template from highdicom, so nothing of one patient can stay in
another's SR. The tests read every SR back through highdicom and dciodvfy.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence

import numpy as np
import pydicom
from highdicom._standard_utils import (
    get_iod_module_map,
    get_module_attribute_map,
    get_sop_class_iod_map,
)
from pydicom.dataset import Dataset
from pydicom.valuerep import DS

from training.results.classification_report import (
    ImageResult,
    ModelIdentity,
    classification_sr,
    report_uid,
)
from training.results.result_codes import ResultCodes

_TRACKING_ID, _TRACKING_UID = "Tracking Identifier", "Tracking Unique Identifier"
_PREDICTED = "Predicted class"
_MAX_TEMPLATES = 64  # one per SOP class and set of patient and study attributes seen


def _patient_and_study_keywords(sop_class: str) -> tuple[str, ...]:
    """The root attributes highdicom copies from a source of `sop_class` (its Patient and
    Study modules)."""
    iod = get_sop_class_iod_map()[sop_class]
    modules = get_module_attribute_map()
    keywords = []
    for item in get_iod_module_map()[iod]:
        if item["ie"] in ("Patient", "Study"):
            keywords += [str(a["keyword"]) for a in modules[item["key"]] if not a["path"]]
    return tuple(dict.fromkeys(keywords))


def _meaning(item: Dataset) -> str:
    return str(item.ConceptNameCodeSequence[0].CodeMeaning)


class ImageReportTemplate:
    def __init__(self, class_names: Sequence[str], codes: ResultCodes, identity: ModelIdentity,
                 series_uid: str, multilabel: bool = False) -> None:
        self.class_names, self.codes, self.identity = list(class_names), codes, identity
        self.series_uid, self.multilabel = series_uid, multilabel
        self._templates: dict[tuple, bytes] = {}
        self._keywords: dict[str, tuple[str, ...]] = {}

    def _copied(self, source: Dataset) -> tuple[str, tuple[str, ...]]:
        sop_class = str(source.SOPClassUID)
        if sop_class not in self._keywords:
            self._keywords[sop_class] = _patient_and_study_keywords(sop_class)
        return sop_class, tuple(k for k in self._keywords[sop_class] if k in source)

    def build(self, result: ImageResult, instance_number: int) -> Dataset:
        try:
            # Multi-label: the findings present are part of the structure (one coded
            # evaluation each), so each set of findings has its own template.
            key = (*self._copied(result.source), result.findings,
                   result.referenced_frames is not None)
        except KeyError:  # a SOP class highdicom has no IOD for: build it the long way
            key = None
        if key is None or key not in self._templates:
            sr = classification_sr([result], self.class_names, self.codes, self.identity,
                                   self.series_uid, instance_number, self.multilabel)
            if key is not None and len(self._templates) < _MAX_TEMPLATES:
                buffer = io.BytesIO()
                sr.save_as(buffer, enforce_file_format=True)
                self._templates[key] = buffer.getvalue()
            return sr
        return self._patched(self._templates[key], result, instance_number, key[1])

    def _patched(self, template: bytes, result: ImageResult, instance_number: int,
                 keywords: tuple[str, ...]) -> Dataset:
        source = result.source
        dataset = pydicom.dcmread(io.BytesIO(template))  # lazily parsed: only what changes
        uid = report_uid(self.identity, self.series_uid, [result])
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = uid
        dataset.InstanceNumber = instance_number
        for keyword in keywords:
            dataset[keyword] = copy.deepcopy(source[keyword])
        evidence = dataset.CurrentRequestedProcedureEvidenceSequence[0]
        evidence.StudyInstanceUID = source.StudyInstanceUID
        series = evidence.ReferencedSeriesSequence[0]
        series.SeriesInstanceUID = source.SeriesInstanceUID
        _reference(series.ReferencedSOPSequence[0], source)
        container = next(i for i in dataset.ContentSequence if i.ValueType == "CONTAINER")
        group = container.ContentSequence[0]
        numbers = iter(float(p) for p in result.probabilities)
        best = int(np.argmax(result.probabilities))
        measurements = [i for i in group.ContentSequence if i.ValueType == "NUM"]
        # The predicted class's code as highdicom wrote it: the name of its measurement.
        best_code = copy.deepcopy(measurements[best].ConceptNameCodeSequence[0])
        for item in group.ContentSequence:
            if item.ValueType == "NUM":
                value = next(numbers)
                measured = item.MeasuredValueSequence[0]
                measured.NumericValue = DS(value, auto_format=True)
                measured.FloatingPointValue = value
            elif item.ValueType == "IMAGE":
                reference = item.ReferencedSOPSequence[0]
                _reference(reference, source)
                if result.referenced_frames:
                    reference.ReferencedFrameNumber = result.referenced_frames
            elif _meaning(item) == _TRACKING_ID:
                item.TextValue = result.tracking_text(self.identity)
            elif _meaning(item) == _TRACKING_UID:
                item.UID = result.tracking_uid(self.identity)
            elif _meaning(item) == _PREDICTED:
                item.ConceptCodeSequence = [best_code]
        return dataset


def _reference(item: Dataset, source: Dataset) -> None:
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
