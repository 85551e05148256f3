"""Per-image SRs of one run at the speed of a copy: highdicom builds the first, the rest
are its bytes with the image's values put in.

Every per-image SR of a run has one structure (the same classes, algorithm, observer and
series); what differs is the source (its patient and study attributes, the evidence and
the image reference), the tracking identifiers, the probabilities and the predicted
class. highdicom's constructor costs about 40 ms an object, mostly deep copies and
evidence collection, and pydicom's writer a few more walking the same nested items each
time. The first SR of each kind is encoded once with those values left open
(`EncodedTemplate`); each later one encodes only them. A source whose SOP class, set of
patient and study attributes or character set differs from the template's gets a new
template from highdicom, so nothing of one patient can stay in another's SR. The tests
read every SR back through highdicom and dciodvfy.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pydicom
from highdicom._standard_utils import (
    get_iod_module_map,
    get_module_attribute_map,
    get_sop_class_iod_map,
)
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.valuerep import DS

from training.results.classification_report import ImageResult, classification_sr, report_uid
from training.results.encoded_template import EncodedTemplate, encode_element
from training.results.result_codes import ResultCodes
from training.results.result_identity import ModelIdentity

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


@dataclass(frozen=True)
class EncodedReport:
    """One SR as the bytes of its file, with the UIDs the result folder lists."""

    data: bytes
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    templated: bool


class _ReportSlots:
    """The template of one kind of SR: its encoding, and the predicted class's code item
    per class, encoded."""

    def __init__(self, dataset: Dataset, keywords: tuple[str, ...]) -> None:
        slots = {id(dataset["SOPInstanceUID"]): "sop_instance_uid",
                 id(dataset["SeriesInstanceUID"]): "sr_series",
                 id(dataset["InstanceNumber"]): "instance_number"}
        # What highdicom copied of the source's patient and study attributes.
        self.keywords = tuple(k for k in keywords if k in dataset)
        slots.update({id(dataset[k]): f"source:{k}" for k in self.keywords})
        evidence = dataset.CurrentRequestedProcedureEvidenceSequence[0]
        series = evidence.ReferencedSeriesSequence[0]
        slots[id(evidence["StudyInstanceUID"])] = "study"
        slots[id(series["SeriesInstanceUID"])] = "series"
        _reference_slots(series.ReferencedSOPSequence[0], slots)
        container = next(i for i in dataset.ContentSequence if i.ValueType == "CONTAINER")
        group = container.ContentSequence[0]
        self.measurements, predicted = 0, None
        for item in group.ContentSequence:
            if item.ValueType == "NUM":
                measured = item.MeasuredValueSequence[0]
                slots[id(measured["NumericValue"])] = f"number{self.measurements}"
                slots[id(measured["FloatingPointValue"])] = f"float{self.measurements}"
                self.measurements += 1
            elif item.ValueType == "IMAGE":
                reference = item.ReferencedSOPSequence[0]
                _reference_slots(reference, slots)
                if "ReferencedFrameNumber" in reference:
                    slots[id(reference["ReferencedFrameNumber"])] = "frames"
            elif _meaning(item) == _TRACKING_ID:
                slots[id(item["TextValue"])] = "tracking_text"
            elif _meaning(item) == _TRACKING_UID:
                slots[id(item["UID"])] = "tracking_uid"
            elif _meaning(item) == _PREDICTED:
                predicted = item["ConceptCodeSequence"]
                slots[id(predicted)] = "predicted"
        self.encoded = EncodedTemplate(dataset, slots)
        # The predicted class's code as highdicom writes it: the name of its measurement.
        names = [i.ConceptNameCodeSequence[0] for i in group.ContentSequence
                 if i.ValueType == "NUM"]
        self.predicted = None if predicted is None else [
            encode_element(DataElement(predicted.tag, "SQ", DicomSequence(
                [copy.deepcopy(name)])), self.encoded.encodings) for name in names]


def _reference_slots(item: Dataset, slots: dict[int, str]) -> None:
    slots[id(item["ReferencedSOPClassUID"])] = "sop_class"
    slots[id(item["ReferencedSOPInstanceUID"])] = "sop_instance"


class ImageReportTemplate:
    """Per-image SRs of one model (its classes, codes and identity). Each SR goes in the
    series the template was made for, or in the one `encode` names: one template serves
    several result folders (the inference node's jobs), each its own series."""

    def __init__(self, class_names: Sequence[str], codes: ResultCodes, identity: ModelIdentity,
                 series_uid: str, multilabel: bool = False) -> None:
        self.class_names, self.codes, self.identity = list(class_names), codes, identity
        self.series_uid, self.multilabel = series_uid, multilabel
        self._templates: dict[tuple, _ReportSlots] = {}
        self._keywords: dict[str, tuple[tuple[str, int], ...]] = {}

    def _copied(self, source: Dataset) -> tuple[str, tuple[str, ...]]:
        sop_class = str(source.SOPClassUID)
        if sop_class not in self._keywords:
            self._keywords[sop_class] = tuple(
                (k, int(tag_for_keyword(k) or 0)) for k in _patient_and_study_keywords(sop_class))
        present = source.keys()
        return sop_class, tuple(k for k, tag in self._keywords[sop_class] if tag in present)

    def encode(self, result: ImageResult, instance_number: int,
               series_uid: str | None = None) -> EncodedReport:
        """The SR of `result` as the bytes of its file, in `series_uid` (default: the
        template's series)."""
        series_uid = series_uid or self.series_uid
        try:
            # Multi-label: the findings present are part of the structure (one coded
            # evaluation each), so each set of findings has its own template.
            key = (*self._copied(result.source), result.findings,
                   result.referenced_frames is not None,
                   str(result.source.get("SpecificCharacterSet", "")))
        except KeyError:  # a SOP class highdicom has no IOD for: build it the long way
            key = None
        template = self._templates.get(key) if key is not None else None
        if template is None:
            sr = classification_sr([result], self.class_names, self.codes, self.identity,
                                   series_uid, instance_number, self.multilabel)
            buffer = io.BytesIO()
            sr.save_as(buffer, enforce_file_format=True)
            data = buffer.getvalue()
            if key is not None and len(self._templates) < _MAX_TEMPLATES:
                self._templates[key] = _ReportSlots(pydicom.dcmread(io.BytesIO(data)), key[1])
            return EncodedReport(data, str(sr.SOPInstanceUID), series_uid,
                                 str(result.source.StudyInstanceUID), templated=False)
        return self._filled(template, result, instance_number, series_uid)

    def _filled(self, template: _ReportSlots, result: ImageResult,
                instance_number: int, series_uid: str) -> EncodedReport:
        source, encoded = result.source, template.encoded
        uid = report_uid(self.identity, series_uid, [result])
        values = {"sop_instance_uid": encoded.element("sop_instance_uid", uid),
                  "sr_series": encoded.element("sr_series", series_uid),
                  "instance_number": encoded.element("instance_number", instance_number),
                  "study": encoded.element("study", source.StudyInstanceUID),
                  "series": encoded.element("series", source.SeriesInstanceUID),
                  "sop_class": encoded.element("sop_class", source.SOPClassUID),
                  "sop_instance": encoded.element("sop_instance", source.SOPInstanceUID),
                  "tracking_text": encoded.element("tracking_text",
                                                   result.tracking_text(self.identity)),
                  "tracking_uid": encoded.element("tracking_uid",
                                                  result.tracking_uid(self.identity))}
        for keyword in template.keywords:
            values[f"source:{keyword}"] = encode_element(source[keyword], encoded.encodings)
        probabilities = [float(p) for p in result.probabilities]
        if len(probabilities) != template.measurements:
            raise ValueError(f"{len(probabilities)} probabilities for "
                             f"{template.measurements} classes")
        for index, value in enumerate(probabilities):
            values[f"number{index}"] = encoded.element(f"number{index}",
                                                       DS(value, auto_format=True))
            values[f"float{index}"] = encoded.element(f"float{index}", value)
        if "frames" in encoded.slots:
            values["frames"] = encoded.element("frames", result.referenced_frames)
        if template.predicted is not None:
            values["predicted"] = template.predicted[int(np.argmax(probabilities))]
        return EncodedReport(encoded.render(values, uid), uid, series_uid,
                             str(source.StudyInstanceUID), templated=True)
