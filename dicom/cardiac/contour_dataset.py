"""Build the segmentation folder, QC overlays, HDF5 store and report from cardiac contours.

Writes to OUT:
  images/<patient>_<slice>.png   16-bit display image of the slice
  masks/<patient>_<slice>.png    labels: 0 background, 1 blood pool (inside the inner
                                 contour), 2 myocardium (outer minus inner); only slices
                                 with both contours that pass the containment check
  class_dict.csv                 background, blood_pool, myocardium (row i = label i)
  metadata.csv                   ID,patient_key: tf_convert_data keeps a patient's
                                 slices in one split
  inner_masks/, outer_masks/     every slice's single-contour masks (0/255)
  overlays/<name>.png            with --overlays: contours drawn on the windowed image
  cardiac.h5                     one group per patient: images, inner, outer, slices
  report.json                    every problem, the flagged slices and the counts
That is the layout `tf_convert_data.py --dataset_name=segmentation` reads.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from dicom.cardiac.contour_masks import (
    ContourProblem,
    SlicePair,
    outer_contains_inner,
    pair_slices,
    rasterize,
    read_contour,
)
from dicom.decoding.display import display_frames
from dicom.decoding.limits import ReadLimits, read_file, read_image
from dicom.decoding.reading import RejectedFile
from files.folder_layout import (
    CLASS_DICT_FILE,
    IMAGES_DIR,
    MASKS_DIR,
    METADATA_FILE,
    write_class_dict,
    write_metadata_csv,
)
from files.png_codec import write_image
from files.safe_names import safe_stem

CLASS_DICT = (("background", (0, 0, 0)), ("blood_pool", (255, 0, 0)),
              ("myocardium", (0, 255, 0)))


@dataclass
class ContourSummary:
    slices: int = 0
    flagged: list[str] = field(default_factory=list)
    problems: list[ContourProblem] = field(default_factory=list)
    labelled_ids: list[tuple[str, str]] = field(default_factory=list)
    """(name, patient) of every slice written to masks/."""

    @property
    def labelled(self) -> int:
        """How many slices got a mask."""
        return len(self.labelled_ids)

    def line(self, output_dir: str) -> str:
        """The build's outcome as one console line."""
        return (f"{self.slices} slices with contours: {self.labelled} labelled in "
                f"{output_dir}/masks, {len(self.flagged)} flagged (outer contour does not "
                f"contain the inner), {len(self.problems)} problem(s) in report.json")


def _read_slice(path: str) -> np.ndarray:
    limits = ReadLimits()
    return next(display_frames(read_image(read_file(path, limits), limits), release=True))


def _overlay(image: np.ndarray, contours: dict[str, np.ndarray], flagged: bool) -> Image.Image:
    low, high = np.percentile(image, [1, 99])
    scaled = np.clip((image.astype(np.float64) - low) / max(high - low, 1) * 255, 0, 255)
    canvas = Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    for kind, colour in (("inner", (255, 60, 60)), ("outer", (60, 255, 60))):
        points = contours.get(kind)
        if points is not None and len(points) >= 3:
            xy = [tuple(p) for p in points] + [tuple(points[0])]
            draw.line(xy, fill=colour, width=1)
    if flagged:
        draw.text((2, 2), "FLAG: outer does not contain inner", fill=(255, 255, 0))
    return canvas


def build_contour_dataset(data_dir: str, output_dir: str, overlays: bool = False,
                          hdf5: bool = True, keep_flagged: bool = False,
                          progress: bool = True) -> ContourSummary:
    """Pairs each contoured slice with its image and writes image, mask and optional overlay PNGs
    (and an HDF5 copy) under `output_dir`. Slices whose outer contour does not contain the inner
    are flagged and left out unless `keep_flagged`; every problem is listed in the summary."""
    report = pair_slices(data_dir)
    summary = ContourSummary(problems=list(report.problems))
    for sub in (IMAGES_DIR, MASKS_DIR, "inner_masks", "outer_masks") + (("overlays",) if overlays
                                                                     else ()):
        os.makedirs(os.path.join(output_dir, sub), exist_ok=True)
    write_class_dict(os.path.join(output_dir, CLASS_DICT_FILE), CLASS_DICT)
    store: dict[str, dict[str, list]] = {}
    for pair in tqdm(report.pairs, unit="slice", desc="contours", disable=not progress,
                     file=sys.stderr):
        _one_slice(pair, output_dir, overlays, keep_flagged, summary, store)
    if hdf5 and store:
        from dicom.cardiac.patient_h5 import write_patient_groups

        write_patient_groups(os.path.join(output_dir, "cardiac.h5"), {
            patient: {name: np.stack(values) for name, values in arrays.items()}
            for patient, arrays in store.items()
        }, {"source": os.path.abspath(data_dir)})
    write_metadata_csv(os.path.join(output_dir, METADATA_FILE), ["ID", "patient_key"],
                       [{"ID": name, "patient_key": patient}
                        for name, patient in summary.labelled_ids])
    with open(os.path.join(output_dir, "report.json"), "w") as handle:
        json.dump({"slices": summary.slices, "labelled": summary.labelled,
                   "flagged": summary.flagged,
                   "problems": [asdict(p) for p in summary.problems]}, handle, indent=2)
    return summary


def _one_slice(pair: SlicePair, output_dir: str, overlays: bool, keep_flagged: bool,
               summary: ContourSummary, store: dict) -> None:
    patient = safe_stem(pair.patient_id, "patient")  # link.csv is data: `../` stays inside
    name = f"{patient}_{pair.slice_number:04d}"
    try:
        image = _read_slice(pair.dicom_path)
    except (RejectedFile, OSError) as exc:
        summary.problems.append(ContourProblem("unreadable DICOM slice", pair.dicom_path,
                                               str(exc)))
        return
    summary.slices += 1
    points, masks = {}, {}
    for kind, path in (("inner", pair.inner_path), ("outer", pair.outer_path)):
        if path is None:
            continue
        points[kind], problems = read_contour(path)
        summary.problems.extend(problems)
        masks[kind] = rasterize(points[kind], image.shape)
        write_image(os.path.join(output_dir, f"{kind}_masks", f"{name}.png"),
                    masks[kind].astype(np.uint8) * 255)
    flagged = False
    if "inner" in masks and "outer" in masks:
        ok, outside = outer_contains_inner(masks["inner"], masks["outer"])
        if not ok:
            flagged = True
            summary.flagged.append(name)
            summary.problems.append(ContourProblem(
                "outer contour does not contain the inner contour", name,
                f"{outside:.0%} of the inner mask lies outside"))
        if ok or keep_flagged:
            labels = np.zeros(image.shape, np.uint8)
            labels[masks["outer"]] = 2
            labels[masks["inner"]] = 1
            write_image(os.path.join(output_dir, IMAGES_DIR, f"{name}.png"), image)
            write_image(os.path.join(output_dir, MASKS_DIR, f"{name}.png"), labels)
            summary.labelled_ids.append((name, pair.patient_id))
    if overlays:
        _overlay(image, points, flagged).save(os.path.join(output_dir, "overlays", f"{name}.png"))
    arrays = store.setdefault(patient, {"images": [], "inner": [], "outer": [], "slices": []})
    arrays["images"].append(image)
    arrays["inner"].append(masks.get("inner", np.zeros(image.shape, bool)).astype(np.uint8))
    arrays["outer"].append(masks.get("outer", np.zeros(image.shape, bool)).astype(np.uint8))
    arrays["slices"].append(pair.slice_number)
