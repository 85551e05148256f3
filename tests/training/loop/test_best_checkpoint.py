"""The best checkpoint and early stopping, as a user runs them: a learning rate that grows
tenfold every 60 steps learns the task, then diverges; validation inside training keeps
the best checkpoint and stops the run."""

from __future__ import annotations

import glob
import json
import os
import re

import pytest

from datasets.records.conversion import ConversionSettings, convert
from tests.support.cli import run_module
from tests.support.experiments import learnable_folder

pytestmark = pytest.mark.slow  # trains a net for a few hundred steps

# Adam at 0.002, ten times larger every 60 steps (96 training images, batch 16: 6 steps
# an epoch): the net separates the classes by step ~80 and is wrecked by step ~200.
DIVERGING = ["--model_name=resnet_v1_18", "--train_image_size=32", "--batch_size=16",
             "--optimizer=adam", "--learning_rate=0.002", "--learning_rate_decay_factor=10",
             "--num_epochs_per_decay=10", "--log_every_n_steps=20", "--seed=0"]


@pytest.fixture(scope="module")
def folds(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("best")
    learnable_folder(str(root / "in"))
    out = str(root / "records")
    convert(ConversionSettings("dicom", str(root / "in"), out, "dicom", need_split="kfold",
                               num_folds=5, progress=False, num_workers=1))
    return out


VALIDATION = re.compile(r"step (\d+): validation_loss (\S+), validation_accuracy (\S+), "
                        r"validation_auroc (\S+) \(")


def _validations(console: str) -> list[dict[str, float]]:
    """Each validation the trainer logged, in order: its step and metrics."""
    return [{"step": int(step), "validation_loss": float(loss),
             "validation_accuracy": float(accuracy), "validation_auroc": float(auroc)}
            for step, loss, accuracy, auroc in VALIDATION.findall(console)]


def _auroc(train_dir: str, records: str, choice: str) -> float:
    result = run_module("eval_image_classifier", f"--checkpoint_path={train_dir}",
                        f"--checkpoint={choice}", f"--dataset_dir={records}",
                        "--dataset_split_name=validation_fold1",
                        f"--eval_dir={train_dir}/eval_{choice}")
    assert result.returncode == 0, result.stderr[-3000:]
    with open(f"{train_dir}/eval_{choice}/metrics.json") as handle:
        metrics = json.load(handle)
    # eval's default: 95 % intervals from 1000 patient-level bootstrap replicates
    assert metrics["bootstrap"]["replicates"] == 1000
    accuracy = metrics["intervals"]["accuracy"]
    assert accuracy["estimate"] == pytest.approx(metrics["accuracy"])
    assert accuracy["percentile"][0] <= metrics["accuracy"] <= accuracy["percentile"][1]
    assert "95 % intervals (patient-level bootstrap, 1000 replicates" in result.stdout
    return metrics["macro_roc_auc"]


def test_the_best_checkpoint_beats_the_diverged_last_and_early_stopping_ends_the_run(
        folds, tmp_path):
    train_dir = str(tmp_path / "run")
    result = run_module("train_image_classifier", f"--train_dir={train_dir}",
                        f"--dataset_dir={folds}", "--dataset_split_name=train_fold1",
                        "--max_number_of_steps=400", "--keep_best_on=validation_loss",
                        "--early_stopping_patience=5", "--eval_every_n_steps=20",
                        "--keep_checkpoints=2", *DIVERGING)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(train_dir, "best", "best.json")) as handle:
        best = json.load(handle)
    assert best["stopped_early"], result.stderr[-3000:]
    assert best["metric"] == "validation_loss" and best["stopped_early"]
    assert best["evaluations_since_best"] == 5
    stopped_at = int(result.stdout.split("to step ")[1].split(":")[0])
    assert stopped_at == best["step"] + 5 * 20 < 400
    assert "early stopping at step" in result.stderr
    assert f"best validation_loss {best['value']:.4f} at step {best['step']} (stopped early)" in (
        result.stdout)
    kept = sorted(n for n in os.listdir(train_dir) if n.endswith(".index"))
    assert len(kept) <= 2  # --keep_checkpoints
    assert os.listdir(os.path.join(train_dir, "best")).count(
        f"model.ckpt-{best['step']}.index") == 1

    # Every validation is logged; the kept best is the lowest loss of them all, and the run's
    # last step (a validation step) is worse. Whether the diverging rate has also wrecked the
    # last's ranking by then (AUROC) varies from run to run; the loss, the monitored metric,
    # does not.
    validations = _validations(result.stderr)
    assert validations[-1]["step"] == stopped_at and len(validations) == stopped_at // 20
    lowest = min(validations, key=lambda row: row["validation_loss"])
    assert lowest["step"] == best["step"]
    assert lowest["validation_loss"] == pytest.approx(best["value"], abs=1e-4)
    assert validations[-1]["validation_loss"] > best["value"]

    # eval of --checkpoint=best and =latest computes what validation saw at those steps
    best_auroc, last_auroc = _auroc(train_dir, folds, "best"), _auroc(train_dir, folds, "latest")
    assert best_auroc >= 0.75, (best_auroc, result.stderr[-3000:])
    assert best_auroc == pytest.approx(lowest["validation_auroc"], abs=1e-3)
    assert last_auroc == pytest.approx(validations[-1]["validation_auroc"], abs=1e-3)

    # classify and export take the best checkpoint too: the step they name is the best's
    listing = tmp_path / "inputs.txt"
    images = sorted(glob.glob(os.path.join(os.path.dirname(folds), "in", "images", "*.png")))
    listing.write_text("\n".join(images[:3]) + "\n")
    result = run_module("classify_image", f"--checkpoint_path={train_dir}", "--checkpoint=best",
                        f"--infile={listing}", f"--outfile={tmp_path / 'out.txt'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"best/model.ckpt-{best['step']}" in result.stderr
    result = run_module("export_model", f"--checkpoint_path={train_dir}", "--checkpoint=best",
                        f"--export_dir={tmp_path / 'exported'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"best/model.ckpt-{best['step']}" in result.stderr + result.stdout

    again = run_module("train_image_classifier", f"--train_dir={train_dir}",
                       f"--dataset_dir={folds}", "--dataset_split_name=train_fold1",
                       "--max_number_of_steps=400", "--keep_best_on=validation_loss",
                       "--early_stopping_patience=5", "--eval_every_n_steps=20", *DIVERGING)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "stopped early" in again.stderr and f"to step {stopped_at}:" in again.stdout


def test_best_without_a_best_checkpoint_and_a_wrong_metric_are_one_line_errors(folds, tmp_path):
    train_dir = str(tmp_path / "plain")
    result = run_module("train_image_classifier", f"--train_dir={train_dir}",
                        f"--dataset_dir={folds}", "--dataset_split_name=train_fold2",
                        "--max_number_of_steps=2", *DIVERGING)
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_module("eval_image_classifier", f"--checkpoint_path={train_dir}",
                        "--checkpoint=best", f"--dataset_dir={folds}",
                        "--dataset_split_name=validation_fold2")
    assert result.returncode != 0
    assert f"{train_dir} has no best checkpoint: train with --keep_best_on" in result.stderr
    result = run_module("train_image_classifier", f"--train_dir={tmp_path}/x",
                        f"--dataset_dir={folds}", "--keep_best_on=validation_dice",
                        "--max_number_of_steps=2", *DIVERGING)
    assert result.returncode != 0 and "validation_dice" in result.stderr
    result = run_module("train_image_classifier", f"--train_dir={tmp_path}/y",
                        f"--dataset_dir={folds}", "--dataset_split_name=fold1",
                        "--keep_best_on=validation_auroc", "--max_number_of_steps=2",
                        *DIVERGING)
    assert result.returncode != 0
    assert "has no validation split: convert with --need_split=tvt_split or kfold" in (
        result.stderr)
