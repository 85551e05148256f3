"""A planted subgroup effect, found after training as a user runs it: one manufacturer's
images carry a much fainter finding, and eval --subgroups shows that manufacturer's
AUROC lower with intervals that do not overlap, while a random split of the patients
into two groups shows overlapping ones. The same run's report renders in headless
Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets.records.conversion import ConversionSettings, convert
from tests.support.cli import run_module
from tests.support.experiments import learnable_folder

pytestmark = pytest.mark.slow  # trains a small net

NET = ["--model_name=resnet_v1_18", "--train_image_size=32", "--batch_size=32",
       "--optimizer=adam", "--learning_rate=0.002", "--log_every_n_steps=20", "--seed=0"]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("subgroups")
    learnable_folder(str(root / "in"), per_class=240, patients=160, faint_signal=0.06)
    records = str(root / "records")
    convert(ConversionSettings("dicom", str(root / "in"), records, "dicom",
                               need_split="tvt_split", validation_size=0.2, test_size=0.4,
                               progress=False, attributes=("Manufacturer", "random_group"),
                               attributes_required=True))
    train_dir = str(root / "run")
    trained = run_module("train_image_classifier", f"--train_dir={train_dir}",
                         f"--dataset_dir={records}", "--max_number_of_steps=100", *NET)
    assert trained.returncode == 0, trained.stderr[-3000:]
    eval_dir = str(root / "eval")
    result = run_module("eval_image_classifier", f"--checkpoint_path={train_dir}",
                        f"--dataset_dir={records}", f"--eval_dir={eval_dir}",
                        "--subgroups=Manufacturer,random_group", "--min_subgroup_size=20")
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(eval_dir, "metrics.json")) as handle:
        return {"metrics": json.load(handle), "eval_dir": eval_dir, "stdout": result.stdout,
                "train_dir": train_dir, "records": records}


def _auroc(group: dict) -> tuple[float, float, float]:
    found = group["intervals"]["macro_auroc"]
    return found["estimate"], *found["percentile"]


def test_the_faint_manufacturer_is_worse_with_intervals_apart(evaluated):
    groups = evaluated["metrics"]["subgroups"]["by_attribute"]["Manufacturer"]["groups"]
    acme, faint = _auroc(groups["Acme"]), _auroc(groups["Faint"])
    assert acme[0] > faint[0]
    assert faint[2] < acme[1], (acme, faint)  # the intervals do not overlap
    gap = evaluated["metrics"]["subgroups"]["largest_gap"]
    assert (gap["attribute"], gap["higher"], gap["lower"]) == ("Manufacturer", "Acme", "Faint")
    assert gap["interval"][0] > 0  # the difference's interval excludes no difference
    assert "largest subgroup gap: macro_auroc of Manufacturer" in evaluated["stdout"]


def test_a_random_split_of_the_patients_shows_overlapping_intervals(evaluated):
    groups = evaluated["metrics"]["subgroups"]["by_attribute"]["random_group"]["groups"]
    first, second = _auroc(groups["G1"]), _auroc(groups["G2"])
    assert first[1] <= second[2] and second[1] <= first[2], (first, second)
    assert all(g["patients"] > 0 and g["status"] == "ok" for g in groups.values())


def test_each_prediction_row_carries_its_catalog_attributes(evaluated):
    with open(os.path.join(evaluated["eval_dir"], "predictions.csv")) as handle:
        header = handle.readline().strip().split(",")
        rows = [line.strip().split(",") for line in handle]
    assert header[-2:] == ["attribute:Manufacturer", "attribute:random_group"]
    assert {r[-2] for r in rows} == {"Acme", "Faint"} and {r[-1] for r in rows} == {"G1", "G2"}
    make_up = evaluated["metrics"]["data_make_up"]["test"]["attributes"]["Manufacturer"]
    assert sum(make_up.values()) == evaluated["metrics"]["num_examples"]


def test_the_report_renders_in_headless_chromium(evaluated, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing (scripts/ensure_chromium.sh installs it)")
        pytest.skip("chromium is not installed (scripts/ensure_chromium.sh)")
    shot = tmp_path / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--screenshot={shot}", "--window-size=1100,1400",
                    "file://" + os.path.join(evaluated["eval_dir"], "report.html")],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (1400, 1100)
    # not blank: text, tables and figures darken a real share of the page
    assert (pixels < 128).mean() > 0.01 and pixels.std() > 20


def test_compare_with_a_checkpoint_or_its_predictions_and_the_model_card(evaluated, tmp_path):
    """--compare_with as a user gives it: the same model as a checkpoint, and as the
    predictions.csv its eval wrote. Both are paired with every image and differ by nothing."""
    card = Path(evaluated["eval_dir"], "model_card.md").read_text(encoding="utf-8")
    assert "# Model card: resnet_v1_18 on dicom" in card and "| test |" in card
    for compared in (evaluated["train_dir"],
                     os.path.join(evaluated["eval_dir"], "predictions.csv")):
        eval_dir = tmp_path / os.path.basename(compared)
        result = run_module("eval_image_classifier", f"--checkpoint_path={evaluated['train_dir']}",
                            f"--dataset_dir={evaluated['records']}", f"--eval_dir={eval_dir}",
                            f"--compare_with={compared}", "--bootstrap=200", "--report=false",
                            "--calibrate=false")
        assert result.returncode == 0, result.stderr[-3000:]
        with open(eval_dir / "metrics.json") as handle:
            comparison = json.load(handle)["comparison"]
        assert comparison["images"] == evaluated["metrics"]["num_examples"]
        for entry in comparison["per_class"].values():
            assert entry["delong"]["difference"] == pytest.approx(0, abs=1e-6)
            assert entry["paired_bootstrap"]["percentile"] == pytest.approx([0, 0], abs=1e-6)
    missing = run_module("eval_image_classifier", f"--checkpoint_path={evaluated['train_dir']}",
                         f"--dataset_dir={evaluated['records']}", f"--eval_dir={tmp_path / 'x'}",
                         f"--compare_with={tmp_path / 'nothing.csv'}", "--bootstrap=0")
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1] == (
        f"error: --compare_with {tmp_path / 'nothing.csv'}: no such predictions file")
