"""Cardiac-MR contours (the seed's i-/o-contour files) to masks, reports and overlays.

Layout read:
    dicoms/<patient_id>/<slice>.dcm
    contourfiles/<original_id>/i-contours/IM-0001-<slice:04d>-icontour-manual.txt
    contourfiles/<original_id>/o-contours/IM-0001-<slice:04d>-ocontour-manual.txt
    link.csv   (patient_id,original_id)

A contour file is one `x y` pair of floats per line: a closed polygon in pixel
coordinates, x the column and y the row. Pixel-centre rule: pixel (row r,
column c) covers [c, c+1) x [r, r+1); it belongs to the mask when its centre
(c + 0.5, r + 0.5) lies inside the polygon (even-odd rule) or on its boundary.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field

import numpy as np

CONTOUR_NAME = re.compile(r"IM-0001-(\d{4})-([io])contour-manual\.txt$")
CONTAINMENT_TOLERANCE = 0.02
"""An inner mask may stick out of its outer mask by this share of its pixels (edge pixels)."""


@dataclass
class ContourProblem:
    kind: str
    where: str
    detail: str = ""

    def line(self) -> str:
        """The problem as one line: its kind, where, and detail if any."""
        return f"{self.kind}: {self.where}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class SlicePair:
    patient_id: str
    original_id: str
    slice_number: int
    dicom_path: str
    inner_path: str | None = None
    outer_path: str | None = None


@dataclass
class PairingReport:
    pairs: list[SlicePair] = field(default_factory=list)
    problems: list[ContourProblem] = field(default_factory=list)


def read_contour(path: str) -> tuple[np.ndarray, list[ContourProblem]]:
    """Points (N, 2) as (x, y), and one problem per malformed line (file:line)."""
    points, problems = [], []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                if len(parts) != 2:
                    raise ValueError
                x, y = float(parts[0]), float(parts[1])
                if not (np.isfinite(x) and np.isfinite(y)):
                    raise ValueError
            except ValueError:
                problems.append(ContourProblem("malformed contour line", f"{path}:{number}",
                                               repr(line.rstrip("\n"))[:60]))
                continue
            points.append((x, y))
    if len(points) < 3:
        problems.append(ContourProblem("contour with fewer than 3 points", path))
    return np.array(points, dtype=np.float64).reshape(-1, 2), problems


def rasterize(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of `shape` (rows, columns) by the pixel-centre rule above."""
    rows, columns = shape
    mask = np.zeros(shape, dtype=bool)
    if len(points) < 3:
        return mask
    cy, cx = np.mgrid[0:rows, 0:columns].astype(np.float64) + 0.5
    x0, y0 = points[:, 0], points[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    inside = np.zeros(shape, dtype=bool)
    on_edge = np.zeros(shape, dtype=bool)
    for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
        crosses = (ay > cy) != (by > cy)
        with np.errstate(divide="ignore", invalid="ignore"):
            at_x = ax + (cy - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (cx < at_x)
        # the centre lies on the segment: collinear and within its bounding box
        cross = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        within = ((np.minimum(ax, bx) - 1e-9 <= cx) & (cx <= np.maximum(ax, bx) + 1e-9)
                  & (np.minimum(ay, by) - 1e-9 <= cy) & (cy <= np.maximum(ay, by) + 1e-9))
        on_edge |= (np.abs(cross) < 1e-9) & within
    mask[:] = inside | on_edge
    return mask


def read_links(path: str) -> tuple[list[tuple[str, str]], list[ContourProblem]]:
    """The (patient_id, original_id) pairs of a link file, and a problem for each row that lacks
    one; raises ValueError when the header does not name both columns."""
    links, problems = [], []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not {"patient_id", "original_id"} <= set(reader.fieldnames or []):
            raise ValueError(f"{path}: header must name patient_id and original_id")
        for number, row in enumerate(reader, start=2):
            patient, original = (row.get("patient_id") or "").strip(), (
                row.get("original_id") or "").strip()
            if not patient or not original:
                problems.append(ContourProblem("incomplete link.csv row", f"{path}:{number}"))
                continue
            links.append((patient, original))
    return links, problems


def pair_slices(data_dir: str) -> PairingReport:
    """Every DICOM slice with its contours, and every gap in the data."""
    link_path = os.path.join(data_dir, "link.csv")
    if not os.path.exists(link_path):
        raise FileNotFoundError(f"{data_dir} has no link.csv (patient_id,original_id)")
    links, problems = read_links(link_path)
    report = PairingReport(problems=problems)
    for patient, original in links:
        dicom_dir = os.path.join(data_dir, "dicoms", patient)
        contour_dir = os.path.join(data_dir, "contourfiles", original)
        if not os.path.isdir(dicom_dir):
            report.problems.append(ContourProblem("patient without DICOM files", patient,
                                                  f"no {dicom_dir}"))
            continue
        if not os.path.isdir(contour_dir):
            report.problems.append(ContourProblem("patient without contour files", patient,
                                                  f"no {contour_dir}"))
            continue
        slices = {}
        for name in os.listdir(dicom_dir):
            stem, suffix = os.path.splitext(name)
            if suffix.lower() == ".dcm" and stem.isdigit():
                slices[int(stem)] = os.path.join(dicom_dir, name)
        contours: dict[int, dict[str, str]] = {}
        for kind_dir in ("i-contours", "o-contours"):
            folder = os.path.join(contour_dir, kind_dir)
            for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                match = CONTOUR_NAME.search(name)
                if match is None:
                    report.problems.append(ContourProblem("unrecognised contour file name",
                                                          os.path.join(folder, name)))
                    continue
                contours.setdefault(int(match.group(1)), {})[match.group(2)] = os.path.join(
                    folder, name)
        for number, found in sorted(contours.items()):
            if number not in slices:
                for path in found.values():
                    report.problems.append(ContourProblem(
                        "contour without a DICOM slice", path,
                        f"expected {os.path.join(dicom_dir, f'{number}.dcm')}"))
                continue
            if len(found) == 1:
                have = "inner" if "i" in found else "outer"
                report.problems.append(ContourProblem(
                    f"slice with only the {have} contour", f"{patient} slice {number}"))
            report.pairs.append(SlicePair(patient, original, number, slices[number],
                                          found.get("i"), found.get("o")))
    return report


def outer_contains_inner(inner: np.ndarray, outer: np.ndarray) -> tuple[bool, float]:
    """(ok, share of the inner mask outside the outer mask)."""
    if not inner.any():
        return True, 0.0
    outside = float((inner & ~outer).sum() / inner.sum())
    return outside <= CONTAINMENT_TOLERANCE, outside
