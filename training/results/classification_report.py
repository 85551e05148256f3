"""Classification results as Comprehensive 3D SR (TID 1500 Measurement Report).

Per source image one measurement group (TID 1501) that names the image it was made on,
the algorithm, the predicted class (or each finding above its threshold) as a coded
qualitative evaluation and every class's probability as a numeric measurement. The
evaluation is never named with the generic "Finding" concept: read back through
highdicom such an item silently disappeared.

A study-level SR with an aggregation (`max` or `mean`) opens with one more group: it
references every image of the study, and its probabilities are the images' aggregated
per class, each measurement carrying the derivation (SCT Maximum or Mean, CID 7464).
The predicted class (or the findings) of the study are read from those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import numpy as np
from highdicom._standard_utils import is_multiframe_image
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from training.results.result_codes import LOCAL_SCHEME, ResultCodes
from training.results.result_identity import MANUFACTURER, ModelIdentity, result_uid

PREDICTED_CLASS = CodedConcept("PREDICTEDCLASS", LOCAL_SCHEME, "Predicted class")
PRESENT = CodedConcept("52101004", "SCT", "Present")
PROBABILITY = CodedConcept("{probability}", "UCUM", "probability")
PROCEDURE = CodedConcept("363679005", "SCT", "Imaging procedure")
AGGREGATIONS: dict[str, tuple[Callable[..., np.ndarray], CodedConcept]] = {
    "max": (np.max, CodedConcept("56851009", "SCT", "Maximum")),
    "mean": (np.mean, CodedConcept("373098007", "SCT", "Mean")),
}
"""How a study's image probabilities become the study's: the function over images and
the derivation code its measurements carry."""


@dataclass(frozen=True)
class StudyAggregation:
    """`per: study` with one probability per class for the whole study."""

    method: str
    """A key of AGGREGATIONS."""
    findings_of: Callable[[np.ndarray], tuple[str, ...]] | None = None
    """Multi-label: the labels at or above their thresholds, for the aggregated
    probabilities; None for one class per image (the most probable is the prediction)."""

    def __post_init__(self) -> None:
        if self.method not in AGGREGATIONS:
            raise ValueError(f"aggregation {self.method!r} is not one of "
                             f"{', '.join(AGGREGATIONS)}")

    def probabilities(self, results: Sequence[ImageResult]) -> np.ndarray:
        """The study's probabilities: its images' probabilities combined by the aggregation method.
        """
        function = AGGREGATIONS[self.method][0]
        return function(np.stack([np.asarray(r.probabilities, np.float64) for r in results]),
                        axis=0)


def _algorithm(identity: ModelIdentity) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(
        name=f"medcv {identity.model_name}", version=identity.version,
        family=codes.cid7162.ArtificialIntelligence)


@dataclass(frozen=True)
class ImageResult:
    source: Dataset
    probabilities: np.ndarray
    findings: tuple[str, ...] = ()
    """Multi-label: the classes at or above their thresholds; single-label: empty (the
    most probable class is the prediction)."""
    name: str = ""
    """The input's name (a path, a catalog ID such as `<UID>-f2` for a frame): results of
    two frames of one instance are two objects."""
    frame: int | None = None
    """The 1-based frame of a multi-frame source the result is of; None: the instance."""

    @property
    def referenced_frames(self) -> list[int] | None:
        """The frame numbers the image reference carries: only where the source's IOD is a
        multi-frame one (a reference to a frame of any other is invalid DICOM)."""
        if self.frame is None:
            return None
        try:
            multiframe = is_multiframe_image(self.source)
        except KeyError:  # a SOP class highdicom has no IOD for: refer to the instance
            return None
        return [self.frame] if multiframe else None

    def tracking_uid(self, identity: ModelIdentity) -> str:
        """The SR's tracking UID: the same model on the same source (and frame) gives the same UID,
        so a re-run replaces rather than adds."""
        frame = [] if self.frame is None else [f"frame {self.frame}"]
        return result_uid("tracking", identity.config_hash, str(self.source.SOPInstanceUID),
                          *frame)

    def tracking_text(self, identity: ModelIdentity) -> str:
        """The SR's tracking identifier: the model and the source instance, cut to 64 characters.
        """
        frame = "" if self.frame is None else f" frame {self.frame}"
        return f"{identity.model_name} on {self.source.SOPInstanceUID}{frame}"[:64]


def report_uid(identity: ModelIdentity, series_uid: str, results: Sequence[ImageResult]) -> str:
    """The SR's SOP Instance UID: the model, the run's series and the inputs."""
    sources = sorted(r.name or str(r.source.SOPInstanceUID) for r in results)
    return result_uid("sr", identity.config_hash, series_uid, *sources)


def _evaluations_and_measurements(
        probabilities: np.ndarray, findings: Sequence[str], class_names: Sequence[str],
        codes_map: ResultCodes, algorithm: hd.sr.AlgorithmIdentification, multilabel: bool,
        derivation: CodedConcept | None = None,
) -> tuple[list[hd.sr.QualitativeEvaluation], list[hd.sr.Measurement]]:
    if multilabel:
        evaluations = [hd.sr.QualitativeEvaluation(codes_map.for_class(name), PRESENT)
                       for name in findings]
    else:
        best = class_names[int(np.argmax(probabilities))]
        evaluations = [hd.sr.QualitativeEvaluation(PREDICTED_CLASS, codes_map.for_class(best))]
    measurements = [
        hd.sr.Measurement(name=codes_map.for_class(name), value=float(probability),
                          unit=PROBABILITY, algorithm_id=algorithm, derivation=derivation)
        for name, probability in zip(class_names, probabilities, strict=True)]
    return evaluations, measurements


def _group(result: ImageResult, class_names: Sequence[str], codes_map: ResultCodes,
           identity: ModelIdentity, multilabel: bool
           ) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    algorithm = _algorithm(identity)
    evaluations, measurements = _evaluations_and_measurements(
        result.probabilities, result.findings, class_names, codes_map, algorithm, multilabel)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=result.tracking_uid(identity), identifier=result.tracking_text(identity)),
        algorithm_id=algorithm,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(
            result.source, referenced_frame_numbers=result.referenced_frames)],
        qualitative_evaluations=evaluations,
        measurements=measurements)


def _study_group(results: Sequence[ImageResult], aggregation: StudyAggregation,
                 class_names: Sequence[str], codes_map: ResultCodes, identity: ModelIdentity,
                 multilabel: bool) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """The study's own group: the images' probabilities aggregated, every image referenced."""
    algorithm = _algorithm(identity)
    probabilities = aggregation.probabilities(results)
    findings = aggregation.findings_of(probabilities) if (
        multilabel and aggregation.findings_of is not None) else ()
    evaluations, measurements = _evaluations_and_measurements(
        probabilities, findings, class_names, codes_map, algorithm, multilabel,
        AGGREGATIONS[aggregation.method][1])
    study = str(results[0].source.StudyInstanceUID)
    references: dict[str, Any] = {}
    for result in results:  # frames of one instance: one reference naming them all
        uid = str(result.source.SOPInstanceUID)
        frames = result.referenced_frames
        if uid in references:
            references[uid][1].extend(frames or [])
        else:
            references[uid] = (result.source, list(frames or []))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=result_uid("study tracking", identity.config_hash, study, aggregation.method),
            identifier=f"{identity.model_name} on study, {aggregation.method} of "
                       f"{len(results)} image(s)"[:64]),
        algorithm_id=algorithm,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(
            source, referenced_frame_numbers=sorted(frames) or None)
            for source, frames in references.values()],
        qualitative_evaluations=evaluations,
        measurements=measurements)


def classification_sr(results: Sequence[ImageResult], class_names: Sequence[str],
                      codes_map: ResultCodes, identity: ModelIdentity, series_uid: str,
                      instance_number: int, multilabel: bool = False,
                      aggregation: StudyAggregation | None = None) -> hd.sr.Comprehensive3DSR:
    """One SR for `results` (one image, or the images of one study); with `aggregation`,
    a study-level group over them all comes first."""
    studies = {str(r.source.StudyInstanceUID) for r in results}
    if len(studies) != 1:
        raise ValueError("one SR covers images of one study")
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=identity.device_uid(), name=f"medcv {identity.model_name}"[:64],
            manufacturer_name=MANUFACTURER, model_name=identity.model_name[:64]))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=PROCEDURE,
        imaging_measurements=[
            *([_study_group(results, aggregation, class_names, codes_map, identity, multilabel)]
              if aggregation is not None else []),
            *(_group(r, class_names, codes_map, identity, multilabel) for r in results)])
    return hd.sr.Comprehensive3DSR(
        evidence=[r.source for r in results], content=report,
        series_instance_uid=series_uid, series_number=900,
        sop_instance_uid=report_uid(identity, series_uid, results),
        instance_number=instance_number, manufacturer=MANUFACTURER,
        series_description=f"medcv {identity.model_name} classification"[:64],
        is_complete=True)
