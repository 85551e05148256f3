"""Segmentation through the same scripts: convert, train, evaluate, predict masks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from datasets.records.conversion import ConversionSettings, convert
from datasets.synthetic.shape_images import ShapeSettings, write_shapes
from tests.support.cli import run_module

pytestmark = pytest.mark.slow  # end-to-end: `pytest -m "not slow"` skips it

UNET = ["--model_name=unet", "--model_options=depth=2,base_filters=8", "--batch_size=4",
        "--train_image_size=32", "--optimizer=adam", "--opt_epsilon=1e-7",
        "--learning_rate=0.01", "--log_every_n_steps=2"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes(str(root), ShapeSettings(44, 32, 32, 8, 16, holding_fraction=0.1, seed=0))
    records = str(root / "records")
    convert(ConversionSettings("segmentation", str(root / "experiment"), records, "shapes",
                               need_split="tvt_split", progress=False))
    train_dir = str(root / "train")
    result = run_module("train_image_classifier", f"--train_dir={train_dir}",
                        f"--dataset_dir={records}", "--max_number_of_steps=4",
                        "--segmentation_loss=dice_ce", *UNET)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"root": str(root), "records": records, "train_dir": train_dir}


def test_eval_reports_dice_iou_and_hd95(shapes, tmp_path):
    result = run_module("eval_image_classifier", f"--checkpoint_path={shapes['train_dir']}",
                        "--dataset_split_name=test", f"--eval_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "mean Dice" in result.stdout and "HD95" in result.stdout
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["task"] == "segmentation" and report["num_images"] == 4
    assert set(report["per_class"]) == {"background", "circle", "square", "triangle"}
    for key in ("mean_dice", "mean_iou", "pixel_accuracy", "mean_hd95", "mean_precision"):
        assert report[key] is not None
    assert 0.0 <= report["mean_dice"] <= 1.0
    page = (tmp_path / "report.html").read_text()  # the report shows the segmentation figures
    assert "<th>dice</th>" in page and f"{report['per_class']['circle']['dice']:.3f}" in page
    assert f"mean_dice: {report['mean_dice']:.3f}" in (tmp_path / "model_card.md").read_text()


def test_predict_writes_masks_and_overlays_with_a_sliding_window(shapes, tmp_path):
    holding = os.path.join(shapes["root"], "holding", "images")
    first = os.path.join(holding, sorted(os.listdir(holding))[0])
    wide = tmp_path / "wide.png"
    pixels = np.asarray(Image.open(first))
    Image.fromarray(np.concatenate([pixels, pixels], axis=1)).save(wide)  # 32x64: two tiles
    listing = tmp_path / "input.txt"
    listing.write_text(f"{first}\n{tmp_path / 'gone.png'}\n{wide}\n")
    out = tmp_path / "masks"
    result = run_module("classify_image", f"--infile={listing}", f"--output_dir={out}",
                        f"--outfile={tmp_path / 'result.txt'}",
                        f"--checkpoint_path={shapes['train_dir']}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "segmented 2 input(s), 1 unreadable" in result.stderr
    rows = [r.split("\t") for r in (tmp_path / "result.txt").read_text().splitlines()[1:]]
    assert [r[0] for r in rows] == listing.read_text().split()
    assert rows[1][1:] == ["ERROR", "missing file"]
    mask = np.asarray(Image.open(rows[2][1]))
    assert mask.shape == (32, 64) and mask.max() <= 3
    assert (out / "wide_overlay.png").exists() and (out / "wide_mask.png").exists()
    fractions = dict(item.split(":") for item in rows[0][2].split(","))
    assert sum(float(v) for v in fractions.values()) == pytest.approx(1.0, abs=1e-3)
    missing_dir = run_module("classify_image", f"--infile={listing}",
                             f"--checkpoint_path={shapes['train_dir']}")
    assert missing_dir.returncode == 2 and "--output_dir is required" in missing_dir.stderr


def test_unet_plus_plus_with_deep_supervision_trains(shapes, tmp_path):
    result = run_module("train_image_classifier", f"--train_dir={tmp_path}",
                        f"--dataset_dir={shapes['records']}", "--max_number_of_steps=2",
                        "--model_name=unet_plus_plus", "--segmentation_loss=dice",
                        "--model_options=depth=2,base_filters=4,deep_supervision=true",
                        "--batch_size=4", "--train_image_size=32")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained unet_plus_plus to step 2" in result.stdout


def test_a_classifier_on_masks_is_a_clear_error(shapes, tmp_path):
    result = run_module("train_image_classifier", f"--train_dir={tmp_path}",
                        f"--dataset_dir={shapes['records']}", "--model_name=mobilenet_v2")
    assert result.returncode == 2
    assert "is a classification net but" in result.stderr.splitlines()[-1]


def test_resuming_with_other_model_options_is_refused(shapes):
    result = run_module("train_image_classifier", f"--train_dir={shapes['train_dir']}",
                        f"--dataset_dir={shapes['records']}", "--model_name=unet",
                        "--model_options=depth=3,base_filters=8", "--max_number_of_steps=5")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "'depth': 2" in last and "'depth': 3" in last and "new --train_dir" in last
