"""Segmentation results as DICOM SEG (highdicom): one object per source series, covering
all its frames, binary (a label map) or fractional (probabilities).

The SEG takes its geometry from the sources, so every source must carry it; a source
without is refused in one line naming the attribute (its PNG mask is still written).
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset

from training.results.result_codes import ResultCodes
from training.results.result_identity import MANUFACTURER, ModelIdentity, result_uid
from training.results.source_headers import NotADicomSource

GEOMETRY = ("FrameOfReferenceUID", "PixelSpacing", "ImageOrientationPatient",
            "ImagePositionPatient", "SliceThickness")
BINARY, FRACTIONAL = "binary", "fractional"


def check_geometry(source: Dataset, name: str) -> None:
    """One line naming what `source` lacks for a SEG, if anything."""
    if int(source.get("NumberOfFrames", 1) or 1) > 1 and "SharedFunctionalGroupsSequence" in source:
        return  # an enhanced multi-frame image: geometry in its functional groups
    for keyword in GEOMETRY:
        if keyword not in source or source.get(keyword) in (None, ""):
            raise NotADicomSource(f"{name}: no {keyword}, which a DICOM SEG needs to place "
                                  "its frames; the PNG mask is written, the SEG is not")


def segmentation_object(sources: Sequence[Dataset], masks: Sequence[np.ndarray],
                        class_names: Sequence[str], codes_map: ResultCodes,
                        identity: ModelIdentity, seg_type: str = BINARY,
                        probabilities: Sequence[np.ndarray] | None = None,
                        run_key: str = "") -> hd.seg.Segmentation:
    """One SEG over the frames of one series: `masks[i]` (rows, columns) holds class indices
    for `sources[i]`, or for frame i + 1 of a single multi-frame source (class 0 is the
    background); fractional SEGs take `probabilities[i]` (rows, columns, classes) instead.
    `run_key` tells apart SEGs of one series that cover other images (the inference node's
    study generations); empty, the UIDs are the model's and the series' alone."""
    if len({str(s.SeriesInstanceUID) for s in sources}) != 1:
        raise ValueError("one SEG covers the frames of one series")
    orientations = {tuple(round(float(v), 4) for v in s.ImageOrientationPatient)
                    for s in sources} if len(sources) > 1 else {()}
    if len(orientations) != 1:
        raise NotADicomSource(f"series {sources[0].SeriesInstanceUID}: its images do not share "
                              "one ImageOrientationPatient, which one SEG needs")
    algorithm = hd.AlgorithmIdentificationSequence(
        name=f"medcv {identity.model_name}"[:64], version=identity.version[:64],
        family=hd.sr.CodedConcept("123110", "DCM", "Artificial Intelligence"))
    foreground = list(enumerate(class_names))[1:]
    descriptions = []
    for number, (_, name) in enumerate(foreground, start=1):
        category, property_type = codes_map.for_segment(name)
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=name[:64],
            segmented_property_category=category, segmented_property_type=property_type,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            tracking_uid=result_uid("segment", identity.config_hash, name),
            tracking_id=f"{identity.model_name} {name}"[:64]))
    if seg_type == FRACTIONAL:
        if probabilities is None:
            raise ValueError("a fractional SEG needs the probabilities")
        pixels = np.stack([p[..., 1:] for p in probabilities]).astype(np.float32)
        kind = hd.seg.SegmentationTypeValues.FRACTIONAL
    else:
        pixels = np.stack(masks).astype(np.uint8)  # a label map: segment number = class index
        kind = hd.seg.SegmentationTypeValues.BINARY
    series = str(sources[0].SeriesInstanceUID)
    seg_series = result_uid("seg series", identity.config_hash, series, seg_type,
                            *([run_key] if run_key else []))
    return hd.seg.Segmentation(
        source_images=list(sources), pixel_array=pixels, segmentation_type=kind,
        segment_descriptions=descriptions, series_instance_uid=seg_series, series_number=901,
        sop_instance_uid=result_uid("seg", seg_series), instance_number=1,
        manufacturer=MANUFACTURER, manufacturer_model_name=identity.model_name[:64],
        software_versions=identity.version[:64], device_serial_number=identity.config_hash[:16],
        series_description=f"medcv {identity.model_name} segmentation"[:64],
        omit_empty_frames=False)
