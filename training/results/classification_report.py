"""Classification results as Comprehensive 3D SR (TID 1500 Measurement Report).

Per source image one measurement group (TID 1501) that names the image it was made on,
the algorithm, the predicted class (or each finding above its threshold) as a coded
qualitative evaluation and every class's probability as a numeric measurement. The
evaluation is never named with the generic "Finding" concept: read back through
highdicom such an item silently disappeared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
        frame = [] if self.frame is None else [f"frame {self.frame}"]
        return result_uid("tracking", identity.config_hash, str(self.source.SOPInstanceUID),
                          *frame)

    def tracking_text(self, identity: ModelIdentity) -> str:
        frame = "" if self.frame is None else f" frame {self.frame}"
        return f"{identity.model_name} on {self.source.SOPInstanceUID}{frame}"[:64]


def report_uid(identity: ModelIdentity, series_uid: str, results: Sequence[ImageResult]) -> str:
    """The SR's SOP Instance UID: the model, the run's series and the inputs."""
    sources = sorted(r.name or str(r.source.SOPInstanceUID) for r in results)
    return result_uid("sr", identity.config_hash, series_uid, *sources)


def _group(result: ImageResult, class_names: Sequence[str], codes_map: ResultCodes,
           identity: ModelIdentity, multilabel: bool
           ) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    source = result.source
    algorithm = _algorithm(identity)
    if multilabel:
        evaluations = [hd.sr.QualitativeEvaluation(codes_map.for_class(name), PRESENT)
                       for name in result.findings]
    else:
        best = class_names[int(np.argmax(result.probabilities))]
        evaluations = [hd.sr.QualitativeEvaluation(PREDICTED_CLASS, codes_map.for_class(best))]
    measurements = [
        hd.sr.Measurement(name=codes_map.for_class(name), value=float(probability),
                          unit=PROBABILITY, algorithm_id=algorithm)
        for name, probability in zip(class_names, result.probabilities, strict=True)]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=result.tracking_uid(identity), identifier=result.tracking_text(identity)),
        algorithm_id=algorithm,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(
            source, referenced_frame_numbers=result.referenced_frames)],
        qualitative_evaluations=evaluations,
        measurements=measurements)


def classification_sr(results: Sequence[ImageResult], class_names: Sequence[str],
                      codes_map: ResultCodes, identity: ModelIdentity, series_uid: str,
                      instance_number: int, multilabel: bool = False) -> hd.sr.Comprehensive3DSR:
    """One SR for `results` (one image, or the images of one study)."""
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
        imaging_measurements=[_group(r, class_names, codes_map, identity, multilabel)
                              for r in results])
    return hd.sr.Comprehensive3DSR(
        evidence=[r.source for r in results], content=report,
        series_instance_uid=series_uid, series_number=900,
        sop_instance_uid=report_uid(identity, series_uid, results),
        instance_number=instance_number, manufacturer=MANUFACTURER,
        series_description=f"medcv {identity.model_name} classification"[:64],
        is_complete=True)
