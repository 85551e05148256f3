"""Contours to masks: rasterisation by hand, pairing, the missing-data report, containment."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from PIL import Image

from dicom.cardiac.contour_dataset import build_contour_dataset
from dicom.cardiac.contour_masks import outer_contains_inner, pair_slices, rasterize, read_contour
from dicom.synthetic.cardiac_phantoms import CardiacSpec, synthesize_cardiac
from tests.support.cli import run_module


def test_square_covers_the_pixels_whose_centres_it_contains():
    mask = rasterize(np.array([[1, 1], [4, 1], [4, 4], [1, 4]], float), (6, 6))
    expected = np.zeros((6, 6), bool)
    expected[1:4, 1:4] = True
    assert np.array_equal(mask, expected)


def test_triangle_includes_centres_on_its_edge():
    mask = rasterize(np.array([[0, 0], [6, 0], [0, 6]], float), (6, 6))
    rows, columns = np.mgrid[0:6, 0:6]
    assert np.array_equal(mask, rows + columns <= 5)  # centres with x + y = 6 lie on the edge


def test_x_is_the_column_and_y_the_row():
    mask = rasterize(np.array([[0, 0], [2, 0], [2, 1], [0, 1]], float), (4, 4))
    assert mask[0, :2].all() and mask.sum() == 2  # two columns wide, one row high


def test_polygons_touching_or_crossing_the_border_are_clipped():
    band = rasterize(np.array([[0, 2], [6, 2], [6, 6], [0, 6]], float), (6, 6))
    assert band[2:].all() and not band[:2].any()
    corner = rasterize(np.array([[-2, -2], [3, -2], [3, 3], [-2, 3]], float), (6, 6))
    expected = np.zeros((6, 6), bool)
    expected[:3, :3] = True
    assert np.array_equal(corner, expected)


def test_malformed_lines_are_reported_with_file_and_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("1 1\n4 1\nfour 4\n4 4\n\n1 4 9\n")
    points, problems = read_contour(str(path))
    assert len(points) == 3
    assert [p.where for p in problems] == [f"{path}:3", f"{path}:6"]


def test_containment():
    inner = rasterize(np.array([[3, 3], [6, 3], [6, 6], [3, 6]], float), (10, 10))
    outer = rasterize(np.array([[1, 1], [8, 1], [8, 8], [1, 8]], float), (10, 10))
    assert outer_contains_inner(inner, outer) == (True, 0.0)
    shifted = np.zeros_like(outer)
    shifted[:, 5:] = outer[:, 1:6]  # columns 1..7 moved to 5..9: only inner column 5 stays
    ok, outside = outer_contains_inner(inner, shifted)
    assert not ok and outside == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def cardiac(tmp_path_factory):
    root = tmp_path_factory.mktemp("cardiac")
    planted = synthesize_cardiac(str(root / "raw"), CardiacSpec(4, 3, 64, seed=1))
    return root, planted


def test_pairing_and_the_missing_data_report(cardiac):
    root, planted = cardiac
    report = pair_slices(str(root / "raw"))
    lines = [p.line() for p in report.problems]
    assert any(line.startswith("contour without a DICOM slice") and "SC-HF-I-03" in line
               for line in lines)
    assert any(line.startswith("patient without DICOM files: SCD9999999") for line in lines)
    assert "slice with only the inner contour: " + planted["inner_only"][0] in lines
    assert len(report.pairs) == 4 * 3 - 1  # the slice whose DICOM is missing has no pair


def test_dataset_masks_overlays_hdf5_and_report(cardiac):
    root, planted = cardiac
    out = root / "out"
    summary = build_contour_dataset(str(root / "raw"), str(out), overlays=True, progress=False)
    assert sorted(summary.flagged) == sorted(planted["shifted"])
    malformed = [p for p in summary.problems if p.kind == "malformed contour line"]
    assert [p.where.rsplit(":", 1)[0] for p in malformed] == planted["malformed"]
    names = sorted(p.name for p in (out / "masks").iterdir())
    assert names and not any(n[:-4] in planted["shifted"] for n in names)
    labels = np.asarray(Image.open(out / "masks" / names[0]))
    inner = np.asarray(Image.open(out / "inner_masks" / names[0])) > 0
    outer = np.asarray(Image.open(out / "outer_masks" / names[0])) > 0
    assert np.array_equal(labels == 1, inner)
    assert np.array_equal(labels == 2, outer & ~inner)
    assert (out / "overlays" / f"{planted['shifted'][0]}.png").exists()
    with h5py.File(out / "cardiac.h5") as handle:
        assert sorted(handle) == ["SCD0000001", "SCD0000002", "SCD0000003", "SCD0000004"]
        group = handle["SCD0000001"]
        assert group["images"].shape == (3, 64, 64) and group["images"].dtype == np.uint16
        assert list(group["slices"][:]) == [20, 40, 60]
    report = json.loads((out / "report.json").read_text())
    assert report["labelled"] == summary.labelled and len(report["flagged"]) == 3


def test_cli_output_feeds_tf_convert_data(cardiac, tmp_path):
    root, _ = cardiac
    result = run_module("dicom.contours", f"--data_dir={root / 'raw'}",
                        f"--output_dir={tmp_path / 'out'}", "--progress=false")
    assert result.returncode == 0, result.stderr
    assert "flagged" in result.stdout.splitlines()[-1]
    converted = run_module("tf_convert_data", "--dataset_name=segmentation",
                           f"--dataset_dir={tmp_path / 'out'}",
                           f"--output_dir={tmp_path / 'records'}", "--progress=false")
    assert converted.returncode == 0, converted.stderr
    spec = json.loads((tmp_path / "records" / "dataset_spec.json").read_text())
    assert spec["class_names"] == ["background", "blood_pool", "myocardium"]
    assert spec["grouped_by_patient"]  # metadata.csv names each slice's patient


def test_a_hostile_patient_id_writes_nothing_outside_and_nothing_twice(cardiac, tmp_path):
    """link.csv is data: a patient id of `../escape` names files, never paths."""
    root, _ = cardiac
    raw = tmp_path / "raw"
    shutil.copytree(root / "raw", raw)
    shutil.move(raw / "dicoms" / "SCD0000001", raw / "escape")
    link = (raw / "link.csv").read_text().replace("SCD0000001,", "../escape,")
    (raw / "link.csv").write_text(link)
    out = tmp_path / "out"
    summary = build_contour_dataset(str(raw), str(out), overlays=True, progress=False)
    assert summary.slices == 4 * 3 - 1
    assert not (tmp_path / "escape_0020.png").exists()
    assert not any("escape" in p.name for p in out.iterdir())  # nothing beside the folders
    escaped = sorted(p.name for p in (out / "images").iterdir() if "escape" in p.name)
    assert len(escaped) == 3 and all(n.startswith("_escape-") for n in escaped)  # + digest
    for folder in ("inner_masks", "outer_masks", "overlays"):  # one file each, none shared
        assert sorted(p.name for p in (out / folder).iterdir() if "escape" in p.name) == escaped
