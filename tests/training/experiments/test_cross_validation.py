"""cross_validate.py end to end on the synthetic findings set, as a user runs it: catalog,
label table, fetched folder, three patient-grouped folds (--num_folds; five by default); a
kill -9 in fold 3 and a re-run that does not retrain folds 1 and 2; a summary that matches
the folds' metrics."""

from __future__ import annotations

import csv
import glob
import json
import os
import signal
import time

import numpy as np
import pytest

from datasets.records.conversion import ConversionSettings, convert
from tests.support.cli import run_module, spawn_module
from tests.support.experiments import learnable_folder
from tests.support.findings_catalog import fetched_findings, run

pytestmark = pytest.mark.slow  # builds a catalog and trains three models, one twice in part

NET = ["--model_name=resnet_v1_18", "--train_image_size=32", "--batch_size=16",
       "--max_number_of_steps=15", "--save_interval_secs=1", "--log_every_n_steps=5"]


def _findings_folds(root) -> str:
    """The synthetic findings set through the catalog, converted to three folds."""
    records = str(root / "records")
    out = run("tf_convert_data", f"--dataset_dir={fetched_findings(root, 120, 32, seed=2)}",
              f"--output_dir={records}", "--need_split=kfold", "--num_folds=3",
              "--progress=false")
    assert "fold1" in out and "fold3" in out and "fold4" not in out and "multilabel" in out
    return records


def _kill_during_fold_3(arguments: list[str], train_dir: str) -> None:
    process = spawn_module("cross_validate", *arguments)  # forked warm; killed as any process
    deadline = time.monotonic() + 600
    while not glob.glob(os.path.join(train_dir, "fold3", "model.ckpt-*.index")):
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not os.path.exists(os.path.join(train_dir, "fold3", "fold_done.json"))


def test_three_folds_killed_in_fold_3_resume_and_summarize(tmp_path):
    records = _findings_folds(tmp_path)
    train_dir = str(tmp_path / "cv")
    arguments = [f"--dataset_dir={records}", f"--train_dir={train_dir}", *NET]

    _kill_during_fold_3(arguments, train_dir)
    finished = {k: os.path.getmtime(os.path.join(train_dir, f"fold{k}", "fold_done.json"))
                for k in (1, 2)}

    result = run_module("cross_validate", *arguments, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for k in (1, 2):
        assert f"fold {k} of 3: finished earlier (step 15); not retrained" in result.stderr
        assert os.path.getmtime(os.path.join(train_dir, f"fold{k}", "fold_done.json")) == (
            finished[k])
    assert "resuming from" in result.stderr and "fold3" in result.stderr

    with open(os.path.join(train_dir, "cv_summary.json")) as handle:
        summary = json.load(handle)
    assert summary["num_folds"] == 3 and summary["folds"] == [1, 2, 3]
    assert summary["task"] == "multilabel"
    per_fold = []
    for k in range(1, 4):
        with open(os.path.join(train_dir, f"fold{k}", "eval", "metrics.json")) as handle:
            report = json.load(handle)
        assert report["split"] == f"validation_fold{k}" and report["step"] == 15
        per_fold.append(report)
    for metric in ("macro_auroc", "micro_auroc", "macro_average_precision", "num_examples"):
        values = [report[metric] for report in per_fold]
        row = summary["summary"][metric]
        assert row["values"] == pytest.approx(values)
        assert row["mean"] == pytest.approx(np.mean(values))
        assert row["std"] == pytest.approx(np.std(values, ddof=1))
    label = "Cardiomegaly"
    values = [r["per_label"][label]["auroc"] for r in per_fold]
    assert summary["summary"][f"auroc:{label}"]["values"] == pytest.approx(values)
    with open(os.path.join(train_dir, "cv_summary.md")) as handle:
        table = handle.read()
    assert "| macro_auroc |" in table and "| fold 3 | mean | sd |" in table

    with open(os.path.join(train_dir, "oof_predictions.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    total = sum(r["num_examples"] for r in per_fold)
    assert len(rows) == total == len({row["id"] for row in rows})  # every image, once
    assert f"p:{label}" in rows[0] and f"label:{label}" in rows[0]
    patients_by_fold: dict[str, set[str]] = {}
    for row in rows:
        patients_by_fold.setdefault(row["fold"], set()).add(row["patient_key"])
    folds = list(patients_by_fold.values())
    assert len(folds) == 3 and all(folds)
    assert all(not a & b for i, a in enumerate(folds) for b in folds[i + 1:])
    assert summary["pooled_out_of_fold"]["num_examples"] == total
    assert "summary in" in result.stdout


def test_records_without_folds_are_one_line(tmp_path):
    learnable_folder(str(tmp_path / "in"), per_class=10, patients=10)
    records = str(tmp_path / "records")
    convert(ConversionSettings("dicom", str(tmp_path / "in"), records, "dicom",
                               need_split="tvt_split", progress=False, num_workers=1))
    result = run_module("cross_validate", f"--dataset_dir={records}",
                        f"--train_dir={tmp_path}/cv", *NET)
    assert result.returncode != 0
    assert "holds no folds (splits: train, validation, test): convert it with " \
           "tf_convert_data --need_split=kfold" in result.stderr
