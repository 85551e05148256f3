"""Multi-label findings end to end, as a user runs them: synthetic radiographs with planted
findings and their CheXpert table -> catalog -> label set -> labels.csv -> records ->
train (default flags, --pos_weight=auto) -> eval -> classify (text and DICOM SR) -> the
SavedModel. A short CPU training must find every planted finding (AUROC >= 0.9 on the
test split) while the label without pixel signal stays near chance."""

from __future__ import annotations

import json
import os

import highdicom as hd
import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import run_module
from tests.support.dicom_results import dciodvfy_errors
from tests.support.findings_catalog import fetched_findings

pytestmark = pytest.mark.slow

PLANTED = ("Cardiomegaly", "Lung Opacity", "Lung Lesion")  # CheXpert names of the findings
NO_SIGNAL = "Fracture"


def _run(*args: str) -> str:
    result = run_module(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("multilabel")
    dicom = str(root / "dicom")
    fetched, records = fetched_findings(root, 480, 64, seed=1), str(root / "records")
    _run("tf_convert_data", f"--dataset_dir={fetched}", f"--output_dir={records}",
         "--need_split=tvt_split", "--validation_size=0.2", "--test_size=0.25",
         "--progress=false")
    train_dir = str(root / "train")
    _run("train_image_classifier", f"--train_dir={train_dir}", f"--dataset_dir={records}",
         "--model_name=resnet_v1_18", "--train_image_size=64", "--batch_size=16",
         "--max_number_of_steps=200", "--optimizer=adam", "--opt_epsilon=1e-7",
         "--learning_rate=0.002", "--log_every_n_steps=100", "--seed=0", "--pos_weight=auto")
    eval_out = _run("eval_image_classifier", f"--checkpoint_path={train_dir}",
                    "--dataset_split_name=test", f"--eval_dir={root / 'eval'}")
    _run("export_model", f"--checkpoint_path={train_dir}",  # after eval: with its thresholds
         f"--export_dir={root / 'saved_model'}")
    return {"root": str(root), "dicom": dicom, "records": records, "train_dir": train_dir,
            "eval_out": eval_out}


def test_records_are_multilabel_with_the_policy_and_counts(pipeline):
    with open(os.path.join(pipeline["records"], "dataset_spec.json")) as handle:
        spec = json.load(handle)
    assert spec["task"] == "multilabel" and spec["label_policy"]["uncertain"] == "ignore"
    assert len(spec["class_names"]) == 14 and spec["grouped_by_patient"]
    counts = spec["splits"]["train"]["label_counts"]
    assert all(counts[name]["unknown"] > 0 for name in PLANTED)  # the -1.0 entries, masked
    with open(os.path.join(pipeline["train_dir"], "medcv_train.json")) as handle:
        config = json.load(handle)
    assert config["task"] == "multilabel" and config["label_policy"] == spec["label_policy"]
    names = spec["class_names"]
    lesion = counts["Lung Lesion"]
    assert config["pos_weight"][names.index("Lung Lesion")] == pytest.approx(
        lesion["negative"] / lesion["positive"], rel=1e-4)


def test_every_planted_finding_is_found_and_the_signal_free_label_is_not(pipeline):
    with open(os.path.join(pipeline["root"], "eval", "metrics.json")) as handle:
        report = json.load(handle)
    per_label = report["per_label"]
    for name in PLANTED:
        assert per_label[name]["auroc"] >= 0.9, (name, per_label[name])
    assert 0.3 <= per_label[NO_SIGNAL]["auroc"] <= 0.7, per_label[NO_SIGNAL]
    assert "Edema" in report["labels_without_positives"]
    assert per_label["Edema"]["auroc"] is None
    assert per_label["Edema"]["status"].startswith("no positives in this split")
    assert report["threshold_split"] == "validation" and report["threshold_rule"] == "youden"
    assert os.path.getsize(os.path.join(pipeline["root"], "eval", "roc_curves.png")) > 1000
    with open(os.path.join(pipeline["train_dir"], "thresholds.json")) as handle:
        thresholds = json.load(handle)
    assert thresholds["split"] == "validation" and thresholds["values"]["Edema"] is None
    assert all(0 <= thresholds["values"][name] <= 1 for name in PLANTED)
    assert "left out of the macro means (no positives here): Enlarged Cardiomediastinum" in (
        pipeline["eval_out"])


def _predictions(path: str) -> dict[str, tuple[str, dict[str, float]]]:
    out = {}
    with open(path, encoding="utf-8") as handle:
        lines = [line.rstrip("\n").split("\t") for line in handle if not line.startswith("#")]
    for source, findings, probabilities in lines:
        out[source] = (findings, {k: float(v) for k, v in (
            item.rsplit(":", 1) for item in probabilities.split(","))} if findings != "ERROR"
            else {})
    return out


def test_classify_reports_findings_above_the_thresholds_as_text_and_sr(pipeline, tmp_path):
    files = sorted(os.path.join(base, name) for base, _, names in os.walk(pipeline["dicom"])
                   for name in names if name.endswith(".dcm"))[:6]
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join([*files, str(tmp_path / "missing.dcm")]) + "\n")
    out, results = tmp_path / "predictions.txt", tmp_path / "sr"
    _run("classify_image", f"--infile={listing}", f"--checkpoint_path={pipeline['train_dir']}",
         f"--outfile={out}", f"--dicom_output_dir={results}")
    with open(os.path.join(pipeline["train_dir"], "thresholds.json")) as handle:
        thresholds = json.load(handle)["values"]
    header = out.read_text().splitlines()[0]
    assert "thresholds chosen by youden on split validation" in header
    predicted = _predictions(str(out))
    assert predicted[str(tmp_path / "missing.dcm")][0] == "ERROR"
    with open(results / "results.json") as handle:
        ledger = json.load(handle)
    srs = {entry["sources"][0]: os.path.join(results, entry["file"])
           for entry in ledger["objects"]}
    for path in files:
        findings, probabilities = predicted[path]
        assert len(probabilities) == 14
        limits = {n: 0.5 if t is None else t for n, t in thresholds.items()}
        # The text rounds to 4 places: a label that close to its threshold may go either way.
        close = {n for n, p in probabilities.items() if abs(p - limits[n]) <= 1e-4}
        expected = [n for n, p in probabilities.items() if p >= limits[n] and n not in close]
        found = [] if findings == "none" else findings.split("|")
        assert [n for n in found if n not in close] == expected
        import pydicom

        sop = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        report = hd.sr.srread(srs[sop])
        group = report.content.get_image_measurement_groups()[0]
        coded = [e.name.meaning for e in group.get_qualitative_evaluations()
                 if e.value.meaning == "Present"]
        # Names as the codes mean them (SNOMED CT's "Pleural effusion", ...).
        assert sorted(c.lower() for c in coded) == sorted(n.lower() for n in found)
        measured = {m.name.meaning.lower(): float(m.value) for m in group.get_measurements()}
        assert measured == pytest.approx({n.lower(): p for n, p in probabilities.items()},
                                         abs=1e-4)
        assert dciodvfy_errors(srs[sop]) == []


def test_the_saved_model_gives_probabilities_and_findings(pipeline):
    saved = os.path.join(pipeline["root"], "saved_model")
    with open(os.path.join(saved, "medcv_model.json")) as handle:
        info = json.load(handle)
    assert info["task"] == "multilabel"
    fetched = os.path.join(pipeline["root"], "fetched", "images")
    pngs = []
    for name in sorted(os.listdir(fetched))[:4]:
        with open(os.path.join(fetched, name), "rb") as handle:
            pngs.append(handle.read())
    outputs = tf.saved_model.load(saved).signatures["serving_default"](tf.constant(pngs))
    probabilities = outputs["probabilities"].numpy()
    with open(os.path.join(saved, "thresholds.json")) as handle:
        chosen = json.load(handle)
    with open(os.path.join(pipeline["train_dir"], "thresholds.json")) as handle:
        assert chosen == json.load(handle)
    values = chosen["values"]
    limits = np.array([0.5 if values[n] is None else values[n] for n in info["class_names"]])
    assert probabilities.shape == (4, 14)
    assert np.array_equal(outputs["findings"].numpy(), probabilities >= limits)
