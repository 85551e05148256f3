"""Synthetic cardiac MR in the seed's layout: slices, i-/o-contours, link.csv.

Each slice shows a left ventricle: a bright blood pool inside a darker
myocardial ring, ellipse-like (radial wobble, rotation, size changing from
base to apex) on a smooth, noisy background, stored as 12-bit MR DICOM. The
contour files trace the two boundaries with sub-pixel noise. Planted on
purpose, so the report has something to find: one patient's outer contours
shifted sideways (the seed's real case), one DICOM slice missing beside its
contours, one slice with only its inner contour, one malformed contour line,
and one link.csv row for a patient with no files.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from console.options import option
from dicom.synthetic.phantoms import smooth_noise
from dicom.synthetic.synthetic_dicom import _uid, write_study_file

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SHIFT_PX = 15.0


@dataclass(frozen=True)
class CardiacSpec:
    """What `synthesize_cardiac` writes; each field is also `dicom.synthesize_cardiac`'s flag."""

    num_patients: int = option(4, "Patients (at least 4 to plant every defect).",
                               lower_bound=1)
    slices_per_patient: int = option(8, "Slices per patient.", lower_bound=2, flag="slices")
    size: int = option(128, "Rows and columns of each slice.", lower_bound=48)
    seed: int = option(0, "Random seed.")
    defects: bool = option(True, "Plant a shifted-outer-contour patient, a missing slice, an "
                           "inner-only slice, a malformed contour line and a link.csv row "
                           "without files.")


def _ventricle(rng: np.random.Generator, size: int, level: float):
    """Inner and outer radius functions r(theta) and the centre for one slice."""
    cx, cy = size / 2 + rng.normal(0, 3), size / 2 + rng.normal(0, 3)
    base = size * (0.07 + 0.08 * (1 - level))  # larger at the base, smaller at the apex
    aspect, angle = rng.uniform(0.8, 1.2), rng.uniform(0, math.pi)
    wobble = rng.normal(0, 0.04, 3)
    thickness = rng.uniform(0.045, 0.065) * size

    def inner(theta):
        shape = 1 + wobble[0] * np.cos(2 * theta) + wobble[1] * np.sin(3 * theta)
        stretch = np.sqrt((np.cos(theta - angle) * aspect) ** 2 + np.sin(theta - angle) ** 2)
        return base * shape / stretch

    def outer(theta):
        return inner(theta) + thickness * (1 + wobble[2] * np.cos(theta))

    return (cx, cy), inner, outer


def _polygon(centre, radius, count, rng) -> np.ndarray:
    theta = np.linspace(0, 2 * math.pi, count, endpoint=False)
    r = radius(theta) + rng.normal(0, 0.25, count)
    return np.stack([centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta)], axis=1)


def _image(rng, size, centre, inner, outer) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] + 0.5
    theta = np.arctan2(y - centre[1], x - centre[0])
    distance = np.hypot(x - centre[0], y - centre[1])
    background = 250 + 350 * smooth_noise(size, rng, cells=6)
    image = np.where(distance <= outer(theta), 420.0, background)
    image = np.where(distance <= inner(theta), 1300.0, image)
    image = image + rng.normal(0, 45, (size, size))
    return np.clip(image, 0, 4095).astype(np.uint16)


def _dataset(pixels: np.ndarray, patient: str, slice_number: int, seed: int) -> Dataset:
    ds = Dataset()
    ds.PatientID, ds.PatientName, ds.Modality = patient, f"CARDIAC^{patient}", "MR"
    ds.StudyInstanceUID = _uid(seed, "cardiac-study", patient)
    ds.SeriesInstanceUID = _uid(seed, "cardiac-series", patient)
    ds.InstanceNumber, ds.SliceLocation = slice_number, float(slice_number * 8)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = "800", "1800"
    ds.BodyPartExamined = "HEART"
    # A short-axis stack: parallel slices 8 mm apart in one frame of reference.
    ds.FrameOfReferenceUID = _uid(seed, "cardiac-frame-of-reference", patient)
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.ImagePositionPatient = [0.0, 0.0, float(slice_number * 8)]
    ds.PixelSpacing, ds.SliceThickness = [1.5, 1.5], 8.0
    ds.PixelData = pixels.tobytes()
    return ds


def _write_contour(path: str, points: np.ndarray, malformed: bool = False) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = [f"{x:.2f} {y:.2f}" for x, y in points]
    if malformed:
        lines.insert(len(lines) // 2, f"{points[0][0]:.2f} n/a")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def synthesize_cardiac(output_dir: str, spec: CardiacSpec) -> dict[str, list[str]]:
    """Write the set; returns what was planted (for the demo and the tests)."""
    rng = np.random.default_rng(spec.seed)
    planted: dict[str, list[str]] = {"shifted": [], "missing_dicom": [], "inner_only": [],
                                     "malformed": [], "link_without_files": []}
    links = []
    for p in range(spec.num_patients):
        patient, original = f"SCD{p + 1:07d}", f"SC-HF-I-{p + 1:02d}"
        links.append((patient, original))
        shifted = spec.defects and p == 1
        for k in range(spec.slices_per_patient):
            number = 20 * (k + 1)
            level = k / max(spec.slices_per_patient - 1, 1)
            centre, inner, outer = _ventricle(rng, spec.size, level)
            pixels = _image(rng, spec.size, centre, inner, outer)
            dicom_path = os.path.join(output_dir, "dicoms", patient, f"{number}.dcm")
            missing = spec.defects and p == 2 and k == spec.slices_per_patient // 2
            if missing:
                planted["missing_dicom"].append(dicom_path)
            else:
                write_study_file(dicom_path, _dataset(pixels, patient, number, spec.seed),
                                 MR_IMAGE_STORAGE, _uid(spec.seed, "cardiac", patient, number),
                                 rle=False)
            folder = os.path.join(output_dir, "contourfiles", original)
            inner_points = _polygon(centre, inner, 48, rng)
            outer_points = _polygon(centre, outer, 56, rng)
            if shifted:
                outer_points = outer_points + np.array([SHIFT_PX, 0.0])
                planted["shifted"].append(f"{patient}_{number:04d}")
            malformed = spec.defects and p == 0 and k == 0
            inner_path = os.path.join(folder, "i-contours",
                                      f"IM-0001-{number:04d}-icontour-manual.txt")
            _write_contour(inner_path, inner_points, malformed)
            if malformed:
                planted["malformed"].append(inner_path)
            if spec.defects and p == 3 % spec.num_patients and p != 1 and k == 1:
                planted["inner_only"].append(f"{patient} slice {number}")
                continue
            _write_contour(os.path.join(folder, "o-contours",
                                        f"IM-0001-{number:04d}-ocontour-manual.txt"),
                           outer_points)
    if spec.defects:
        links.append(("SCD9999999", "SC-HF-I-99"))
        planted["link_without_files"].append("SCD9999999")
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "link.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient_id", "original_id"])
        writer.writerows(links)
    return planted
